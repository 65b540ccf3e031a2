import type { Redis } from 'ioredis';
import { z } from 'zod';

/** Where the login state lives: `${keyPrefix}:wechat:login` (a hash), for the admin page. */
export function wechatLoginKey(keyPrefix: string): string {
  return `${keyPrefix}:wechat:login`;
}

export const WechatLoginStatusSchema = z.enum(['scan', 'logged-in', 'logged-out']);
export type WechatLoginStatus = z.infer<typeof WechatLoginStatusSchema>;

/** The bot's login state as the admin page reads it. */
export const WechatLoginStateSchema = z.object({
  status: WechatLoginStatusSchema,
  /** The login URL to show as a QR code, only while status is `scan`. */
  qrcode: z.string().min(1).max(2048).optional(),
  /** The bot account's display name, while logged in. */
  user: z.string().max(256).optional(),
  /** When it last changed (ms since the epoch). */
  updatedAt: z.coerce.number().int().nonnegative(),
});
export type WechatLoginState = z.infer<typeof WechatLoginStateSchema>;

/** The WeChat bot's login state, or undefined when no bot has run (or the hash is unreadable). */
export async function readWechatLogin(redis: Pick<Redis, 'hgetall'>, keyPrefix: string): Promise<WechatLoginState | undefined> {
  const raw = await redis.hgetall(wechatLoginKey(keyPrefix));
  const parsed = WechatLoginStateSchema.safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}

/** Writes the login state; fields that do not apply to the new status are removed. */
export async function writeWechatLogin(redis: Redis, keyPrefix: string, state: WechatLoginState): Promise<void> {
  const key = wechatLoginKey(keyPrefix);
  const fields: Record<string, string> = { status: state.status, updatedAt: String(state.updatedAt) };
  if (state.status === 'scan' && state.qrcode !== undefined) fields.qrcode = state.qrcode.slice(0, 2048);
  if (state.status === 'logged-in' && state.user !== undefined) fields.user = state.user.slice(0, 256);
  const drop = ['qrcode', 'user'].filter((f) => fields[f] === undefined);
  await redis.multi().hdel(key, ...drop).hset(key, fields).exec();
}
