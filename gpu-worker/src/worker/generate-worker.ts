import { createReadStream } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import sharp from 'sharp';
import type { Logger } from 'pino';
import {
  asFramecastError, atRenderScale, FINAL_STATES, tAll, fitSpecToCapabilities, FRAME_SIZES, GenerateJobDataSchema, renderSizeAt,
  type BlobStore, type Core, type DeliveryOutcome, type GenerationSpec, type JobRecord, type RuntimeCapabilities, type VideoResult,
} from '@framecast/core';
import { RuntimeError, type RuntimeRequest, type RuntimeResult, type StepProgress, type VideoRuntime } from '../runtime/video-runtime.ts';
import { encodeVideo, type EncodedVideo, type X264Preset } from '../video/encode-video.ts';
import { fitToBudget } from '../video/fit-to-budget.ts';
import { loadConditioningImage } from './conditioning-image.ts';
import { GpuGate } from './gpu-gate.ts';
import type { OutputScanner, OutputScanVerdict } from './output-scanner.ts';
import { writeScanReport } from './scan-report.ts';

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
  /** Where afterLastStepMs went, phase by phase (wall ms; a phase that did not run is absent). */
  postPhasesMs: PostPhases;
  totalMs: number;
}

/**
 * Post-processing phases, wall ms: encode (frames → labelled H.264 mp4 + poster in one ffmpeg pass),
 * fit (re-encode to the reply target's byte budget), scan (output moderation), store (video and
 * poster to the blob store), settle (scan report, hold or finish).
 */
export interface PostPhases {
  encode?: number;
  fit?: number;
  scan?: number;
  store?: number;
  settle?: number;
}

export interface GenerateWorkerOptions {
  /** Every change of a job's state and credits goes through core.lifecycle. */
  core: Core;
  runtime: VideoRuntime;
  store: BlobStore;
  scanner?: OutputScanner;
  /**
   * When the output scan's report (scores and frame thumbnails, `scans/<jobId>/…`) is written
   * beside the video: for a video held for review (default), for every scanned video, or never.
   */
  scanReports?: 'review' | 'always' | 'never';
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
  private readonly startedAt = performance.now();
  private readonly id = Math.random().toString(36).slice(2, 8);
  private publication: { stop(): Promise<void> } | undefined;
  private caps: RuntimeCapabilities | undefined;
  private readonly companions: Array<{ run(): Promise<unknown>; close(): Promise<void> }> = [];

  constructor(private readonly o: GenerateWorkerOptions) {
    const wq = o.core.workQueue;
    this.worker = new Worker(wq.name, (job, token) => this.process(job, token), {
      connection: wq.connection,
      prefix: wq.bullPrefix,
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

  /**
   * Runs other queue workers beside this one, started by run() and stopped by close() (the
   * storyboards' segment and stitch jobs, sharing this worker's accelerator gate).
   */
  attach(companion: { run(): Promise<unknown>; close(): Promise<void> }): void {
    this.companions.push(companion);
  }

  async run(): Promise<void> {
    await sweepDeadWorkDirs(this.o.workDir);
    // Tell intake what this worker renders, so that every accepted job fits it.
    const caps = atRenderScale(await this.o.runtime.capabilities(), this.o.renderScale ?? 1);
    this.caps = caps;
    this.publication = await this.o.core.runtimes.startPublishing(`${os.hostname()}:${process.pid}:${this.id}`, caps, {
      ttlSec: 30,
      onError: (err) => this.o.logger.warn({ err }, 'could not refresh the runtime capabilities'),
    });
    for (const c of this.companions) void c.run().catch((err: unknown) => this.o.logger.error({ err }, 'companion worker stopped'));
    return this.worker.run();
  }

  /** Fraction of the worker's life the accelerator was busy. */
  busyFraction(): number {
    return this.gate.busyMs / (performance.now() - this.startedAt);
  }

  async close(): Promise<void> {
    await this.publication?.stop().catch(() => undefined);
    await Promise.all(this.companions.map((c) => c.close()));
    await this.worker.close();
  }

  private get lifecycle() {
    return this.o.core.lifecycle;
  }

  private async process(job: Job, token: string | undefined): Promise<unknown> {
    const t0 = performance.now();
    const parsed = GenerateJobDataSchema.safeParse(job.data);
    if (!parsed.success) {
      this.o.logger.error({ jobId: job.id, issues: parsed.error.issues.length }, 'invalid job payload');
      throw new UnrecoverableError('invalid job payload');
    }
    const { jobId, enqueuedAt } = parsed.data;
    const log = this.o.logger.child({ jobId });
    // The record is the job; the payload only points at it.
    const rec = await this.o.core.job(jobId);
    if (rec === undefined) {
      log.error('job record missing: nothing to run');
      throw new UnrecoverableError('job record missing');
    }
    // A job taken over from a dead worker may already be done, held, or promised to its user.
    if (FINAL_STATES.has(rec.state) || rec.state === 'review') {
      log.info({ state: rec.state }, 'job already settled; nothing to do');
      return { skipped: rec.state };
    }
    const promised = await this.o.core.deliveries.outcomeKind(jobId);
    if (promised !== undefined) {
      // An earlier attempt told the user and died before settling: the lifecycle settles as promised.
      log.info({ promised }, 'outcome already written by an earlier attempt; settling');
      await this.finishWithoutVideo(jobId, { kind: 'failed', code: 'failed', message: tAll('outcome.failed') }, { code: 'failed', message: 'retried after a promise' });
      return { skipped: promised };
    }

    const abort = new AbortController();
    const poll = setInterval(() => {
      void this.lifecycle.isCancelRequested(jobId).then((yes) => {
        if (yes) abort.abort();
      }, () => undefined);
    }, this.o.cancelPollMs ?? 500);
    const dir = path.join(this.o.workDir, jobId);
    let stage: Stage = 'denoise';
    let runtimeFile: string | undefined;
    try {
      await mkdir(dir, { recursive: true });
      const spec = rec.spec;
      const { width, height } = renderSizeAt(spec, this.o.renderScale ?? 1);
      const image = spec.referenceImage === undefined ? undefined : await loadConditioningImage(this.o.store, spec.referenceImage.ref, width, height);
      const request = runtimeRequestOf(spec, this.o.renderScale ?? 1, { ...(this.o.steps === undefined ? {} : { steps: this.o.steps }), ...(image === undefined ? {} : { image }) });
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
        reports = reports.then(() => this.reportProgress(jobId, p, wantPreview)).catch((err: unknown) => log.warn({ err }, 'progress report failed'));
      };
      const gateAsked = performance.now();
      let pipelineStart = gateAsked;
      const result = await this.gate.run(async () => {
        pipelineStart = performance.now();
        if (abort.signal.aborted) throw new RuntimeError('cancelled', 'cancelled before start');
        // Only now is the job running: it leaves its user's line and shows as active.
        await this.o.core.workQueue.taken(rec.userKey, jobId);
        if (!(await this.lifecycle.start(jobId, job.attemptsMade + 1))) throw new RuntimeError('cancelled', 'the job ended before it started');
        return this.o.runtime.generate(request, {
          onStep,
          signal: abort.signal,
          providerTask: {
            ...(rec.providerTaskId === undefined ? {} : { resumeId: rec.providerTaskId }),
            onCreated: (id) => {
              void this.lifecycle.setProviderTask(jobId, id).catch((err: unknown) => log.warn({ err }, 'could not record the provider task id'));
            },
          },
        });
      });
      const pipelineMs = performance.now() - pipelineStart;
      runtimeFile = result.kind === 'file' ? result.path : undefined;
      if (lastStepAt === 0) lastStepAt = performance.now();
      await reports;
      stage = 'post';
      const postPhasesMs: PostPhases = {};
      const outcome = await this.postProcess(rec, result, dir, abort.signal, postPhasesMs);
      const t1 = performance.now();
      this.o.onTiming?.({
        jobId,
        toFirstStepMs: (firstStepAt ?? pipelineStart) - t0,
        gateWaitMs: pipelineStart - gateAsked,
        pipelineMs,
        afterLastStepMs: t1 - lastStepAt,
        postPhasesMs,
        totalMs: t1 - t0,
      });
      log.debug({ postPhasesMs }, 'post-processing timings');
      await this.o.core.workQueue.recordDuration(spec.mode, t1 - t0);
      log.info({ outcome, ms: Math.round(t1 - t0) }, 'job done');
      return { outcome };
    } catch (err) {
      return await this.onError(job, token, rec, enqueuedAt, err, stage, log);
    } finally {
      clearInterval(poll);
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
      // A remote runtime's download is ours to remove once encoded.
      if (runtimeFile !== undefined) await rm(runtimeFile, { force: true }).catch(() => undefined);
    }
  }

  private async reportProgress(jobId: string, p: StepProgress, withPreview: boolean): Promise<void> {
    let previewRef: string | undefined;
    if (withPreview && p.preview !== undefined) {
      const jpeg = await sharp(Buffer.from(p.preview.rgb), { raw: { width: p.preview.width, height: p.preview.height, channels: 3 } }).jpeg({ quality: 70 }).toBuffer();
      previewRef = `previews/${jobId}.jpg`;
      await this.o.store.put(previewRef, jpeg, 'image/jpeg');
    }
    await this.lifecycle.progress(jobId, { type: 'step', step: p.step, totalSteps: p.totalSteps, ...(previewRef === undefined ? {} : { previewRef }) });
  }

  /** Encode with labels, fit the reply target's byte budget, scan, store, then deliver or hold for review. */
  private async postProcess(rec: JobRecord, result: RuntimeResult, dir: string, signal: AbortSignal, phases: PostPhases): Promise<string> {
    const { jobId, spec } = rec;
    let mark = performance.now();
    const phaseDone = (phase: keyof PostPhases) => {
      const now = performance.now();
      phases[phase] = Math.round((now - mark) * 10) / 10;
      mark = now;
    };
    await this.lifecycle.progress(jobId, { type: 'encoding', phase: 'encoding' }).catch(() => undefined);
    const encoded: EncodedVideo = await encodeVideo(
      result.kind === 'frames' ? { kind: 'frames', frames: result.frames, width: result.width, height: result.height, fps: result.fps } : { kind: 'file', path: result.path },
      {
        outputPath: path.join(dir, `${jobId}.mp4`),
        aigc: { contentProducer: this.o.core.config.env.FRAMECAST_CONTENT_PRODUCER, produceId: jobId },
        preset: this.o.x264Preset ?? 'veryfast',
        signal,
        ...(result.kind === 'file' ? { fps: spec.fps } : {}),
      },
    );
    phaseDone('encode');
    // The reply target says how many bytes its platform takes (null: played from a URL).
    const budget = rec.replyTarget?.maxUploadBytes ?? null;
    let video = encoded;
    let needsLink = false;
    if (budget !== null) {
      const fit = await fitToBudget(encoded, budget, { preset: this.o.x264Preset ?? 'veryfast' });
      video = fit.video;
      needsLink = !fit.fits;
      phaseDone('fit');
    }

    let reviewRequired = rec.reviewRequired;
    let verdict: OutputScanVerdict | undefined;
    if (this.o.scanner !== undefined) {
      await this.lifecycle.progress(jobId, { type: 'encoding', phase: 'scanning' }).catch(() => undefined);
      verdict = await this.o.scanner.scan(video.path);
      phaseDone('scan');
      if (verdict.action === 'block') {
        await this.finishWithoutVideo(jobId, { kind: 'blocked', code: 'output_blocked', message: tAll('outcome.output_blocked') }, { code: 'output_blocked', message: `blocked at ${verdict.decidingFrames.join(',')} s` });
        return 'blocked';
      }
      this.o.core.observeModeration('video', verdict.action);
      if (verdict.action === 'review') reviewRequired = true;
    }

    const videoRef = `videos/${jobId}.mp4`;
    const posterRef = `videos/${jobId}.jpg`;
    await Promise.all([
      this.o.store.put(videoRef, createReadStream(video.path), 'video/mp4'),
      this.o.store.put(posterRef, createReadStream(video.posterPath), 'image/jpeg'),
    ]);
    phaseDone('store');
    const vr: VideoResult = {
      videoRef, posterRef, bytes: video.bytes, width: video.width, height: video.height, frames: video.frames, fps: video.fps,
      durationSec: video.durationSec, sha256: video.sha256, needsLink, downgraded: rec.downgradedFrom !== undefined,
    };
    // A cancel that came in while we encoded still wins: nothing goes out, nothing is charged.
    if (signal.aborted) throw new RuntimeError('cancelled', 'cancelled during post-processing');
    const reports = this.o.scanReports ?? 'review';
    if (verdict !== undefined && (reports === 'always' || (reports === 'review' && reviewRequired))) {
      // Before the hold, so the operator who sees the held video sees its scan; a report that
      // cannot be written costs the operator the scores, not the user the video.
      await writeScanReport(this.o.store, jobId, video.path, verdict).catch((err: unknown) => this.o.logger.warn({ err, jobId }, 'could not write the scan report'));
    }
    if (reviewRequired) {
      const held = await this.lifecycle.hold(jobId, vr);
      phaseDone('settle');
      return held.kind === 'review' ? 'review' : String(held.kind);
    }
    // One step: the outcome is written for delivery, the credits are charged, the record says
    // succeeded — unless a cancel request or an earlier attempt's promise decides otherwise.
    const done = await this.lifecycle.finish(jobId, { kind: 'video', result: vr });
    phaseDone('settle');
    return done.kind === 'video' ? 'delivered' : String(done.kind);
  }

  private async finishWithoutVideo(jobId: string, outcome: DeliveryOutcome, error: { code: string; message: string }): Promise<void> {
    await this.lifecycle.finish(jobId, outcome, error);
  }

  private async onError(job: Job, token: string | undefined, rec: JobRecord, enqueuedAt: number, err: unknown, stage: Stage, log: Logger): Promise<unknown> {
    const { jobId } = rec;
    const code = classifyFailure(err);
    const reason = err instanceof Error ? err.message : String(err);
    log.warn({ code, stage, attempt: job.attemptsMade + 1, err: reason }, 'job error');
    switch (code) {
      case 'cancelled':
        await this.finishWithoutVideo(jobId, { kind: 'cancelled', message: tAll('outcome.cancelled') }, { code: 'cancelled', message: 'cancelled by request' });
        return { outcome: 'cancelled' };
      case 'bad_input':
        await this.finishWithoutVideo(jobId, { kind: 'failed', code: 'bad_input', message: tAll('outcome.bad_input') }, { code: 'bad_input', message: reason });
        return { outcome: 'failed' };
      case 'moderation':
        await this.finishWithoutVideo(jobId, { kind: 'blocked', code: 'provider_moderation', message: tAll('outcome.provider_moderation') }, { code: 'provider_moderation', message: reason });
        return { outcome: 'blocked' };
      case 'oom': {
        const draft = rec.spec.mode === 'final' && rec.allowDowngrade && rec.downgradedFrom === undefined ? asDraft(rec.spec, this.caps) : undefined;
        if (draft !== undefined) {
          log.warn('out of memory on a final job: retrying once at draft size');
          await this.lifecycle.downgrade(jobId, draft);
          throw err;
        }
        break;
      }
      case 'throttled':
        // Wait as the provider asks, but not forever: past the limit the job fails and is refunded.
        if (token !== undefined && err instanceof RuntimeError && Date.now() - enqueuedAt < (this.o.maxThrottleMs ?? 30 * 60_000)) {
          await this.lifecycle.requeue(jobId);
          await job.moveToDelayed(Date.now() + (err.retryAfterMs ?? 30_000), token);
          throw new DelayedError();
        }
        break;
      case 'transient':
      case 'misconfigured':
        break;
    }
    // An operator's fault (a missing node, model file or credential): retrying cannot help, so the
    // job fails at once with a refund, and the operator is told.
    if (code === 'misconfigured') log.error({ err: reason, errorCode: asFramecastError(err).code, stage }, 'runtime misconfigured: failing the job without retries; fix the deployment');
    const attempts = job.opts.attempts ?? 1;
    if (code === 'oom' || code === 'misconfigured' || code === 'throttled' || job.attemptsMade + 1 >= attempts) {
      const message = tAll(code === 'oom' ? 'outcome.out_of_memory' : code === 'misconfigured' ? 'outcome.unavailable' : code === 'throttled' ? 'outcome.busy' : 'outcome.failed');
      await this.finishWithoutVideo(jobId, { kind: 'failed', code, message }, { code, message: reason });
      throw new UnrecoverableError(reason);
    }
    await this.lifecycle.requeue(jobId, { code, message: reason });
    throw err instanceof Error ? err : new Error(reason);
  }

  /** A job BullMQ gave up on by itself (stalled too often): refund and tell the user, once. */
  private async onFailed(job: Job, err: Error): Promise<void> {
    const parsed = GenerateJobDataSchema.safeParse(job.data);
    if (!parsed.success) return;
    const rec = await this.o.core.job(parsed.data.jobId);
    if (rec === undefined || FINAL_STATES.has(rec.state) || rec.state === 'review') return;
    const attempts = job.opts.attempts ?? 1;
    if (job.attemptsMade < attempts && !/stalled/i.test(err.message)) return;
    await this.finishWithoutVideo(rec.jobId, { kind: 'failed', code: 'failed', message: tAll('outcome.failed') }, { code: 'failed', message: err.message });
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

/** How the worker handles a failure. */
export type WorkerFailure = 'cancelled' | 'bad_input' | 'moderation' | 'oom' | 'throttled' | 'transient' | 'misconfigured';

/** Decides by the error's code (never its message): anything not coded is transient. */
export function classifyFailure(err: unknown): WorkerFailure {
  const { code } = asFramecastError(err);
  switch (code) {
    case 'cancelled':
    case 'aborted':
      return 'cancelled';
    case 'bad_input':
    case 'moderation':
    case 'oom':
    case 'throttled':
      return code;
    // A deployment fault: retrying, here or on another worker, cannot help.
    case 'misconfigured':
    case 'dashscope_unauthorized':
    case 'invalid_credentials':
    case 'workflow_template_invalid':
    case 'invalid_config':
    case 'config':
    case 'ffmpeg_missing':
    case 'font_missing':
      return 'misconfigured';
    default:
      return 'transient';
  }
}

/**
 * The request a worker hands its runtime for a spec, at its render scale (the same size formula the
 * intake's fit uses, renderSizeAt, so an accepted spec renders).
 */
export function runtimeRequestOf(spec: GenerationSpec, renderScale: number, extra: { steps?: number; image?: RuntimeRequest['image'] } = {}): RuntimeRequest {
  const { width, height } = renderSizeAt(spec, renderScale);
  return {
    prompt: spec.prompt,
    width,
    height,
    frames: spec.frames,
    fps: spec.fps,
    seed: spec.seed,
    mode: spec.mode,
    ...(spec.negativePrompt === undefined ? {} : { negativePrompt: spec.negativePrompt }),
    ...(extra.steps === undefined ? {} : { steps: extra.steps }),
    ...(extra.image === undefined ? {} : { image: extra.image }),
  };
}

/**
 * The same video at draft size, fitted to what this worker renders; undefined when that is not
 * smaller (e.g. a runtime with one fixed size), so a downgrade could not help.
 */
export function asDraft(spec: GenerationSpec, caps: RuntimeCapabilities | undefined): GenerationSpec | undefined {
  const size = FRAME_SIZES.draft[spec.aspect];
  let draft: GenerationSpec = { ...spec, mode: 'draft', width: size.width, height: size.height };
  if (caps !== undefined) {
    const fit = fitSpecToCapabilities(draft, caps);
    if (!fit.ok) return undefined;
    draft = fit.spec;
  }
  return draft.width * draft.height < spec.width * spec.height ? draft : undefined;
}

