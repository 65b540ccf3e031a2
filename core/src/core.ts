import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { FramecastConfig } from './config/config.ts';
import { Intake } from './intake/intake.ts';
import type { ReferenceImageIntake } from './intake/reference-image-intake.ts';
import { JobStore } from './jobs/job-record.ts';
import { JobService } from './jobs/job-service.ts';
import type { ContentModerator } from './moderation/content-moderator.ts';
import { Deliveries } from './queue/delivery.ts';
import { FairQueue } from './queue/fair-queue.ts';
import { QuotaService } from './quota/quota-service.ts';

export interface CoreOptions {
  config: FramecastConfig;
  redis: Redis;
  moderator: ContentModerator;
  imageIntake?: ReferenceImageIntake;
  logger?: Logger;
  random?: () => number;
}

export interface Core {
  readonly config: FramecastConfig;
  readonly redis: Redis;
  readonly intake: Intake;
  readonly quota: QuotaService;
  readonly jobs: JobStore;
  readonly jobService: JobService;
  readonly queue: FairQueue;
  readonly deliveries: Deliveries;
  close(): Promise<void>;
}

/** Wires the core's services over one Redis connection. */
export function createCore(opts: CoreOptions): Core {
  const { config, redis } = opts;
  const quota = new QuotaService(redis, config);
  const jobs = new JobStore(redis, config.keyPrefix);
  const queue = new FairQueue(redis, config.keyPrefix);
  const deliveries = new Deliveries(redis, config.keyPrefix);
  const jobService = new JobService(redis, config.keyPrefix, jobs, queue, quota, deliveries);
  const intake = new Intake({
    config, redis, moderator: opts.moderator, queue, jobs, quota,
    ...(opts.imageIntake === undefined ? {} : { imageIntake: opts.imageIntake }),
    ...(opts.logger === undefined ? {} : { logger: opts.logger }),
    ...(opts.random === undefined ? {} : { random: opts.random }),
  });
  return {
    config, redis, intake, quota, jobs, jobService, queue, deliveries,
    async close() {
      await Promise.all([queue.close(), deliveries.close()]);
    },
  };
}
