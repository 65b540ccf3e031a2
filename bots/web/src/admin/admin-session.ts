import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';
import { z } from 'zod';

/** The admin's session cookie (HttpOnly, SameSite=Strict, Secure behind https; path /admin). */
export const ADMIN_SESSION_COOKIE = 'fc_admin';
/** The login form's own CSRF cookie (double submit: the form carries the same token). */
export const ADMIN_LOGIN_COOKIE = 'fc_admin_login';
/** An admin session lasts this long from sign-in, whatever happens. */
export const ADMIN_SESSION_TTL_SECONDS = 8 * 3600;
/** A login form must be sent within this time. */
export const LOGIN_FORM_TTL_SECONDS = 30 * 60;

const TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** A random 256-bit token, base64url (43 characters). */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Whether `token` looks like one of ours (before any lookup). */
export function isToken(token: string | undefined): token is string {
  return token !== undefined && TOKEN.test(token);
}

/** Equal strings, compared in time that does not depend on where they differ (both hashed first). */
export function constantTimeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a, 'utf8').digest();
  const hb = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(ha, hb);
}

export const AdminSessionSchema = z.object({
  version: z.literal(1),
  /** The name the admin signed in with (the audit log's "who"). */
  who: z.string().min(1).max(64),
  /** This session's CSRF token: every form carries it, every POST is checked against it. */
  csrf: z.string().regex(TOKEN),
  createdAt: z.number().int(),
  ip: z.string().max(100),
});
export type AdminSession = z.infer<typeof AdminSessionSchema>;

/**
 * Admin sessions in Redis: a random cookie token, stored only as its SHA-256 (a Redis dump gives
 * no usable cookie), expiring on its own.
 */
export class AdminSessions {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly now: () => number = Date.now,
  ) {}

  private key(token: string): string {
    return `${this.keyPrefix}:admin:session:${createHash('sha256').update(token).digest('hex')}`;
  }

  async create(who: string, ip: string): Promise<{ token: string; session: AdminSession }> {
    const token = newToken();
    const session: AdminSession = { version: 1, who, csrf: newToken(), createdAt: this.now(), ip: ip.slice(0, 100) };
    await this.redis.set(this.key(token), JSON.stringify(session), 'EX', ADMIN_SESSION_TTL_SECONDS);
    return { token, session };
  }

  async get(token: string | undefined): Promise<AdminSession | undefined> {
    if (!isToken(token)) return undefined;
    const raw = await this.redis.get(this.key(token));
    if (raw === null) return undefined;
    try {
      const parsed = AdminSessionSchema.safeParse(JSON.parse(raw));
      return parsed.success ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }

  async destroy(token: string | undefined): Promise<void> {
    if (isToken(token)) await this.redis.del(this.key(token));
  }
}

export interface LoginLimit {
  /** Sign-in attempts an address may make per window (right or wrong). Default 10. */
  attempts: number;
  /** Default 15 minutes. */
  windowSeconds: number;
}

export const DEFAULT_LOGIN_LIMIT: LoginLimit = { attempts: 10, windowSeconds: 15 * 60 };

// One fixed window per address: the first attempt starts it.
const HIT_SCRIPT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1])) end
return { n, redis.call('TTL', KEYS[1]) }`;

/** Counts sign-in attempts per client address in Redis (shared by every process behind a balancer). */
export class LoginLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly limit: LoginLimit = DEFAULT_LOGIN_LIMIT,
  ) {}

  /** Counts one attempt; `ok: false` (with the seconds left) once the address is over its limit. */
  async hit(ip: string): Promise<{ ok: true } | { ok: false; retryAfterSeconds: number }> {
    const key = `${this.keyPrefix}:admin:login:${createHash('sha256').update(ip).digest('hex').slice(0, 32)}`;
    const [n, ttl] = (await this.redis.eval(HIT_SCRIPT, 1, key, this.limit.windowSeconds)) as [number, number];
    if (n <= this.limit.attempts) return { ok: true };
    return { ok: false, retryAfterSeconds: Math.max(1, ttl) };
  }
}
