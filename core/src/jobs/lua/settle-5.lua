--[[
  Settles one reservation alone (the ledger's own operations and tests; jobs settle in finish-11).
  KEYS[1] reservation  KEYS[2] user's day hash  KEYS[3] bonus  KEYS[4] tenant's day hash  KEYS[5] active set
  ARGV[1] 'commit' | 'refund' | 'uncommit'  ARGV[2] now (ms)  ARGV[3] reservation ttl (s)
  Returns the result of settle().
]]
return settle(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], ARGV[1], ARGV[2], tonumber(ARGV[3]))
