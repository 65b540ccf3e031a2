import { z } from 'zod';
import { GenerationSpecSchema } from '../model/generation-spec.schema.ts';
import { LocaleSchema, PlatformSchema, ReplyTargetSchema } from '../model/chat-request.schema.ts';
import { TierSchema } from '../model/tier.schema.ts';

export const GENERATE_QUEUE = 'generate';
export function deliveryQueueName(platform: string): string {
  return `deliver-${platform}`;
}

export { TierSchema };

/**
 * The payload of a `generate` job: a pointer to the job record, which is the job (spec, flags,
 * reply target); nothing here can drift from it. Validated when enqueued and when read.
 * Version-1 payloads (before the lifecycle) carried the whole job; a worker reads only their jobId.
 */
export const GenerateJobDataSchema = z.object({
  version: z.union([z.literal(1), z.literal(2)]),
  jobId: z.string().min(1).max(64),
  userKey: z.string().min(1).max(300),
  enqueuedAt: z.number().int(),
});
export type GenerateJobData = z.infer<typeof GenerateJobDataSchema>;
export type GenerateJobDataInput = z.input<typeof GenerateJobDataSchema>;

export const VideoResultSchema = z.object({
  videoRef: z.string(),
  posterRef: z.string().optional(),
  bytes: z.number().int().nonnegative(),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  frames: z.number().int().positive(),
  fps: z.number().positive(),
  durationSec: z.number().nonnegative(),
  sha256: z.string().optional(),
  /** Set when the file exceeds the platform's upload budget: deliver a link instead. */
  needsLink: z.boolean().default(false),
  downgraded: z.boolean().default(false),
});
export type VideoResult = z.infer<typeof VideoResultSchema>;

const LocalizedTextSchema = z.object({ 'zh-CN': z.string(), en: z.string() });

export const DeliveryOutcomeSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('video'), result: VideoResultSchema }),
  z.object({ kind: z.literal('failed'), code: z.string(), message: LocalizedTextSchema }),
  z.object({ kind: z.literal('blocked'), code: z.string(), message: LocalizedTextSchema }),
  z.object({ kind: z.literal('cancelled'), message: LocalizedTextSchema }),
]);
export type DeliveryOutcome = z.infer<typeof DeliveryOutcomeSchema>;

/** The payload of a `deliver-<platform>` job, read by that platform's adapter. */
export const DeliveryJobDataSchema = z.object({
  version: z.union([z.literal(1), z.literal(2)]),
  jobId: z.string(),
  platform: PlatformSchema,
  userKey: z.string(),
  channelId: z.string(),
  locale: LocaleSchema,
  replyTarget: ReplyTargetSchema,
  prompt: z.string().optional(),
  outcome: DeliveryOutcomeSchema,
  /** The job's record is kept by the lifecycle; an adapter may show the spec summary. */
  spec: GenerationSpecSchema.optional(),
});
export type DeliveryJobData = z.infer<typeof DeliveryJobDataSchema>;
export type DeliveryJobDataInput = z.input<typeof DeliveryJobDataSchema>;

/** Progress a worker reports on a running job (BullMQ job progress). */
export const JobProgressSchema = z.object({
  step: z.number().int().nonnegative(),
  totalSteps: z.number().int().positive(),
  phase: z.enum(['queued', 'loading', 'denoising', 'encoding', 'scanning', 'delivering']),
  previewRef: z.string().optional(),
  at: z.number().int(),
});
export type JobProgress = z.infer<typeof JobProgressSchema>;
