--[[
  Writes a new job record once (a takeover of a crashed intake finds it written and changes nothing).
  KEYS[1] record hash  KEYS[2] the user's job list (zset)  KEYS[3] per-state counters
  ARGV[1] ttl (s)  ARGV[2] createdAt  ARGV[3] jobId  ARGV[4] list max length  ARGV[5..] field/value pairs
  Returns 1 when written, 0 when the record existed.
]]
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
for i = 5, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
redis.call('ZADD', KEYS[2], tonumber(ARGV[2]), ARGV[3])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, 0 - tonumber(ARGV[4]) - 1)
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[1]))
count(KEYS[3], nil, redis.call('HGET', KEYS[1], 'state'))
return 1
