import { z } from 'zod';
import { PlatformSchema } from '../model/chat-request.schema.ts';

const LocalizedTextSchema = z.object({ 'zh-CN': z.string(), en: z.string() });

const base = {
  jobId: z.string(),
  platform: PlatformSchema,
  userKey: z.string(),
  /** Milliseconds since the epoch, from the stream entry's id. */
  at: z.number(),
  /** The stream entry's id: events of one job arrive in this order. */
  seq: z.string(),
};

/**
 * What happens to a job, as adapters see it (progress.subscribe). Adapters edit their status
 * messages from these events; none of them reads BullMQ or Redis keys.
 */
export const ProgressEventSchema = z.discriminatedUnion('type', [
  z.object({ ...base, type: z.literal('queued'), position: z.number().int().nonnegative(), etaSeconds: z.number().nonnegative() }),
  z.object({ ...base, type: z.literal('started'), attempt: z.number().int().positive() }),
  z.object({ ...base, type: z.literal('step'), step: z.number().int().nonnegative(), totalSteps: z.number().int().positive(), previewRef: z.string().optional() }),
  z.object({ ...base, type: z.literal('encoding'), phase: z.enum(['encoding', 'scanning']) }),
  /** The video is made and waits for a moderator before it is sent. */
  z.object({ ...base, type: z.literal('review') }),
  /** The video is made and on its way to the platform. */
  z.object({ ...base, type: z.literal('ready') }),
  z.object({ ...base, type: z.literal('delivered') }),
  z.object({ ...base, type: z.literal('failed'), code: z.string(), message: LocalizedTextSchema }),
  z.object({ ...base, type: z.literal('cancelled'), message: LocalizedTextSchema }),
]);
export type ProgressEvent = z.infer<typeof ProgressEventSchema>;
export type ProgressEventType = ProgressEvent['type'];

/** The events after which nothing more happens to a job (delivered ends a video's story). */
export const TERMINAL_EVENTS: ReadonlySet<ProgressEventType> = new Set(['delivered', 'failed', 'cancelled']);

export type TerminalEvent = Extract<ProgressEvent, { type: 'delivered' | 'failed' | 'cancelled' }>;

/** Whether nothing more will happen to the job after this event. */
export function isTerminalEvent(e: ProgressEvent): e is TerminalEvent {
  return TERMINAL_EVENTS.has(e.type);
}
