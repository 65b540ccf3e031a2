import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { COLLAB_SEGMENT_QUEUE, atRenderScale, scanReportKey, blobStoreFromConfig, createCore, type BlobStore, type CollabContext, type Core, type FramecastConfig } from '@framecast/core';
import { createProductImageIntake, createProductModerator } from '@framecast/content-safety';
import { Queue } from 'bullmq';
import sharp from 'sharp';
import { RuntimeError, type RuntimeRequest, type VideoRuntime } from '../runtime/video-runtime.ts';
import { probeVideo } from '../video/ffprobe.ts';
import { readAigcMetadata } from '../video/aigc-label.ts';
import type { StitchPlan } from '../video/stitch-video.ts';
import { outputScannerFromConfig, runtimeFromConfig } from '../worker/from-config.ts';
import { CollabWorker } from './collab-worker.ts';
import { awaitDelivery, awaitState, deliveryCount, silentLogger, waitFor } from '../../../test/support/e2e.ts';
import { testRedis, testRedisUrl } from '../../../test/support/redis.ts';
import { testConfig } from '../../../test/support/config.ts';

let redis: Redis;
let dataDir: string;
let baseConfig: FramecastConfig;
const env = (extra: Record<string, string> = {}): Record<string, string> => ({
  REDIS_URL: testRedisUrl(), FRAMECAST_DATA_DIR: dataDir, FRAMECAST_STEPS: '2', FRAMECAST_FREE_MAX_CONCURRENT: '10', FRAMECAST_FREE_DAILY_CREDITS: '1000',
  FRAMECAST_COLLAB_MAX_SHOTS: '5', FRAMECAST_COLLAB_TRANSITION_SECONDS: '0.5', ...extra,
});
let store: BlobStore;
let runtime: VideoRuntime;
beforeAll(async () => {
  redis = testRedis();
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'framecast-collab-'));
  baseConfig = testConfig(env());
  store = blobStoreFromConfig(baseConfig);
  runtime = await runtimeFromConfig(baseConfig, store, silentLogger);
  await runtime.load();
});
afterAll(async () => {
  await runtime.dispose();
  await redis.quit();
  await rm(dataDir, { recursive: true, force: true });
});

/** A shot the runtime keeps rendering (the real model, over and over) until its worker aborts it; when it stopped. */
interface Hold {
  prompt: RegExp;
  stoppedAt?: number;
}

/**
 * The real runtime, counting calls per prompt, failing chosen prompts' first call (a transient fault),
 * and holding a chosen prompt (see Hold).
 */
function flaky(inner: VideoRuntime, failOnce: RegExp | undefined, calls: string[], failAlways?: RegExp, images?: Map<string, boolean>, hold?: Hold): VideoRuntime {
  const failed = new Set<string>();
  return {
    name: inner.name,
    load: () => inner.load(),
    capabilities: () => inner.capabilities(),
    dispose: async () => undefined,
    async generate(req: RuntimeRequest, hooks) {
      calls.push(req.prompt);
      images?.set(req.prompt.replace(/^.*, /, ''), req.image !== undefined);
      if (failAlways?.test(req.prompt) === true) throw new RuntimeError('transient', 'injected fault, every time');
      if (failOnce?.test(req.prompt) === true && !failed.has(req.prompt)) {
        failed.add(req.prompt);
        throw new RuntimeError('transient', 'injected fault');
      }
      if (hold?.prompt.test(req.prompt) === true) {
        const until = Date.now() + 120_000;
        try {
          // The real model checks the worker's signal between its steps and throws 'cancelled'.
          while (Date.now() < until) await inner.generate(req, hooks);
        } finally {
          hold.stoppedAt = performance.now();
        }
      }
      return inner.generate(req, hooks);
    },
  };
}

async function setup(failOnce?: RegExp, o: { config?: FramecastConfig; failAlways?: RegExp; scan?: boolean; hold?: Hold } = {}): Promise<{ core: Core; worker: CollabWorker; calls: string[]; images: Map<string, boolean>; plans: Map<string, StitchPlan>; stop(): Promise<void> }> {
  const config = o.config ?? baseConfig;
  const { moderator } = await createProductModerator(config);
  const core = createCore({ config, redis, moderator, imageIntake: createProductImageIntake(store), logger: silentLogger, connection: { url: testRedisUrl(), maxRetriesPerRequest: null } });
  const calls: string[] = [];
  const images = new Map<string, boolean>();
  const plans = new Map<string, StitchPlan>();
  // What a generate worker publishes: the tiny model at a quarter scale (it takes a first frame).
  const publication = await core.runtimes.startPublishing(`collab-test-${process.pid}`, atRenderScale(await runtime.capabilities(), 0.25), { ttlSec: 30 });
  const worker = new CollabWorker({
    core, runtime: flaky(runtime, failOnce, calls, o.failAlways, images, o.hold), store, ...(o.scan === false ? {} : { scanner: await outputScannerFromConfig(config), scanReports: 'always' as const }), logger: silentLogger,
    workDir: path.join(dataDir, 'work', String(process.pid)), renderScale: 0.25, steps: 2, x264Preset: 'ultrafast',
    onStitched: (jobId, plan) => plans.set(jobId, plan),
  });
  void worker.run();
  return {
    core, worker, calls, images, plans,
    async stop() {
      await worker.close();
      await publication.stop();
      await core.close();
    },
  };
}

const ctx = (userId: string, name: string, channelId: string): CollabContext => ({
  platform: 'discord', tenantId: 'g', channelId, userId, userName: name, locale: 'en',
  replyTarget: { platform: 'discord', applicationId: 'app', channelId },
});

describe('collaborative storyboard → one stitched video (real Redis, ONNX Runtime, ffmpeg)', () => {
  it('three users build a board, vote, render: one labelled video of the cut, its length the shots less the overlaps, credits on the end card, charged once', async () => {
    const s = await setup(/shot three/);
    const room = 'story-1';
    const [alice, bob, carol] = [ctx('alice', 'Alice', room), ctx('bob', '小明', room), ctx('carol', 'Carol', room)];
    try {
      expect((await s.core.collab.command(alice, 'collab start seaside --seed 11 --draft --duration 1 --aspect 16:9'))?.ok).toBe(true);
      for (const [who, text] of [[alice, 'add shot one, waves'], [bob, '+ shot two, gulls'], [carol, 'add shot three, sand castle'], [bob, '加：shot four, sunset'], [carol, 'add shot five, stars'], [alice, 'add shot six, boats']] as const) {
        expect((await s.core.collab.command(who, text))?.ok).toBe(true);
      }
      // A blocked contribution is refused to its author; the others go on.
      const blocked = await s.core.collab.command(bob, 'add 一段屠杀平民的视频');
      expect(blocked).toMatchObject({ ok: false, code: 'moderation_blocked', audience: 'author' });
      // Six candidates, five make the cut: the unvoted sixth drops; order stays the board's.
      for (const n of [1, 2, 3, 4, 5]) expect((await s.core.collab.command(carol, `vote ${n}`))?.ok).toBe(true);
      const shown = await s.core.collab.command(alice, 'collab show');
      expect(shown?.board?.shots.filter((x) => x.inCut).map((x) => x.n)).toEqual([1, 2, 3, 4, 5]);
      const cost = shown?.board?.cost ?? 0;
      expect(cost).toBe(5);
      const r = await s.core.collab.command(alice, 'collab render');
      expect(r).toMatchObject({ ok: true, code: 'rendering' });
      const jobId = r?.jobId ?? '';
      expect((await s.core.collab.command(alice, 'collab render'))?.code).toBe('already_rendering');
      const d = await awaitDelivery(s.core, 'discord', jobId, 240_000);
      expect(d.outcome.kind).toBe('video');
      if (d.outcome.kind !== 'video') return;
      expect(d.replyTarget).toMatchObject({ platform: 'discord', channelId: room });
      const file = path.join(dataDir, 'blobs', d.outcome.result.videoRef);
      const probe = await probeVideo(file);
      const plan = s.plans.get(jobId);
      expect(plan).toBeDefined();
      // Five 17-frame shots at 16 fps, four 0.5 s cross-fades, a 2 s end card.
      const expected = 5 * (17 / 16) - 4 * 0.5 + 2;
      expect(Math.abs(probe.durationSec - expected)).toBeLessThanOrEqual(1 / 16 + 1e-6);
      expect(plan?.offsets).toHaveLength(4);
      expect((plan?.filterGraph.match(/xfade=transition=fade/g) ?? []).length).toBe(4);
      expect(plan?.endCardLines.join(' ')).toContain('Alice');
      expect(plan?.endCardLines.join(' ')).toContain('小明');
      expect(plan?.endCardLines.join(' ')).toContain('Carol');
      expect(plan?.filterGraph).toContain('text=shot three\\, sand castle');
      expect(plan?.filterGraph).not.toContain('shot six');
      expect(await readAigcMetadata(file)).toMatchObject({ Label: '1', ProduceID: jobId });
      // The output scan's report, as an ordinary job's (scanReports 'always' here; by default only for a held or blocked video).
      expect(JSON.parse((await store.get(scanReportKey(jobId))).toString('utf8'))).toMatchObject({ version: 1, jobId, verdict: 'allow' });
      // The failing shot was rendered twice, every other once (the tiny model takes a first frame: a chain).
      expect(s.calls.filter((p) => p.includes('shot three'))).toHaveLength(2);
      expect(s.calls).toHaveLength(6);
      await awaitState(s.core, jobId, 'succeeded');
      await waitFor(async () => ((await s.core.collab.board(`discord:${room}`))?.state === 'done' ? true : undefined), 10_000, 'the board to be done');
      expect(await s.core.quota.show('discord:alice', { tier: 'free' })).toMatchObject({ spent: cost, held: 0, active: 0 });
      expect(await s.core.quota.show('discord:bob', { tier: 'free' })).toMatchObject({ spent: 0, held: 0 });
      expect(deliveryCount(jobId)).toBe(1);
      const events = await s.core.collab.events.read();
      const mine = events.filter((e) => e.jobId === jobId);
      expect(new Set(mine.filter((e) => e.type === 'segment' && e.phase === 'done').map((e) => e.index))).toEqual(new Set([0, 1, 2, 3, 4]));
      expect(mine.some((e) => e.type === 'segment' && e.phase === 'retrying' && e.index === 2)).toBe(true);
      expect(mine.some((e) => e.type === 'rendered')).toBe(true);
    } finally {
      await s.stop();
    }
  }, 300_000);

  it('two rooms render at once without mixing; a shot with its own reference image starts from it; a shot that always fails refunds every share of its board, once, and reopens it', async () => {
    const config = testConfig(env({ FRAMECAST_COLLAB_QUOTA_POLICY: 'split' }));
    // The output scan is the first test's; this one is about rooms and refunds.
    const s = await setup(undefined, { config, failAlways: /doomed/, scan: false });
    const a = (u: string, n: string) => ctx(u, n, 'room-a');
    const b = (u: string, n: string) => ctx(u, n, 'room-b');
    try {
      await s.core.collab.command(a('alice', 'Alice'), 'collab start --draft --duration 1 --seed 1');
      await s.core.collab.command(b('dan', 'Dan'), 'collab start --draft --duration 1 --seed 2');
      await s.core.collab.command(a('alice', 'Alice'), 'add a red kite');
      await s.core.collab.command(b('dan', 'Dan'), 'add a doomed shot');
      // Bob's shot brings its own reference image (a blob the adapter stored): it starts from that, not from the previous shot.
      const png = await sharp({ create: { width: 96, height: 64, channels: 3, background: { r: 30, g: 90, b: 200 } } }).png().toBuffer();
      await store.put('uploads/kite.png', png, 'image/png');
      const withImage = await s.core.collab.add({ ...a('bob', 'Bob'), attachment: { kind: 'image', storageRef: 'uploads/kite.png' } }, 'a blue kite');
      expect(withImage.ok).toBe(true);
      expect(withImage.board?.shots[1]).toMatchObject({ text: 'a blue kite', hasImage: true });
      await s.core.collab.command(b('erin', 'Erin'), 'add a green field');
      const [ra, rb] = await Promise.all([s.core.collab.command(a('alice', 'Alice'), 'collab render'), s.core.collab.command(b('dan', 'Dan'), 'collab render')]);
      expect(ra?.ok && rb?.ok).toBe(true);
      expect(ra?.board?.charges).toEqual([{ payer: 'discord:alice', credits: 1 }, { payer: 'discord:bob', credits: 1 }]);
      const [da, db] = await Promise.all([awaitDelivery(s.core, 'discord', ra?.jobId ?? '', 240_000), awaitDelivery(s.core, 'discord', rb?.jobId ?? '', 240_000)]);
      expect(da.outcome.kind).toBe('video');
      expect(da.replyTarget).toMatchObject({ channelId: 'room-a' });
      expect(db.outcome).toMatchObject({ kind: 'failed' });
      expect(db.replyTarget).toMatchObject({ channelId: 'room-b' });
      const plan = s.plans.get(ra?.jobId ?? '');
      expect(plan?.endCardLines.slice(1).join(' ')).toBe('Alice · Bob');
      expect(plan?.filterGraph).not.toContain('doomed');
      expect(s.plans.has(rb?.jobId ?? '')).toBe(false);
      await waitFor(async () => ((await s.core.collab.board('discord:room-a'))?.state === 'done' ? true : undefined), 10_000, 'room a done');
      await waitFor(async () => ((await s.core.collab.board('discord:room-b'))?.state === 'collecting' ? true : undefined), 10_000, 'room b open again');
      await s.core.collab.sweep();
      for (const u of ['alice', 'bob']) expect(await s.core.quota.show(`discord:${u}`, { tier: 'free' })).toMatchObject({ spent: 1, held: 0 });
      for (const u of ['dan', 'erin']) expect(await s.core.quota.show(`discord:${u}`, { tier: 'free' })).toMatchObject({ spent: 0, held: 0 });
      // Three tries of the doomed shot, none of the shot that would have continued from it.
      expect(s.calls.filter((p) => p.includes('doomed'))).toHaveLength(3);
      expect(s.calls.filter((p) => p.includes('green field'))).toHaveLength(0);
      expect(s.images.get('a blue kite')).toBe(true);
      expect(s.images.get('a red kite')).toBe(false);
      expect(deliveryCount(rb?.jobId ?? '')).toBe(1);
    } finally {
      await s.stop();
    }
  }, 300_000);
  it('collab cancel while segment 2 of 4 runs: it stops at its next step, the rest never start, no video, every share refunded once, the board open again, the worker free at once', async () => {
    const config = testConfig(env({ FRAMECAST_COLLAB_QUOTA_POLICY: 'split' }));
    const hold: Hold = { prompt: /held shot/ };
    const s = await setup(undefined, { config, scan: false, hold });
    const a = (u: string, n: string) => ctx(u, n, 'cancel-a');
    const b = ctx('dan', 'Dan', 'cancel-b');
    try {
      await s.core.collab.command(a('alice', 'Alice'), 'collab start --draft --duration 1 --seed 5');
      for (const [who, text] of [['alice', 'first shot'], ['bob', 'held shot'], ['carol', 'third shot'], ['alice', 'fourth shot']] as const) {
        expect((await s.core.collab.command(a(who, who), `add ${text}`))?.ok).toBe(true);
      }
      await s.core.collab.command(b, 'collab start --draft --duration 1');
      await s.core.collab.command(b, 'add after the cancel');
      const r = await s.core.collab.command(a('alice', 'Alice'), 'collab render');
      expect(r).toMatchObject({ ok: true, code: 'rendering' });
      const jobId = r?.jobId ?? '';
      const segmentStarted = (id: string, index: number) => async () => ((await s.core.collab.events.read()).some((e) => e.jobId === id && e.type === 'segment' && e.phase === 'started' && e.index === index) ? true : undefined);
      await waitFor(segmentStarted(jobId, 1), 120_000, 'segment 2 of 4 to run');
      // Someone else cannot stop it; the starter can.
      expect((await s.core.collab.command(a('bob', 'Bob'), 'collab cancel'))?.code).toBe('not_starter');
      const cancelledAt = performance.now();
      const c = await s.core.collab.command(a('alice', 'Alice'), 'collab cancel');
      expect(c).toMatchObject({ ok: true, code: 'render_cancelled', audience: 'channel', jobId });
      expect(c?.board?.state).toBe('collecting');
      expect(await s.core.job(jobId)).toMatchObject({ state: 'cancelled' });
      // Every share back at once (split: one credit each), once.
      for (const u of ['alice', 'bob', 'carol']) expect(await s.core.quota.show(`discord:${u}`, { tier: 'free' })).toMatchObject({ held: 0, spent: 0 });
      // The running segment stops at its next step.
      await waitFor(async () => hold.stoppedAt, 60_000, 'the held segment to stop');
      const stopMs = (hold.stoppedAt ?? 0) - cancelledAt;
      // The worker is free: the next board's first segment starts within a few seconds.
      const rb = await s.core.collab.command(b, 'collab render');
      expect(rb?.ok).toBe(true);
      await waitFor(segmentStarted(rb?.jobId ?? '', 0), 60_000, 'the next render to start');
      const freeMs = performance.now() - cancelledAt;
      console.info(`collab cancel: the running segment stopped after ${Math.round(stopMs)} ms; the next render started after ${Math.round(freeMs)} ms`);
      // The user hears "cancelled" once; no video is made.
      const d = await awaitDelivery(s.core, 'discord', jobId, 30_000);
      expect(d.outcome.kind).toBe('cancelled');
      expect(d.replyTarget).toMatchObject({ channelId: 'cancel-a' });
      const db = await awaitDelivery(s.core, 'discord', rb?.jobId ?? '', 240_000);
      expect(db.outcome.kind).toBe('video');
      expect(s.plans.has(jobId)).toBe(false);
      expect(s.calls.some((p) => p.includes('third shot') || p.includes('fourth shot'))).toBe(false);
      const events = (await s.core.collab.events.read()).filter((e) => e.jobId === jobId);
      expect(events.filter((e) => e.type === 'failed')).toMatchObject([{ reason: 'cancelled' }]);
      expect(events.some((e) => e.type === 'rendered' || e.type === 'stitching')).toBe(false);
      await s.core.collab.sweep();
      for (const u of ['alice', 'bob', 'carol']) expect(await s.core.quota.show(`discord:${u}`, { tier: 'free' })).toMatchObject({ held: 0, spent: 0 });
      expect(deliveryCount(jobId)).toBe(1);
      // The cancelled render's flow has drained: nothing of it is left to run.
      const queue = new Queue(COLLAB_SEGMENT_QUEUE, { connection: { url: testRedisUrl(), maxRetriesPerRequest: null }, prefix: s.core.workQueue.bullPrefix });
      try {
        const states = await Promise.all([0, 1, 2, 3].map(async (i) => (await queue.getJob(`${jobId}-seg-${i}`))?.getState() ?? 'removed'));
        expect(states.filter((st) => st === 'active' || st === 'waiting' || st === 'waiting-children' || st === 'delayed')).toEqual([]);
      } finally {
        await queue.close();
      }
      // A second cancel closes the board.
      expect((await s.core.collab.command(a('alice', 'Alice'), 'collab cancel'))?.code).toBe('cancelled');
    } finally {
      await s.stop();
    }
  }, 300_000);
});
