import { Queue, type ConnectionOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { Keys } from '../redis/keys.ts';
import { DeliveryJobDataSchema, deliveryQueueName, type DeliveryJobDataInput } from './job-payloads.schema.ts';

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
    const claimed = await this.redis.hsetnx(key, 'state', 'enqueued');
    if (claimed === 0) {
      // Claimed before: make sure the BullMQ job exists (the claimer may have died before adding it).
      const existing = await this.queue(data.platform).getJob(`deliver-${data.jobId}`);
      const state = await this.redis.hget(key, 'state');
      if (existing !== undefined || state === 'delivered') return false;
    }
    await this.redis.multi().hset(key, 'enqueuedAt', Date.now(), 'kind', data.outcome.kind).expire(key, RECORD_TTL_SECONDS).exec();
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
    const s = await this.redis.hget(this.keys.delivery(jobId), 'state');
    return s === 'enqueued' || s === 'delivered' ? s : undefined;
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}
