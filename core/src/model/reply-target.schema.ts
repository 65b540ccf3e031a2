import { z } from 'zod';

const MiB = 1024 * 1024;

/**
 * Upload budgets per platform: the largest video file delivered as an attachment. `null` means the
 * platform plays from a URL (no upload). Adapters put the budget into each reply target (Discord's
 * interaction carries its own `attachment_size_limit`), so the worker reads only the number.
 */
export const DEFAULT_UPLOAD_BYTES = {
  /** Discord: 10 MiB per file unless the interaction says more; a request is capped at 25 MiB. */
  discord: 10 * MiB,
  /** Slack allows 1 GB per file; 250 MiB is our cap (upload time, inline playback on mobile). */
  slack: 250 * MiB,
  /** GUESS: WeChat video messages through wechaty puppets fail unreliably above ~20 MB. */
  wechat: 20 * 1000 * 1000,
  /** The mini program plays from a URL. */
  miniprogram: null,
  /** The playground plays from a URL. */
  web: null,
  /** Written to a local file. */
  cli: null,
} as const satisfies Record<string, number | null>;

/** Discord never takes more than this in one request, whatever the interaction says. */
export const DISCORD_REQUEST_CAP_BYTES = 25 * MiB;

const Id = z.string().min(1).max(256);
const Budget = z.number().int().positive().max(4 * 1024 * MiB).nullable();

export const DiscordReplyTargetSchema = z.object({
  platform: z.literal('discord'),
  applicationId: Id,
  /** The interaction token (follow-ups for 15 minutes); absent for messages posted by the bot. */
  interactionToken: z.string().min(1).max(1000).optional(),
  /** When the interaction was created (ms since the epoch): its token is good for 15 minutes from then. */
  interactionCreatedAt: z.number().int().nonnegative().optional(),
  channelId: Id,
  guildId: Id.optional(),
  /** The status message to edit, once posted. */
  messageId: Id.optional(),
  maxUploadBytes: Budget.default(DEFAULT_UPLOAD_BYTES.discord).transform((n) => (n === null ? n : Math.min(n, DISCORD_REQUEST_CAP_BYTES))),
});

export const SlackReplyTargetSchema = z.object({
  platform: z.literal('slack'),
  teamId: Id,
  channelId: Id,
  threadTs: z.string().max(64).optional(),
  /** The slash command's response_url (5 uses in 30 minutes). */
  responseUrl: z.url().max(2048).optional(),
  /** The status message to update, once posted. */
  messageTs: z.string().max(64).optional(),
  maxUploadBytes: Budget.default(DEFAULT_UPLOAD_BYTES.slack),
});

export const WeChatReplyTargetSchema = z.object({
  platform: z.literal('wechat'),
  /** The talker (private chat) … */
  contactId: Id.optional(),
  /** … or the room, with the member to mention. */
  roomId: Id.optional(),
  mentionId: Id.optional(),
  maxUploadBytes: Budget.default(DEFAULT_UPLOAD_BYTES.wechat),
});

export const MiniProgramReplyTargetSchema = z.object({
  platform: z.literal('miniprogram'),
  appId: Id,
  openid: Id,
  maxUploadBytes: Budget.default(DEFAULT_UPLOAD_BYTES.miniprogram),
});

export const WebReplyTargetSchema = z.object({
  platform: z.literal('web'),
  sessionId: Id,
  maxUploadBytes: Budget.default(DEFAULT_UPLOAD_BYTES.web),
});

export const CliReplyTargetSchema = z.object({
  platform: z.literal('cli'),
  /** Absolute path of the mp4 to write. */
  out: z.string().min(1).max(4096),
  maxUploadBytes: Budget.default(DEFAULT_UPLOAD_BYTES.cli),
});

/** Where and how to answer a job: one shape per platform, carrying what its delivery needs. */
export const ReplyTargetSchema = z.discriminatedUnion('platform', [
  DiscordReplyTargetSchema,
  SlackReplyTargetSchema,
  WeChatReplyTargetSchema,
  MiniProgramReplyTargetSchema,
  WebReplyTargetSchema,
  CliReplyTargetSchema,
]);
export type ReplyTarget = z.infer<typeof ReplyTargetSchema>;
export type ReplyTargetInput = z.input<typeof ReplyTargetSchema>;
export type ReplyTargetOf<P extends ReplyTarget['platform']> = Extract<ReplyTarget, { platform: P }>;
