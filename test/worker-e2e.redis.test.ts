import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import sharp from 'sharp';
import { blobStoreFromConfig, type ChatRequestInput, type FramecastConfig, type ProgressEvent } from '@framecast/core';
import { probeVideo, readAigcMetadata } from '@framecast/gpu-worker';
import { awaitDelivery, awaitState, deliveryCount, productCoreAndWorker, waitFor } from './support/e2e.ts';
import { testRedis, testRedisUrl } from './support/redis.ts';
import { testConfig } from './support/config.ts';

let redis: Redis;
let dataDir: string;
beforeAll(async () => {
  redis = testRedis();
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'framecast-e2e-'));
});
afterAll(async () => {
  await redis.quit();
  await rm(dataDir, { recursive: true, force: true });
});

function env(extra: Record<string, string> = {}): Record<string, string> {
  return { REDIS_URL: testRedisUrl(), FRAMECAST_DATA_DIR: dataDir, FRAMECAST_STEPS: '4', FRAMECAST_FREE_MAX_CONCURRENT: '5', ...extra };
}

let seq = 0;
function request(text: string, extra: Partial<ChatRequestInput> = {}): ChatRequestInput {
  seq += 1;
  return {
    version: 1, platform: 'discord', tenantId: 'g', channelId: 'c', userId: 'u1', eventId: `e2e-${seq}-${Date.now()}`, text,
    replyTarget: { platform: 'discord', applicationId: 'app', channelId: 'c' }, locale: 'en', ...extra,
  };
}

const setup = (config: FramecastConfig) => productCoreAndWorker(config, redis);

describe('end to end: request → queue → worker → labelled mp4 → delivery (real Redis, ONNX Runtime, ffmpeg)', () => {
  it('turns a chat request into an mp4 with the expected size, frames, fps and AIGC metadata, charged once', async () => {
    const config = testConfig(env());
    const { core, worker } = await setup(config);
    // What an adapter listens to while people wait: per-step progress with an occasional preview.
    const seen: ProgressEvent[] = [];
    const unsubscribe = await core.progress.subscribe({ platform: 'discord' }, (e) => {
      seen.push(e);
    }, { minStepIntervalMs: 0 });
    void worker.run();
    try {
      const r = await core.submit(request('/video a paper boat on a rainy street --draft --ar 9:16 --seed 3'));
      expect(r.status).toBe('accepted');
      if (r.status !== 'accepted') return;
      const d = await awaitDelivery(core, 'discord', r.jobId);
      expect(d.outcome.kind).toBe('video');
      if (d.outcome.kind !== 'video') return;
      const file = path.join(dataDir, 'blobs', d.outcome.result.videoRef);
      const probe = await probeVideo(file);
      // 9:16 draft is 480×848; the tiny CPU model renders at a quarter (multiples of 16).
      expect({ w: probe.width, h: probe.height, frames: probe.frames, fps: probe.fps, codec: probe.codec, pix: probe.pixFmt }).toEqual({ w: 128, h: 208, frames: 49, fps: 16, codec: 'h264', pix: 'yuv420p' });
      expect(await readAigcMetadata(file)).toMatchObject({ Label: '1', ContentProducer: 'Framecast', ProduceID: r.jobId });
      await awaitState(core, r.jobId, 'succeeded');
      expect(await core.job(r.jobId)).toMatchObject({ state: 'succeeded', result: { frames: 49, width: 128, height: 208 } });
      expect(await core.quota.show('discord:u1', { tier: 'free' })).toMatchObject({ spent: 3, held: 0, active: 0 });
      await waitFor(async () => (seen.some((e) => e.type === 'delivered') ? true : undefined), 5000, 'the delivered event');
      const mine = seen.filter((e) => e.jobId === r.jobId);
      // Typed events in order: queued, started, steps (with a preview), encoding, ready, delivered.
      const order = mine.map((e) => e.type).filter((t, i, a) => t !== a[i - 1]);
      expect(order).toEqual(['queued', 'started', 'step', 'encoding', 'ready', 'delivered']);
      const steps = mine.flatMap((e) => (e.type === 'step' ? [e] : []));
      expect(steps.at(-1)).toMatchObject({ step: 4, totalSteps: 4 });
      expect(steps.map((e) => e.step)).toEqual([...steps.map((e) => e.step)].sort((a, b) => a - b));
      const preview = steps.find((e) => e.previewRef !== undefined)?.previewRef;
      expect(preview).toBe(`previews/${r.jobId}.jpg`);
      const jpeg = await blobStoreFromConfig(config).get(preview ?? '');
      expect([jpeg[0], jpeg[1]]).toEqual([0xff, 0xd8]);
      expect(mine.filter((e) => e.type === 'encoding').map((e) => (e.type === 'encoding' ? e.phase : ''))).toEqual(['encoding', 'scanning']);
    } finally {
      unsubscribe();
      await worker.close();
      await core.close();
    }
  });

  it('image-to-video: a reference image from a file conditions the first frame', async () => {
    const config = testConfig(env());
    const { core, worker } = await setup(config);
    void worker.run();
    try {
      const png = await sharp({ create: { width: 300, height: 200, channels: 3, background: { r: 250, g: 20, b: 20 } } }).png().toBuffer();
      const store = blobStoreFromConfig(config);
      await store.put('uploads/red.png', png, 'image/png');
      const r = await core.submit(request('/video the red wall starts to glow --draft', { attachments: [{ kind: 'image', storageRef: 'uploads/red.png' }] }));
      expect(r.status).toBe('accepted');
      if (r.status !== 'accepted') return;
      expect(r.spec.referenceImage?.ref).toMatch(/^refs\/[0-9a-f]{64}\.png$/);
      expect((await awaitDelivery(core, 'discord', r.jobId)).outcome.kind).toBe('video');
    } finally {
      await worker.close();
      await core.close();
    }
  });

  it('a video that fails the output scan is never delivered, and the credits come back', async () => {
    // Block threshold 0: every frame "crosses" it, through the real classifier and frame sampler.
    const config = testConfig(env({ FRAMECAST_NSFW_BLOCK: '0' }));
    const { core, worker } = await setup(config);
    void worker.run();
    try {
      const r = await core.submit(request('/video a quiet lake --draft'));
      if (r.status !== 'accepted') throw new Error('not accepted');
      const d = await awaitDelivery(core, 'discord', r.jobId);
      expect(d.outcome).toMatchObject({ kind: 'blocked', code: 'output_blocked' });
      await awaitState(core, r.jobId, 'blocked');
      expect(await core.quota.show('discord:u1', { tier: 'free' })).toMatchObject({ spent: 0, held: 0, active: 0 });
      expect(await store(config).exists(`videos/${r.jobId}.mp4`)).toBe(false);
    } finally {
      await worker.close();
      await core.close();
    }
  });

  it('a retried job whose earlier attempt already ended it (died before BullMQ heard): nothing new is sent or charged', async () => {
    const config = testConfig(env());
    const { core, worker } = await setup(config);
    try {
      const r = await core.submit(request('/video a charge to settle --draft'));
      if (r.status !== 'accepted') throw new Error('not accepted');
      // What the dead attempt left: the outcome written, charged and recorded in one step.
      const done = await core.lifecycle.finish(r.jobId, { kind: 'video', result: { videoRef: `videos/${r.jobId}.mp4`, bytes: 1, width: 208, height: 128, frames: 49, fps: 16, durationSec: 3, needsLink: false, downgraded: false } });
      expect(done).toMatchObject({ status: 'ok', kind: 'video' });
      void worker.run();
      expect((await awaitDelivery(core, 'discord', r.jobId)).outcome.kind).toBe('video');
      await new Promise((res) => setTimeout(res, 1000));
      expect(await core.job(r.jobId)).toMatchObject({ state: 'succeeded' });
      expect(await core.quota.show('discord:u1', { tier: 'free' })).toMatchObject({ spent: 3, held: 0, active: 0 });
      expect(deliveryCount(r.jobId)).toBe(1);
    } finally {
      await worker.close();
      await core.close();
    }
  });

  it('a cancel that arrives while the video is being encoded still wins: nothing sent, nothing charged', async () => {
    const config = testConfig(env());
    const { core, worker } = await setup(config);
    let unsubscribe = () => undefined as void;
    try {
      const r = await core.submit(request('/video cancel me late --draft'));
      if (r.status !== 'accepted') throw new Error('not accepted');
      const cancelled = new Promise<unknown>((resolve) => {
        void core.progress.subscribe(r.jobId, (e) => {
          if (e.type === 'encoding' && e.phase === 'encoding') resolve(core.cancel(r.jobId, { userKey: 'discord:u1', isAdmin: false }));
        }).then((u) => (unsubscribe = u));
      });
      void worker.run();
      expect(await cancelled).toMatchObject({ status: 'cancel_requested' });
      const d = await awaitDelivery(core, 'discord', r.jobId, 60_000);
      expect(d.outcome.kind).toBe('cancelled');
      await awaitState(core, r.jobId, 'cancelled');
      expect(await core.quota.show('discord:u1', { tier: 'free' })).toMatchObject({ spent: 0, held: 0 });
    } finally {
      unsubscribe();
      await worker.close();
      await core.close();
    }
  });

  it('cancelling a running job stops it between steps and refunds', async () => {
    const config = testConfig(env({ FRAMECAST_STEPS: '60', FRAMECAST_RENDER_SCALE: '0.5' }));
    const { core, worker } = await setup(config);
    void worker.run();
    try {
      const r = await core.submit(request('/video slow clouds --draft'));
      if (r.status !== 'accepted') throw new Error('not accepted');
      await awaitState(core, r.jobId, 'active');
      expect(await core.cancel(r.jobId, { userKey: 'discord:u1', isAdmin: false })).toMatchObject({ status: 'cancel_requested' });
      expect((await awaitDelivery(core, 'discord', r.jobId, 60_000)).outcome.kind).toBe('cancelled');
      await awaitState(core, r.jobId, 'cancelled');
      expect(await core.quota.show('discord:u1', { tier: 'free' })).toMatchObject({ spent: 0, held: 0, active: 0 });
    } finally {
      await worker.close();
      await core.close();
    }
  });
});

function store(config: FramecastConfig) {
  return blobStoreFromConfig(config);
}

