import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

/** How long a progress edit may be in flight; an adapter aborts its own edits sooner. */
export const DEFAULT_FENCE_WINDOW_MS = 15_000;
/** How long a job's "final edit begun" mark lasts (a job's story is over well within it). */
const SETTLED_TTL_MS = 6 * 3600_000;

// A progress edit begins, unless the final edit has: {1} (in flight, marked) or {0} (skip it).
const BEGIN = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[2], ARGV[1], 'PX', tonumber(ARGV[2]))
return 1`;
// The progress edit is over: its in-flight mark goes (if still its own).
const END = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1`;
// The final edit begins: no progress edit starts after this; answers how long the one in flight may still take (ms, <= 0: none).
const SETTLE = `
redis.call('SET', KEYS[1], '1', 'PX', tonumber(ARGV[1]))
return redis.call('PTTL', KEYS[2])`;

/**
 * Keeps a job's progress edits from landing after its final edit when they come from different
 * processes: with several replicas, one renders a job's progress (a render lease) while any may
 * deliver it, and a progress edit still on its way (a slow request, a rate limit's wait) could
 * otherwise overwrite the delivered message. Each progress edit marks itself in flight in Redis,
 * unless the final edit has begun, in which case it is skipped; the final edit marks that it has
 * begun and then waits for an edit in flight (at most the window, which the adapter's own
 * request timeout stays under). Within one process the adapters' status boards order edits already;
 * this is the same order across processes.
 */
export class EditFence {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly name: string,
    private readonly opts: { windowMs?: number; logger?: Logger; sleep?: (ms: number) => Promise<void> } = {},
  ) {}

  /** How long one progress edit may take: adapters abort their progress requests after this. */
  get windowMs(): number {
    return this.opts.windowMs ?? DEFAULT_FENCE_WINDOW_MS;
  }

  private keys(jobId: string): [settled: string, inflight: string] {
    const base = `${this.keyPrefix}:fence:${this.name}:${jobId}`;
    return [`${base}:settled`, `${base}:inflight`];
  }

  /** Runs one progress edit unless the job's final edit has begun in any process; resolves with whether it ran. */
  async progress(jobId: string, write: () => Promise<void>): Promise<boolean> {
    const [settled, inflight] = this.keys(jobId);
    const token = randomBytes(6).toString('hex');
    let begun: number;
    try {
      begun = (await this.redis.eval(BEGIN, 2, settled, inflight, token, this.windowMs)) as number;
    } catch (err) {
      // Redis unreachable: the edit goes (a progress edit beats none; the final one is retried anyway).
      this.opts.logger?.debug({ err, jobId, fence: this.name }, 'edit fence unreadable; editing');
      await write();
      return true;
    }
    if (begun !== 1) return false;
    try {
      await write();
    } finally {
      await this.redis.eval(END, 1, inflight, token).catch(() => undefined);
    }
    return true;
  }

  /** The job's final edit begins: no progress edit starts after this, and one in flight is waited for. */
  async settle(jobId: string): Promise<void> {
    const [settled, inflight] = this.keys(jobId);
    const sleep = this.opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    const end = Date.now() + this.windowMs;
    let left: number;
    try {
      left = (await this.redis.eval(SETTLE, 2, settled, inflight, SETTLED_TTL_MS)) as number;
      while (left > 0 && Date.now() < end) {
        await sleep(Math.min(50, left));
        left = await this.redis.pttl(inflight);
      }
    } catch (err) {
      this.opts.logger?.debug({ err, jobId, fence: this.name }, 'edit fence unreadable; final edit goes');
    }
  }
}
