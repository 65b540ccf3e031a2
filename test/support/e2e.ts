import type { Redis } from 'ioredis';
import pino from 'pino';
import { createCore, DeliveryJobDataSchema, type Core, type DeliveryJobData, type FramecastConfig } from '@framecast/core';
import { blobStoreFromConfig, createWorkerFromConfig, type GenerateWorker, type VideoRuntime } from '@framecast/gpu-worker';
import { productImageIntake, productModerator } from '../../bin/commands/services.ts';
import { testRedisUrl } from './redis.ts';

export const silentLogger = pino({ level: 'silent' });

/** Polls `fn` until it returns something other than undefined. */
export async function waitFor<T>(fn: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The product's core (real moderation and image intake) and a worker wired from config, not yet running. */
export async function productCoreAndWorker(config: FramecastConfig, redis: Redis, runtime?: VideoRuntime): Promise<{ core: Core; worker: GenerateWorker }> {
  const store = blobStoreFromConfig(config);
  const { moderator } = await productModerator(config);
  const core = createCore({ config, redis, moderator, imageIntake: productImageIntake(store), logger: silentLogger });
  const worker = await createWorkerFromConfig({
    config, redis, connection: { url: testRedisUrl(), maxRetriesPerRequest: null }, logger: silentLogger,
    overrides: { store, ...(runtime === undefined ? {} : { runtime }) },
  });
  return { core, worker };
}

/** The delivery a platform's adapter would receive for a job. */
export async function awaitDelivery(core: Core, platform: string, jobId: string, timeoutMs = 90_000): Promise<DeliveryJobData> {
  const dj = await waitFor(async () => (await core.deliveries.queue(platform).getJob(`deliver-${jobId}`)) ?? undefined, timeoutMs, `delivery of ${jobId}`);
  return DeliveryJobDataSchema.parse(dj.data);
}

export async function awaitState(core: Core, jobId: string, state: string, timeoutMs = 10_000): Promise<void> {
  await waitFor(async () => ((await core.jobs.get(jobId))?.state === state ? true : undefined), timeoutMs, `job ${jobId} to be ${state}`);
}
