import type { Redis } from 'ioredis';
import { z } from 'zod';
import { GenerationSpecSchema } from '../model/generation-spec.schema.ts';
import { LocaleSchema, PlatformSchema, ReplyTargetSchema } from '../model/chat-request.schema.ts';
import { TierSchema } from '../model/tier.schema.ts';
import { Keys } from '../redis/keys.ts';
import { VideoResultSchema } from '../queue/job-payloads.schema.ts';

export const JOB_STATES = ['queued', 'active', 'review', 'succeeded', 'failed', 'cancelled', 'blocked', 'undeliverable'] as const;
export const JobStateSchema = z.enum(JOB_STATES);
export type JobState = z.infer<typeof JobStateSchema>;
export const FINAL_STATES: ReadonlySet<JobState> = new Set(['succeeded', 'failed', 'cancelled', 'blocked', 'undeliverable']);

export const JobErrorSchema = z.object({ code: z.string(), message: z.string(), retryable: z.boolean().default(false) });

export const JobRecordSchema = z.object({
  /** 1: written before the lifecycle (the queue payload carried the spec); 2: the record is the job. */
  version: z.union([z.literal(1), z.literal(2)]),
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
  // Version-1 records may hold an untyped target from before the per-platform schemas: dropped.
  replyTarget: z.preprocess((v) => (ReplyTargetSchema.safeParse(v).success ? v : undefined), ReplyTargetSchema.optional()),
  locale: LocaleSchema.optional(),
  tier: TierSchema.optional(),
  /** A final job that runs out of memory may retry once at draft size. */
  allowDowngrade: z.boolean().default(true),
  /** Set when a final job ran out of memory and is retried at draft size. */
  downgradedFrom: z.literal('final').optional(),
  /** A hosted API's task started by an earlier attempt, resumed by a retry rather than paid twice. */
  providerTaskId: z.string().min(1).max(200).optional(),
});
export type JobRecord = z.infer<typeof JobRecordSchema>;
export type JobRecordInput = z.input<typeof JobRecordSchema>;

const JSON_FIELDS = new Set(['spec', 'result', 'error', 'replyTarget']);
const NUMBER_FIELDS = new Set(['cost', 'createdAt', 'startedAt', 'finishedAt', 'attempts', 'version']);
const BOOL_FIELDS = new Set(['reviewRequired', 'allowDowngrade']);
export const RECORD_TTL_SECONDS = 90 * 24 * 3600;
export const USER_LIST_MAX = 500;

export function toHash(rec: Partial<JobRecord>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(rec)) {
    if (v === undefined) continue;
    out[k] = JSON_FIELDS.has(k) ? JSON.stringify(v) : String(v);
  }
  return out;
}

export function fromHash(h: Record<string, string>): unknown {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(h)) {
    if (JSON_FIELDS.has(k)) out[k] = JSON.parse(v);
    else if (NUMBER_FIELDS.has(k)) out[k] = Number(v);
    else if (BOOL_FIELDS.has(k)) out[k] = v === 'true';
    else out[k] = v;
  }
  return out;
}

/** Reading job records: one Redis hash per job, listable per user (newest first). Written only by JobLifecycle. */
export class JobStore {
  private readonly keys: Keys;
  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.keys = new Keys(prefix);
  }

  async get(jobId: string): Promise<JobRecord | undefined> {
    const h = await this.redis.hgetall(this.keys.job(jobId));
    if (Object.keys(h).length === 0) return undefined;
    return JobRecordSchema.parse(fromHash(h));
  }

  async listByUser(userKey: string, limit = 20): Promise<JobRecord[]> {
    const ids = await this.redis.zrevrange(this.keys.userJobs(userKey), 0, Math.max(0, Math.min(limit, USER_LIST_MAX) - 1));
    const recs = await Promise.all(ids.map((id) => this.get(id)));
    return recs.filter((r): r is JobRecord => r !== undefined);
  }
}
