/**
 * Configuration of the optional WeChat remote checkers. Off by default: with `enabled: false`
 * (the default) createWeChatModerator returns undefined and nothing talks to WeChat.
 */
import { z } from 'zod';
import { WeChatApiClient, WECHAT_API_BASE_URL } from './wechat-api-client.ts';
import { WeChatMediaCheck, WeChatModerator } from './wechat-media-check.ts';
import type { PublishImage } from './wechat-media-check.ts';
import { WeChatMsgSecCheckModerator } from './wechat-msg-sec-check.ts';

export const WeChatRemoteCheckConfigSchema = z
  .object({
    enabled: z.boolean().default(false),
    baseUrl: z.url().default(WECHAT_API_BASE_URL),
    appId: z.string().min(1).optional(),
    appSecret: z.string().min(1).optional(),
    useStableToken: z.boolean().default(false),
    scene: z.union([z.literal(1), z.literal(2), z.literal(3), z.literal(4)]).default(2),
    requestTimeoutMs: z.number().int().positive().default(10_000),
    /** How long an image check waits for the pushed verdict before answering 'review' (when verdicts are not deferred). */
    mediaResultTimeoutMs: z.number().int().positive().default(60_000),
  })
  .refine((c) => !c.enabled || (c.appId !== undefined && c.appSecret !== undefined), {
    message: 'appId and appSecret are required when the WeChat checks are enabled',
    path: ['appId'],
  });
export type WeChatRemoteCheckConfig = z.infer<typeof WeChatRemoteCheckConfigSchema>;

/**
 * Builds the WeChat moderator from config, or undefined when it is disabled. Image checks are
 * available only when `publishImage` is given (WeChat downloads the image from a public URL).
 */
export function createWeChatModerator(
  config: z.input<typeof WeChatRemoteCheckConfigSchema>,
  deps: { publishImage?: PublishImage; now?: () => number; deferImageVerdicts?: boolean } = {},
): WeChatModerator | undefined {
  const c = WeChatRemoteCheckConfigSchema.parse(config);
  if (!c.enabled || c.appId === undefined || c.appSecret === undefined) return undefined;
  const client = new WeChatApiClient({
    appId: c.appId,
    appSecret: c.appSecret,
    baseUrl: c.baseUrl,
    useStableToken: c.useStableToken,
    requestTimeoutMs: c.requestTimeoutMs,
    ...(deps.now ? { now: deps.now } : {}),
  });
  const text = new WeChatMsgSecCheckModerator({ client, scene: c.scene });
  const media = new WeChatMediaCheck({ client, scene: c.scene, resultTimeoutMs: c.mediaResultTimeoutMs });
  return new WeChatModerator(text, media, deps.publishImage, { deferImageVerdicts: deps.deferImageVerdicts === true });
}
