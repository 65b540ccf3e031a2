--[[
  Adds a job to its user's set of waiting jobs and returns its rank (jobs of that user already
  waiting). Idempotent: a job already in the set keeps counting once.
  KEYS[1] the user's waiting set   {prefix}:fq:waiting:{user}
  ARGV[1] job id   ARGV[2] ttl (s)
  Returns the rank (0 for the user's first waiting job).
]]
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
return redis.call('SCARD', KEYS[1]) - 1
