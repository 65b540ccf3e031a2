import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { blobStoreFromConfig, type BlobStore, type Core, type FramecastConfig, type JobRecord } from '@framecast/core';
import { createHttpApp, listen, type ListeningServer } from '@framecast/http-server';
import type { GenerateWorker } from '@framecast/gpu-worker';
import { productCoreAndWorker, silentLogger, waitFor } from '../../../../test/support/e2e.ts';
import { testRedis, testRedisUrl } from '../../../../test/support/redis.ts';
import { testConfig } from '../../../../test/support/config.ts';
import { startWebAdapter, type WebAdapter } from '../web-adapter.ts';

/** A real HTTP server with the playground on it, a real core (product moderation and image intake), Redis and a tiny-model worker. */
export interface PlaygroundRig {
  baseUrl: string;
  config: FramecastConfig;
  core: Core;
  worker: GenerateWorker;
  store: BlobStore;
  redis: Redis;
  adapter: WebAdapter;
  server: ListeningServer;
  /** Waits until the job reaches `state` (default 120 s: a busy 2-core machine). */
  awaitState(jobId: string, state: JobRecord['state'], timeoutMs?: number): Promise<JobRecord>;
  close(): Promise<void>;
}

export interface PlaygroundRigOptions {
  env?: Record<string, string>;
  maxImageBytes?: number;
}

/** Starts the rig; the worker runs at once. */
export async function startPlaygroundRig(o: PlaygroundRigOptions = {}): Promise<PlaygroundRig> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'framecast-web-'));
  const redis = testRedis();
  const config = testConfig({
    REDIS_URL: testRedisUrl(), FRAMECAST_DATA_DIR: dataDir, FRAMECAST_STEPS: '4', FRAMECAST_FREE_MAX_CONCURRENT: '5', FRAMECAST_FREE_DAILY_CREDITS: '1000',
    FRAMECAST_DEFAULT_LOCALE: 'en', ...o.env,
  });
  const { core, worker } = await productCoreAndWorker(config, redis);
  const store = blobStoreFromConfig(config);
  const http = createHttpApp(
    { metrics: { metrics: async () => '', contentType: 'text/plain' }, readiness: async () => ({ ok: true, checks: {} }) },
    { bodyLimit: config.env.FRAMECAST_HTTP_BODY_LIMIT },
  );
  const server = await listen(http, 0, '127.0.0.1');
  const adapter = await startWebAdapter({
    core, store, redis, logger: silentLogger, config, http, consume: { relayEveryMs: 500 },
    ...(o.maxImageBytes === undefined ? {} : { maxImageBytes: o.maxImageBytes }),
  });
  void worker.run();
  return {
    baseUrl: `http://127.0.0.1:${server.port}`, config, core, worker, store, redis, adapter, server,
    awaitState: (jobId, state, timeoutMs = 120_000) =>
      waitFor(async () => {
        const rec = await core.job(jobId);
        return rec?.state === state ? rec : undefined;
      }, timeoutMs, `job ${jobId} to be ${state}`),
    async close() {
      await adapter.close();
      await worker.close();
      await core.close();
      await server.close();
      await redis.quit();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
