--[[
  Gives back a charge whose request the core refused (no job was made).
  KEYS[1] room's day hash   {prefix}:wechat:room:{roomId}:{day}
  ARGV[1] charge field (c:{eventId})
  Returns 1 when the charge was given back, 0 when there was none.
]]
local cost = redis.call('HGET', KEYS[1], ARGV[1])
if not cost then
  return 0
end
redis.call('HINCRBY', KEYS[1], 'spent', -tonumber(cost))
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
