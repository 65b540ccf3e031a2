--[[
  Settles a group-pool hold once: 'commit' held → committed; 'refund' held → refunded (the credits
  go back to the pool); 'uncommit' committed → refunded (a video that could never be delivered).
  KEYS[1] the pool's balance  KEYS[2] the hold
  ARGV[1] action  ARGV[2] now (ms)  ARGV[3] hold ttl (s)
  Returns 'committed' | 'refunded' | 'noop' | 'missing' (settlePool, in ledger.lua, prepended)
]]
return settlePool(KEYS[1], KEYS[2], ARGV[1], ARGV[2], tonumber(ARGV[3]))
