import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Platform } from '../model/chat-request.schema.ts';
import { Keys } from '../redis/keys.ts';
import { ProgressEventSchema, type ProgressEvent } from './progress-event.schema.ts';
import { RenderLeases } from './render-lease.ts';
import { EditFence } from './edit-fence.ts';
import { idParts, streamIdAfter } from './stream-id.ts';

/** One job (its id), or every job of a platform or a user. */
export type ProgressFilter = string | { jobId: string } | { platform: Platform } | { userKey: string };

export interface SubscribeOptions {
  /**
   * Step events of one job closer together than this are dropped (the last step always comes).
   * Default 1000 ms; 0 keeps every step.
   */
  minStepIntervalMs?: number;
  /** Also deliver the events already in the feed for this job (a job filter only), first. */
  replay?: boolean;
  /**
   * A renderer's name: of all the processes subscribed under this name, one at a time gets a given
   * job's events (RenderLeases), so that N replicas of an adapter edit each status message once,
   * not N times. Leave unset for a subscriber that serves its own connections (an SSE stream).
   */
  exclusive?: string;
  /** The exclusive lease's length (ms); a crashed owner's jobs are taken over after it. Default 60 s. */
  exclusiveLeaseMs?: number;
}

export type ProgressHandler = (event: ProgressEvent) => void | Promise<void>;
export type Unsubscribe = () => void;

interface Subscription {
  match: (e: { jobId: string; platform: string; userKey: string }) => boolean;
  handler: ProgressHandler;
  minStepIntervalMs: number;
  lastStepAt: Map<string, number>;
  /** Events up to this id were delivered by the replay. */
  afterId: string | undefined;
  buffer: ProgressEvent[] | undefined;
  chain: Promise<void>;
  leases: RenderLeases | undefined;
}

type StreamEntry = [id: string, fields: string[]];

/** A stream entry as a typed event; undefined for an entry this version cannot read. */
export function eventOf([id, fields]: StreamEntry): ProgressEvent | undefined {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i] as string] = fields[i + 1] as string;
  let data: Record<string, unknown> = {};
  try {
    data = JSON.parse(f.data ?? '{}') as Record<string, unknown>;
  } catch {
    return undefined;
  }
  // The scripts' outcome names, as adapters see them: a block or a give-up is a failure with a code.
  const raw = f.type ?? '';
  const type = raw === 'blocked' || raw === 'undeliverable' ? 'failed' : raw;
  const parsed = ProgressEventSchema.safeParse({ ...data, type, jobId: f.jobId, platform: f.platform, userKey: f.userKey, at: idParts(id)[0], seq: id });
  return parsed.success ? parsed.data : undefined;
}

/**
 * The ordered feed of what happens to jobs (a Redis stream written by JobLifecycle's scripts),
 * read by one blocking connection per process and handed to subscribers in order, one event at a
 * time per subscriber.
 */
export class ProgressFeed {
  private readonly keys: Keys;
  private readonly subs = new Set<Subscription>();
  private reader: Redis | undefined;
  private lastId: string | undefined;
  private loop: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly logger?: Logger,
  ) {
    this.keys = new Keys(prefix);
  }

  /** Calls `handler` for each event that matches, in order, until the returned function is called. */
  async subscribe(filter: ProgressFilter, handler: ProgressHandler, opts: SubscribeOptions = {}): Promise<Unsubscribe> {
    if (this.closed) throw new Error('progress feed is closed');
    const f = typeof filter === 'string' ? { jobId: filter } : filter;
    const match =
      'jobId' in f ? (e: { jobId: string }) => e.jobId === f.jobId : 'platform' in f ? (e: { platform: string }) => e.platform === f.platform : (e: { userKey: string }) => e.userKey === f.userKey;
    const sub: Subscription = {
      match, handler, minStepIntervalMs: opts.minStepIntervalMs ?? 1000, lastStepAt: new Map(), afterId: undefined,
      buffer: opts.replay === true ? [] : undefined, chain: Promise.resolve(),
      leases: undefined,
    };
    if (opts.exclusive !== undefined) {
      sub.leases = new RenderLeases(this.redis, this.keys.prefix, opts.exclusive, {
        ...(opts.exclusiveLeaseMs === undefined ? {} : { leaseMs: opts.exclusiveLeaseMs }),
        ...(this.logger === undefined ? {} : { logger: this.logger }),
        schedule: (task) => this.enqueue(sub, task, undefined),
      });
    }
    await this.ensureLoop();
    this.subs.add(sub);
    if (opts.replay === true && 'jobId' in f) {
      const entries = (await this.redis.xrange(this.keys.progressStream(), '-', '+')) as StreamEntry[];
      for (const entry of entries) {
        const e = eventOf(entry);
        if (e === undefined || !match(e)) continue;
        this.dispatch(sub, e);
        sub.afterId = e.seq;
      }
      const buffered = sub.buffer ?? [];
      sub.buffer = undefined;
      for (const e of buffered) if (sub.afterId === undefined || streamIdAfter(e.seq, sub.afterId)) this.dispatch(sub, e);
    }
    sub.buffer = undefined;
    return () => {
      this.subs.delete(sub);
      sub.leases?.close();
    };
  }

  /**
   * The cross-process order of a renderer's edits of one message per job (EditFence): progress
   * edits through `progress`, the final one after `settle`, so none of the former lands after it.
   */
  fence(name: string, opts: { windowMs?: number } = {}): EditFence {
    return new EditFence(this.redis, this.keys.prefix, name, { ...opts, ...(this.logger === undefined ? {} : { logger: this.logger }) });
  }

  /** Resolves with the first event of a job that `until` accepts (e.g. a terminal one), or undefined on timeout. */
  async waitFor<T extends ProgressEvent>(jobId: string, until: (e: ProgressEvent) => e is T, timeoutMs: number, onEvent?: ProgressHandler): Promise<T | undefined> {
    let unsubscribe: Unsubscribe = () => undefined;
    try {
      return await new Promise<T | undefined>((resolve, reject) => {
        const timer = setTimeout(() => resolve(undefined), timeoutMs);
        this.subscribe(
          jobId,
          async (e) => {
            await onEvent?.(e);
            if (until(e)) {
              clearTimeout(timer);
              resolve(e);
            }
          },
          { replay: true, minStepIntervalMs: 0 },
        ).then((u) => {
          unsubscribe = u;
        }, reject);
      });
    } finally {
      unsubscribe();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const sub of this.subs) sub.leases?.close();
    this.subs.clear();
    this.reader?.disconnect();
    await this.loop?.catch(() => undefined);
  }

  private dispatch(sub: Subscription, e: ProgressEvent): void {
    if (e.type === 'step' && e.step < e.totalSteps && sub.minStepIntervalMs > 0) {
      const last = sub.lastStepAt.get(e.jobId);
      if (last !== undefined && e.at - last < sub.minStepIntervalMs) return;
      sub.lastStepAt.set(e.jobId, e.at);
    }
    const last = e.type === 'delivered' || e.type === 'failed' || e.type === 'cancelled';
    if (last) sub.lastStepAt.delete(e.jobId);
    const leases = sub.leases;
    this.enqueue(sub, leases === undefined ? () => sub.handler(e) : () => leases.offer(e.jobId, e.seq, () => sub.handler(e), last), e.jobId);
  }

  /** Runs a subscriber's task after its earlier ones (a handler sees one event at a time, in order). */
  private enqueue(sub: Subscription, task: () => void | Promise<void>, jobId: string | undefined): void {
    sub.chain = sub.chain.then(task).catch((err: unknown) => this.logger?.warn({ err, jobId }, 'progress handler failed'));
  }

  private async ensureLoop(): Promise<void> {
    if (this.loop !== undefined) return;
    const last = (await this.redis.xrevrange(this.keys.progressStream(), '+', '-', 'COUNT', 1)) as StreamEntry[];
    if (this.loop !== undefined) return;
    this.lastId = last[0]?.[0] ?? '0-0';
    this.reader = this.redis.duplicate({ connectionName: 'framecast-progress' });
    this.loop = this.run(this.reader);
  }

  private async run(reader: Redis): Promise<void> {
    const key = this.keys.progressStream();
    while (!this.closed) {
      let res: [string, StreamEntry[]][] | null;
      try {
        res = (await reader.xread('COUNT', 500, 'BLOCK', 2000, 'STREAMS', key, this.lastId ?? '$')) as [string, StreamEntry[]][] | null;
      } catch (err) {
        if (this.closed) return;
        this.logger?.warn({ err }, 'progress feed read failed; retrying');
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      for (const [, entries] of res ?? []) {
        for (const entry of entries) {
          this.lastId = entry[0];
          const e = eventOf(entry);
          if (e === undefined) continue;
          for (const sub of this.subs) {
            if (!sub.match(e)) continue;
            if (sub.buffer !== undefined) sub.buffer.push(e);
            else if (sub.afterId === undefined || streamIdAfter(e.seq, sub.afterId)) this.dispatch(sub, e);
          }
        }
      }
    }
  }
}
