import { z } from 'zod';

import { ReplyTargetSchema } from './reply-target.schema.ts';

export const PLATFORMS = ['discord', 'slack', 'wechat', 'miniprogram', 'web', 'cli'] as const;
export const PlatformSchema = z.enum(PLATFORMS);
export type Platform = z.infer<typeof PlatformSchema>;

export const LocaleSchema = z.enum(['zh-CN', 'en']);
export type Locale = z.infer<typeof LocaleSchema>;

export { ReplyTargetSchema };
export type { ReplyTarget, ReplyTargetInput } from './reply-target.schema.ts';

export const AttachmentSchema = z.object({
  kind: z.literal('image'),
  /** A URL to fetch through the SSRF guard … */
  url: z.url().max(4096).optional(),
  /** … or a blob already stored by the adapter (e.g. a WeChat image message). */
  storageRef: z.string().max(512).optional(),
  contentType: z.string().max(128).optional(),
  size: z.number().int().nonnegative().optional(),
  name: z.string().max(256).optional(),
});
export type Attachment = z.infer<typeof AttachmentSchema>;

const Id = z.string().min(1).max(256);

/** One chat message (slash command, bot mention, mini program POST) turned into one shape. */
export const ChatRequestSchema = z.object({
  version: z.literal(1),
  platform: PlatformSchema,
  /** Guild, team, room or mini program app id. */
  tenantId: Id,
  channelId: Id,
  userId: Id,
  /** The platform's own id for this event: the idempotency key. */
  eventId: Id,
  text: z.string().max(8000),
  attachments: z.array(AttachmentSchema).max(4).default([]),
  replyTarget: ReplyTargetSchema,
  /** The user's language when the platform says; the configured default otherwise. */
  locale: LocaleSchema.optional(),
  /** Platform roles the adapter resolved (mapped to tiers by config). */
  roles: z.array(z.string().max(64)).max(50).default([]),
  receivedAt: z.number().int().nonnegative().optional(),
}).refine((r) => r.replyTarget.platform === r.platform, { path: ['replyTarget', 'platform'], message: 'must be the request\'s platform' });
export type ChatRequest = z.infer<typeof ChatRequestSchema>;
export type ChatRequestInput = z.input<typeof ChatRequestSchema>;
