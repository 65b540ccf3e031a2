--[[
  Refunds a job's room charge exactly once (failed, blocked, cancelled or undeliverable job).
  KEYS[1] job's link        {prefix}:wechat:roomcharge:{jobId}    "{day hash key}\n{charge field}"
  KEYS[2] job's tombstone   {prefix}:wechat:roomrefunded:{jobId}
  ARGV[1] tombstone ttl (s)
  Reads the day hash named in the link: a single Redis or one hash slot, not Redis Cluster.
  Returns the credits given back (0 when there were none, or they were given back before).
]]
if redis.call('EXISTS', KEYS[2]) == 1 then
  return 0
end
redis.call('SET', KEYS[2], '1', 'EX', tonumber(ARGV[1]))
local link = redis.call('GET', KEYS[1])
if not link then
  return 0
end
redis.call('DEL', KEYS[1])
local nl = string.find(link, '\n', 1, true)
local day = string.sub(link, 1, nl - 1)
local field = string.sub(link, nl + 1)
local cost = redis.call('HGET', day, field)
if not cost then
  return 0
end
redis.call('HINCRBY', day, 'spent', -tonumber(cost))
redis.call('HDEL', day, field)
return tonumber(cost)
