import { createReadStream, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pino from 'pino';
import { blobStoreFromConfig, createCore, FINAL_STATES, loadConfig, type BlobStore, type ContentModerator, type Core } from '@framecast/core';
import {
  createWorkerFromConfig, encodeVideo, findCjkFontFile, fitToBudget, outputScannerFromConfig, probeVideo, runtimeFromConfig, stitchLabelledVideo, stitchVideo, writeClip,
  type EncodedVideo, type JobTiming, type OutputScanner, type PostPhases, type RuntimeHooks, type RuntimeRequest, type RuntimeResult, type VideoRuntime,
} from '@framecast/gpu-worker';
import { startThrowawayRedis } from '../../test/support/redis-server.ts';
import { benchScale } from './report.ts';
import { percentile, round } from './stats.ts';

const JOBS = 20;

interface ModeFigures {
  pipelined: boolean;
  steps: number;
  jobs: number;
  wallMs: number;
  acceleratorBusyFraction: number;
  pipelineMsP50: number;
  dequeueToFirstStepMsP50: number;
  gateWaitMsP50: number;
  lastStepToDeliveryMsP50: number;
  /** lastStepToDelivery by phase (the worker's postPhasesMs), p50 of each. */
  postPhasesMsP50: PostPhases;
  overheadOverPipelineP50: number;
}

/**
 * The real tiny model, padded with a wait (no CPU) so that each job holds the "accelerator" for a
 * fixed time, as a GPU would while the CPU is free for ffmpeg and the scan. Labelled as simulated.
 */
class SimulatedAcceleratorRuntime implements VideoRuntime {
  readonly name = 'simulated-accelerator';
  constructor(
    private readonly inner: VideoRuntime,
    private readonly holdMs: number,
  ) {}
  load(): Promise<void> {
    return this.inner.load();
  }
  async generate(request: RuntimeRequest, hooks?: RuntimeHooks): Promise<RuntimeResult> {
    const start = performance.now();
    const result = await this.inner.generate(request, hooks);
    const left = this.holdMs - (performance.now() - start);
    if (left > 0) await new Promise((r) => setTimeout(r, left));
    return result;
  }
  capabilities(): ReturnType<VideoRuntime['capabilities']> {
    return this.inner.capabilities();
  }
  dispose(): Promise<void> {
    return this.inner.dispose();
  }
}

async function runMode(redisUrl: string, dataDir: string, pipelined: boolean, steps: number, holdMs = 0): Promise<ModeFigures> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const config = loadConfig(
    {
      REDIS_URL: redisUrl, FRAMECAST_DATA_DIR: dataDir, FRAMECAST_KEY_PREFIX: `bench-${pipelined ? 'p' : 's'}${steps}-${holdMs}`, LOG_LEVEL: 'silent',
      FRAMECAST_STEPS: String(steps), FRAMECAST_FREE_MAX_CONCURRENT: '100', FRAMECAST_FREE_DAILY_CREDITS: '100000', FRAMECAST_TENANT_DAILY_CAP: '1000000',
    },
    { dotenvPath: false },
  );
  const allow: ContentModerator = { moderateText: async () => ({ action: 'allow', hits: [], source: 'bench' }) };
  const connection = { url: redisUrl, maxRetriesPerRequest: null };
  const core = createCore({ config, redis, moderator: allow, connection });
  const timings: JobTiming[] = [];
  const store = blobStoreFromConfig(config);
  const logger = pino({ level: 'silent' });
  const runtime = holdMs > 0 ? new SimulatedAcceleratorRuntime(await runtimeFromConfig(config, store, logger), holdMs) : undefined;
  const worker = await createWorkerFromConfig({
    core, store, logger,
    overrides: { store, pipelined, onTiming: (t) => timings.push(t), progressEveryMs: 250, ...(runtime === undefined ? {} : { runtime }) },
  });
  const ids: string[] = [];
  for (let i = 0; i < JOBS; i++) {
    const r = await core.submit({
      version: 1, platform: 'cli', tenantId: 'bench', channelId: 'c', userId: `u${i}`, eventId: `${pipelined}-${i}`, text: `/video shot ${i} of a harbour at night --draft --seed ${i}`,
      replyTarget: { platform: 'cli', out: path.join(dataDir, `bench-${pipelined ? 'p' : 's'}${steps}-${i}.mp4`) }, locale: 'en',
    });
    if (r.status !== 'accepted') throw new Error(`intake refused: ${r.reason}`);
    ids.push(r.jobId);
  }
  const busyBefore = worker.gate.busyMs;
  const t0 = performance.now();
  void worker.run();
  // Done when every job has ended: the lifecycle writes the final state and queues the delivery
  // in one finish (nobody consumes the cli deliveries here).
  await waitForAllEnded(core, ids);
  const wallMs = performance.now() - t0;
  const busy = worker.gate.busyMs - busyBefore;
  await worker.close();
  const notSucceeded = (await Promise.all(ids.map((id) => core.job(id)))).filter((rec) => rec?.state !== 'succeeded');
  if (notSucceeded.length > 0) throw new Error(`${notSucceeded.length} of ${JOBS} jobs did not succeed (e.g. ${notSucceeded[0]?.jobId}: ${notSucceeded[0]?.state} ${notSucceeded[0]?.error?.code ?? ''})`);
  for (const name of [core.workQueue.name, 'deliver-cli']) {
    const q = new Queue(name, { connection, prefix: core.workQueue.bullPrefix });
    await q.obliterate({ force: true });
    await q.close();
  }
  await core.close();
  await redis.quit();
  const p50 = (xs: number[]) => percentile(xs, 50);
  const pipelineMs = p50(timings.map((t) => t.pipelineMs));
  const first = p50(timings.map((t) => t.toFirstStepMs - t.gateWaitMs));
  const gateWait = p50(timings.map((t) => t.gateWaitMs));
  const after = p50(timings.map((t) => t.afterLastStepMs));
  return {
    pipelined,
    steps,
    jobs: timings.length,
    wallMs: round(wallMs, 0),
    acceleratorBusyFraction: round(busy / wallMs),
    pipelineMsP50: round(pipelineMs, 1),
    dequeueToFirstStepMsP50: round(first, 1),
    gateWaitMsP50: round(gateWait, 1),
    lastStepToDeliveryMsP50: round(after, 1),
    postPhasesMsP50: Object.fromEntries((['encode', 'fit', 'scan', 'store', 'settle'] as const).flatMap((k) => {
      const xs = timings.flatMap((t) => (t.postPhasesMs[k] === undefined ? [] : [t.postPhasesMs[k]]));
      return xs.length === 0 ? [] : [[k, round(p50(xs), 1)]];
    })),
    overheadOverPipelineP50: round((first + after) / pipelineMs),
  };
}

async function waitForAllEnded(core: Core, ids: readonly string[]): Promise<void> {
  for (;;) {
    const recs = await Promise.all(ids.map((id) => core.job(id)));
    if (recs.every((rec) => rec !== undefined && FINAL_STATES.has(rec.state))) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** CPU ms of this process (all its threads: ONNX Runtime's too) and of its ended children (ffmpeg, ffprobe). */
function cpuMs(): { self: number; children: number } {
  const u = process.cpuUsage();
  let children = 0;
  try {
    // /proc/self/stat fields 16 and 17 (cutime, cstime): children waited for, in clock ticks (100 Hz).
    const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]?.split(' ') ?? [];
    children = (Number(f[13]) + Number(f[14])) * 10;
  } catch {
    children = Number.NaN; // not Linux: CPU of ffmpeg unknown
  }
  return { self: (u.user + u.system) / 1000, children };
}

interface PhaseSample {
  wallMs: number;
  cpuMs: number;
}

type PathSamples = Record<string, PhaseSample[]>;

async function timed<T>(samples: PathSamples, phase: string, fn: () => Promise<T>): Promise<T> {
  const c0 = cpuMs();
  const t0 = performance.now();
  const r = await fn();
  const c1 = cpuMs();
  (samples[phase] ??= []).push({ wallMs: performance.now() - t0, cpuMs: c1.self - c0.self + c1.children - c0.children });
  return r;
}

function summarise(samples: PathSamples): Record<string, { wallMsP50: number; cpuMsP50: number }> {
  const out: Record<string, { wallMsP50: number; cpuMsP50: number }> = {};
  for (const [phase, xs] of Object.entries(samples)) {
    out[phase] = { wallMsP50: round(percentile(xs.map((x) => x.wallMs), 50), 0), cpuMsP50: round(percentile(xs.map((x) => x.cpuMs), 50), 0) };
  }
  return out;
}

/** Sum of the phases' p50s, with and without the output scan (content safety's, the same in both paths). */
function totals(s: Record<string, { wallMsP50: number; cpuMsP50: number }>): { wallMs: number; cpuMs: number; wallMsWithoutScan: number; cpuMsWithoutScan: number } {
  const all = Object.entries(s);
  const sum = (xs: typeof all, k: 'wallMsP50' | 'cpuMsP50') => round(xs.reduce((a, [, v]) => a + v[k], 0), 0);
  const noScan = all.filter(([k]) => k !== 'scan');
  return { wallMs: sum(all, 'wallMsP50'), cpuMs: sum(all, 'cpuMsP50'), wallMsWithoutScan: sum(noScan, 'wallMsP50'), cpuMsWithoutScan: sum(noScan, 'cpuMsP50') };
}

/**
 * The worker's path after the last denoising step, phase by phase, on real tiny-model output (a
 * 3 s draft, 208×128 at 16 fps, 49 frames) and on a 3-shot storyboard stitch (three 17-frame clips,
 * 0.5 s cross-fades, subtitles, 2 s end card), each as the worker runs it now and as it ran before,
 * alternating in the same run. Before, a stitch was written (crf 16) and then decoded, labelled and
 * re-encoded by encodeVideo (a probe of its input and two of its output); now one ffmpeg pass
 * stitches and labels. Before, every encode was described by ffprobe; now by its mp4 header (the
 * "before" encode below is today's encodeVideo plus that ffprobe run, which is all that changed on
 * that path). The scan (content safety's NSFW frame scan) and the store are the same in both.
 */
export async function afterDenoise(redisUrl: string, dataDir: string, rounds: number): Promise<Record<string, unknown>> {
  const config = loadConfig({ REDIS_URL: redisUrl, FRAMECAST_DATA_DIR: dataDir, LOG_LEVEL: 'silent' }, { dotenvPath: false });
  const logger = pino({ level: 'silent' });
  const store: BlobStore = blobStoreFromConfig(config);
  const runtime = await runtimeFromConfig(config, store, logger);
  await runtime.load();
  const W = 208;
  const H = 128;
  const FPS = 16;
  const gen = async (frames: number, seed: number) => {
    const r = await runtime.generate({ prompt: `a harbour at night, shot ${seed}`, width: W, height: H, frames, fps: FPS, seed, mode: 'draft', steps: 8 });
    if (r.kind !== 'frames') throw new Error('the tiny model returned a file');
    return r.frames;
  };
  const draft = await gen(49, 1);
  const clips = [];
  for (let i = 0; i < 3; i++) {
    const file = path.join(dataDir, `after-denoise-clip-${i}.mp4`);
    await writeClip(await gen(17, 10 + i), W, H, FPS, file);
    clips.push({ path: file, durationSec: 17 / FPS, subtitle: `shot ${i + 1}, 镜头 ${i + 1}` });
  }
  await runtime.dispose();
  const scanner: OutputScanner = await outputScannerFromConfig(config);
  const fontFile = await findCjkFontFile();
  const aigc = { contentProducer: 'Framecast', produceId: 'bench-after-denoise' };
  const budget = 10 * 1024 * 1024;
  const stitchBase = { clips, width: W, height: H, fps: FPS, transitionSeconds: 0.5, fontFile, endCard: { title: '共同创作 / Made together by', names: ['Alice', '小明', 'Carol'], seconds: 2 } };

  const finish = async (s: PathSamples, video: EncodedVideo, ref: string) => {
    const fitted = await timed(s, 'fit', () => fitToBudget(video, budget, { preset: 'veryfast' }));
    await timed(s, 'scan', () => scanner.scan(fitted.video.path));
    await timed(s, 'store', () => Promise.all([
      store.put(`bench/${ref}.mp4`, createReadStream(fitted.video.path), 'video/mp4'),
      store.put(`bench/${ref}.jpg`, createReadStream(fitted.video.posterPath), 'image/jpeg'),
    ]));
    return fitted.video;
  };
  const paths = {
    draftBefore: async (s: PathSamples, n: number) => {
      const v = await timed(s, 'encode', async () => {
        const out = await encodeVideo({ kind: 'frames', frames: draft, width: W, height: H, fps: FPS }, { outputPath: path.join(dataDir, `ad-db-${n}.mp4`), aigc, preset: 'veryfast' });
        await probeVideo(out.path); // the describe's ffprobe of before
        return out;
      });
      return finish(s, v, `db-${n}`);
    },
    draftNow: async (s: PathSamples, n: number) => {
      const v = await timed(s, 'encode', () => encodeVideo({ kind: 'frames', frames: draft, width: W, height: H, fps: FPS }, { outputPath: path.join(dataDir, `ad-dn-${n}.mp4`), aigc, preset: 'veryfast' }));
      return finish(s, v, `dn-${n}`);
    },
    stitchBefore: async (s: PathSamples, n: number) => {
      const stitched = path.join(dataDir, `ad-sb-${n}-stitched.mp4`);
      await timed(s, 'stitch', () => stitchVideo({ ...stitchBase, outputPath: stitched }));
      const v = await timed(s, 'label', async () => {
        const out = await encodeVideo({ kind: 'file', path: stitched }, { outputPath: path.join(dataDir, `ad-sb-${n}.mp4`), aigc, preset: 'veryfast', fps: FPS });
        await probeVideo(out.path); // the describe's ffprobe of before
        return out;
      });
      return finish(s, v, `sb-${n}`);
    },
    stitchNow: async (s: PathSamples, n: number) => {
      const { video } = await timed(s, 'stitchAndLabel', () => stitchLabelledVideo({ ...stitchBase, outputPath: path.join(dataDir, `ad-sn-${n}.mp4`) }, { aigc, preset: 'veryfast' }));
      return finish(s, video, `sn-${n}`);
    },
  };
  const samples: Record<keyof typeof paths, PathSamples> = { draftBefore: {}, draftNow: {}, stitchBefore: {}, stitchNow: {} };
  const outputs: Partial<Record<keyof typeof paths, EncodedVideo>> = {};
  // One unmeasured run of each (font cache, fluent-ffmpeg's capability probe, the scanner's first runs).
  for (const [name, fn] of Object.entries(paths)) outputs[name as keyof typeof paths] = await fn({}, -1);
  for (let n = 0; n < rounds; n++) {
    // Alternate which goes first, so that neither always meets the other's leftovers.
    const order: (keyof typeof paths)[] = n % 2 === 0 ? ['draftBefore', 'draftNow', 'stitchBefore', 'stitchNow'] : ['draftNow', 'draftBefore', 'stitchNow', 'stitchBefore'];
    for (const name of order) await paths[name](samples[name], n);
  }
  const figures = Object.fromEntries(Object.entries(samples).map(([k, v]) => {
    const phases = summarise(v);
    return [k, { phases, total: totals(phases) }];
  })) as Record<keyof typeof paths, { phases: Record<string, { wallMsP50: number; cpuMsP50: number }>; total: ReturnType<typeof totals> }>;
  const ratio = (now: ReturnType<typeof totals>, before: ReturnType<typeof totals>) => ({
    wall: round(now.wallMs / before.wallMs), cpu: round(now.cpuMs / before.cpuMs),
    wallWithoutScan: round(now.wallMsWithoutScan / before.wallMsWithoutScan), cpuWithoutScan: round(now.cpuMsWithoutScan / before.cpuMsWithoutScan),
  });
  const shape = (v: EncodedVideo | undefined) => (v === undefined ? undefined : { width: v.width, height: v.height, frames: v.frames, fps: v.fps, bytes: v.bytes, profile: v.profile, level: v.level });
  return {
    rounds,
    ...figures,
    ratioNowOverBefore: { draft: ratio(figures.draftNow.total, figures.draftBefore.total), stitch: ratio(figures.stitchNow.total, figures.stitchBefore.total) },
    outputs: { draftBefore: shape(outputs.draftBefore), draftNow: shape(outputs.draftNow), stitchBefore: shape(outputs.stitchBefore), stitchNow: shape(outputs.stitchNow) },
    note: 'p50 per phase over the rounds, wall and CPU (this process, ONNX Runtime threads included, plus its ffmpeg/ffprobe children); totals add the phases\' p50s; "withoutScan" leaves out the output scan, which is content safety\'s and the same in both paths',
  };
}

/**
 * 20 back-to-back draft jobs through the real worker (tiny ONNX model on CPU, ffmpeg encode with
 * labels, NSFW output scan, local blob store, delivery enqueue), once with the accelerator waiting
 * for post-processing (concurrency 1) and once pipelined (next job denoises while the previous one
 * is encoded and scanned). On this CPU-only machine the "accelerator" is ONNX Runtime on the same
 * two cores that ffmpeg uses, so the pipelined gain here understates a GPU host's.
 */
export async function run(): Promise<Record<string, unknown>> {
  const server = await startThrowawayRedis();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'framecast-bench-'));
  try {
    const out: Record<string, unknown> = { afterDenoise: await afterDenoise(server.url, dataDir, benchScale() === 'small' ? 2 : 5) };
    // On this CPU-only machine the "accelerator" (ONNX Runtime) shares two cores with ffmpeg and the
    // NSFW scan, so pipelining mostly trades one CPU user for another; the simulated accelerator
    // shows the effect on a host where denoising runs on a GPU.
    const configs: { name: string; steps: number; holdMs: number }[] = [
      { name: 'cpuSteps8', steps: 8, holdMs: 0 },
      { name: 'cpuSteps32', steps: 32, holdMs: 0 },
      // A GPU-like accelerator: 2.5 s per job that does not use the CPU (simulated; see above).
      { name: 'simulatedAccelerator2500ms', steps: 8, holdMs: 2500 },
    ];
    for (const c of configs) {
      const serial = await runMode(server.url, dataDir, false, c.steps, c.holdMs);
      const pipelined = await runMode(server.url, dataDir, true, c.steps, c.holdMs);
      out[c.name] = {
        serial,
        pipelined,
        ratio: {
          wallPipelinedOverSerial: round(pipelined.wallMs / serial.wallMs),
          busyFractionPipelinedOverSerial: round(pipelined.acceleratorBusyFraction / serial.acceleratorBusyFraction),
        },
      };
    }
    return {
      worker: {
        jobsPerRun: JOBS,
        ...out,
        note: 'dequeueToFirstStep excludes gateWait (time a pipelined job waits for the previous one to finish denoising); overhead = dequeueToFirstStep + lastStepToDelivery; in the simulated run lastStepToDelivery also holds the simulated accelerator time after the real last step',
        machine: `${os.cpus().length} CPU cores, no GPU (ONNX Runtime CPU execution provider); ffmpeg and the NSFW scan share those cores with the "accelerator"`,
      },
    };
  } finally {
    await rm(dataDir, { recursive: true, force: true });
    await server.stop();
  }
}
