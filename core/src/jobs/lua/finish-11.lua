--[[
  Ends a job, or holds its video for review, in one step: the record's state, what the user is told
  (the delivery record and its outbox entry) and the credits (commit for a video, refund for
  anything else) change together or not at all.
  KEYS[1] record hash  KEYS[2] delivery hash  KEYS[3] delivery outbox (zset)  KEYS[4] reservation
  KEYS[5] user's day hash  KEYS[6] bonus  KEYS[7] tenant's day hash  KEYS[8] user's active set
  KEYS[9] cancel flag  KEYS[10] progress stream  KEYS[11] per-state counters
  ARGV[1] outcome: video | failed | blocked | cancelled | review | none (none: nobody is told, e.g.
          the intake failed before answering; refunded)
  ARGV[2] allowed current states (comma-separated)  ARGV[3] now (ms)  ARGV[4] reservation ttl (s)
  ARGV[5] stream maxlen  ARGV[6] delivery payload (JSON) for this outcome
  ARGV[7] delivery payload if a cancel request turns a video into 'cancelled'
  ARGV[8] error (JSON) or ''  ARGV[9] result (JSON) or ''  ARGV[10] event data for this outcome
  ARGV[11] event data for the cancelled case  ARGV[12] delivery record ttl (s)
  ARGV[13] (optional) the kinds of the job's extra shares (settleShares in ledger.lua), whose keys
          follow as KEYS[12…]: a storyboard render's split shares or pool hold settle with the job,
          in this same step (the caller passes the number of keys first)
  An outcome promised by an earlier attempt (a retried job whose first attempt died after telling
  the user) wins over this one: the job is settled as promised.
  A cancel requested while the job ran wins over a video that is not yet promised.
  Returns { status, kind, how }: status 'ok' | 'missing' | 'final' | 'conflict'; kind the outcome
  in force; how 'promised' when an earlier promise decided it.
]]
local FINAL = { succeeded = true, failed = true, blocked = true, cancelled = true, undeliverable = true }
local STATE_OF = { video = 'succeeded', failed = 'failed', blocked = 'blocked', cancelled = 'cancelled', none = 'failed' }

local current = redis.call('HGET', KEYS[1], 'state')
local promised = redis.call('HGET', KEYS[2], 'kind')
if not current then return { 'missing', '', promised or '' } end
if FINAL[current] then return { 'final', current, promised or '' } end
local allowed = false
for s in string.gmatch(ARGV[2], '[^,]+') do
  if s == current then allowed = true end
end
if not allowed and not promised then return { 'conflict', current, '' } end

local now = ARGV[3]
local ttl = tonumber(ARGV[4])
local f = redis.call('HMGET', KEYS[1], 'jobId', 'platform', 'userKey')
local jobId, platform, userKey = f[1], f[2], f[3]
local kind, payload, eventData = ARGV[1], ARGV[6], ARGV[10]

if promised then
  kind = promised
  eventData = redis.call('HGET', KEYS[2], 'event') or '{}'
  local dstate = redis.call('HGET', KEYS[2], 'state')
  if dstate ~= 'delivered' and dstate ~= 'undeliverable' then
    redis.call('ZADD', KEYS[3], 'NX', now, jobId)
  end
else
  -- A cancel requested while the job ran wins over its video, sent or held for review.
  if (kind == 'video' or kind == 'review') and redis.call('EXISTS', KEYS[9]) == 1 then
    kind, payload, eventData = 'cancelled', ARGV[7], ARGV[11]
  end
  if kind == 'review' then
    redis.call('HSET', KEYS[1], 'state', 'review')
    if ARGV[9] ~= '' then redis.call('HSET', KEYS[1], 'result', ARGV[9]) end
    count(KEYS[11], current, 'review')
    emit(KEYS[10], ARGV[5], jobId, platform, userKey, 'review', eventData)
    return { 'ok', 'review', '' }
  end
  if kind ~= 'none' then
    redis.call('HSET', KEYS[2], 'kind', kind, 'payload', payload, 'event', eventData, 'state', 'enqueued', 'enqueuedAt', now, 'attempts', 0)
    redis.call('EXPIRE', KEYS[2], tonumber(ARGV[12]))
    redis.call('ZADD', KEYS[3], now, jobId)
  end
end

local action = 'refund'
if kind == 'video' then action = 'commit' end
settle(KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], action, now, ttl)
settleShares(12, ARGV[13], action, now, ttl)

local state = STATE_OF[kind]
redis.call('HSET', KEYS[1], 'state', state, 'finishedAt', now)
if kind == 'video' and ARGV[9] ~= '' then redis.call('HSET', KEYS[1], 'result', ARGV[9]) end
if kind ~= 'video' and ARGV[8] ~= '' and not promised then redis.call('HSET', KEYS[1], 'error', ARGV[8]) end
count(KEYS[11], current, state)
redis.call('DEL', KEYS[9])
local eventType = kind
if kind == 'video' then eventType = 'ready' end
if kind == 'none' then eventType = 'failed' end
emit(KEYS[10], ARGV[5], jobId, platform, userKey, eventType, eventData)
local how = ''
if promised then how = 'promised' end
return { 'ok', kind, how }
