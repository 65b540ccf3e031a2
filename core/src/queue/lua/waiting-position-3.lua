--[[
  Where a waiting job stands, in one round trip.
  KEYS[1] BullMQ prioritized zset   KEYS[2] BullMQ wait list   KEYS[3] BullMQ active list
  ARGV[1] job id
  Returns { rank or -1, waiting without priority, active }.
]]
local rank = redis.call('ZRANK', KEYS[1], ARGV[1])
if not rank then rank = -1 end
return { rank, redis.call('LLEN', KEYS[2]), redis.call('LLEN', KEYS[3]) }
