--[[
  Records that the platform accepted a job's outcome: once, whoever calls it how often.
  KEYS[1] delivery hash  KEYS[2] delivery outbox  KEYS[3] progress stream  KEYS[4] record hash
  KEYS[5] per-state counters
  ARGV[1] now (ms)  ARGV[2] stream maxlen  ARGV[3] event data (JSON)  ARGV[4..] field/value pairs
  Returns 1 the first time, 0 when it was recorded before (or the outcome was given up on).
]]
local state = redis.call('HGET', KEYS[1], 'state')
-- No outcome was written (or it expired): nothing to record.
if not state then return 0 end
if state == 'delivered' or state == 'undeliverable' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'delivered', 'deliveredAt', ARGV[1])
for i = 4, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
local jobId = redis.call('HGET', KEYS[4], 'jobId') or ''
-- An operator's redelivery of a video given up on: it reached the user after all (still refunded).
if redis.call('HGET', KEYS[4], 'state') == 'undeliverable' then
  redis.call('HSET', KEYS[4], 'state', 'succeeded')
  redis.call('HINCRBY', KEYS[5], 'undeliverable', -1)
  redis.call('HINCRBY', KEYS[5], 'succeeded', 1)
end
redis.call('ZREM', KEYS[2], jobId)
local f = redis.call('HMGET', KEYS[4], 'platform', 'userKey')
emit(KEYS[3], ARGV[2], jobId, f[1] or '', f[2] or '', 'delivered', ARGV[3])
return 1
