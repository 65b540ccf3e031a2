--[[
  A change of a job that is still running: queued ⇄ active, or fields only (a downgraded spec, a
  provider's task id). Final states and review are left by finish-11 only.
  KEYS[1] record hash  KEYS[2] per-state counters  KEYS[3] progress stream
  ARGV[1] allowed current states (comma-separated)  ARGV[2] new state or ''  ARGV[3] stream maxlen
  ARGV[4] event type or ''  ARGV[5] event data (JSON)  ARGV[6..] field/value pairs
  Returns { 'ok', previous } | { 'missing', '' } | { 'conflict', current }.
]]
local current = redis.call('HGET', KEYS[1], 'state')
if not current then return { 'missing', '' } end
local allowed = false
for s in string.gmatch(ARGV[1], '[^,]+') do
  if s == current then allowed = true end
end
if not allowed then return { 'conflict', current } end
for i = 6, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
if ARGV[2] ~= '' and ARGV[2] ~= current then
  redis.call('HSET', KEYS[1], 'state', ARGV[2])
  count(KEYS[2], current, ARGV[2])
end
if ARGV[4] ~= '' then
  local f = redis.call('HMGET', KEYS[1], 'jobId', 'platform', 'userKey')
  emit(KEYS[3], ARGV[3], f[1], f[2], f[3], ARGV[4], ARGV[5])
end
return { 'ok', current }
