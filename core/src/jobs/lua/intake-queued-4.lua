--[[
  After the intake enqueued a job: the 'queued' progress event (when the job still runs) and the
  intake's answer over its own claim of the platform event, in one call.
  KEYS[1] record hash  KEYS[2] progress stream  KEYS[3] the event's idempotency record
  KEYS[4] the job in the generate queue (BullMQ's job hash)
  ARGV[1] stream maxlen  ARGV[2] event data (JSON)  ARGV[3] the claim this intake holds
  ARGV[4] the answer (the 'done' idempotency record)  ARGV[5] its ttl (s)
  The answer is written only over the claim as it was (a takeover writes its own, equivalent one)
  and only when the job is in the queue, so that a retry never repeats an answer of a job that
  was never queued.
  Returns 1 when the answer was written, 0 when the claim changed, -1 when the job is not queued.
]]
if redis.call('EXISTS', KEYS[4]) == 0 then return -1 end
local f = redis.call('HMGET', KEYS[1], 'state', 'jobId', 'platform', 'userKey')
if f[1] == 'queued' or f[1] == 'active' or f[1] == 'review' then
  emit(KEYS[2], ARGV[1], f[2], f[3], f[4], 'queued', ARGV[2])
end
if redis.call('GET', KEYS[3]) == ARGV[3] then
  redis.call('SET', KEYS[3], ARGV[4], 'EX', tonumber(ARGV[5]))
  return 1
end
return 0
