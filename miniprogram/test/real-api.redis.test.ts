// A node environment with a DOM of its own for the pages (jsdom's environment replaces Node's URL,
// which the core's file paths need): see installDom().
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobStoreFromConfig, type Core } from '@framecast/core';
import { createHttpApp, listen, type ListeningServer } from '@framecast/http-server';
import type { GenerateWorker } from '@framecast/gpu-worker';
import { startMiniProgramApi, type MiniProgramApi } from '../../bots/miniprogram-api/src/index.ts';
import { startFakeWeChatMp, type FakeWeChatMp } from '../../bots/miniprogram-api/src/testing/fake-wechat-mp.ts';
import { testConfig } from '../../test/support/config.ts';
import { productCoreAndWorker, silentLogger } from '../../test/support/e2e.ts';
import { testRedis, testRedisUrl } from '../../test/support/redis.ts';
import { JSDOM } from 'jsdom';
import type { MiniprogramHarness } from '../testing/simulate-harness.ts';

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

let waitFor: typeof import('../testing/simulate-harness.ts').waitFor;

/**
 * The mini program against the real API (bots/miniprogram-api on the one HTTP server, a real core,
 * Redis and worker rendering the tiny model; only WeChat's code2Session is a fake): create →
 * My videos follows the job's events to the end → play.
 */
let h: MiniprogramHarness;
let redis: Redis;
let dataDir: string;
let wechat: FakeWeChatMp;
let server: ListeningServer;
let core: Core;
let worker: GenerateWorker;
let api: MiniProgramApi;

beforeAll(async () => {
  redis = testRedis();
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'framecast-mp-e2e-'));
  wechat = await startFakeWeChatMp();
  const http = createHttpApp({ metrics: { metrics: async () => '', contentType: 'text/plain' }, readiness: async () => ({ ok: true, checks: {} }) });
  server = await listen(http, 0, '127.0.0.1');
  const config = testConfig({
    REDIS_URL: testRedisUrl(), FRAMECAST_DATA_DIR: dataDir, FRAMECAST_STEPS: '4',
    WECHAT_APP_ID: wechat.appId, WECHAT_APP_SECRET: wechat.appSecret, WECHAT_API_BASE_URL: wechat.baseUrl,
  });
  ({ core, worker } = await productCoreAndWorker(config, redis));
  api = await startMiniProgramApi({ core, store: blobStoreFromConfig(config), logger: silentLogger, config, http, redis });
  installDom();
  const harness = await import('../testing/simulate-harness.ts');
  waitFor = harness.waitFor;
  h = await harness.MiniprogramHarness.start();
  h.apiBaseUrl = `http://127.0.0.1:${server.port}`;
  h.wx.codeFor = (user) => wechat.codeFor(`o_${user}`);
});
afterAll(async () => {
  await h?.stop();
  await api?.close();
  await worker?.close();
  await core?.close();
  await server?.close();
  await wechat?.close();
  await redis?.quit();
  await rm(dataDir, { recursive: true, force: true });
});

describe('the mini program against the real API', () => {
  it('create → My videos shows the progress to the end → play', async () => {
    h.newUser('e2e');
    const create = h.page('create');
    await waitFor(() => create.text('.quota') !== '', 'the quota');
    expect(create.text('.quota')).toMatch(/^今日剩余 \d+ 点$/);
    await create.fire('.prompt', 'input', { value: 'a red kite over a green hill' });
    await create.tap('.submit');
    await waitFor(() => h.wx.switchedTo.length > 0 || create.exists('.error'), 'the submission', 30_000);
    expect(create.exists('.error') ? create.text('.error') : '').toBe('');
    create.lifecycle('onHide');

    const videos = h.page('videos');
    const seen = new Set<string>();
    void worker.run();
    await waitFor(() => {
      if (videos.exists('.card .status')) seen.add(videos.text('.card .status'));
      return videos.exists('.play');
    }, 'the finished video', 120_000);
    expect([...seen].some((s) => /^生成中/.test(s))).toBe(true);
    expect([...seen].some((s) => /第 0 位/.test(s))).toBe(false);
    expect(videos.text('.card .status')).toBe('已完成');
    await videos.tap('.play');
    await waitFor(() => videos.data.videoSrc !== '', 'the video src');
    const res = await fetch(String(videos.data.videoSrc), { headers: { Range: 'bytes=0-99' } });
    expect(res.status).toBe(206);
  }, 180_000);
});
