import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import sharp from 'sharp';
import { QueueEvents } from 'bullmq';
import { DeliveryJobDataSchema, GENERATE_QUEUE, Keys, type ChatRequestInput, type FramecastConfig, type JobProgress } from '@framecast/core';
import { blobStoreFromConfig, probeVideo, readAigcMetadata } from '@framecast/gpu-worker';
import { awaitDelivery, awaitState, productCoreAndWorker, waitFor } from './support/e2e.ts';
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
    replyTarget: { channelId: 'c' }, locale: 'en', ...extra,
  };
}

const setup = (config: FramecastConfig) => productCoreAndWorker(config, redis);

describe('end to end: request → queue → worker → labelled mp4 → delivery (real Redis, ONNX Runtime, ffmpeg)', () => {
  it('turns a chat request into an mp4 with the expected size, frames, fps and AIGC metadata, charged once', async () => {
    const config = testConfig(env());
    const { core, worker } = await setup(config);
    // What an adapter listens to while people wait: per-step progress with an occasional preview.
    const events = new QueueEvents(GENERATE_QUEUE, { connection: { url: testRedisUrl() }, prefix: new Keys(config.keyPrefix).bullPrefix });
    const seen: JobProgress[] = [];
    events.on('progress', ({ data }) => {
      if (typeof data === 'object' && data !== null) seen.push(data as JobProgress);
    });
    await events.waitUntilReady();
    void worker.run();
    try {
      const r = await core.intake.intake(request('/video a paper boat on a rainy street --draft --ar 9:16 --seed 3'));
      expect(r.status).toBe('accepted');
      if (r.status !== 'accepted') return;
      const dq = core.deliveries.queue('discord');
      const dj = await waitFor(async () => (await dq.getJob(`deliver-${r.jobId}`)) ?? undefined, 90_000, 'delivery');
      const d = DeliveryJobDataSchema.parse(dj.data);
      expect(d.outcome.kind).toBe('video');
      if (d.outcome.kind !== 'video') return;
      const file = path.join(dataDir, 'blobs', d.outcome.result.videoRef);
      const probe = await probeVideo(file);
      // 9:16 draft is 480×848; the tiny CPU model renders at a quarter (multiples of 16).
      expect({ w: probe.width, h: probe.height, frames: probe.frames, fps: probe.fps, codec: probe.codec, pix: probe.pixFmt }).toEqual({ w: 128, h: 208, frames: 49, fps: 16, codec: 'h264', pix: 'yuv420p' });
      expect(await readAigcMetadata(file)).toMatchObject({ Label: '1', ContentProducer: 'Framecast', ProduceID: r.jobId });
      await awaitState(core, r.jobId, 'succeeded');
      expect(await core.jobs.get(r.jobId)).toMatchObject({ state: 'succeeded', result: { frames: 49, width: 128, height: 208 } });
      expect(await core.quota.show('discord:u1', 'free')).toMatchObject({ spent: 3, held: 0, active: 0 });
      const denoising = seen.filter((p) => p.phase === 'denoising');
      expect(denoising.length).toBeGreaterThan(0);
      expect(denoising.at(-1)).toMatchObject({ step: 4, totalSteps: 4 });
      const preview = denoising.find((p) => p.previewRef !== undefined)?.previewRef;
      expect(preview).toBe(`previews/${r.jobId}.jpg`);
      const jpeg = await blobStoreFromConfig(config).get(preview ?? '');
      expect([jpeg[0], jpeg[1]]).toEqual([0xff, 0xd8]);
      expect(seen.some((p) => p.phase === 'encoding')).toBe(true);
    } finally {
      await events.close();
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
      const r = await core.intake.intake(request('/video the red wall starts to glow --draft', { attachments: [{ kind: 'image', storageRef: 'uploads/red.png' }] }));
      expect(r.status).toBe('accepted');
      if (r.status !== 'accepted') return;
      expect(r.spec.referenceImage?.ref).toMatch(/^refs\/[0-9a-f]{64}\.png$/);
      const dj = await waitFor(async () => (await core.deliveries.queue('discord').getJob(`deliver-${r.jobId}`)) ?? undefined, 90_000, 'delivery');
      expect(DeliveryJobDataSchema.parse(dj.data).outcome.kind).toBe('video');
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
      const r = await core.intake.intake(request('/video a quiet lake --draft'));
      if (r.status !== 'accepted') throw new Error('not accepted');
      const dj = await waitFor(async () => (await core.deliveries.queue('discord').getJob(`deliver-${r.jobId}`)) ?? undefined, 90_000, 'delivery');
      const d = DeliveryJobDataSchema.parse(dj.data);
      expect(d.outcome).toMatchObject({ kind: 'blocked', code: 'output_blocked' });
      await awaitState(core, r.jobId, 'blocked');
      expect(await core.quota.show('discord:u1', 'free')).toMatchObject({ spent: 0, held: 0, active: 0 });
      expect(await store(config).exists(`videos/${r.jobId}.mp4`)).toBe(false);
    } finally {
      await worker.close();
      await core.close();
    }
  });

  it('a worker killed with SIGKILL mid-job: another worker takes over; one delivery, one charge', async () => {
    const e = env({ FRAMECAST_LOCK_MS: '2500', FRAMECAST_STALLED_INTERVAL_MS: '1000', FRAMECAST_STEPS: '40', FRAMECAST_RENDER_SCALE: '0.5' });
    const config = testConfig(e);
    const { core, worker: second } = await setup(testConfig({ ...e, FRAMECAST_KEY_PREFIX: config.keyPrefix, FRAMECAST_STEPS: '4', FRAMECAST_RENDER_SCALE: '0.25' }));
    let child: ChildProcess | undefined;
    try {
      const r = await core.intake.intake(request('/video a lantern festival --draft'));
      if (r.status !== 'accepted') throw new Error('not accepted');
      const cli = path.resolve(import.meta.dirname, '..', 'bin', 'framecast.mjs');
      child = spawn(process.execPath, [cli, 'worker'], { env: { ...process.env, ...e, FRAMECAST_KEY_PREFIX: config.keyPrefix, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
      // Kill it once it is denoising.
      await waitFor(async () => {
        const job = await core.queue.queue.getJob(r.jobId);
        const p = job?.progress as { phase?: string; step?: number } | undefined;
        return p?.phase === 'denoising' && (p.step ?? 0) >= 1 ? true : undefined;
      }, 60_000, `the first worker to start denoising (${stderr})`);
      child.kill('SIGKILL');
      await new Promise((res) => child?.once('exit', res));
      expect(await core.deliveries.state(r.jobId)).toBeUndefined();
      void second.run();
      const dj = await waitFor(async () => (await core.deliveries.queue('discord').getJob(`deliver-${r.jobId}`)) ?? undefined, 90_000, 'delivery after takeover');
      expect(DeliveryJobDataSchema.parse(dj.data).outcome.kind).toBe('video');
      // Let any late duplicate run show itself, then count.
      await new Promise((res) => setTimeout(res, 1500));
      expect(await core.deliveries.queue('discord').getJobCountByTypes('waiting', 'completed', 'active', 'delayed', 'failed')).toBe(1);
      await awaitState(core, r.jobId, 'succeeded');
      expect(await core.quota.show('discord:u1', 'free')).toMatchObject({ spent: 3, held: 0, active: 0 });
      const rec = await core.jobs.get(r.jobId);
      expect(rec?.attempts).toBeGreaterThanOrEqual(1);
    } finally {
      if (child !== undefined && child.exitCode === null) child.kill('SIGKILL');
      await second.close();
      await core.close();
    }
  });

  it('a worker that told the user about a failure and died before refunding: the retry refunds, never charges', async () => {
    const config = testConfig(env());
    const { core, worker } = await setup(config);
    try {
      const r = await core.intake.intake(request('/video a lost refund --draft'));
      if (r.status !== 'accepted') throw new Error('not accepted');
      // What the dead attempt left: the failure queued for the user, the credits still held.
      await core.deliveries.enqueue({
        version: 1, jobId: r.jobId, platform: 'discord', userKey: 'discord:u1', channelId: 'c', locale: 'en', replyTarget: {},
        outcome: { kind: 'failed', code: 'transient', message: { en: 'failed', 'zh-CN': '失败' } },
      });
      expect(await core.quota.show('discord:u1', 'free')).toMatchObject({ held: 3 });
      void worker.run();
      await awaitState(core, r.jobId, 'failed');
      expect(await core.quota.show('discord:u1', 'free')).toMatchObject({ spent: 0, held: 0, active: 0 });
      expect(await core.deliveries.queue('discord').getJobCountByTypes('waiting', 'prioritized', 'completed')).toBe(1);
    } finally {
      await worker.close();
      await core.close();
    }
  });

  it('a worker that queued the video and died before charging: the retry charges once and sends nothing new', async () => {
    const config = testConfig(env());
    const { core, worker } = await setup(config);
    try {
      const r = await core.intake.intake(request('/video a charge to settle --draft'));
      if (r.status !== 'accepted') throw new Error('not accepted');
      await core.deliveries.enqueue({
        version: 1, jobId: r.jobId, platform: 'discord', userKey: 'discord:u1', channelId: 'c', locale: 'en', replyTarget: {},
        outcome: { kind: 'video', result: { videoRef: `videos/${r.jobId}.mp4`, bytes: 1, width: 208, height: 128, frames: 49, fps: 16, durationSec: 3 } },
      });
      void worker.run();
      await awaitState(core, r.jobId, 'succeeded');
      expect(await core.quota.show('discord:u1', 'free')).toMatchObject({ spent: 3, held: 0, active: 0 });
      expect(await core.deliveries.queue('discord').getJobCountByTypes('waiting', 'prioritized', 'completed')).toBe(1);
    } finally {
      await worker.close();
      await core.close();
    }
  });

  it('a cancel that arrives while the video is being encoded still wins: nothing sent, nothing charged', async () => {
    const config = testConfig(env());
    const { core, worker } = await setup(config);
    const events = new QueueEvents(GENERATE_QUEUE, { connection: { url: testRedisUrl() }, prefix: new Keys(config.keyPrefix).bullPrefix });
    await events.waitUntilReady();
    try {
      const r = await core.intake.intake(request('/video cancel me late --draft'));
      if (r.status !== 'accepted') throw new Error('not accepted');
      const cancelled = new Promise<unknown>((resolve) => {
        events.on('progress', ({ jobId, data }) => {
          if (jobId === r.jobId && (data as JobProgress).phase === 'encoding') {
            resolve(core.jobService.cancel(r.jobId, { userKey: 'discord:u1', isAdmin: false }));
          }
        });
      });
      void worker.run();
      expect(await cancelled).toMatchObject({ status: 'cancel_requested' });
      const d = await awaitDelivery(core, 'discord', r.jobId, 60_000);
      expect(d.outcome.kind).toBe('cancelled');
      await awaitState(core, r.jobId, 'cancelled');
      expect(await core.quota.show('discord:u1', 'free')).toMatchObject({ spent: 0, held: 0 });
    } finally {
      await events.close();
      await worker.close();
      await core.close();
    }
  });

  it('cancelling a running job stops it between steps and refunds', async () => {
    const config = testConfig(env({ FRAMECAST_STEPS: '60', FRAMECAST_RENDER_SCALE: '0.5' }));
    const { core, worker } = await setup(config);
    void worker.run();
    try {
      const r = await core.intake.intake(request('/video slow clouds --draft'));
      if (r.status !== 'accepted') throw new Error('not accepted');
      await awaitState(core, r.jobId, 'active');
      expect(await core.jobService.cancel(r.jobId, { userKey: 'discord:u1', isAdmin: false })).toMatchObject({ status: 'cancel_requested' });
      const dj = await waitFor(async () => (await core.deliveries.queue('discord').getJob(`deliver-${r.jobId}`)) ?? undefined, 60_000, 'cancel outcome');
      expect(DeliveryJobDataSchema.parse(dj.data).outcome.kind).toBe('cancelled');
      // The outcome is enqueued first, then the refund and the record (a crash in between is retried).
      await awaitState(core, r.jobId, 'cancelled');
      expect(await core.quota.show('discord:u1', 'free')).toMatchObject({ spent: 0, held: 0, active: 0 });
    } finally {
      await worker.close();
      await core.close();
    }
  });
});

function store(config: FramecastConfig) {
  return blobStoreFromConfig(config);
}

