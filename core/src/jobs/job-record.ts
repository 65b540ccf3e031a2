import type { Redis } from 'ioredis';
import { z } from 'zod';
import { GenerationSpecSchema } from '../model/generation-spec.schema.ts';
import { LocaleSchema, PlatformSchema, ReplyTargetSchema } from '../model/chat-request.schema.ts';
import { Keys } from '../redis/keys.ts';
import { VideoResultSchema } from '../queue/job-payloads.schema.ts';

export const JOB_STATES = ['queued', 'active', 'review', 'succeeded', 'failed', 'cancelled', 'blocked'] as const;
export const JobStateSchema = z.enum(JOB_STATES);
export type JobState = z.infer<typeof JobStateSchema>;
export const FINAL_STATES: ReadonlySet<JobState> = new Set(['succeeded', 'failed', 'cancelled', 'blocked']);

export const JobErrorSchema = z.object({ code: z.string(), message: z.string(), retryable: z.boolean().default(false) });

export const JobRecordSchema = z.object({
  version: z.literal(1),
  jobId: z.string(),
  state: JobStateSchema,
  platform: PlatformSchema,
  userKey: z.string(),
  tenantKey: z.string(),
  channelId: z.string(),
  eventId: z.string(),
  cost: z.number().int(),
  spec: GenerationSpecSchema,
  createdAt: z.number().int(),
  startedAt: z.number().int().optional(),
  finishedAt: z.number().int().optional(),
  attempts: z.number().int().default(0),
  result: VideoResultSchema.optional(),
  error: JobErrorSchema.optional(),
  reviewRequired: z.boolean().default(false),
  /** Where to answer, kept with the record so that a late answer (after a review) can still go out. */
  replyTarget: ReplyTargetSchema.optional(),
  locale: LocaleSchema.optional(),
});
export type JobRecord = z.infer<typeof JobRecordSchema>;
export type JobRecordInput = z.input<typeof JobRecordSchema>;

const JSON_FIELDS = new Set(['spec', 'result', 'error', 'replyTarget']);
const NUMBER_FIELDS = new Set(['cost', 'createdAt', 'startedAt', 'finishedAt', 'attempts', 'version']);
const BOOL_FIELDS = new Set(['reviewRequired']);
const RECORD_TTL_SECONDS = 90 * 24 * 3600;
const USER_LIST_MAX = 500;

function toHash(rec: Partial<JobRecord>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(rec)) {
    if (v === undefined) continue;
    out[k] = JSON_FIELDS.has(k) ? JSON.stringify(v) : String(v);
  }
  return out;
}

function fromHash(h: Record<string, string>): unknown {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(h)) {
    if (JSON_FIELDS.has(k)) out[k] = JSON.parse(v);
    else if (NUMBER_FIELDS.has(k)) out[k] = Number(v);
    else if (BOOL_FIELDS.has(k)) out[k] = v === 'true';
    else out[k] = v;
  }
  return out;
}

// KEYS[1] the record. ARGV[1] final states (comma-separated), ARGV[2] new state or '', then
// field/value pairs. Returns 0 when the record is missing, 2 when it is final and the update would
// change its state (nothing written), 1 when applied.
const UPDATE_SCRIPT = `
local current = redis.call('HGET', KEYS[1], 'state')
if not current then return 0 end
if ARGV[2] ~= '' and ARGV[2] ~= current then
  for s in string.gmatch(ARGV[1], '[^,]+') do
    if s == current then return 2 end
  end
end
for i = 3, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
return 1`;

/** Job records: one Redis hash per job, readable by id, listable per user (newest first). */
export class JobStore {
  private readonly keys: Keys;
  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.keys = new Keys(prefix);
  }

  async create(input: JobRecordInput): Promise<JobRecord> {
    const rec = JobRecordSchema.parse(input);
    const key = this.keys.job(rec.jobId);
    const listKey = this.keys.userJobs(rec.userKey);
    await this.redis
      .multi()
      .hset(key, toHash(rec))
      .expire(key, RECORD_TTL_SECONDS)
      .zadd(listKey, rec.createdAt, rec.jobId)
      .zremrangebyrank(listKey, 0, -USER_LIST_MAX - 1)
      .expire(listKey, RECORD_TTL_SECONDS)
      .exec();
    return rec;
  }

  async get(jobId: string): Promise<JobRecord | undefined> {
    const h = await this.redis.hgetall(this.keys.job(jobId));
    if (Object.keys(h).length === 0) return undefined;
    return JobRecordSchema.parse(fromHash(h));
  }

  /** Applies a partial update to an existing record; a final state is never left again. */
  /**
   * Applies a partial update to an existing record, atomically: a record in a final state never
   * changes state again (a late worker cannot turn a cancelled job into a succeeded one), and a
   * missing record is not created.
   */
  async update(jobId: string, patch: Partial<Omit<JobRecord, 'jobId' | 'version'>>): Promise<JobRecord | undefined> {
    const fields = toHash(patch);
    const args = Object.entries(fields).flat();
    const applied = await this.redis.eval(UPDATE_SCRIPT, 1, this.keys.job(jobId), [...FINAL_STATES].join(','), patch.state ?? '', ...args);
    if (applied === 0) return undefined;
    return this.get(jobId);
  }

  async listByUser(userKey: string, limit = 20): Promise<JobRecord[]> {
    const ids = await this.redis.zrevrange(this.keys.userJobs(userKey), 0, Math.max(0, Math.min(limit, USER_LIST_MAX) - 1));
    const recs = await Promise.all(ids.map((id) => this.get(id)));
    return recs.filter((r): r is JobRecord => r !== undefined);
  }
}
