import type { Redis } from 'ioredis';
import { MpError } from './mp-error.ts';

/** A fixed-window limit: at most `max` requests per `windowSeconds`. */
export interface RateLimit {
  max: number;
  windowSeconds: number;
}

/** The defaults; each can be changed through the API's options. */
export const DEFAULT_RATE_LIMITS = {
  /** Every call of one session. */
  session: { max: 120, windowSeconds: 60 },
  /** Every call from one IP address (many users behind one NAT: generous). */
  ip: { max: 600, windowSeconds: 60 },
  /** Logins from one IP address. */
  login: { max: 30, windowSeconds: 60 },
  /** New jobs of one session. */
  jobs: { max: 10, windowSeconds: 60 },
  /** Uploads of one session. */
  uploads: { max: 20, windowSeconds: 60 },
  /** Storyboard changes of one session (new boards, shots, votes, renders, nickname). */
  boards: { max: 60, windowSeconds: 60 },
} as const satisfies Record<string, RateLimit>;

export type RateLimits = { [K in keyof typeof DEFAULT_RATE_LIMITS]: RateLimit };

// KEYS[1] counter; ARGV[1] window (s). Returns {count, ttl in ms}.
const HIT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) * 1000) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) * 1000); ttl = tonumber(ARGV[1]) * 1000 end
return {n, ttl}`;

/** Counters in Redis shared by every process: one key per limit, subject and window. */
export class MpRateLimiter {
  private readonly redis: Redis & { fcMpRateHit?: (key: string, windowSeconds: string) => Promise<[number, number]> };

  constructor(
    redis: Redis,
    private readonly prefix: string,
  ) {
    // EVALSHA (the script is sent once per connection, not with every request).
    if (!('fcMpRateHit' in redis)) redis.defineCommand('fcMpRateHit', { numberOfKeys: 1, lua: HIT });
    this.redis = redis;
  }

  /** Counts one request; throws a 429 MpError with Retry-After when the subject is over the limit. */
  async hit(name: string, subject: string, limit: RateLimit): Promise<void> {
    const key = `${this.prefix}:mp:rl:${name}:${subject}`;
    const hit = this.redis.fcMpRateHit;
    if (hit === undefined) throw new Error('fcMpRateHit is not defined');
    const [count, ttlMs] = await hit.call(this.redis, key, String(limit.windowSeconds));
    if (count > limit.max) {
      const seconds = Math.max(1, Math.ceil(ttlMs / 1000));
      throw MpError.of(429, 'rate_limited', 'rate_limited', { seconds }, { 'Retry-After': String(seconds) });
    }
  }
}
