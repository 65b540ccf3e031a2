// The pages against the real API: a node environment with a DOM of its own for the pages (jsdom's
// environment replaces Node's URL, which the core's file paths need): see installDom().
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { blobStoreFromConfig, type Core } from '@framecast/core';
import { createHttpApp, listen, type ListeningServer } from '@framecast/http-server';
import type { GenerateWorker } from '@framecast/gpu-worker';
import { startMiniProgramApi, type MiniProgramApi } from '../../bots/miniprogram-api/src/index.ts';
import { startFakeWeChatMp, type FakeWeChatMp } from '../../bots/miniprogram-api/src/testing/fake-wechat-mp.ts';
import { testConfig } from '../../test/support/config.ts';
import { productCoreAndWorker, silentLogger } from '../../test/support/e2e.ts';
import { testRedis, testRedisUrl } from '../../test/support/redis.ts';
import { JSDOM } from 'jsdom';
import type { MiniprogramHarness } from './simulate-harness.ts';

/** Gives miniprogram-simulate the DOM globals it renders into, leaving Node's own (URL, fetch…) alone. */
function installDom(): void {
  const { window } = new JSDOM('<!doctype html><html><body></body></html>', { pretendToBeVisual: true });
  const g = globalThis as unknown as Record<string, unknown>;
  for (const name of ['window', 'document', 'Node', 'Element', 'HTMLElement', 'Event', 'CustomEvent', 'MouseEvent', 'TouchEvent', 'getComputedStyle', 'requestAnimationFrame', 'cancelAnimationFrame']) {
    const value = (window as unknown as Record<string, unknown>)[name];
    // DOM events must be jsdom's (Node has an Event of its own that jsdom's elements refuse).
    if (value !== undefined && (g[name] === undefined || name.endsWith('Event'))) g[name] = typeof value === 'function' && /^[a-z]/.test(name) ? value.bind(window) : value;
  }
  g.window = window;
  g.document = window.document;
}

export interface RealApiRig {
  h: MiniprogramHarness;
  core: Core;
  worker: GenerateWorker;
  api: MiniProgramApi;
  server: ListeningServer;
  wechat: FakeWeChatMp;
  redis: Redis;
  waitFor: typeof import('./simulate-harness.ts').waitFor;
  close(): Promise<void>;
}

/**
 * The mini program against the real API (bots/miniprogram-api on the one HTTP server, a real core,
 * Redis and worker rendering the tiny model; only WeChat's code2Session is a fake). The worker is
 * not running yet (`void rig.worker.run()`). A user `u` logs in as the openid `o_<u>`.
 */
export async function startRealApi(env: Record<string, string> = {}): Promise<RealApiRig> {
  const redis = testRedis();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'framecast-mp-e2e-'));
  const wechat = await startFakeWeChatMp();
  const http = createHttpApp({ metrics: { metrics: async () => '', contentType: 'text/plain' }, readiness: async () => ({ ok: true, checks: {} }) });
  const server = await listen(http, 0, '127.0.0.1');
  const config = testConfig({
    REDIS_URL: testRedisUrl(), FRAMECAST_DATA_DIR: dataDir, FRAMECAST_STEPS: '4',
    WECHAT_APP_ID: wechat.appId, WECHAT_APP_SECRET: wechat.appSecret, WECHAT_API_BASE_URL: wechat.baseUrl,
    ...env,
  });
  const { core, worker } = await productCoreAndWorker(config, redis);
  const api = await startMiniProgramApi({ core, store: blobStoreFromConfig(config), logger: silentLogger, config, http, redis });
  installDom();
  const harness = await import('./simulate-harness.ts');
  const h = await harness.MiniprogramHarness.start();
  h.apiBaseUrl = `http://127.0.0.1:${server.port}`;
  h.wx.codeFor = (user) => wechat.codeFor(`o_${user}`);
  return {
    h, core, worker, api, server, wechat, redis, waitFor: harness.waitFor,
    async close() {
      await h.stop();
      await api.close();
      await worker.close();
      await core.close();
      await server.close();
      await wechat.close();
      await redis.quit();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
