import type { KeyObject } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { blobStoreFromConfig, createFramecastMetrics, type Core, type FramecastConfig } from '@framecast/core';
import type { GenerateWorker } from '@framecast/gpu-worker';
import { createHttpApp, listen, type ListeningServer } from '@framecast/http-server';
import { productCoreAndWorker, silentLogger } from '../../../../test/support/e2e.ts';
import { testConfig } from '../../../../test/support/config.ts';
import { testRedis, testRedisUrl } from '../../../../test/support/redis.ts';
import { startDiscordAdapter, type DiscordAdapter, type DiscordAdapterOptions } from '../discord-adapter.ts';
import { FakeDiscord } from './fake-discord.ts';
import { interactionKeys, postSignedInteraction } from './signed-interactions.ts';

/** The product's core, a tiny-model worker and the Discord adapter on one HTTP server, against the fake Discord. */
export interface DiscordRig {
  redis: Redis;
  dataDir: string;
  fake: FakeDiscord;
  config: FramecastConfig;
  core: Core;
  worker: GenerateWorker;
  adapter: DiscordAdapter;
  server: ListeningServer;
  privateKey: KeyObject;
  /** An interaction through the HTTP endpoint, signed as Discord signs it. */
  post(body: unknown): Promise<Response>;
  close(): Promise<void>;
}

export interface DiscordRigOptions {
  /** Names the temporary data folder. */
  name: string;
  /** Settings beside the rig's own (Redis, data folder, the fake's URLs, token, keys). */
  env?: Record<string, string>;
  /** Runs on the fake before the adapter starts (channels, strictness). */
  prepare?: (fake: FakeDiscord) => void;
  /** Adapter options beside the rig's own. */
  adapter?: Partial<DiscordAdapterOptions>;
}

export async function startDiscordRig(o: DiscordRigOptions): Promise<DiscordRig> {
  const redis = testRedis();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), `framecast-${o.name}-`));
  const fake = await new FakeDiscord().start();
  o.prepare?.(fake);
  const keys = interactionKeys();
  const config = testConfig({
    REDIS_URL: testRedisUrl(), FRAMECAST_DATA_DIR: dataDir,
    DISCORD_TOKEN: `test-token-${o.name}`, DISCORD_APPLICATION_ID: fake.applicationId, DISCORD_API_BASE_URL: fake.apiBaseUrl,
    DISCORD_PUBLIC_KEY: keys.publicKeyHex, ...o.env,
  });
  const { core, worker } = await productCoreAndWorker(config, redis);
  const http = createHttpApp({ metrics: createFramecastMetrics(), readiness: async () => ({ ok: true, checks: {} }) });
  const adapter = await startDiscordAdapter({
    core, store: blobStoreFromConfig(config), logger: silentLogger, config, http, redis,
    progress: { minEditIntervalMs: 0 }, delivery: { relayEveryMs: 500 }, ...o.adapter,
  });
  const server = await listen(http, 0, '127.0.0.1');
  return {
    redis, dataDir, fake, config, core, worker, adapter, server, privateKey: keys.privateKey,
    post: (body) => postSignedInteraction(server.port, body, keys.privateKey),
    close: async () => {
      await server.close();
      await adapter.close();
      await worker.close();
      await core.close();
      await fake.close();
      await redis.quit();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
