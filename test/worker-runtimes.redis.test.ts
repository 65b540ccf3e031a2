import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createSafeFetcher } from '@framecast/content-safety';
import pino from 'pino';
import { createProductImageIntake, createProductModerator } from '@framecast/content-safety';
import { blobStoreFromConfig, createCore, t, type ChatRequestInput, type Core, type FramecastConfig } from '@framecast/core';
import { createWorkerFromConfig, DashScopeRuntime, probeVideo, readAigcMetadata, safeFetcherDownloader, type GenerateWorker, type VideoRuntime } from '@framecast/gpu-worker';
import { awaitDelivery, awaitState, productCoreAndWorker, silentLogger, waitFor } from './support/e2e.ts';
import { startFakeComfyUi } from './fakes/fake-comfyui.ts';
import { startFakeDashScope } from './fakes/fake-dashscope.ts';
import { testRedis, testRedisUrl } from './support/redis.ts';
import { testConfig } from './support/config.ts';

// The worker with the remote runtimes: the real ComfyUI and DashScope clients talking to local
// fakes of those services over real sockets, and everything else real (Redis, ffmpeg, ONNX scan).

let redis: Redis;
let dataDir: string;
beforeAll(async () => {
  redis = testRedis();
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'framecast-rt-'));
});
afterAll(async () => {
  await redis.quit();
  await rm(dataDir, { recursive: true, force: true });
});
let seq = 0;
function request(text: string): ChatRequestInput {
  seq += 1;
  return { version: 1, platform: 'slack', tenantId: 'T1', channelId: 'C1', userId: 'U1', eventId: `rt-${seq}-${Date.now()}`, text, replyTarget: { platform: 'slack', teamId: 'T1', channelId: 'C1' }, locale: 'en' };
}

async function setup(config: FramecastConfig, runtime?: VideoRuntime): Promise<{ core: Core; worker: GenerateWorker }> {
  const both = await productCoreAndWorker(config, redis, runtime);
  void both.worker.run();
  return both;
}

function comfyConfig(url: string, extra: Record<string, string>): FramecastConfig {
  return testConfig({ REDIS_URL: testRedisUrl(), FRAMECAST_DATA_DIR: dataDir, FRAMECAST_RUNTIME: 'comfyui', COMFYUI_URL: url, ...extra });
}

const delivered = (core: Core, jobId: string) => awaitDelivery(core, 'slack', jobId, 60_000);

describe('worker + ComfyUI runtime (fake ComfyUI server)', () => {
  it('a final job that runs out of GPU memory is retried once at draft size, and delivered labelled', async () => {
    const fake = await startFakeComfyUi({ stepDelayMs: 1, nodeDelayMs: 1 });
    fake.behaviour.failNode = { classType: 'KSamplerAdvanced', exceptionType: 'torch.OutOfMemoryError', message: 'Allocation on device 0 would exceed allowed memory. (out of memory)' };
    const config = comfyConfig(fake.url, { FRAMECAST_PRO_USERS: 'slack:U1' });
    const { core, worker } = await setup(config);
    try {
      const r = await core.submit(request('/video a fox in the snow --duration 2'));
      if (r.status !== 'accepted') throw new Error(JSON.stringify(r));
      expect(r.spec.mode).toBe('final');
      // The first attempt fails with the OOM; let the retry through.
      await waitFor(async () => (fake.history.size >= 1 ? true : undefined), 30_000, 'the first attempt');
      fake.behaviour.failNode = undefined;
      const d = await delivered(core, r.jobId);
      expect(d.outcome.kind).toBe('video');
      if (d.outcome.kind !== 'video') return;
      expect(d.outcome.result.downgraded).toBe(true);
      const sizes = fake.postedBodies.map((b) => {
        const graph = (b as { prompt: Record<string, { class_type: string; inputs: Record<string, unknown> }> }).prompt;
        const latent = Object.values(graph).find((n) => n.class_type === 'EmptyHunyuanLatentVideo');
        return `${String(latent?.inputs.width)}x${String(latent?.inputs.height)}`;
      });
      expect(sizes).toEqual(['1280x720', '848x480']);
      const file = path.join(dataDir, 'blobs', d.outcome.result.videoRef);
      expect(await readAigcMetadata(file)).toMatchObject({ Label: '1', ProduceID: r.jobId });
      expect((await probeVideo(file)).codec).toBe('h264');
      await awaitState(core, r.jobId, 'succeeded');
      const q = await core.quota.show('slack:U1', { tier: 'pro' });
      expect(q).toMatchObject({ held: 0, spent: r.cost });
    } finally {
      await worker.close();
      await core.close();
      await fake.close();
    }
  });

  it('a user who opted out of downgrades gets a clear failure and a refund, not a draft', async () => {
    const fake = await startFakeComfyUi({ stepDelayMs: 1, nodeDelayMs: 1 });
    fake.behaviour.failNode = { classType: 'KSamplerAdvanced', exceptionType: 'torch.OutOfMemoryError', message: 'Allocation on device 0 would exceed allowed memory. (out of memory)' };
    const config = comfyConfig(fake.url, { FRAMECAST_PRO_USERS: 'slack:U1' });
    const { core, worker } = await setup(config);
    try {
      await core.settings.set('slack:U1', 'allow-downgrade', false);
      const r = await core.submit(request('/video a fox in the snow --duration 2'));
      if (r.status !== 'accepted') throw new Error(JSON.stringify(r));
      const d = await delivered(core, r.jobId);
      expect(d.outcome).toMatchObject({ kind: 'failed', code: 'oom' });
      expect(fake.postedBodies).toHaveLength(1);
      await awaitState(core, r.jobId, 'failed');
      expect(await core.quota.show('slack:U1', { tier: 'pro' })).toMatchObject({ held: 0, spent: 0 });
    } finally {
      await worker.close();
      await core.close();
      await fake.close();
    }
  });

  it('a graph ComfyUI refuses fails at once with a reason and a refund (no retries)', async () => {
    const fake = await startFakeComfyUi({ stepDelayMs: 1, nodeDelayMs: 1 });
    fake.behaviour.failNode = { classType: 'EmptyHunyuanLatentVideo', exceptionType: 'ValueError', message: 'length must be 4k+1' };
    const config = comfyConfig(fake.url, {});
    const { core, worker } = await setup(config);
    try {
      const r = await core.submit(request('/video waves --draft'));
      if (r.status !== 'accepted') throw new Error(JSON.stringify(r));
      const d = await delivered(core, r.jobId);
      expect(d.outcome).toMatchObject({ kind: 'failed', code: 'bad_input' });
      expect(fake.postedBodies).toHaveLength(1);
      await awaitState(core, r.jobId, 'failed');
      expect(await core.quota.show('slack:U1', { tier: 'free' })).toMatchObject({ held: 0, spent: 0 });
    } finally {
      await worker.close();
      await core.close();
      await fake.close();
    }
  });

  // A server without a node or model file the template needs is the operator's fault: the job
  // fails on its one attempt with a refund and the 'unavailable' message, and the operator gets an
  // error log; no retry storm against a server that cannot render it.
  for (const [what, missing] of [
    ['a model file', { missingModels: ['wan2.2_t2v_high_noise_14B_fp8_scaled.safetensors'] }],
    ['a node class', { missingNodes: ['ModelSamplingSD3'] }],
  ] as const) {
    it(`a server that lacks ${what} fails the job at once as misconfigured: one attempt, a refund, an error for the operator`, async () => {
      const fake = await startFakeComfyUi({ stepDelayMs: 1, nodeDelayMs: 1, ...missing });
      const config = comfyConfig(fake.url, {});
      const logs: { level: number; msg?: string; errorCode?: string }[] = [];
      const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as (typeof logs)[number]) });
      const store = blobStoreFromConfig(config);
      const { moderator } = await createProductModerator(config);
      const core = createCore({ config, redis, moderator, imageIntake: createProductImageIntake(store), logger: silentLogger, connection: { url: testRedisUrl(), maxRetriesPerRequest: null } });
      const worker = await createWorkerFromConfig({ core, store, logger, overrides: { store } });
      void worker.run();
      try {
        const r = await core.submit(request('/video waves --draft'));
        if (r.status !== 'accepted') throw new Error(JSON.stringify(r));
        const d = await delivered(core, r.jobId);
        expect(d.outcome).toMatchObject({ kind: 'failed', code: 'misconfigured', message: { en: t('outcome.unavailable', 'en'), 'zh-CN': t('outcome.unavailable', 'zh-CN') } });
        await awaitState(core, r.jobId, 'failed');
        expect(fake.postedBodies).toHaveLength(1);
        expect(fake.prompts).toHaveLength(0);
        expect((await core.job(r.jobId))?.attempts).toBe(1);
        expect(await core.quota.show('slack:U1', { tier: 'free' })).toMatchObject({ held: 0, spent: 0 });
        const errors = logs.filter((l) => l.level >= 50);
        expect(errors).toHaveLength(1);
        expect(errors[0]).toMatchObject({ errorCode: 'misconfigured', msg: expect.stringContaining('misconfigured') as unknown });
      } finally {
        await worker.close();
        await core.close();
        await fake.close();
      }
    });
  }
});

describe('worker + DashScope runtime (fake hosted API)', () => {
  function runtimeFor(url: string, apiKey: string): DashScopeRuntime {
    // The download goes through the SSRF guard; only the fake's loopback address is trusted here.
    const fetcher = createSafeFetcher({ maxBytes: 50 * 1024 * 1024, timeoutMs: 20_000, allowPrivateCidrs: ['127.0.0.1/32'] });
    return new DashScopeRuntime({ baseUrl: url, apiKey, model: 'wan2.2-t2v-plus', downloader: safeFetcherDownloader(fetcher), poll: { initialMs: 20, maxMs: 50, factor: 2 }, maxInPlaceWaitMs: 200 });
  }

  it('throttling waits and retries without a second charge; the video is delivered once', async () => {
    const fake = await startFakeDashScope({ throttleCreates: 3, retryAfterSeconds: 1 });
    const config = testConfig({ REDIS_URL: testRedisUrl(), FRAMECAST_DATA_DIR: dataDir, FRAMECAST_RUNTIME: 'dashscope', DASHSCOPE_API_KEY: fake.behaviour.apiKey, DASHSCOPE_BASE_URL: fake.url });
    const { core, worker } = await setup(config, runtimeFor(fake.url, fake.behaviour.apiKey));
    try {
      const r = await core.submit(request('/video a paper lantern rising --draft'));
      if (r.status !== 'accepted') throw new Error(JSON.stringify(r));
      const d = await delivered(core, r.jobId);
      expect(d.outcome.kind).toBe('video');
      expect(fake.creations.filter((c) => c.status === 429).length).toBe(3);
      expect(fake.creations.filter((c) => c.status === 200).length).toBe(1);
      await awaitState(core, r.jobId, 'succeeded');
      expect(await core.quota.show('slack:U1', { tier: 'free' })).toMatchObject({ held: 0, spent: r.cost });
    } finally {
      await worker.close();
      await core.close();
      await fake.close();
    }
  });

  it('a retry resumes the task the failed attempt started: the provider is paid once', async () => {
    // Polls keep failing past the client's tolerance, so the first attempt fails as transient.
    const fake = await startFakeDashScope({ pollServerErrors: 7 });
    const config = testConfig({ REDIS_URL: testRedisUrl(), FRAMECAST_DATA_DIR: dataDir, FRAMECAST_RUNTIME: 'dashscope', DASHSCOPE_API_KEY: fake.behaviour.apiKey, DASHSCOPE_BASE_URL: fake.url });
    const { core, worker } = await setup(config, runtimeFor(fake.url, fake.behaviour.apiKey));
    try {
      const r = await core.submit(request('/video rain on a tin roof --draft'));
      if (r.status !== 'accepted') throw new Error(JSON.stringify(r));
      const d = await delivered(core, r.jobId);
      expect(d.outcome.kind).toBe('video');
      expect(fake.creations.filter((c) => c.status === 200)).toHaveLength(1);
      expect((await core.job(r.jobId))?.attempts).toBeGreaterThanOrEqual(2);
      await awaitState(core, r.jobId, 'succeeded');
      expect(await core.quota.show('slack:U1', { tier: 'free' })).toMatchObject({ held: 0, spent: r.cost });
    } finally {
      await worker.close();
      await core.close();
      await fake.close();
    }
  });

  it("the provider's moderation refusal becomes a clear refusal with a refund", async () => {
    const fake = await startFakeDashScope();
    const config = testConfig({ REDIS_URL: testRedisUrl(), FRAMECAST_DATA_DIR: dataDir, FRAMECAST_RUNTIME: 'dashscope', DASHSCOPE_API_KEY: fake.behaviour.apiKey, DASHSCOPE_BASE_URL: fake.url });
    const { core, worker } = await setup(config, runtimeFor(fake.url, fake.behaviour.apiKey));
    try {
      const r = await core.submit(request(`/video a street scene ${fake.behaviour.moderationMarker}:output --draft`));
      if (r.status !== 'accepted') throw new Error(JSON.stringify(r));
      const d = await delivered(core, r.jobId);
      expect(d.outcome).toMatchObject({ kind: 'blocked', code: 'provider_moderation' });
      if (d.outcome.kind === 'blocked') expect(d.outcome.message['zh-CN']).toContain('额度已退还');
      await awaitState(core, r.jobId, 'blocked');
      expect(await core.quota.show('slack:U1', { tier: 'free' })).toMatchObject({ held: 0, spent: 0 });
    } finally {
      await worker.close();
      await core.close();
      await fake.close();
    }
  });
});
