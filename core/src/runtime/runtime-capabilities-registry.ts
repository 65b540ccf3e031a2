/**
 * Where workers say what their runtime renders, and where intake reads it.
 *
 * Each worker writes its capabilities under a key of its own with a TTL and refreshes it
 * (`startPublishing`); a worker that dies simply expires. Intake calls `current()`: the
 * capabilities every live worker shares (mergeCapabilities: all workers consume one queue, so a
 * job must fit whichever takes it), cached in-process for a few seconds; undefined while no worker
 * has published, and intake then leaves the spec as the grammar made it.
 *
 * Keys (under the config's prefix):
 * - `<prefix>:runtime:caps:<workerId>`: JSON `{version, workerId, publishedAt, capabilities}`, EX ttl.
 * - `<prefix>:runtime:workers`: sorted set of worker ids scored by when their key expires (the
 *   publisher's clock), so readers need no SCAN; an entry whose key is gone is skipped, and pruned
 *   once it is well past its expiry.
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { mergeCapabilities, RuntimeCapabilitiesSchema, type RuntimeCapabilities } from '../model/runtime-capabilities.schema.ts';

export const WorkerIdSchema = z.string().regex(/^[A-Za-z0-9._:@-]{1,128}$/, 'worker id: 1-128 of A-Z a-z 0-9 . _ : @ -');

export const PublishedCapabilitiesSchema = z.object({
  version: z.literal(1),
  workerId: WorkerIdSchema,
  /** Epoch ms, the publisher's clock. */
  publishedAt: z.number().int().nonnegative(),
  capabilities: RuntimeCapabilitiesSchema,
});
export type PublishedCapabilities = z.infer<typeof PublishedCapabilitiesSchema>;

export interface RuntimeCapabilitiesRegistryOptions {
  /** The config's key prefix. */
  prefix: string;
  /** How long `current()` reuses what it read. Default 3000 ms. */
  cacheMs?: number;
  /** Index entries this long past their expiry are removed by readers. Default 60 000 ms. */
  pruneAfterMs?: number;
  now?: () => number;
}

export interface PublishingOptions {
  /** Key lifetime. Default 30 s. */
  ttlSec?: number;
  /** Refresh period; keep it well under the TTL. Default a third of the TTL. */
  everyMs?: number;
  /** A failed refresh (Redis away); the next tick tries again. */
  onError?: (err: unknown) => void;
}

export interface Publication {
  /** Stops refreshing and removes this worker's entry (a clean shutdown). */
  stop(): Promise<void>;
}

export class RuntimeCapabilitiesRegistry {
  private readonly cacheMs: number;
  private readonly pruneAfterMs: number;
  private readonly now: () => number;
  private cached: { at: number; value: RuntimeCapabilities | undefined } | undefined;
  private reading: Promise<RuntimeCapabilities | undefined> | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly options: RuntimeCapabilitiesRegistryOptions,
  ) {
    this.cacheMs = options.cacheMs ?? 3000;
    this.pruneAfterMs = options.pruneAfterMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  private capsKey(workerId: string): string {
    return `${this.options.prefix}:runtime:caps:${workerId}`;
  }

  private get indexKey(): string {
    return `${this.options.prefix}:runtime:workers`;
  }

  /** Writes (or refreshes) this worker's capabilities for `ttlSec` seconds. */
  async publish(workerId: string, capabilities: RuntimeCapabilities, ttlSec: number): Promise<void> {
    if (!(Number.isInteger(ttlSec) && ttlSec >= 1)) throw new RangeError(`ttlSec must be a positive integer, got ${ttlSec}`);
    const now = this.now();
    const value: PublishedCapabilities = PublishedCapabilitiesSchema.parse({ version: 1, workerId, publishedAt: now, capabilities });
    await this.redis
      .multi()
      .set(this.capsKey(workerId), JSON.stringify(value), 'EX', ttlSec)
      .zadd(this.indexKey, now + ttlSec * 1000, workerId)
      .exec();
  }

  /** Removes this worker's entry at once (otherwise it expires with its TTL). */
  async withdraw(workerId: string): Promise<void> {
    WorkerIdSchema.parse(workerId);
    await this.redis.multi().del(this.capsKey(workerId)).zrem(this.indexKey, workerId).exec();
  }

  /**
   * Publishes now and every `everyMs` until stopped. Resolves once the first publication is
   * written (so a worker starts taking jobs only after intake can see what it renders).
   */
  async startPublishing(workerId: string, capabilities: RuntimeCapabilities, options: PublishingOptions = {}): Promise<Publication> {
    const ttlSec = options.ttlSec ?? 30;
    const everyMs = options.everyMs ?? Math.max(1000, Math.floor((ttlSec * 1000) / 3));
    await this.publish(workerId, capabilities, ttlSec);
    let stopped = false;
    const timer = setInterval(() => {
      if (stopped) return;
      this.publish(workerId, capabilities, ttlSec).catch((err: unknown) => options.onError?.(err));
    }, everyMs);
    timer.unref();
    return {
      stop: async () => {
        if (stopped) return;
        stopped = true;
        clearInterval(timer);
        await this.withdraw(workerId);
      },
    };
  }

  /** Every live worker's publication, read now (no cache); entries that do not parse are skipped. */
  async live(): Promise<PublishedCapabilities[]> {
    const now = this.now();
    await this.redis.zremrangebyscore(this.indexKey, '-inf', now - this.pruneAfterMs);
    const ids = await this.redis.zrange(this.indexKey, 0, -1);
    if (ids.length === 0) return [];
    const values = await this.redis.mget(...ids.map((id) => this.capsKey(id)));
    const out: PublishedCapabilities[] = [];
    for (const raw of values) {
      if (raw === null) continue; // expired: the worker stopped refreshing
      let json: unknown;
      try {
        json = JSON.parse(raw);
      } catch {
        continue;
      }
      // A worker of another code version may publish a shape this one cannot read: skip it
      // rather than guess (its jobs are then fitted to the others' capabilities only).
      const parsed = PublishedCapabilitiesSchema.safeParse(json);
      if (parsed.success) out.push(parsed.data);
    }
    return out.sort((a, b) => a.workerId.localeCompare(b.workerId));
  }

  /** What intake fits specs to: the capabilities all live workers share, or undefined when none published. */
  async current(): Promise<RuntimeCapabilities | undefined> {
    const now = this.now();
    if (this.cached !== undefined && now - this.cached.at < this.cacheMs) return this.cached.value;
    this.reading ??= this.live()
      .then((published) => {
        const value = mergeCapabilities(published.map((p) => p.capabilities));
        this.cached = { at: this.now(), value };
        return value;
      })
      .finally(() => {
        this.reading = undefined;
      });
    return this.reading;
  }

  /** Forgets the cached answer (tests; a worker that just published in this process). */
  invalidate(): void {
    this.cached = undefined;
  }
}
