--[[
  reserve(K, A): reserves credits for one job, atomically and idempotently. Shared by reserve-5.lua
  (QuotaService) and the jobs' admit script (intake: reserve + record + rank in one call).
  K and A are the tables KEYS and ARGV below.
  KEYS[1] reservation hash      {prefix}:quota:res:{jobId}
  KEYS[2] user's day hash        {prefix}:quota:u:{user}:{day}      fields spent, held
  KEYS[3] user's bonus balance   {prefix}:quota:bonus:{user}        integer (granted credits)
  KEYS[4] tenant's day hash      {prefix}:quota:t:{tenant}:{day}    fields spent, held
  KEYS[5] user's active set      {prefix}:quota:active:{user}       job ids holding a concurrency slot
  ARGV[1] jobId  ARGV[2] cost  ARGV[3] daily limit  ARGV[4] tenant cap  ARGV[5] max concurrent
  ARGV[6] day  ARGV[7] user key  ARGV[8] tenant key  ARGV[9] now (ms)  ARGV[10] day-key ttl (s)
  ARGV[11] reservation key prefix ({prefix}:quota:res:)  ARGV[12] slot max age (ms)
  ARGV[13] job record key prefix ({prefix}:job:)  ARGV[14] leak grace (ms)
  Before a refusal, slots are freed when their reservation is gone or settled (then it is decided again). A reservation still held with no
  job record after the grace (an intake that died between reserving and recording, with no retry)
  is leaked: its credits come back (daily, bonus, tenant) and it is marked refunded. A held one
  whose job exists but is older than the max age frees its slot only (the job may still run and
  settle; its credits are the lifecycle's to settle).
  Reads reservation keys named from ARGV: a single Redis or one hash slot, not Redis Cluster.
  Returns { status, n1, n2 }:
    {'ok', dailyLeftAfter, bonusAfter} | {'exists', state, 0} | {'credits', available, 0}
    {'concurrency', active, 0} | {'tenant', tenantUsed, 0}
]]
local function reserve(K, A)
  local state = redis.call('HGET', K[1], 'state')
  if state then
    return { 'exists', state, 0 }
  end
  local jobId = A[1]
  local cost = tonumber(A[2])
  local limit = tonumber(A[3])
  local cap = tonumber(A[4])
  local maxConcurrent = tonumber(A[5])
  local ttl = tonumber(A[10])

  local now = tonumber(A[9])
  local maxAge = tonumber(A[12])
  local quotaBase = string.sub(A[11], 1, string.len(A[11]) - string.len('res:'))
  local grace = tonumber(A[14])
  -- The sweep reads every reservation in the active set: it runs only when the answer would be a
  -- refusal without it (settlements remove their own ids; only leaks and stale slots linger).
  local function sweep()
    for _, id in ipairs(redis.call('SMEMBERS', K[5])) do
      local res = A[11] .. id
      local sh = redis.call('HMGET', res, 'state', 'heldAt')
      local st = sh[1]
      local heldAt = tonumber(sh[2] or '0')
      if st ~= 'held' then
        redis.call('SREM', K[5], id)
      elseif now - heldAt > grace and redis.call('EXISTS', A[13] .. id) == 0 then
        -- Leaked: no job was ever recorded for it. Give its credits back.
        local f = redis.call('HMGET', res, 'user', 'tenant', 'day', 'cost', 'daily', 'bonus')
        redis.call('HINCRBY', quotaBase .. 'u:' .. f[1] .. ':' .. f[3], 'held', 0 - tonumber(f[5]))
        redis.call('HINCRBY', quotaBase .. 't:' .. f[2] .. ':' .. f[3], 'held', 0 - tonumber(f[4]))
        if tonumber(f[6]) > 0 then redis.call('INCRBY', quotaBase .. 'bonus:' .. f[1], tonumber(f[6])) end
        redis.call('HSET', res, 'state', 'refunded', 'settledAt', A[9], 'reason', 'leaked')
        redis.call('SREM', K[5], id)
      elseif now - heldAt > maxAge then
        redis.call('SREM', K[5], id)
      end
    end
  end

  local swept = false
  local dailyLeft, bonus
  for _ = 1, 2 do
    local refusal = nil
    local active = redis.call('SCARD', K[5])
    if active >= maxConcurrent then
      refusal = { 'concurrency', active, 0 }
    else
      local day = redis.call('HMGET', K[2], 'spent', 'held')
      local spent = tonumber(day[1] or '0')
      local held = tonumber(day[2] or '0')
      bonus = tonumber(redis.call('GET', K[3]) or '0')
      dailyLeft = limit - spent - held
      if dailyLeft < 0 then dailyLeft = 0 end
      if dailyLeft + bonus < cost then
        refusal = { 'credits', dailyLeft + bonus, 0 }
      else
        local tenantDay = redis.call('HMGET', K[4], 'spent', 'held')
        local tSpent = tonumber(tenantDay[1] or '0')
        local tHeld = tonumber(tenantDay[2] or '0')
        if tSpent + tHeld + cost > cap then refusal = { 'tenant', tSpent + tHeld, 0 } end
      end
    end
    if refusal == nil then break end
    if swept then return refusal end
    sweep()
    swept = true
  end

  local fromDaily = math.min(dailyLeft, cost)
  local fromBonus = cost - fromDaily
  redis.call('HINCRBY', K[2], 'held', fromDaily)
  redis.call('EXPIRE', K[2], ttl)
  if fromBonus > 0 then
    redis.call('DECRBY', K[3], fromBonus)
  end
  redis.call('HINCRBY', K[4], 'held', cost)
  redis.call('EXPIRE', K[4], ttl)
  redis.call('SADD', K[5], jobId)
  redis.call('HSET', K[1], 'state', 'held', 'jobId', jobId, 'cost', cost, 'daily', fromDaily,
    'bonus', fromBonus, 'day', A[6], 'user', A[7], 'tenant', A[8], 'heldAt', A[9])
  return { 'ok', dailyLeft - fromDaily, bonus - fromBonus }
end
