import { Queue, type ConnectionOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { Keys } from '../redis/keys.ts';
import { DeliveryJobDataSchema, deliveryQueueName, type DeliveryJobDataInput, type DeliveryOutcome } from './job-payloads.schema.ts';

const RECORD_TTL_SECONDS = 30 * 24 * 3600;

export type DeliveryState = 'enqueued' | 'delivered';

/**
 * One delivery queue per platform, and a per-job delivery record so that a job's outcome is
 * enqueued once and delivered once, however often a worker or an adapter retries.
 */
export class Deliveries {
  private readonly keys: Keys;
  private readonly queues = new Map<string, Queue>();

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly connection: ConnectionOptions = redis,
  ) {
    this.keys = new Keys(prefix);
  }

  queue(platform: string): Queue {
    let q = this.queues.get(platform);
    if (q === undefined) {
      q = new Queue(deliveryQueueName(platform), { connection: this.connection, prefix: this.keys.bullPrefix });
      this.queues.set(platform, q);
    }
    return q;
  }

  /**
   * Enqueues the outcome of a job for its platform's adapter, once: a second call (a retried or
   * taken-over worker) finds the record and does nothing. Returns whether this call enqueued it.
   */
  async enqueue(input: DeliveryJobDataInput): Promise<boolean> {
    const data = DeliveryJobDataSchema.parse(input);
    const key = this.keys.delivery(data.jobId);
    // The outcome's kind is the claim, so whoever settles a retried job knows what was promised.
    const claimed = await this.redis.hsetnx(key, 'kind', data.outcome.kind);
    if (claimed === 0) {
      // Claimed before: make sure the BullMQ job exists (the claimer may have died before adding
      // it, and then this outcome is the one the user will get).
      if (await this.isQueued(data.platform, data.jobId)) return false;
      await this.redis.hset(key, 'kind', data.outcome.kind);
    }
    await this.redis.multi().hsetnx(key, 'state', 'enqueued').hset(key, 'enqueuedAt', Date.now()).expire(key, RECORD_TTL_SECONDS).exec();
    await this.queue(data.platform).add('deliver', data, {
      jobId: `deliver-${data.jobId}`,
      attempts: 8,
      backoff: { type: 'exponential', delay: 2_000 },
      removeOnComplete: { age: 7 * 24 * 3600 },
      removeOnFail: { age: 30 * 24 * 3600 },
    });
    return claimed === 1;
  }

  /** Called by an adapter once the platform accepted the message; false if it was delivered before. */
  async markDelivered(jobId: string, info: Record<string, string | number> = {}): Promise<boolean> {
    const key = this.keys.delivery(jobId);
    const first = await this.redis.hsetnx(key, 'deliveredAt', Date.now());
    if (first === 0) return false;
    await this.redis.hset(key, { state: 'delivered', ...info });
    return true;
  }

  async state(jobId: string): Promise<DeliveryState | undefined> {
    const [state, kind] = await this.redis.hmget(this.keys.delivery(jobId), 'state', 'kind');
    if (state === 'delivered') return 'delivered';
    return state === 'enqueued' || kind !== null ? 'enqueued' : undefined;
  }

  /** Whether the job's outcome is in its platform's delivery queue (or already delivered). */
  async isQueued(platform: string, jobId: string): Promise<boolean> {
    if ((await this.redis.hget(this.keys.delivery(jobId), 'state')) === 'delivered') return true;
    return (await this.queue(platform).getJob(`deliver-${jobId}`)) !== undefined;
  }

  /** What was promised to the user for this job (video, failed, blocked, cancelled), once claimed. */
  async outcomeKind(jobId: string): Promise<DeliveryOutcome['kind'] | undefined> {
    const kind = await this.redis.hget(this.keys.delivery(jobId), 'kind');
    return kind === 'video' || kind === 'failed' || kind === 'blocked' || kind === 'cancelled' ? kind : undefined;
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}
