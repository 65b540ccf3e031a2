--[[
  Holds credits from a group pool (collaborative storyboards), atomically and idempotently.
  KEYS[1] the pool's balance  {prefix}:collab:pool:{boardKey}
  KEYS[2] the hold            {prefix}:collab:poolres:{reservationId}
  ARGV[1] cost  ARGV[2] now (ms)  ARGV[3] hold ttl (s)  ARGV[4] pool key (recorded)
  Returns {'ok', balanceAfter} | {'exists', state} | {'credits', balance}
]]
local state = redis.call('HGET', KEYS[2], 'state')
if state then return { 'exists', state } end
local cost = tonumber(ARGV[1])
local balance = tonumber(redis.call('GET', KEYS[1]) or '0')
if balance < cost then return { 'credits', balance } end
local after = redis.call('DECRBY', KEYS[1], cost)
redis.call('HSET', KEYS[2], 'state', 'held', 'cost', cost, 'pool', ARGV[4], 'heldAt', ARGV[2])
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[3]))
return { 'ok', after }
