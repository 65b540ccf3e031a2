--[[
  Charges a room's daily credits for one request, idempotently (a repeated request is charged once).
  KEYS[1] room's day hash   {prefix}:wechat:room:{roomId}:{day}   fields spent, c:{eventId} (cost)
  ARGV[1] charge field (c:{eventId})  ARGV[2] cost  ARGV[3] daily limit  ARGV[4] key ttl (s)
  Returns { ok, spent }: ok 1 charged (or charged before), 0 refused (spent + cost > limit).
]]
local spent = tonumber(redis.call('HGET', KEYS[1], 'spent') or '0')
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  return { 1, spent }
end
local cost = tonumber(ARGV[2])
if spent + cost > tonumber(ARGV[3]) then
  return { 0, spent }
end
spent = redis.call('HINCRBY', KEYS[1], 'spent', cost)
redis.call('HSET', KEYS[1], ARGV[1], cost)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
return { 1, spent }
