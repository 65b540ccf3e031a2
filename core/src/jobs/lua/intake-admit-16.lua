--[[
  A text-only intake's claim of its platform event and its admission in one call (its parse and
  moderation need no Redis, so they run before): claim the event, refuse a blocked user, then admit
  (admit.lua: reserve + record + rank + place in line).
  KEYS[1] the event's idempotency record  KEYS[2] the blocked users hash (userKey → the block)
  KEYS[3..16] admit-14's KEYS[1..14]
  ARGV[1] the claim (the pending idempotency record)  ARGV[2] its ttl (s)  ARGV[3] the user's key
  ARGV[4..] admit-14's ARGV[1..]
  Returns {'claimed', record}: the event was claimed before (its record as it is; nothing written);
    {'blocked'}: the claim is written, and the user is blocked (nothing else written);
    otherwise admit's answer, the claim written.
]]
-- One call claims a new event; only one claimed before is read (SET NX's answer is nil then).
if not redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[2]), 'NX') then
  return { 'claimed', redis.call('GET', KEYS[1]) }
end
if redis.call('HEXISTS', KEYS[2], ARGV[3]) == 1 then return { 'blocked' } end
local K, A = {}, {}
for i = 3, #KEYS do K[#K + 1] = KEYS[i] end
for i = 4, #ARGV do A[#A + 1] = ARGV[i] end
return admit(K, A)
