--[[
  admit(K, A): the intake's admission, shared by admit-14.lua (JobLifecycle.admit) and
  intake-admit-16.lua (the same with the event's claim in front). K and A are admit-14's KEYS and
  ARGV (listed there); reserve.lua and ledger.lua come first. Returns admit-14's answer.
]]
-- The priority the fair queue gives a rank (FairQueue's fairPriority): a round-robin between users,
-- drafts ahead of finals of the same rank. final: '1' for a final job, '0' for a draft.
local function fairPriority(rank, final)
  return 1 + 2 * math.min(math.max(0, rank), 1000000) + tonumber(final)
end

local function admit(K, A)
  local RK = { K[1], K[2], K[3], K[4], K[5] }
  local RA = {}
  for i = 1, 14 do RA[i] = A[i] end
  local r = reserve(RK, RA)
  if r[1] ~= 'ok' and not (r[1] == 'exists' and r[2] == 'held') then return r end

  local jobId = A[1]
  local ttl = tonumber(A[15])
  -- Reserved just now ('ok'): no try of this intake admitted the job before (the reservation is
  -- made in the same call as the record and the rank, and outlives any claim a takeover could
  -- find), so neither the record nor the rank is looked for. A takeover ('exists') looks.
  local fresh = r[1] == 'ok'
  if fresh or redis.call('EXISTS', K[6]) == 0 then
    local allow = redis.call('HGET', K[10], 'allowDowngrade')
    if allow ~= 'true' and allow ~= 'false' then allow = A[20] end
    -- One HSET of every field (a call per field costs Redis more); the state counted from them.
    local fields = { 'allowDowngrade', allow }
    local state = nil
    for k, v in pairs(cjson.decode(A[22])) do
      fields[#fields + 1] = k
      fields[#fields + 1] = v
      if k == 'state' then state = v end
    end
    redis.call('HSET', K[6], unpack(fields))
    redis.call('EXPIRE', K[6], ttl)
    redis.call('ZADD', K[7], tonumber(A[16]), jobId)
    redis.call('ZREMRANGEBYRANK', K[7], 0, 0 - tonumber(A[17]) - 1)
    redis.call('EXPIRE', K[7], ttl)
    count(K[8], nil, state)
  end

  local rank = nil
  if not fresh then rank = redis.call('ZSCORE', K[9], jobId) end
  if rank then
    rank = tonumber(rank)
  else
    local top = redis.call('ZRANGE', K[9], -1, -1, 'WITHSCORES')
    rank = 0
    if top[2] then rank = tonumber(top[2]) + 1 end
    redis.call('ZADD', K[9], rank, jobId)
    redis.call('EXPIRE', K[9], tonumber(A[18]))
  end

  -- The priority the fair queue gives this rank (fairPriority); BullMQ scores a prioritized job
  -- priority * 2^32 + an insertion counter, so every job now waiting with a priority at most ours
  -- runs before it.
  local priority = fairPriority(rank, A[19])
  local ahead = redis.call('ZCOUNT', K[11], '-inf', '(' .. string.format('%.0f', (priority + 1) * 4294967296))
  local out = { r[1], r[2], r[3], rank, ahead, redis.call('LLEN', K[12]), redis.call('LLEN', K[13]) }
  if tonumber(A[21]) > 0 then
    for _, d in ipairs(redis.call('LRANGE', K[14], 0, tonumber(A[21]) - 1)) do
      out[#out + 1] = d
    end
  end
  return out
end
