import { z } from 'zod';
import { LocaleSchema } from '../model/chat-request.schema.ts';
import { GenerationSpecSchema } from '../model/generation-spec.schema.ts';

/** BullMQ queues of a storyboard render: one segment job per shot, and the stitch job (their parent). */
export const COLLAB_SEGMENT_QUEUE = 'collab-segment';
export const COLLAB_STITCH_QUEUE = 'collab-stitch';

export const SegmentJobDataSchema = z.object({
  version: z.literal(1),
  /** The render's job (the stitched video's record). */
  jobId: z.string().min(1).max(80),
  boardKey: z.string().min(1).max(400),
  index: z.number().int().min(0).max(99),
  count: z.number().int().min(1).max(100),
  spec: GenerationSpecSchema,
  /** Start from the previous segment's last frame (its child's result). */
  fromPrevious: z.boolean(),
});
export type SegmentJobData = z.infer<typeof SegmentJobDataSchema>;

/** What a segment job returns: its own clip, with those of the chain below it. */
export const SegmentResultSchema = z.object({
  clips: z.array(z.object({ index: z.number().int().min(0), ref: z.string().min(1).max(512), frames: z.number().int().positive(), fps: z.number().positive() })).max(100),
  lastFrameRef: z.string().min(1).max(512),
});
export type SegmentResult = z.infer<typeof SegmentResultSchema>;

export const StitchJobDataSchema = z.object({
  version: z.literal(1),
  jobId: z.string().min(1).max(80),
  boardKey: z.string().min(1).max(400),
  count: z.number().int().min(1).max(100),
  transitionSeconds: z.number().min(0).max(2),
  /** One line per shot, in order (empty: no subtitle for that shot). */
  subtitles: z.array(z.string().max(1000)).max(100),
  /** Contributors' display names for the end card. */
  credits: z.array(z.string().max(80)).max(100),
  creditsTitle: z.string().max(80),
  endCardSeconds: z.number().min(0).max(10),
  locale: LocaleSchema,
});
export type StitchJobData = z.infer<typeof StitchJobDataSchema>;

/** Events a board's message follows (per-shot progress, stitching, the end, an idle expiry). */
export const CollabEventSchema = z.object({
  id: z.string(),
  boardKey: z.string(),
  type: z.enum(['segment', 'stitching', 'rendered', 'failed', 'expired']),
  /** On `failed`: 'cancelled' when the starter or an admin stopped the render (`collab cancel`); every share refunded, the board open again. */
  reason: z.enum(['cancelled']).optional(),
  jobId: z.string().optional(),
  index: z.number().int().optional(),
  count: z.number().int().optional(),
  phase: z.enum(['started', 'step', 'done', 'retrying']).optional(),
  step: z.number().int().optional(),
  totalSteps: z.number().int().optional(),
  message: z.object({ en: z.string(), 'zh-CN': z.string() }).optional(),
});
export type CollabEvent = z.infer<typeof CollabEventSchema>;
