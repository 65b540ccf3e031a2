--[[
  A text-only intake in one call: claim the platform event, refuse a blocked user, admit (admit.lua:
  reserve + record + rank + place in line), add the job to the generate queue with BullMQ's own
  script (bullmqAddPrioritized, prepended), send the 'queued' event and write the answer's facts
  over the claim. Only a refusal leaves the claim pending (the intake writes its answer after).
  KEYS[1] the event's idempotency record  KEYS[2] the blocked users hash (userKey → the block)
  KEYS[3..16] admit-14's KEYS[1..14]  KEYS[17] the progress stream
  KEYS[18..26] BullMQ's addPrioritizedJob keys (marker, meta, id, prioritized, delayed, completed,
    active, events, pc)
  ARGV[1] the claim (the pending idempotency record)  ARGV[2] its ttl (s)  ARGV[3] the user's key
  ARGV[4..25] admit-14's ARGV[1..22] (ARGV[24], run times to read, is 0: the ETA's average is given)
  ARGV[26] progress stream maxlen  ARGV[27] the job's platform
  ARGV[28] BullMQ's key prefix of the queue ('{bull prefix}:generate:')  ARGV[29] the job's name
  ARGV[30] the job's data (JSON)  ARGV[31] its options as BullMQ encodes them (JSON; id and priority added here)
  ARGV[32] workers  ARGV[33] the mode's mean run time (s)
  ARGV[34] the answer's head: '{"state":"done","jobId":…,"accepted":{…,' (this call adds position,
    etaSeconds and creditsLeft)
  Returns {'claimed', record} (claimed before; nothing written), {'blocked'} (claim written), a
  refusal of reserve.lua as it is (claim written), or {'accepted', position, etaSeconds, creditsLeft, rank}.
]]
if not redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[2]), 'NX') then
  return { 'claimed', redis.call('GET', KEYS[1]) }
end
if redis.call('HEXISTS', KEYS[2], ARGV[3]) == 1 then return { 'blocked' } end
local K, A = {}, {}
for i = 3, 16 do K[#K + 1] = KEYS[i] end
for i = 4, 25 do A[#A + 1] = ARGV[i] end
local out = admit(K, A)
-- A refusal; or a reservation found already made ('exists': not this call's, as its job id is new).
if out[1] ~= 'ok' then return out end

local jobId = A[1]
local rank, ahead, plain, running = out[4], out[5], out[6], out[7]
local opts = cjson.decode(ARGV[31])
opts['jobId'] = jobId
opts['priority'] = fairPriority(rank, A[19])
local added = bullmqAddPrioritized(
  { KEYS[18], KEYS[19], KEYS[20], KEYS[21], KEYS[22], KEYS[23], KEYS[24], KEYS[25], KEYS[26] },
  { cmsgpack.pack({ ARGV[28], jobId, ARGV[29], tonumber(A[16]) }), ARGV[30], cmsgpack.pack(opts) })
if type(added) == 'number' and added < 0 then
  return redis.error_reply('BullMQ refused the add (' .. added .. ')')
end

-- The place in line and the ETA as FairQueue.positionFrom tells them (etaOf).
local position = ahead + plain + 1
local workers = math.max(1, tonumber(ARGV[32]))
local avg = tonumber(ARGV[33])
local eta = math.ceil(((position - 1 + running) / workers) * avg + avg)
local creditsLeft = tonumber(out[2]) + tonumber(out[3])
emit(KEYS[17], ARGV[26], jobId, ARGV[27], ARGV[3], 'queued', '{"position":' .. position .. ',"etaSeconds":' .. eta .. '}')
redis.call('SET', KEYS[1], ARGV[34] .. '"position":' .. position .. ',"etaSeconds":' .. eta .. ',"creditsLeft":' .. creditsLeft .. '}}', 'EX', tonumber(ARGV[2]))
return { 'accepted', position, eta, creditsLeft, rank }
