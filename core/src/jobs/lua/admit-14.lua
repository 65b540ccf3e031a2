--[[
  The intake's admission in one call: reserve the credits (reserve.lua, prepended), write the job
  record (as create-3), give the job its rank among its user's waiting jobs (as the fair queue's
  enqueue-rank-1) and read what its place in line will be, so that enqueueing is all that is left.
  A takeover of a crashed intake finds its reservation held: the record and the rank are then
  written only if missing. A reservation already settled (the job ran) writes nothing.
  KEYS[1..5]  reservation, user's day, bonus, tenant's day, active set (reserve.lua)
  KEYS[6] record hash  KEYS[7] the user's job list (zset)  KEYS[8] per-state counters
  KEYS[9] the user's waiting jobs in the fair queue (zset jobId → rank)
  KEYS[10] the user's settings hash (field allowDowngrade 'true'|'false')
  KEYS[11] BullMQ prioritized zset  KEYS[12] BullMQ wait list  KEYS[13] BullMQ active list
  KEYS[14] recent run times of this mode (list of ms)
  ARGV[1..14] reserve.lua's arguments
  ARGV[15] record ttl (s)  ARGV[16] createdAt  ARGV[17] user list max length
  ARGV[18] waiting set ttl (s)  ARGV[19] 1 for a final job, 0 for a draft
  ARGV[20] the operator's allowDowngrade default ('true'|'false')  ARGV[21] run times to read
  ARGV[22..] the record's field/value pairs (allowDowngrade left out: the user's choice or the default)
  Returns { status, n1, n2, rank, ahead, plain, running, durations... }:
    status 'ok' (reserved now) | 'exists' (held by an earlier try of this intake): the job is
      recorded and ranked; ahead = waiting jobs with a priority at most this job's, plain = jobs
      in the wait list, running = jobs active, then the recent run times.
    any other status: reserve.lua's answer as it is (nothing written).
]]
local K = { KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5] }
local A = {}
for i = 1, 14 do A[i] = ARGV[i] end
local r = reserve(K, A)
if r[1] ~= 'ok' and not (r[1] == 'exists' and r[2] == 'held') then return r end

local jobId = ARGV[1]
local ttl = tonumber(ARGV[15])
if redis.call('EXISTS', KEYS[6]) == 0 then
  for i = 22, #ARGV, 2 do
    redis.call('HSET', KEYS[6], ARGV[i], ARGV[i + 1])
  end
  local allow = redis.call('HGET', KEYS[10], 'allowDowngrade')
  if allow ~= 'true' and allow ~= 'false' then allow = ARGV[20] end
  redis.call('HSET', KEYS[6], 'allowDowngrade', allow)
  redis.call('EXPIRE', KEYS[6], ttl)
  redis.call('ZADD', KEYS[7], tonumber(ARGV[16]), jobId)
  redis.call('ZREMRANGEBYRANK', KEYS[7], 0, 0 - tonumber(ARGV[17]) - 1)
  redis.call('EXPIRE', KEYS[7], ttl)
  count(KEYS[8], nil, redis.call('HGET', KEYS[6], 'state'))
end

local rank = redis.call('ZSCORE', KEYS[9], jobId)
if rank then
  rank = tonumber(rank)
else
  local top = redis.call('ZRANGE', KEYS[9], -1, -1, 'WITHSCORES')
  rank = 0
  if top[2] then rank = tonumber(top[2]) + 1 end
  redis.call('ZADD', KEYS[9], rank, jobId)
  redis.call('EXPIRE', KEYS[9], tonumber(ARGV[18]))
end

-- The priority the fair queue gives this rank (fairPriority); BullMQ scores a prioritized job
-- priority * 2^32 + an insertion counter, so every job now waiting with a priority at most ours
-- runs before it.
local priority = 1 + 2 * math.min(math.max(0, rank), 1000000) + tonumber(ARGV[19])
local ahead = redis.call('ZCOUNT', KEYS[11], '-inf', '(' .. string.format('%.0f', (priority + 1) * 4294967296))
local out = { r[1], r[2], r[3], rank, ahead, redis.call('LLEN', KEYS[12]), redis.call('LLEN', KEYS[13]) }
for _, d in ipairs(redis.call('LRANGE', KEYS[14], 0, tonumber(ARGV[21]) - 1)) do
  out[#out + 1] = d
end
return out
