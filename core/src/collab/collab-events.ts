import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { CollabEventSchema, type CollabEvent } from './collab-payloads.ts';
import { RenderLeases } from '../progress/render-lease.ts';

type StreamEntry = [string, string[]];
const MAX_LEN = 10_000;

interface Sub {
  handler: (e: CollabEvent) => void | Promise<void>;
  platform?: string;
  chain: Promise<void>;
  leases?: RenderLeases;
}

/**
 * The storyboards' own event stream (beside the jobs' progress feed): per-shot progress of a render,
 * stitching, its end, and idle expiries, for the board's message. Read from where a subscriber joins.
 */
export class CollabEvents {
  private reader: Redis | undefined;
  private loop: Promise<void> | undefined;
  private closed = false;
  private lastId = '$';
  private readonly subs = new Set<Sub>();

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly logger?: Logger,
  ) {}

  private key(): string {
    return `${this.prefix}:collab:events`;
  }

  async publish(e: Omit<CollabEvent, 'id'>): Promise<void> {
    const fields = Object.entries(e).flatMap(([k, v]) => (v === undefined ? [] : [k, typeof v === 'string' ? v : JSON.stringify(v)]));
    await this.redis.xadd(this.key(), 'MAXLEN', '~', MAX_LEN, '*', ...fields);
  }

  /** Events after `afterId` ('0-0': from the start), oldest first: for a poller or a test. */
  async read(afterId = '0-0', count = 500): Promise<CollabEvent[]> {
    const entries = (await this.redis.xrange(this.key(), afterId === '0-0' ? '-' : `(${afterId}`, '+', 'COUNT', count)) as StreamEntry[];
    return entries.flatMap((en) => {
      const e = eventOf(en);
      return e === undefined ? [] : [e];
    });
  }

  /**
   * `exclusive`: a renderer's name; of the processes subscribed under it, one at a time gets a given
   * board's events (RenderLeases: N replicas edit a board's message once, not N times).
   */
  async subscribe(handler: (e: CollabEvent) => void | Promise<void>, filter: { platform?: string } = {}, opts: { exclusive?: string; exclusiveLeaseMs?: number } = {}): Promise<() => void> {
    const sub: Sub = { handler, ...(filter.platform === undefined ? {} : { platform: filter.platform }), chain: Promise.resolve() };
    if (opts.exclusive !== undefined) {
      sub.leases = new RenderLeases(this.redis, this.prefix, opts.exclusive, {
        ...(opts.exclusiveLeaseMs === undefined ? {} : { leaseMs: opts.exclusiveLeaseMs }),
        ...(this.logger === undefined ? {} : { logger: this.logger }),
        schedule: (task) => this.enqueue(sub, task),
      });
    }
    this.subs.add(sub);
    if (this.loop === undefined) {
      const last = (await this.redis.xrevrange(this.key(), '+', '-', 'COUNT', 1)) as StreamEntry[];
      this.lastId = last[0]?.[0] ?? '0-0';
      this.reader = this.redis.duplicate({ connectionName: 'framecast-collab-events' });
      this.loop = this.run(this.reader);
    }
    return () => {
      this.subs.delete(sub);
      sub.leases?.close();
    };
  }

  private async run(reader: Redis): Promise<void> {
    while (!this.closed) {
      let res: [string, StreamEntry[]][] | null;
      try {
        res = (await reader.xread('COUNT', 500, 'BLOCK', 2000, 'STREAMS', this.key(), this.lastId)) as [string, StreamEntry[]][] | null;
      } catch (err) {
        if (this.closed) return;
        this.logger?.warn({ err }, 'collab events read failed; retrying');
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      for (const [, entries] of res ?? []) {
        for (const entry of entries) {
          this.lastId = entry[0];
          const e = eventOf(entry);
          if (e === undefined) continue;
          for (const sub of this.subs) {
            if (sub.platform !== undefined && !e.boardKey.startsWith(`${sub.platform}:`)) continue;
            const leases = sub.leases;
            // A board's story goes on after a render (more shots, another render): no event is its last.
            this.enqueue(sub, leases === undefined ? () => sub.handler(e) : () => leases.offer(e.boardKey, e.id, () => sub.handler(e), false));
          }
        }
      }
    }
  }

  /** Runs a subscriber's task after its earlier ones (one event at a time, in order). */
  private enqueue(sub: Sub, task: () => void | Promise<void>): void {
    sub.chain = sub.chain.then(task).catch((err: unknown) => this.logger?.warn({ err }, 'collab event handler failed'));
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const sub of this.subs) sub.leases?.close();
    this.subs.clear();
    this.reader?.disconnect();
    await this.loop?.catch(() => undefined);
  }
}

function eventOf([id, fields]: StreamEntry): CollabEvent | undefined {
  const raw: Record<string, unknown> = { id };
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const k = fields[i] as string;
    const v = fields[i + 1] as string;
    raw[k] = k === 'index' || k === 'count' || k === 'step' || k === 'totalSteps' ? Number(v) : k === 'message' ? (JSON.parse(v) as unknown) : v;
  }
  const parsed = CollabEventSchema.safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}
