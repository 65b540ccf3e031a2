import { Queue, type ConnectionOptions } from 'bullmq';
import { Keys } from '../redis/keys.ts';
import { deliveryQueueName, type DeliveryJobData } from './job-payloads.schema.ts';

/** The per-platform `deliver-<platform>` BullMQ queues; a delivery job's id is `deliver-<jobId>`. */
export class DeliveryQueues {
  private readonly queues = new Map<string, Queue>();
  private readonly prefix: string;

  constructor(
    private readonly connection: ConnectionOptions,
    keyPrefix: string,
  ) {
    this.prefix = new Keys(keyPrefix).bullPrefix;
  }

  get bullPrefix(): string {
    return this.prefix;
  }

  queue(platform: string): Queue {
    let q = this.queues.get(platform);
    if (q === undefined) {
      q = new Queue(deliveryQueueName(platform), { connection: this.connection, prefix: this.prefix });
      this.queues.set(platform, q);
    }
    return q;
  }

  /** Adds the outcome once: a second add of the same job id is a no-op in BullMQ (an operator's redelivery adds a suffix). */
  async add(data: DeliveryJobData, suffix = ''): Promise<void> {
    await this.queue(data.platform).add('deliver', data, {
      jobId: `deliver-${data.jobId}${suffix}`,
      // Retries are the consumer's (capped backoff for hours, Retry-After honoured), not BullMQ's.
      attempts: 1,
      removeOnComplete: { age: 7 * 24 * 3600 },
      removeOnFail: { age: 30 * 24 * 3600 },
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}
