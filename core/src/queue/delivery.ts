import { DelayedError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { JobLifecycle } from '../jobs/job-lifecycle.ts';
import type { Platform } from '../model/chat-request.schema.ts';
import { Keys } from '../redis/keys.ts';
import type { DeliveryQueues } from './delivery-queues.ts';
import { DeliveryJobDataSchema, deliveryQueueName, type DeliveryJobData, type DeliveryOutcome } from './job-payloads.schema.ts';

export type DeliveryState = 'enqueued' | 'delivered' | 'undeliverable';

/** What a platform's handler says about one attempt. Returning nothing means delivered. */
export type DeliveryHandlerResult =
  | void
  | { status: 'delivered'; info?: Record<string, string | number> }
  /** Try again: after `retryAfterMs` when the platform said (a 429's Retry-After), else with backoff. */
  | { status: 'retry'; retryAfterMs?: number; reason?: string }
  /** The platform refused it for good (the channel is gone, the bot was removed): give up now. */
  | { status: 'failed'; reason: string };

export interface DeliveryContext {
  /** 1 for the first attempt. */
  attempt: number;
}

export type DeliveryHandler = (delivery: DeliveryJobData, ctx: DeliveryContext) => Promise<DeliveryHandlerResult>;

export interface DeliveryRetryPolicy {
  /** First retry after this long; doubled each time. Default 2 s. */
  baseDelayMs: number;
  /** No wait between attempts is longer than this. Default 5 min. */
  maxDelayMs: number;
  /** Past this age (from when the outcome was written) the delivery is given up and refunded. Default 6 h. */
  giveUpAfterMs: number;
}

export const DEFAULT_DELIVERY_RETRY: DeliveryRetryPolicy = Object.freeze({ baseDelayMs: 2_000, maxDelayMs: 5 * 60_000, giveUpAfterMs: 6 * 3600_000 });

export interface ConsumeOptions {
  concurrency?: number;
  retry?: Partial<DeliveryRetryPolicy>;
  /** How often this consumer moves outcomes left in the outbox (a process died) into their queues. Default 15 s. */
  relayEveryMs?: number;
  /** Clock for the give-up decision (tests simulate hours). */
  now?: () => number;
  /**
   * BullMQ's lock on a delivery attempt (default 30 s) and how often stalled attempts are looked
   * for (default 30 s): a consumer that died mid-attempt has its deliveries taken over by another
   * after about lock + interval. Shorter means a faster takeover, and more Redis calls.
   */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
}

export interface DeliveryConsumer {
  close(): Promise<void>;
}

export interface DeliveryObserver {
  retried?(platform: string): void;
  finished?(platform: string, result: 'delivered' | 'undeliverable'): void;
}

/** Capped exponential backoff with ±20 % jitter. */
export function deliveryBackoff(attempt: number, policy: DeliveryRetryPolicy, random: () => number = Math.random): number {
  const raw = policy.baseDelayMs * 2 ** Math.max(0, Math.min(attempt - 1, 30));
  return Math.round(Math.min(policy.maxDelayMs, raw) * (0.8 + 0.4 * random()));
}

function retryAfterOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const v = (err as { retryAfterMs?: unknown }).retryAfterMs;
  return typeof v === 'number' && v >= 0 ? v : undefined;
}

/**
 * The way out: each platform's adapter consumes its outcomes here. An outcome is recorded as
 * delivered once, retried with capped exponential backoff for hours (honouring Retry-After), and
 * given up (refunded, video kept) when the platform refuses it for good or the window runs out.
 */
export class Deliveries {
  private readonly keys: Keys;
  private readonly consumers = new Set<DeliveryConsumer>();

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly lifecycle: JobLifecycle,
    private readonly queues: DeliveryQueues,
    private readonly connection: ConnectionOptions,
    private readonly logger?: Logger,
    private readonly observer: DeliveryObserver = {},
    /** The deployment's retry policy (FRAMECAST_DELIVERY_RETRY_HOURS); a consumer may override parts. */
    private readonly defaultRetry: Partial<DeliveryRetryPolicy> = {},
  ) {
    this.keys = new Keys(prefix);
  }

  /**
   * Runs `handler` for every outcome of `platform`, until close(). Several processes may consume
   * one platform; each outcome goes to one of them at a time.
   */
  consume(platform: Platform, handler: DeliveryHandler, opts: ConsumeOptions = {}): DeliveryConsumer {
    const policy: DeliveryRetryPolicy = { ...DEFAULT_DELIVERY_RETRY, ...this.defaultRetry, ...opts.retry };
    const now = opts.now ?? Date.now;
    const log = this.logger?.child({ platform });
    const worker = new Worker(
      deliveryQueueName(platform),
      async (job: Job, token?: string) => {
        const parsed = DeliveryJobDataSchema.safeParse(job.data);
        if (!parsed.success) {
          const jobId = typeof job.id === 'string' ? job.id.replace(/^deliver-/, '').replace(/-r\d+$/, '') : '';
          log?.error({ jobId }, 'unreadable delivery payload: given up');
          if (jobId !== '') await this.lifecycle.markUndeliverable(jobId, 'unreadable delivery payload');
          return { skipped: 'invalid' };
        }
        const data = parsed.data;
        const state = await this.state(data.jobId);
        if (state === 'delivered' || state === 'undeliverable') return { skipped: state };
        const { attempt, enqueuedAt } = await this.lifecycle.noteDeliveryAttempt(data.jobId);
        let result: DeliveryHandlerResult;
        try {
          result = await handler(data, { attempt });
        } catch (err) {
          log?.warn({ err, jobId: data.jobId, attempt }, 'delivery attempt failed');
          result = { status: 'retry', reason: err instanceof Error ? err.message : String(err), ...(retryAfterOf(err) === undefined ? {} : { retryAfterMs: retryAfterOf(err) as number }) };
        }
        if (result === undefined || result.status === 'delivered') {
          await this.lifecycle.markDelivered(data.jobId, { via: platform, attempts: attempt, ...(result?.info ?? {}) });
          this.observer.finished?.(platform, 'delivered');
          return { delivered: true };
        }
        if (result.status === 'failed') {
          log?.warn({ jobId: data.jobId, reason: result.reason }, 'the platform refused the delivery for good: refunded');
          await this.lifecycle.markUndeliverable(data.jobId, result.reason);
          this.observer.finished?.(platform, 'undeliverable');
          return { undeliverable: result.reason };
        }
        const delay = result.retryAfterMs ?? deliveryBackoff(attempt, policy);
        if (now() + delay - enqueuedAt > policy.giveUpAfterMs) {
          log?.warn({ jobId: data.jobId, attempt }, 'delivery retried past its window: given up and refunded');
          await this.lifecycle.markUndeliverable(data.jobId, `gave up after ${attempt} attempts: ${result.reason ?? 'retry'}`);
          this.observer.finished?.(platform, 'undeliverable');
          return { undeliverable: 'window' };
        }
        this.observer.retried?.(platform);
        await job.moveToDelayed(Date.now() + delay, token);
        throw new DelayedError();
      },
      {
        connection: this.connection,
        prefix: this.queues.bullPrefix,
        concurrency: opts.concurrency ?? 4,
        // A consumer that dies mid-attempt: the attempt is taken over, many times if need be.
        maxStalledCount: 50,
        ...(opts.lockDurationMs === undefined ? {} : { lockDuration: opts.lockDurationMs }),
        ...(opts.stalledIntervalMs === undefined ? {} : { stalledInterval: opts.stalledIntervalMs }),
      },
    );
    worker.on('error', (err) => log?.error({ err }, 'delivery consumer error'));
    const relay = setInterval(() => {
      void this.lifecycle.relay().catch((err: unknown) => log?.warn({ err }, 'outbox relay failed'));
    }, opts.relayEveryMs ?? 15_000);
    relay.unref();
    void this.lifecycle.relay().catch(() => undefined);
    const consumer: DeliveryConsumer = {
      close: async () => {
        clearInterval(relay);
        this.consumers.delete(consumer);
        await worker.close();
      },
    };
    this.consumers.add(consumer);
    return consumer;
  }

  async state(jobId: string): Promise<DeliveryState | undefined> {
    const [state, kind] = await this.redis.hmget(this.keys.delivery(jobId), 'state', 'kind');
    if (state === 'delivered' || state === 'undeliverable') return state;
    return state === 'enqueued' || kind !== null ? 'enqueued' : undefined;
  }

  /** What was promised to the user for this job (video, failed, blocked, cancelled), once written. */
  async outcomeKind(jobId: string): Promise<DeliveryOutcome['kind'] | undefined> {
    const kind = await this.redis.hget(this.keys.delivery(jobId), 'kind');
    return kind === 'video' || kind === 'failed' || kind === 'blocked' || kind === 'cancelled' ? kind : undefined;
  }

  /** The delivery record as stored (state, attempts, times), for `jobs show` and the admin console. */
  async record(jobId: string): Promise<Record<string, string> | undefined> {
    const h = await this.redis.hgetall(this.keys.delivery(jobId));
    if (Object.keys(h).length === 0) return undefined;
    const { payload: _payload, event: _event, ...rest } = h;
    return rest;
  }

  /** Puts an undeliverable outcome back in line (an operator's retry, e.g. after fixing permissions). */
  retry(jobId: string): Promise<boolean> {
    return this.lifecycle.redeliver(jobId);
  }

  async close(): Promise<void> {
    await Promise.all([...this.consumers].map((c) => c.close()));
  }
}
