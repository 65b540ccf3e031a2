import type { Redis } from 'ioredis';
import pino from 'pino';
import { createCore, type Core, type DeliveryJobData, type FramecastConfig, type Platform } from '@framecast/core';
import { blobStoreFromConfig } from '@framecast/core';
import { createProductImageIntake, createProductModerator } from '@framecast/content-safety';
import { createWorkerFromConfig, type GenerateWorker, type VideoRuntime } from '@framecast/gpu-worker';
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
  const { moderator } = await createProductModerator(config);
  const core = createCore({ config, redis, moderator, imageIntake: createProductImageIntake(store), logger: silentLogger, connection: { url: testRedisUrl(), maxRetriesPerRequest: null } });
  const worker = await createWorkerFromConfig({ core, store, logger: silentLogger, overrides: { store, ...(runtime === undefined ? {} : { runtime }) } });
  return { core, worker };
}

/** Every delivery the test adapters below received, by job id (with how often each was handed over). */
const received = new Map<string, { data: DeliveryJobData; times: number }>();

/** The delivery a platform's adapter receives for a job, through deliveries.consume like a real adapter. */
export async function awaitDelivery(core: Core, platform: Platform, jobId: string, timeoutMs = 90_000): Promise<DeliveryJobData> {
  const consumer = core.deliveries.consume(platform, async (d) => {
    const prev = received.get(d.jobId);
    received.set(d.jobId, { data: d, times: (prev?.times ?? 0) + 1 });
    return { status: 'delivered' };
  }, { relayEveryMs: 500 });
  try {
    return (await waitFor(async () => received.get(jobId), timeoutMs, `delivery of ${jobId}`)).data;
  } finally {
    await consumer.close();
  }
}

/** How many times an adapter was handed a job's outcome in this process. */
export function deliveryCount(jobId: string): number {
  return received.get(jobId)?.times ?? 0;
}

export async function awaitState(core: Core, jobId: string, state: string, timeoutMs = 10_000): Promise<void> {
  await waitFor(async () => ((await core.job(jobId))?.state === state ? true : undefined), timeoutMs, `job ${jobId} to be ${state}`);
}
