import { createReadStream } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { DelayedError, UnrecoverableError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import sharp from 'sharp';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import {
  Deliveries, FairQueue, FINAL_STATES, FRAME_SIZES, GENERATE_QUEUE, GenerateJobDataSchema, JobService, JobStore, Keys, QuotaService,
  type BlobStore, type DeliveryOutcome, type FramecastConfig, type GenerateJobData, type GenerationSpec, type JobProgress,
  type VideoResult,
} from '@framecast/core';
import { RuntimeError, type RuntimeRequest, type RuntimeResult, type StepProgress, type VideoRuntime } from '../runtime/video-runtime.ts';
import { encodeVideo, type EncodedVideo, type X264Preset } from '../video/encode-video.ts';
import { fitToBudget } from '../video/fit-to-budget.ts';
import { videoBudgetFor, type DeliveryPlatform } from '../video/platform-budgets.ts';
import { VideoError } from '../video/video-error.ts';
import { loadConditioningImage } from './conditioning-image.ts';
import { GpuGate } from './gpu-gate.ts';
import type { OutputScanner } from './output-scanner.ts';
import { WORKER_MESSAGES } from './worker-messages.ts';

export interface JobTiming {
  jobId: string;
  /** Processor entered (job dequeued) → first denoising step reported; includes gateWaitMs. */
  toFirstStepMs: number;
  /** Time waiting for the accelerator while the previous job denoised (pipelined mode). */
  gateWaitMs: number;
  /** The runtime's own time: accelerator acquired → frames returned. */
  pipelineMs: number;
  /** Last step reported → delivery enqueued (encode, budget, scan, store, bookkeeping). */
  afterLastStepMs: number;
  totalMs: number;
}

export interface GenerateWorkerOptions {
  config: FramecastConfig;
  /** For the core's services (records, quota, delivery). */
  redis: Redis;
  /** For BullMQ's worker (it makes its own blocking connection from it). */
  connection: ConnectionOptions;
  runtime: VideoRuntime;
  store: BlobStore;
  scanner?: OutputScanner;
  logger: Logger;
  /** Encode/scan/store job N on the CPU while job N+1 denoises. Default true. */
  pipelined?: boolean;
  /** This process's scratch folder, `<base>/<pid>` (folders of dead pids beside it are swept). */
  workDir: string;
  /** BullMQ lock: renewed at half this while a job runs; a dead worker's job is taken over after it. */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  progressEveryMs?: number;
  previewEveryMs?: number;
  cancelPollMs?: number;
  /** How long a job may keep waiting on a provider that throttles, from its enqueue time. Default 30 min. */
  maxThrottleMs?: number;
  x264Preset?: X264Preset;
  steps?: number;
  /**
   * Render at this fraction of the spec's size (multiples of 16), e.g. 0.25 for the tiny test
   * model on a CPU. Default 1.
   */
  renderScale?: number;
  onTiming?: (t: JobTiming) => void;
}

type Stage = 'denoise' | 'post';

/**
 * The GPU worker: takes jobs from the `generate` queue, runs the pipeline with progress and
 * cancellation, encodes and labels the video, scans it, stores it and hands it to the platform's
 * delivery queue. At-least-once underneath (BullMQ may run a job twice when a worker dies);
 * exactly-once to the user through the delivery record and idempotent quota settlement.
 */
export class GenerateWorker {
  readonly worker: Worker;
  readonly gate = new GpuGate();
  private readonly jobs: JobStore;
  private readonly quota: QuotaService;
  private readonly fq: FairQueue;
  private readonly deliveries: Deliveries;
  private readonly jobService: JobService;
  private readonly startedAt = performance.now();

  constructor(private readonly o: GenerateWorkerOptions) {
    const prefix = o.config.keyPrefix;
    this.jobs = new JobStore(o.redis, prefix);
    this.quota = new QuotaService(o.redis, o.config);
    this.fq = new FairQueue(o.redis, prefix);
    this.deliveries = new Deliveries(o.redis, prefix);
    this.jobService = new JobService(o.redis, prefix, this.jobs, this.fq, this.quota);
    this.worker = new Worker(GENERATE_QUEUE, (job, token) => this.process(job, token), {
      connection: o.connection,
      prefix: new Keys(prefix).bullPrefix,
      // One pipeline at a time on the accelerator; a second slot lets the next job denoise while
      // the previous one is encoded (the GpuGate keeps the accelerator to one job).
      concurrency: o.pipelined === false ? 1 : 2,
      // Renewed every half lock while the job runs (ONNX Runtime and ffmpeg keep the event loop
      // free), so long jobs keep it; a dead worker's job is taken over within about this long.
      lockDuration: o.lockDurationMs ?? 120_000,
      stalledInterval: o.stalledIntervalMs ?? 30_000,
      maxStalledCount: 2,
      autorun: false,
    });
    this.worker.on('failed', (job, err) => {
      if (job !== undefined) void this.onFailed(job, err).catch((e: unknown) => o.logger.error({ err: e, jobId: job.id }, 'could not settle a failed job'));
    });
    this.worker.on('error', (err) => o.logger.error({ err }, 'worker error'));
  }

  async run(): Promise<void> {
    await sweepDeadWorkDirs(this.o.workDir);
    return this.worker.run();
  }

  /** Fraction of the worker's life the accelerator was busy. */
  busyFraction(): number {
    return this.gate.busyMs / (performance.now() - this.startedAt);
  }

  async close(): Promise<void> {
    await this.worker.close();
    await Promise.all([this.fq.close(), this.deliveries.close()]);
  }

  private async process(job: Job, token: string | undefined): Promise<unknown> {
    const t0 = performance.now();
    const parsed = GenerateJobDataSchema.safeParse(job.data);
    if (!parsed.success) {
      this.o.logger.error({ jobId: job.id, issues: parsed.error.issues.length }, 'invalid job payload');
      throw new UnrecoverableError('invalid job payload');
    }
    const d = parsed.data;
    const log = this.o.logger.child({ jobId: d.jobId, platform: d.platform });

    // A job taken over from a dead worker may already be done, or delivered.
    const rec = await this.jobs.get(d.jobId);
    if (rec !== undefined && (FINAL_STATES.has(rec.state) || rec.state === 'review')) {
      log.info({ state: rec.state }, 'job already settled; nothing to do');
      return { skipped: rec.state };
    }
    const promised = await this.deliveries.outcomeKind(d.jobId);
    if (promised !== undefined && (await this.deliveries.isQueued(d.platform, d.jobId))) {
      // An earlier attempt told the user and died before settling: settle as it promised.
      log.info({ promised }, 'outcome already enqueued by an earlier attempt; settling');
      await this.settleAsPromised(d.jobId, promised);
      return { skipped: promised };
    }

    const abort = new AbortController();
    const poll = setInterval(() => {
      void this.jobService.isCancelRequested(d.jobId).then((yes) => {
        if (yes) abort.abort();
      }, () => undefined);
    }, this.o.cancelPollMs ?? 500);
    const dir = path.join(this.o.workDir, d.jobId);
    let stage: Stage = 'denoise';
    let runtimeFile: string | undefined;
    try {
      await mkdir(dir, { recursive: true });
      const spec = d.spec;
      const { width, height } = renderSize(spec, this.o.renderScale ?? 1);
      const image = spec.referenceImage === undefined ? undefined : await loadConditioningImage(this.o.store, spec.referenceImage.ref, width, height);
      const request: RuntimeRequest = {
        prompt: spec.prompt,
        width,
        height,
        frames: spec.frames,
        fps: spec.fps,
        seed: spec.seed,
        mode: spec.mode,
        ...(spec.negativePrompt === undefined ? {} : { negativePrompt: spec.negativePrompt }),
        ...(this.o.steps === undefined ? {} : { steps: this.o.steps }),
        ...(image === undefined ? {} : { image }),
      };
      let firstStepAt: number | undefined;
      let lastStepAt = 0;
      let lastProgressAt = Number.NEGATIVE_INFINITY;
      let lastPreviewAt = Number.NEGATIVE_INFINITY;
      let reports: Promise<void> = Promise.resolve();
      const onStep = (p: StepProgress) => {
        const now = performance.now();
        firstStepAt ??= now;
        lastStepAt = now;
        const last = p.step >= p.totalSteps;
        if (!last && now - lastProgressAt < (this.o.progressEveryMs ?? 1000)) return;
        lastProgressAt = now;
        const wantPreview = p.preview !== undefined && now - lastPreviewAt >= (this.o.previewEveryMs ?? 5000);
        if (wantPreview) lastPreviewAt = now;
        // One report at a time, in step order (a preview takes longer to send than a plain step).
        reports = reports.then(() => this.reportProgress(job, d.jobId, p, wantPreview)).catch((err: unknown) => log.warn({ err }, 'progress report failed'));
      };
      const gateAsked = performance.now();
      let pipelineStart = gateAsked;
      const result = await this.gate.run(async () => {
        pipelineStart = performance.now();
        if (abort.signal.aborted) throw new RuntimeError('cancelled', 'cancelled before start');
        // Only now is the job running: it leaves its user's line and shows as active.
        await this.fq.taken(d.userKey, d.jobId);
        await this.jobs.update(d.jobId, { state: 'active', startedAt: Date.now(), attempts: job.attemptsMade + 1 });
        return this.o.runtime.generate(request, {
          onStep,
          signal: abort.signal,
          providerTask: {
            ...(d.providerTaskId === undefined ? {} : { resumeId: d.providerTaskId }),
            onCreated: (id) => {
              void job.updateData({ ...d, providerTaskId: id }).catch((err: unknown) => log.warn({ err }, 'could not record the provider task id'));
            },
          },
        });
      });
      const pipelineMs = performance.now() - pipelineStart;
      runtimeFile = result.kind === 'file' ? result.path : undefined;
      if (lastStepAt === 0) lastStepAt = performance.now();
      await reports;
      stage = 'post';
      const outcome = await this.postProcess(d, result, dir, job, abort.signal);
      const t1 = performance.now();
      this.o.onTiming?.({
        jobId: d.jobId,
        toFirstStepMs: (firstStepAt ?? pipelineStart) - t0,
        gateWaitMs: pipelineStart - gateAsked,
        pipelineMs,
        afterLastStepMs: t1 - lastStepAt,
        totalMs: t1 - t0,
      });
      await this.fq.recordDuration(spec.mode, t1 - t0);
      log.info({ outcome, ms: Math.round(t1 - t0) }, 'job done');
      return { outcome };
    } catch (err) {
      return await this.onError(job, token, d, err, stage, log);
    } finally {
      clearInterval(poll);
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
      // A remote runtime's download is ours to remove once encoded.
      if (runtimeFile !== undefined) await rm(runtimeFile, { force: true }).catch(() => undefined);
    }
  }

  private async reportProgress(job: Job, jobId: string, p: StepProgress, withPreview: boolean): Promise<void> {
    let previewRef: string | undefined;
    if (withPreview && p.preview !== undefined) {
      const jpeg = await sharp(Buffer.from(p.preview.rgb), { raw: { width: p.preview.width, height: p.preview.height, channels: 3 } }).jpeg({ quality: 70 }).toBuffer();
      previewRef = `previews/${jobId}.jpg`;
      await this.o.store.put(previewRef, jpeg, 'image/jpeg');
    }
    const progress: JobProgress = { step: p.step, totalSteps: p.totalSteps, phase: 'denoising', at: Date.now(), ...(previewRef === undefined ? {} : { previewRef }) };
    await job.updateProgress(progress);
  }

  /** Encode with labels, fit the platform's budget, scan, store, then deliver or hold for review. */
  private async postProcess(d: GenerateJobData, result: RuntimeResult, dir: string, job: Job, signal: AbortSignal): Promise<string> {
    const spec = d.spec;
    await job.updateProgress({ step: 0, totalSteps: 1, phase: 'encoding', at: Date.now() } satisfies JobProgress).catch(() => undefined);
    const encoded: EncodedVideo = await encodeVideo(
      result.kind === 'frames' ? { kind: 'frames', frames: result.frames, width: result.width, height: result.height, fps: result.fps } : { kind: 'file', path: result.path },
      {
        outputPath: path.join(dir, `${d.jobId}.mp4`),
        aigc: { contentProducer: this.o.config.env.FRAMECAST_CONTENT_PRODUCER, produceId: d.jobId },
        preset: this.o.x264Preset ?? 'veryfast',
        signal,
        ...(result.kind === 'file' ? { fps: spec.fps } : {}),
      },
    );
    const budget = d.platform === 'cli' ? null : videoBudgetFor(d.platform as DeliveryPlatform, attachmentLimit(d.replyTarget));
    let video = encoded;
    let needsLink = false;
    if (budget !== null) {
      const fit = await fitToBudget(encoded, budget, { preset: this.o.x264Preset ?? 'veryfast' });
      video = fit.video;
      needsLink = !fit.fits;
    }

    if (this.o.scanner !== undefined) {
      await job.updateProgress({ step: 0, totalSteps: 1, phase: 'scanning', at: Date.now() } satisfies JobProgress).catch(() => undefined);
      const verdict = await this.o.scanner.scan(video.path);
      if (verdict.action === 'block') {
        await this.finishWithoutVideo(d, 'blocked', { kind: 'blocked', code: 'output_blocked', message: WORKER_MESSAGES.outputBlocked }, { code: 'output_blocked', message: `blocked at ${verdict.decidingFrames.join(',')} s` });
        return 'blocked';
      }
      if (verdict.action === 'review') d = { ...d, reviewRequired: true };
    }

    const videoRef = `videos/${d.jobId}.mp4`;
    const posterRef = `videos/${d.jobId}.jpg`;
    await this.o.store.put(videoRef, createReadStream(video.path), 'video/mp4');
    await this.o.store.put(posterRef, createReadStream(video.posterPath), 'image/jpeg');
    const vr: VideoResult = {
      videoRef, posterRef, bytes: video.bytes, width: video.width, height: video.height, frames: video.frames, fps: video.fps,
      durationSec: video.durationSec, sha256: video.sha256, needsLink, downgraded: d.downgradedFrom !== undefined,
    };
    if (d.reviewRequired) {
      await this.jobs.update(d.jobId, { state: 'review', result: vr });
      return 'review';
    }
    // A cancel that came in while we encoded still wins: nothing goes out, nothing is charged.
    if (signal.aborted || (await this.jobService.isCancelRequested(d.jobId))) throw new RuntimeError('cancelled', 'cancelled during post-processing');
    // Delivery first (idempotent), then the charge: a crash between them is settled by the retry.
    await this.deliveries.enqueue(deliveryOf(d, { kind: 'video', result: vr }));
    await this.jobs.update(d.jobId, { result: vr });
    await this.settleAsPromised(d.jobId, (await this.deliveries.outcomeKind(d.jobId)) ?? 'video');
    return 'delivered';
  }

  private async finishWithoutVideo(
    d: GenerateJobData,
    state: 'failed' | 'blocked' | 'cancelled',
    outcome: DeliveryOutcome,
    error: { code: string; message: string },
  ): Promise<void> {
    await this.deliveries.enqueue(deliveryOf(d, outcome));
    // If an earlier attempt already queued something else (a video), that is what the user gets.
    const promised = (await this.deliveries.outcomeKind(d.jobId)) ?? outcome.kind;
    if (promised === outcome.kind) await this.jobs.update(d.jobId, { error: { ...error, retryable: false } });
    await this.settleAsPromised(d.jobId, promised, state);
  }

  /** Charge for a video the user was sent; refund anything else. Idempotent. */
  private async settleAsPromised(jobId: string, promised: DeliveryOutcome['kind'], failedState: 'failed' | 'blocked' | 'cancelled' = 'failed'): Promise<void> {
    if (promised === 'video') {
      await this.quota.commit(jobId);
      await this.jobs.update(jobId, { state: 'succeeded', finishedAt: Date.now() });
      return;
    }
    await this.quota.refund(jobId);
    const state = promised === 'blocked' ? 'blocked' : promised === 'cancelled' ? 'cancelled' : failedState === 'failed' ? 'failed' : failedState;
    await this.jobs.update(jobId, { state, finishedAt: Date.now() });
  }

  private async onError(job: Job, token: string | undefined, d: GenerateJobData, err: unknown, stage: Stage, log: Logger): Promise<unknown> {
    const code = classify(err);
    const reason = err instanceof Error ? err.message : String(err);
    log.warn({ code, stage, attempt: job.attemptsMade + 1, err: reason }, 'job error');
    switch (code) {
      case 'cancelled':
        await this.finishWithoutVideo(d, 'cancelled', { kind: 'cancelled', message: WORKER_MESSAGES.cancelled }, { code: 'cancelled', message: 'cancelled by request' });
        return { outcome: 'cancelled' };
      case 'bad_input':
        await this.finishWithoutVideo(d, 'failed', { kind: 'failed', code: 'bad_input', message: WORKER_MESSAGES.badInput }, { code: 'bad_input', message: reason });
        return { outcome: 'failed' };
      case 'moderation':
        await this.finishWithoutVideo(d, 'blocked', { kind: 'blocked', code: 'provider_moderation', message: WORKER_MESSAGES.providerModeration }, { code: 'provider_moderation', message: reason });
        return { outcome: 'blocked' };
      case 'oom':
        if (d.spec.mode === 'final' && d.allowDowngrade && d.downgradedFrom === undefined) {
          log.warn('out of memory on a final job: retrying once at draft size');
          await job.updateData({ ...d, spec: asDraft(d.spec), downgradedFrom: 'final' });
          throw err;
        }
        break;
      case 'throttled':
        // Wait as the provider asks, but not forever: past the limit the job fails and is refunded.
        if (token !== undefined && err instanceof RuntimeError && Date.now() - d.enqueuedAt < (this.o.maxThrottleMs ?? 30 * 60_000)) {
          await this.jobs.update(d.jobId, { state: 'queued' });
          await job.moveToDelayed(Date.now() + (err.retryAfterMs ?? 30_000), token);
          throw new DelayedError();
        }
        break;
      case 'transient':
      case 'config':
        break;
    }
    if (code === 'config') log.error({ err: reason }, 'runtime misconfigured: failing the job without retries');
    const attempts = job.opts.attempts ?? 1;
    if (code === 'oom' || code === 'config' || code === 'throttled' || job.attemptsMade + 1 >= attempts) {
      const message = code === 'oom' ? WORKER_MESSAGES.outOfMemory : code === 'config' ? WORKER_MESSAGES.unavailable : code === 'throttled' ? WORKER_MESSAGES.busy : WORKER_MESSAGES.failed;
      await this.finishWithoutVideo(d, 'failed', { kind: 'failed', code, message }, { code, message: reason });
      throw new UnrecoverableError(reason);
    }
    await this.jobs.update(d.jobId, { state: 'queued', error: { code, message: reason, retryable: true } });
    throw err instanceof Error ? err : new Error(reason);
  }

  /** A job BullMQ gave up on by itself (stalled too often): refund and tell the user, once. */
  private async onFailed(job: Job, err: Error): Promise<void> {
    const parsed = GenerateJobDataSchema.safeParse(job.data);
    if (!parsed.success) return;
    const d = parsed.data;
    const rec = await this.jobs.get(d.jobId);
    if (rec === undefined || FINAL_STATES.has(rec.state) || rec.state === 'review') return;
    const attempts = job.opts.attempts ?? 1;
    if (job.attemptsMade < attempts && !/stalled/i.test(err.message)) return;
    await this.finishWithoutVideo(d, 'failed', { kind: 'failed', code: 'failed', message: WORKER_MESSAGES.failed }, { code: 'failed', message: err.message });
  }
}

/**
 * Work folders are `<base>/<pid>`: remove those of worker processes that are gone (killed
 * mid-job; their jobs' retries start afresh), never a live one's.
 */
async function sweepDeadWorkDirs(workDir: string): Promise<void> {
  const base = path.dirname(workDir);
  const names = await readdir(base).catch(() => [] as string[]);
  for (const name of names) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) continue;
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch (err) {
      alive = (err as NodeJS.ErrnoException).code === 'EPERM';
    }
    if (!alive) await rm(path.join(base, name), { recursive: true, force: true }).catch(() => undefined);
  }
}

function classify(err: unknown): 'cancelled' | 'bad_input' | 'moderation' | 'oom' | 'throttled' | 'transient' | 'config' {
  if (err instanceof RuntimeError) return err.code;
  // A rejected API key or similar operator mistake: retrying cannot help.
  if (err instanceof Error && 'code' in err && typeof err.code === 'string' && /unauthori[sz]ed|invalid_credentials|config/.test(err.code)) return 'config';
  if (err instanceof VideoError) return err.code === 'bad_input' ? 'bad_input' : 'transient';
  return 'transient';
}

export function renderSize(spec: Pick<GenerationSpec, 'width' | 'height'>, scale: number): { width: number; height: number } {
  if (!(scale > 0 && scale <= 1)) throw new RangeError(`render scale must be in (0, 1], got ${scale}`);
  const r = (n: number) => Math.max(16, 16 * Math.round((n * scale) / 16));
  return { width: r(spec.width), height: r(spec.height) };
}

function asDraft(spec: GenerationSpec): GenerationSpec {
  const size = FRAME_SIZES.draft[spec.aspect];
  return { ...spec, mode: 'draft', width: size.width, height: size.height };
}

function attachmentLimit(replyTarget: Record<string, unknown>): { attachmentSizeLimit?: number } {
  const v = replyTarget.attachmentSizeLimit;
  return typeof v === 'number' && v > 0 ? { attachmentSizeLimit: v } : {};
}

function deliveryOf(d: GenerateJobData, outcome: DeliveryOutcome) {
  return {
    version: 1 as const, jobId: d.jobId, platform: d.platform, userKey: d.userKey, channelId: d.channelId, locale: d.locale,
    replyTarget: d.replyTarget, outcome,
  };
}
