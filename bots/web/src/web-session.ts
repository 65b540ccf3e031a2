import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { z } from 'zod';

/** The playground's session cookie: HttpOnly, SameSite=Lax, a random token (never a user id). */
export const SESSION_COOKIE = 'fc_web';
/** The language chosen with the page's switch (read by the server; not a secret). */
export const LANG_COOKIE = 'fc_lang';

/** A session nobody used yet (a page view) lives a day; one that submitted a job lives this long from its last use. */
export const SESSION_TTL_SECONDS = 30 * 24 * 3600;
export const FRESH_SESSION_TTL_SECONDS = 24 * 3600;

const TOKEN = /^[A-Za-z0-9_-]{43}$/;

export const WebSessionSchema = z.object({
  version: z.literal(1),
  /** The public id of this browser's user: userKey `web:<userId>`, reply target `sessionId`. */
  userId: z.string().regex(/^[a-f0-9]{24}$/),
  createdAt: z.number().int().nonnegative(),
  /** Whether the session has submitted anything (it then keeps the long TTL). */
  active: z.boolean().default(false),
});
export type WebSession = z.infer<typeof WebSessionSchema>;

/** The user key of a playground user. */
export function webUserKey(userId: string): string {
  return `web:${userId}`;
}

/**
 * Playground sessions in Redis: one random cookie token per browser, stored only as its SHA-256
 * (a Redis dump gives no usable cookie), mapped to a separate random user id. That id, not the
 * token, is what job records, logs and the admin console see.
 */
export class WebSessions {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly now: () => number = Date.now,
  ) {}

  private key(token: string): string {
    return `${this.keyPrefix}:web:session:${createHash('sha256').update(token).digest('hex')}`;
  }

  /** A new session: the cookie token to set and the session. */
  async create(): Promise<{ token: string; session: WebSession }> {
    const token = randomBytes(32).toString('base64url');
    const session: WebSession = { version: 1, userId: randomBytes(12).toString('hex'), createdAt: this.now(), active: false };
    await this.redis.set(this.key(token), JSON.stringify(session), 'EX', FRESH_SESSION_TTL_SECONDS);
    return { token, session };
  }

  /** The session of a cookie token, or undefined (no such token, expired, malformed). */
  async get(token: string | undefined): Promise<WebSession | undefined> {
    if (token === undefined || !TOKEN.test(token)) return undefined;
    const raw = await this.redis.get(this.key(token));
    if (raw === null) return undefined;
    try {
      const parsed = WebSessionSchema.safeParse(JSON.parse(raw));
      return parsed.success ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }

  /** Marks a session as used (it then lives SESSION_TTL_SECONDS from now). */
  async touch(token: string, session: WebSession): Promise<void> {
    const next: WebSession = { ...session, active: true };
    await this.redis.set(this.key(token), JSON.stringify(next), 'EX', SESSION_TTL_SECONDS);
  }
}
