import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

/** How long a lease lasts unless renewed; renewed by the owner's events once half of it is gone. */
export const DEFAULT_RENDER_LEASE_MS = 60_000;
const MAX_CACHED = 10_000;

// Takes or renews the lease when it is free or already ours: {1}; else {0, ms left on the other's}.
const CLAIM = `
local v = redis.call('GET', KEYS[1])
if not v or v == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
  return { 1 }
end
return { 0, redis.call('PTTL', KEYS[1]) }`;

/**
 * One process at a time renders a given job's (or board's) progress for a given renderer: with
 * several replicas of an adapter reading the same event stream, each job's status message is edited
 * by one of them only, in order, instead of by all of them in turn (N× the edits, and an edit from
 * a replica that lags could take the message back). The first process to see a subject's event
 * claims a lease in Redis; it renews it while the subject's events keep coming; the others skip the
 * subject's events until the lease lapses (its owner stopped or crashed), then one takes over.
 */
export class RenderLeases {
  private readonly id = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly cache = new Map<string, { mine: boolean; until: number }>();

  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly name: string,
    private readonly opts: { leaseMs?: number; now?: () => number; logger?: Logger } = {},
  ) {}

  private get leaseMs(): number {
    return this.opts.leaseMs ?? DEFAULT_RENDER_LEASE_MS;
  }

  /** Whether this process renders the subject now (claiming or renewing its lease as needed). */
  async mine(subject: string): Promise<boolean> {
    const now = (this.opts.now ?? Date.now)();
    const c = this.cache.get(subject);
    if (c !== undefined && c.mine && now < c.until - this.leaseMs / 2) return true;
    if (c !== undefined && !c.mine && now < c.until) return false;
    let answer: [number, number?];
    try {
      answer = (await this.redis.eval(CLAIM, 1, `${this.keyPrefix}:render:${this.name}:${subject}`, this.id, this.leaseMs)) as [number, number?];
    } catch (err) {
      // Redis unreachable: render (a duplicate edit beats none; the events come from Redis anyway).
      this.opts.logger?.debug({ err, subject, renderer: this.name }, 'render lease unreadable; rendering');
      return true;
    }
    const mine = answer[0] === 1;
    this.cache.delete(subject);
    this.cache.set(subject, { mine, until: mine ? now + this.leaseMs : now + Math.max(0, Number(answer[1] ?? 0)) });
    if (this.cache.size > MAX_CACHED) this.cache.delete(this.cache.keys().next().value as string);
    return mine;
  }

  /** The subject's story is over here (its last event was handled). */
  forget(subject: string): void {
    this.cache.delete(subject);
  }
}
