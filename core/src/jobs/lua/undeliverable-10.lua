--[[
  Gives up on delivering a job's outcome (the platform refused it for good, or kept failing past the
  retry window): the delivery is marked undeliverable and a video's charge is refunded. The record
  and the video stay readable (jobs show) for the retention time.
  KEYS[1] record hash  KEYS[2] delivery hash  KEYS[3] delivery outbox  KEYS[4] reservation
  KEYS[5] user's day hash  KEYS[6] bonus  KEYS[7] tenant's day hash  KEYS[8] user's active set
  KEYS[9] progress stream  KEYS[10] per-state counters
  ARGV[1] now (ms)  ARGV[2] reservation ttl (s)  ARGV[3] stream maxlen  ARGV[4] reason
  ARGV[5] retention (s)  ARGV[6] event data (JSON)
  ARGV[7] (optional) the kinds of the job's extra shares, keys from KEYS[11] (as finish-11): uncommitted
          with the job's own charge
  Returns 'undeliverable' | 'delivered' (too late: it went out) | 'missing'.
]]
local dstate = redis.call('HGET', KEYS[2], 'state')
if not dstate then return 'missing' end
if dstate == 'delivered' then return 'delivered' end
if dstate == 'undeliverable' then return 'undeliverable' end
redis.call('HSET', KEYS[2], 'state', 'undeliverable', 'failedAt', ARGV[1], 'reason', ARGV[4])
local f = redis.call('HMGET', KEYS[1], 'jobId', 'platform', 'userKey', 'state')
local jobId = f[1] or redis.call('HGET', KEYS[4], 'jobId') or ''
redis.call('ZREM', KEYS[3], jobId)
if f[4] == 'succeeded' then
  settle(KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], 'uncommit', ARGV[1], tonumber(ARGV[2]))
  settleShares(11, ARGV[7], 'uncommit', ARGV[1], tonumber(ARGV[2]))
  redis.call('HSET', KEYS[1], 'state', 'undeliverable')
  count(KEYS[10], 'succeeded', 'undeliverable')
end
local retention = tonumber(ARGV[5])
if f[4] and redis.call('TTL', KEYS[1]) < retention then redis.call('EXPIRE', KEYS[1], retention) end
if redis.call('TTL', KEYS[2]) < retention then redis.call('EXPIRE', KEYS[2], retention) end
emit(KEYS[9], ARGV[3], jobId, f[2] or '', f[3] or '', 'undeliverable', ARGV[6])
return 'undeliverable'
