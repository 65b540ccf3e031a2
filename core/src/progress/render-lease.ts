import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { streamIdAfter } from './stream-id.ts';

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

// Records the last event rendered of a subject (a stream id), never moving it back: {1} or {0}.
const MARK = `
local v = redis.call('GET', KEYS[1])
if v then
  local am, as = string.match(v, '^(%d+)-(%d+)$')
  local bm, bs = string.match(ARGV[1], '^(%d+)-(%d+)$')
  if am and bm then
    am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
    if am > bm or (am == bm and as >= bs) then return 0 end
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
return 1`;

/** How often a skipped event waits for its owner once more before it is given up. */
const MAX_WAITS = 10;

interface Skipped {
  seq: string;
  render: () => void | Promise<void>;
  last: boolean;
  waits: number;
}

/**
 * One process at a time renders a given job's (or board's) progress for a given renderer: with
 * several replicas of an adapter reading the same event stream, each job's status message is edited
 * by one of them only, in order, instead of by all of them in turn (N× the edits, and an edit from
 * a replica that lags could take the message back). The first process to see a subject's event
 * claims a lease in Redis; it renews it while the subject's events keep coming; the others skip the
 * subject's events until the lease lapses (its owner stopped or crashed), then one takes over.
 *
 * Through `offer`, the owner records the last event it rendered of each subject, and the others keep
 * the latest event they skipped: if the owner's lease lapses before it rendered that event (it
 * crashed between the event and its render, or the event was the subject's last, so no later one
 * would take the lease over), the first of them to take the lease renders it then. A crashed
 * renderer's jobs thus still end with their final state shown, once, a lease later.
 */
export class RenderLeases {
  private readonly id = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly cache = new Map<string, { mine: boolean; until: number }>();
  private readonly skipped = new Map<string, Skipped>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly name: string,
    private readonly opts: {
      leaseMs?: number;
      now?: () => number;
      logger?: Logger;
      /** Runs a late render (a skipped event taken over) in the subscriber's order; default: at once. */
      schedule?: (task: () => Promise<void>) => void;
    } = {},
  ) {}

  private key(subject: string): string {
    return `${this.keyPrefix}:render:${this.name}:${subject}`;
  }

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
      answer = (await this.redis.eval(CLAIM, 1, this.key(subject), this.id, this.leaseMs)) as [number, number?];
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

  /**
   * One event of a subject (`seq`: its stream id, in order): rendered here (`render`) if this
   * process holds the subject's lease, and recorded as rendered; otherwise kept as the subject's
   * latest skipped event, rendered here later if the owner's lease lapses before the owner rendered
   * it. `last`: the subject's story ends with this event.
   */
  async offer(subject: string, seq: string, render: () => void | Promise<void>, last: boolean): Promise<void> {
    if (this.closed) return;
    if (await this.mine(subject)) {
      this.drop(subject);
      await this.renderNow(subject, { seq, render, last, waits: 0 });
      return;
    }
    this.skipped.delete(subject);
    this.skipped.set(subject, { seq, render, last, waits: 0 });
    if (this.skipped.size > MAX_CACHED) this.drop(this.skipped.keys().next().value as string);
    this.arm(subject);
  }

  /** No more renders from here: skipped events are given up (another process takes them over). */
  close(): void {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.skipped.clear();
  }

  private async renderNow(subject: string, s: Skipped): Promise<void> {
    await s.render();
    try {
      await this.redis.eval(MARK, 1, `${this.key(subject)}:last`, s.seq, 10 * this.leaseMs);
    } catch (err) {
      this.opts.logger?.debug({ err, subject, renderer: this.name }, 'render mark not written');
    }
    if (s.last) this.forget(subject);
  }

  private drop(subject: string): void {
    this.skipped.delete(subject);
    const t = this.timers.get(subject);
    if (t !== undefined) clearTimeout(t);
    this.timers.delete(subject);
  }

  /** Looks at the subject's skipped event again once the lease it was skipped under has run out. */
  private arm(subject: string): void {
    if (this.timers.has(subject) || this.closed) return;
    const now = (this.opts.now ?? Date.now)();
    const until = this.cache.get(subject)?.until ?? now + this.leaseMs;
    const timer = setTimeout(() => {
      this.timers.delete(subject);
      const task = () => this.takeOver(subject).catch((err: unknown) => this.opts.logger?.warn({ err, subject, renderer: this.name }, 'late render failed'));
      if (this.opts.schedule === undefined) void task();
      else this.opts.schedule(task);
    }, Math.max(0, until - now) + 50);
    timer.unref();
    this.timers.set(subject, timer);
  }

  private async takeOver(subject: string): Promise<void> {
    const s = this.skipped.get(subject);
    if (s === undefined || this.closed) return;
    let rendered: string | null = null;
    try {
      rendered = await this.redis.get(`${this.key(subject)}:last`);
    } catch {
      rendered = null;
    }
    // The owner rendered it (or a later event): nothing is missing.
    if (rendered !== null && !streamIdAfter(s.seq, rendered)) {
      this.skipped.delete(subject);
      return;
    }
    if (!(await this.mine(subject))) {
      // The owner still holds the lease (it renewed it, or another process took it over): look again
      // when that runs out, a few times at most.
      if (++s.waits >= MAX_WAITS) this.skipped.delete(subject);
      else this.arm(subject);
      return;
    }
    if (this.skipped.get(subject) !== s) return; // a newer event came meanwhile, rendered or kept
    this.skipped.delete(subject);
    await this.renderNow(subject, s);
  }
}
