--[[
  Shared by the job scripts (prepended to each): the credit ledger's settlement of one reservation.
  settle(resKey, dayKey, bonusKey, tenantKey, activeKey, action, now, ttl)
    action 'commit'   held → committed (the user got the video)
    action 'refund'   held → refunded (failure, block, cancel)
    action 'uncommit' committed → refunded (a video that could never be delivered)
  Returns 'committed' | 'refunded' | 'noop' | 'missing'. Idempotent: any other state is left alone.
]]
local function settle(resKey, dayKey, bonusKey, tenantKey, activeKey, action, now, ttl)
  local state = redis.call('HGET', resKey, 'state')
  if not state then return 'missing' end
  local wanted = 'held'
  if action == 'uncommit' then wanted = 'committed' end
  if state ~= wanted then return 'noop' end
  local jobId = redis.call('HGET', resKey, 'jobId')
  local cost = tonumber(redis.call('HGET', resKey, 'cost'))
  local daily = tonumber(redis.call('HGET', resKey, 'daily'))
  local bonus = tonumber(redis.call('HGET', resKey, 'bonus'))
  -- 0 - n, not -n: Lua prints -0, which HINCRBY refuses.
  if action == 'uncommit' then
    redis.call('HINCRBY', dayKey, 'spent', 0 - daily)
    redis.call('HINCRBY', tenantKey, 'spent', 0 - cost)
  else
    redis.call('HINCRBY', dayKey, 'held', 0 - daily)
    redis.call('HINCRBY', tenantKey, 'held', 0 - cost)
    redis.call('SREM', activeKey, jobId)
  end
  -- A late settlement (a long review, a delivery retried for hours) must not leave day hashes without an expiry.
  if redis.call('TTL', dayKey) < 0 then redis.call('EXPIRE', dayKey, ttl) end
  if redis.call('TTL', tenantKey) < 0 then redis.call('EXPIRE', tenantKey, ttl) end
  if action == 'commit' then
    redis.call('HINCRBY', dayKey, 'spent', daily)
    redis.call('HINCRBY', tenantKey, 'spent', cost)
    redis.call('HSET', resKey, 'state', 'committed', 'settledAt', now)
    redis.call('EXPIRE', resKey, ttl)
    return 'committed'
  end
  if bonus > 0 then redis.call('INCRBY', bonusKey, bonus) end
  redis.call('HSET', resKey, 'state', 'refunded', 'settledAt', now)
  redis.call('EXPIRE', resKey, ttl)
  return 'refunded'
end

--[[
  A group pool's hold (collaborative storyboards), settled once like a reservation:
  settlePool(poolKey, holdKey, action, now, ttl): 'commit' held → committed; 'refund' held → refunded
  (the credits go back to the pool); 'uncommit' committed → refunded. Returns as settle().
]]
local function settlePool(poolKey, holdKey, action, now, ttl)
  local state = redis.call('HGET', holdKey, 'state')
  if not state then return 'missing' end
  local wanted = 'held'
  if action == 'uncommit' then wanted = 'committed' end
  if state ~= wanted then return 'noop' end
  if action == 'commit' then
    redis.call('HSET', holdKey, 'state', 'committed', 'settledAt', now)
    redis.call('EXPIRE', holdKey, ttl)
    return 'committed'
  end
  redis.call('INCRBY', poolKey, tonumber(redis.call('HGET', holdKey, 'cost')))
  redis.call('HSET', holdKey, 'state', 'refunded', 'settledAt', now)
  redis.call('EXPIRE', holdKey, ttl)
  return 'refunded'
end

--[[
  The extra shares of a job (a storyboard render's split shares or pool hold), settled in the same
  step as the job's own reservation. kinds: comma-separated, one per share, 'u' (a user's
  reservation: 5 keys as settle()) or 'p' (a pool hold: pool, hold); their keys follow one another
  from KEYS[first]. Returns how many shares moved.
]]
local function settleShares(first, kinds, action, now, ttl)
  local i = first
  local moved = 0
  for kind in string.gmatch(kinds or '', '[^,]+') do
    local r
    if kind == 'p' then
      r = settlePool(KEYS[i], KEYS[i + 1], action, now, ttl)
      i = i + 2
    else
      r = settle(KEYS[i], KEYS[i + 1], KEYS[i + 2], KEYS[i + 3], KEYS[i + 4], action, now, ttl)
      i = i + 5
    end
    if r == 'committed' or r == 'refunded' then moved = moved + 1 end
  end
  return moved
end

-- Moves a job between states in the per-state counters (the jobs-by-state metric).
local function count(countsKey, from, to)
  if from and from ~= '' then redis.call('HINCRBY', countsKey, from, -1) end
  if to and to ~= '' then redis.call('HINCRBY', countsKey, to, 1) end
end

-- Appends one progress event to the stream (trimmed to about maxlen entries).
local function emit(streamKey, maxlen, jobId, platform, userKey, eventType, data)
  redis.call('XADD', streamKey, 'MAXLEN', '~', maxlen, '*', 'jobId', jobId, 'platform', platform, 'userKey', userKey, 'type', eventType, 'data', data)
end
