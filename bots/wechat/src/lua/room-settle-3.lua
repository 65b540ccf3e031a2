--[[
  Ties an accepted request's charge to its job, at the job's real cost (the core may fit the size).
  KEYS[1] room's day hash   {prefix}:wechat:room:{roomId}:{day}
  KEYS[2] job's link        {prefix}:wechat:roomcharge:{jobId}    "{day hash key}\n{charge field}"
  KEYS[3] job's tombstone   {prefix}:wechat:roomrefunded:{jobId}  set once the job's charge is refunded
  ARGV[1] charge field (c:{eventId})  ARGV[2] real cost  ARGV[3] link ttl (s)
  A refund that came first (the job failed at once) left the tombstone: the charge goes back now.
  Returns 1 settled, 2 refunded (the job had already ended without a video), 0 no such charge.
]]
local old = redis.call('HGET', KEYS[1], ARGV[1])
if not old then
  return 0
end
if redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('HINCRBY', KEYS[1], 'spent', -tonumber(old))
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 2
end
local cost = tonumber(ARGV[2])
if cost ~= tonumber(old) then
  redis.call('HINCRBY', KEYS[1], 'spent', cost - tonumber(old))
  redis.call('HSET', KEYS[1], ARGV[1], cost)
end
redis.call('SET', KEYS[2], KEYS[1] .. '\n' .. ARGV[1], 'EX', tonumber(ARGV[3]))
return 1
