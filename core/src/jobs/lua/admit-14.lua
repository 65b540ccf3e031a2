--[[
  The intake's admission in one call: reserve the credits (reserve.lua, prepended), write the job
  record (as create-3), give the job its rank among its user's waiting jobs (as the fair queue's
  enqueue-rank-1) and read what its place in line will be, so that enqueueing is all that is left.
  A takeover of a crashed intake finds its reservation held: the record and the rank are then
  written only if missing. A reservation already settled (the job ran) writes nothing.
  KEYS[1..5]  reservation, user's day, bonus, tenant's day, active set (reserve.lua)
  KEYS[6] record hash  KEYS[7] the user's job list (zset)  KEYS[8] per-state counters
  KEYS[9] the user's waiting jobs in the fair queue (zset jobId → rank)
  KEYS[10] the user's settings hash (field allowDowngrade 'true'|'false')
  KEYS[11] BullMQ prioritized zset  KEYS[12] BullMQ wait list  KEYS[13] BullMQ active list
  KEYS[14] recent run times of this mode (list of ms)
  ARGV[1..14] reserve.lua's arguments
  ARGV[15] record ttl (s)  ARGV[16] createdAt  ARGV[17] user list max length
  ARGV[18] waiting set ttl (s)  ARGV[19] 1 for a final job, 0 for a draft
  ARGV[20] the operator's allowDowngrade default ('true'|'false')  ARGV[21] run times to read
  ARGV[22] the record's fields, one JSON object of strings (allowDowngrade left out: the user's choice or the default)
  Returns { status, n1, n2, rank, ahead, plain, running, durations... }:
    status 'ok' (reserved now) | 'exists' (held by an earlier try of this intake): the job is
      recorded and ranked; ahead = waiting jobs with a priority at most this job's, plain = jobs
      in the wait list, running = jobs active, then the recent run times.
    any other status: reserve.lua's answer as it is (nothing written).
]]
return admit(KEYS, ARGV)
