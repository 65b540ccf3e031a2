--[[
  Settles a group-pool hold once: 'commit' held → committed; 'refund' held → refunded (the credits
  go back to the pool); 'uncommit' committed → refunded (a video that could never be delivered).
  KEYS[1] the pool's balance  KEYS[2] the hold
  ARGV[1] action  ARGV[2] now (ms)  ARGV[3] hold ttl (s)
  Returns 'committed' | 'refunded' | 'noop' | 'missing'
]]
local state = redis.call('HGET', KEYS[2], 'state')
if not state then return 'missing' end
local wanted = 'held'
if ARGV[1] == 'uncommit' then wanted = 'committed' end
if state ~= wanted then return 'noop' end
if ARGV[1] == 'commit' then
  redis.call('HSET', KEYS[2], 'state', 'committed', 'settledAt', ARGV[2])
  redis.call('EXPIRE', KEYS[2], tonumber(ARGV[3]))
  return 'committed'
end
redis.call('INCRBY', KEYS[1], tonumber(redis.call('HGET', KEYS[2], 'cost')))
redis.call('HSET', KEYS[2], 'state', 'refunded', 'settledAt', ARGV[2])
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[3]))
return 'refunded'
