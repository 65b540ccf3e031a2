import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { z } from 'zod';

/** What a session token stands for. The openid stays on the server. */
export const MpSessionSchema = z.object({
  v: z.literal(1),
  openid: z.string().min(1).max(128),
  createdAt: z.number().int(),
  expiresAt: z.number().int(),
});
export type MpSession = z.infer<typeof MpSessionSchema>;

/** 43 characters of base64url: 256 random bits. */
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

function digest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * Opaque bearer tokens for mini program users, kept in Redis under the SHA-256 of the token (a
 * copy of Redis does not hand out live sessions), expiring after the configured TTL.
 */
export class MpSessions {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlSeconds: number,
    private readonly now: () => number = Date.now,
  ) {}

  private key(token: string): string {
    return `${this.prefix}:mp:session:${digest(token)}`;
  }

  async create(openid: string): Promise<{ token: string; expiresAt: number; session: MpSession }> {
    const token = randomBytes(32).toString('base64url');
    const createdAt = this.now();
    const session: MpSession = { v: 1, openid, createdAt, expiresAt: createdAt + this.ttlSeconds * 1000 };
    await this.redis.set(this.key(token), JSON.stringify(session), 'EX', this.ttlSeconds);
    return { token, expiresAt: session.expiresAt, session };
  }

  /** The session of a bearer token, or undefined (unknown, expired, malformed). */
  async get(token: string): Promise<MpSession | undefined> {
    if (!TOKEN.test(token)) return undefined;
    const raw = await this.redis.get(this.key(token));
    if (raw === null) return undefined;
    try {
      const s = MpSessionSchema.parse(JSON.parse(raw));
      return s.expiresAt > this.now() ? s : undefined;
    } catch {
      return undefined;
    }
  }

  async revoke(token: string): Promise<void> {
    if (TOKEN.test(token)) await this.redis.del(this.key(token));
  }
}

/** A short, stable, one-way id for a user in keys and public answers (never the openid itself). */
export function userTag(appId: string, openid: string): string {
  return createHash('sha256').update(`${appId}\n${openid}`).digest('base64url').slice(0, 22);
}

/** The session token's digest, for rate-limit keys. */
export function tokenTag(token: string): string {
  return digest(token).slice(0, 32);
}
