--[[
  Settles a held reservation: commit (the video was delivered) or refund (failure, moderation
  block, cancel). Idempotent: a reservation that is no longer held is left alone.
  KEYS[1] reservation hash   KEYS[2] user's day hash (the reservation's day)
  KEYS[3] user's bonus balance   KEYS[4] tenant's day hash (the reservation's day)
  KEYS[5] user's active set
  ARGV[1] 'commit' | 'refund'   ARGV[2] now (ms)   ARGV[3] reservation ttl (s)
  Returns { result, previousState }: result is 'committed' | 'refunded' | 'noop' | 'missing'.
]]
local state = redis.call('HGET', KEYS[1], 'state')
if not state then
  return { 'missing', '' }
end
if state ~= 'held' then
  return { 'noop', state }
end
local jobId = redis.call('HGET', KEYS[1], 'jobId')
local cost = tonumber(redis.call('HGET', KEYS[1], 'cost'))
local daily = tonumber(redis.call('HGET', KEYS[1], 'daily'))
local bonus = tonumber(redis.call('HGET', KEYS[1], 'bonus'))
redis.call('HINCRBY', KEYS[2], 'held', 0 - daily) -- not -daily: Lua prints -0, which HINCRBY refuses
redis.call('HINCRBY', KEYS[4], 'held', 0 - cost)
-- A late settlement (a long review) must not leave day hashes without an expiry.
if redis.call('TTL', KEYS[2]) < 0 then redis.call('EXPIRE', KEYS[2], tonumber(ARGV[3])) end
if redis.call('TTL', KEYS[4]) < 0 then redis.call('EXPIRE', KEYS[4], tonumber(ARGV[3])) end
redis.call('SREM', KEYS[5], jobId)
if ARGV[1] == 'commit' then
  redis.call('HINCRBY', KEYS[2], 'spent', daily)
  redis.call('HINCRBY', KEYS[4], 'spent', cost)
  redis.call('HSET', KEYS[1], 'state', 'committed', 'settledAt', ARGV[2])
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
  return { 'committed', state }
end
if bonus > 0 then
  redis.call('INCRBY', KEYS[3], bonus)
end
redis.call('HSET', KEYS[1], 'state', 'refunded', 'settledAt', ARGV[2])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return { 'refunded', state }
