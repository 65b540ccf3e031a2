--[[
  Gives a job the next rank among its user's waiting jobs (one more than the highest still
  waiting; 0 when none), so a user's own jobs keep their order. Idempotent per job.
  KEYS[1] the user's waiting jobs, a sorted set jobId → rank   {prefix}:fq:waiting:{user}
  ARGV[1] job id   ARGV[2] ttl (s)
  Returns the rank.
]]
local existing = redis.call('ZSCORE', KEYS[1], ARGV[1])
if existing then
  return tonumber(existing)
end
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
local rank = 0
if top[2] then
  rank = tonumber(top[2]) + 1
end
redis.call('ZADD', KEYS[1], rank, ARGV[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
return rank
