import { createRequire } from 'node:module';
import type { Redis } from 'ioredis';
import { z } from 'zod';

/**
 * What the WeChat bot publishes about its login at `<keyPrefix>:wechat:login` (a Redis hash):
 * the login URL to show as a QR code while it waits for a scan, the account once logged in.
 */
export const WeChatLoginStateSchema = z.object({
  status: z.enum(['scan', 'logged-in', 'logged-out']),
  qrcode: z.string().max(2048).optional(),
  user: z.string().max(200).optional(),
  updatedAt: z.coerce.number().int().nonnegative().optional(),
});
export type WeChatLoginState = z.infer<typeof WeChatLoginStateSchema>;

export function wechatLoginKey(keyPrefix: string): string {
  return `${keyPrefix}:wechat:login`;
}

/** The bot's last report, or undefined when none (or one this console cannot read). */
export async function readWeChatLogin(redis: Redis, keyPrefix: string): Promise<WeChatLoginState | undefined> {
  const h = await redis.hgetall(wechatLoginKey(keyPrefix));
  if (Object.keys(h).length === 0) return undefined;
  const parsed = WeChatLoginStateSchema.safeParse(Object.fromEntries(Object.entries(h).filter(([, v]) => v !== '')));
  return parsed.success ? parsed.data : undefined;
}

interface QrCodeModule {
  toString(text: string, options: { type: 'svg'; errorCorrectionLevel?: 'L' | 'M' | 'Q' | 'H'; margin?: number }): Promise<string>;
}

// The qrcode package ships no types; this is the one function used.
const qrcode = createRequire(import.meta.url)('qrcode') as QrCodeModule;

/** The login URL as an SVG QR code, as a data: URL for an <img> (no text in the image). */
export async function qrSvgDataUrl(text: string): Promise<string> {
  const svg = await qrcode.toString(text, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
  return `data:image/svg+xml;base64,${Buffer.from(svg, 'utf8').toString('base64')}`;
}
