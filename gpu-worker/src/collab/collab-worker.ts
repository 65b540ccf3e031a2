import { createReadStream } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import sharp from 'sharp';
import type { Logger } from 'pino';
import {
  COLLAB_SEGMENT_QUEUE, COLLAB_STITCH_QUEUE, FINAL_STATES, SegmentJobDataSchema, SegmentResultSchema, StitchJobDataSchema, renderSizeAt, tAll,
  type BlobStore, type Core, type SegmentResult, type VideoResult,
} from '@framecast/core';
import type { StepProgress, VideoRuntime } from '../runtime/video-runtime.ts';
import { findCjkFontFile } from '../video/cjk-font.ts';
import type { X264Preset } from '../video/encode-video.ts';
import { fitToBudget } from '../video/fit-to-budget.ts';
import { normaliseClip, stitchLabelledVideo, writeClip, type StitchPlan } from '../video/stitch-video.ts';
import { loadConditioningImage } from '../worker/conditioning-image.ts';
import { classifyFailure, runtimeRequestOf } from '../worker/generate-worker.ts';
import { GpuGate } from '../worker/gpu-gate.ts';
import type { OutputScanner } from '../worker/output-scanner.ts';
import { writeScanReport } from '../worker/scan-report.ts';

export interface CollabWorkerOptions {
  core: Core;
  runtime: VideoRuntime;
  store: BlobStore;
  scanner?: OutputScanner;
  logger: Logger;
  /** Scratch folder of this process. */
  workDir: string;
  /** Share the generate worker's gate so one accelerator runs one pipeline at a time. */
  gate?: GpuGate;
  renderScale?: number;
  steps?: number;
  x264Preset?: X264Preset;
  /** A font file for subtitles and the end card; default: Noto CJK through fontconfig. */
  fontFile?: string;
  /** Segments rendered at once by this process (default 1: one accelerator). */
  segmentConcurrency?: number;
  /** Told what each stitch drew (tests, metrics). */
  onStitched?: (jobId: string, plan: StitchPlan) => void;
  progressEveryMs?: number;
  /** How often the boards are swept (idle expiry, ended renders settled); default 60 s. */
  sweepEveryMs?: number;
  /** How often a running segment checks that its render still runs (a `collab cancel`); default 500 ms. */
  cancelPollMs?: number;
  /**
   * When the stitched video's output scan report (`scans/<jobId>/…`) is written, as for ordinary
   * jobs: for a video held for review or blocked (default), for every scanned video, or never.
   */
  scanReports?: 'review' | 'always' | 'never';
}

/** Thrown inside a segment when its render ended before the runtime started (a cancel). */
class RenderOver extends Error {}

/**
 * Renders storyboards: segment jobs (one shot each, with the board's seed, style and aspect; the
 * shot's reference image or the previous segment's last frame as first frame) and the stitch job
 * (their parent in a BullMQ flow) that joins them with transitions, subtitles and an end card, then
 * labels, scans, stores and finishes the render's job through the lifecycle (one charge, one
 * delivery). A failed segment retries alone; the others' clips stay in the store.
 */
export class CollabWorker {
  readonly segments: Worker;
  readonly stitches: Worker;
  private readonly gate: GpuGate;

  constructor(private readonly o: CollabWorkerOptions) {
    const wq = o.core.workQueue;
    this.gate = o.gate ?? new GpuGate();
    const common = { connection: wq.connection, prefix: wq.bullPrefix, autorun: false, lockDuration: 120_000, stalledInterval: 30_000, maxStalledCount: 2 };
    this.segments = new Worker(COLLAB_SEGMENT_QUEUE, (job) => this.segment(job), { ...common, concurrency: o.segmentConcurrency ?? 1 });
    this.stitches = new Worker(COLLAB_STITCH_QUEUE, (job) => this.stitch(job), { ...common, concurrency: 1 });
    for (const w of [this.segments, this.stitches]) w.on('error', (err) => o.logger.error({ err }, 'collab worker error'));
  }

  private stopSweeping: (() => void) | undefined;

  /** Runs both queues' workers, and the boards' sweep (idle expiry, settling ended renders) every minute. */
  run(): Promise<[void, void]> {
    this.stopSweeping ??= this.o.core.collab.startSweeping(this.o.sweepEveryMs ?? 60_000);
    return Promise.all([this.segments.run(), this.stitches.run()]);
  }

  async close(): Promise<void> {
    this.stopSweeping?.();
    await Promise.all([this.segments.close(), this.stitches.close()]);
  }

  private async isOver(jobId: string): Promise<boolean> {
    const rec = await this.o.core.job(jobId);
    return rec === undefined || FINAL_STATES.has(rec.state);
  }

  private async segment(job: Job): Promise<SegmentResult | { skipped: true }> {
    const parsed = SegmentJobDataSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError('invalid segment payload');
    const d = parsed.data;
    const log = this.o.logger.child({ jobId: d.jobId, segment: d.index });
    if (await this.isOver(d.jobId)) return { skipped: true };
    const collab = this.o.core.collab;
    const dir = path.join(this.o.workDir, `${d.jobId}-seg-${d.index}`);
    // A render cancelled (or failed) meanwhile stops this segment at its next step.
    const { abort, stop } = this.watch(d.jobId);
    try {
      await mkdir(dir, { recursive: true });
      const below = await this.childClips(job);
      const scale = this.o.renderScale ?? 1;
      const { width, height } = renderSizeAt(d.spec, scale);
      let image: { rgb: Uint8Array; width: number; height: number } | undefined;
      if (d.spec.referenceImage !== undefined) image = await loadConditioningImage(this.o.store, d.spec.referenceImage.ref, width, height);
      else if (d.fromPrevious && below.lastFrameRef !== undefined) image = await loadConditioningImage(this.o.store, below.lastFrameRef, width, height);
      const request = runtimeRequestOf(d.spec, scale, { ...(this.o.steps === undefined ? {} : { steps: this.o.steps }), ...(image === undefined ? {} : { image }) });
      let lastReport = Number.NEGATIVE_INFINITY;
      let reports: Promise<void> = Promise.resolve();
      const onStep = (p: StepProgress) => {
        const now = performance.now();
        if (p.step < p.totalSteps && now - lastReport < (this.o.progressEveryMs ?? 1000)) return;
        lastReport = now;
        reports = reports.then(() => collab.reportSegment({ jobId: d.jobId, boardKey: d.boardKey, index: d.index, count: d.count, phase: 'step', step: p.step, totalSteps: p.totalSteps })).catch(() => undefined);
      };
      const result = await this.gate.run(async () => {
        await collab.reportSegment({ jobId: d.jobId, boardKey: d.boardKey, index: d.index, count: d.count, phase: 'started' });
        if (abort.signal.aborted || (await this.isOver(d.jobId))) throw new RenderOver();
        return this.o.runtime.generate(request, { onStep, signal: abort.signal });
      });
      await reports;
      const clip = path.join(dir, 'clip.mp4');
      const last = path.join(dir, 'last.png');
      let frames: number;
      let fps: number;
      if (result.kind === 'frames') {
        await writeClip(result.frames, result.width, result.height, result.fps, clip);
        const lastFrame = result.frames.at(-1);
        if (lastFrame === undefined) throw new Error('the runtime returned no frames');
        await sharp(Buffer.from(lastFrame.buffer, lastFrame.byteOffset, lastFrame.byteLength), { raw: { width: result.width, height: result.height, channels: 3 } }).png().toFile(last);
        frames = result.frames.length;
        fps = result.fps;
      } else {
        await normaliseClip(result.path, width, height, d.spec.fps, clip, last);
        await rm(result.path, { force: true }).catch(() => undefined);
        fps = d.spec.fps;
        frames = d.spec.frames;
      }
      const ref = `collab/${d.jobId}/seg-${d.index}.mp4`;
      const lastFrameRef = `collab/${d.jobId}/seg-${d.index}-last.png`;
      await this.o.store.put(ref, createReadStream(clip), 'video/mp4');
      await this.o.store.put(lastFrameRef, createReadStream(last), 'image/png');
      await collab.reportSegment({ jobId: d.jobId, boardKey: d.boardKey, index: d.index, count: d.count, phase: 'done' });
      log.info('segment rendered');
      return { clips: [...below.clips, { index: d.index, ref, frames, fps }], lastFrameRef };
    } catch (err) {
      if (err instanceof RenderOver || abort.signal.aborted || (await this.isOver(d.jobId).catch(() => false))) {
        // The render ended meanwhile (a cancel): nothing to retry, nothing to report; the flow drains.
        log.info('segment stopped: its render is over');
        return { skipped: true };
      }
      await this.onError(job, d.jobId, d.boardKey, err, log, async () => collab.reportSegment({ jobId: d.jobId, boardKey: d.boardKey, index: d.index, count: d.count, phase: 'retrying' }));
      throw err;
    } finally {
      stop();
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  /** Aborts when the render's job is over (a `collab cancel`), checked every cancelPollMs until stopped. */
  private watch(jobId: string): { abort: AbortController; stop(): void } {
    const abort = new AbortController();
    const poll = setInterval(() => {
      void this.isOver(jobId).then((over) => {
        if (over) abort.abort();
      }, () => undefined);
    }, this.o.cancelPollMs ?? 500);
    return { abort, stop: () => clearInterval(poll) };
  }

  /** The render ended while the stitch worked (a cancel): settled by whoever ended it; the stitch stops. */
  private async stitchOver(jobId: string, boardKey: string): Promise<boolean> {
    if (!(await this.isOver(jobId))) return false;
    await this.o.core.collab.afterRender(boardKey).catch(() => undefined);
    return true;
  }

  /** The clips of the segments below this job in the flow (a chain's earlier shots, or all for the stitch). */
  private async childClips(job: Job): Promise<{ clips: SegmentResult['clips']; lastFrameRef?: string }> {
    const values = await job.getChildrenValues();
    const clips: SegmentResult['clips'] = [];
    let lastFrameRef: string | undefined;
    let lastIndex = -1;
    for (const v of Object.values(values)) {
      const r = SegmentResultSchema.safeParse(v);
      if (!r.success) continue;
      clips.push(...r.data.clips);
      const top = Math.max(...r.data.clips.map((c) => c.index));
      if (top > lastIndex) {
        lastIndex = top;
        lastFrameRef = r.data.lastFrameRef;
      }
    }
    clips.sort((a, b) => a.index - b.index);
    return lastFrameRef === undefined ? { clips } : { clips, lastFrameRef };
  }

  /** A failure: retried by BullMQ while attempts remain; after the last, the render fails once (refunded by the policy). */
  private async onError(job: Job, jobId: string, boardKey: string, err: unknown, log: Logger, retrying: () => Promise<void>): Promise<void> {
    const code = classifyFailure(err);
    const attempts = job.opts.attempts ?? 1;
    const final = code === 'bad_input' || code === 'moderation' || code === 'misconfigured' || code === 'cancelled' || job.attemptsMade + 1 >= attempts;
    log.warn({ code, attempt: job.attemptsMade + 1, final, err: err instanceof Error ? err.message : String(err) }, 'collab job error');
    if (!final) {
      await retrying().catch(() => undefined);
      return;
    }
    await this.o.core.collab.renderFailed(jobId, boardKey, { code, message: err instanceof Error ? err.message.slice(0, 500) : 'failed' }).catch((e: unknown) => log.error({ err: e }, 'could not fail the render'));
    throw new UnrecoverableError(err instanceof Error ? err.message : String(err));
  }

  private async stitch(job: Job): Promise<{ outcome: string; durationSec?: number } | { skipped: true }> {
    const parsed = StitchJobDataSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError('invalid stitch payload');
    const d = parsed.data;
    const log = this.o.logger.child({ jobId: d.jobId });
    const rec = await this.o.core.job(d.jobId);
    if (rec === undefined || FINAL_STATES.has(rec.state)) {
      await this.o.core.collab.afterRender(d.boardKey).catch(() => undefined);
      return { skipped: true };
    }
    const collab = this.o.core.collab;
    const dir = path.join(this.o.workDir, `${d.jobId}-stitch`);
    // A cancel while stitching stops ffmpeg at once.
    const { abort, stop } = this.watch(d.jobId);
    try {
      await mkdir(dir, { recursive: true });
      const { clips } = await this.childClips(job);
      if (clips.length !== d.count || clips.some((c, i) => c.index !== i)) throw new UnrecoverableError(`expected ${d.count} clips, found ${clips.length}`);
      await collab.reportStitch(d.jobId, d.boardKey, 'encoding');
      const files = await Promise.all(clips.map(async (c) => {
        const file = path.join(dir, `seg-${c.index}.mp4`);
        await writeFile(file, await this.o.store.get(c.ref));
        return { path: file, durationSec: c.frames / c.fps, subtitle: d.subtitles[c.index] ?? '' };
      }));
      const scale = this.o.renderScale ?? 1;
      const { width, height } = renderSizeAt(rec.spec, scale);
      const fps = clips[0]?.fps ?? rec.spec.fps;
      const font = await findCjkFontFile(this.o.fontFile);
      // One ffmpeg pass: cross-fades, subtitles and end card, then the AIGC labels, metadata and poster.
      const { plan, video: encoded } = await stitchLabelledVideo({
        clips: files, width, height, fps, transitionSeconds: d.transitionSeconds, fontFile: font, outputPath: path.join(dir, `${d.jobId}.mp4`), signal: abort.signal,
        ...(d.endCardSeconds > 0 ? { endCard: { title: d.creditsTitle, names: d.credits, seconds: d.endCardSeconds } } : {}),
      }, {
        aigc: { contentProducer: this.o.core.config.env.FRAMECAST_CONTENT_PRODUCER, produceId: d.jobId },
        preset: this.o.x264Preset ?? 'veryfast',
      });
      this.o.onStitched?.(d.jobId, plan);
      if (await this.stitchOver(d.jobId, d.boardKey)) return { skipped: true };
      let reviewRequired = rec.reviewRequired;
      const budget = rec.replyTarget?.maxUploadBytes ?? null;
      let video = encoded;
      let needsLink = false;
      if (budget !== null) {
        const fit = await fitToBudget(encoded, budget, { preset: this.o.x264Preset ?? 'veryfast' });
        video = fit.video;
        needsLink = !fit.fits;
      }
      if (await this.stitchOver(d.jobId, d.boardKey)) return { skipped: true };
      if (this.o.scanner !== undefined) {
        await collab.reportStitch(d.jobId, d.boardKey, 'scanning');
        const verdict = await this.o.scanner.scan(video.path);
        this.o.core.observeModeration('video', verdict.action);
        const reports = this.o.scanReports ?? 'review';
        if (reports === 'always' || (reports === 'review' && verdict.action !== 'allow')) {
          // A report that cannot be written costs the operator the scores, not the group its video.
          await writeScanReport(this.o.store, d.jobId, video.path, verdict).catch((err: unknown) => log.warn({ err }, 'could not write the scan report'));
        }
        if (verdict.action === 'review') reviewRequired = true;
        if (verdict.action === 'block') {
          await this.o.core.lifecycle.finish(d.jobId, { kind: 'blocked', code: 'output_blocked', message: tAll('outcome.output_blocked') }, { code: 'output_blocked', message: 'output scan' });
          await collab.afterRender(d.boardKey);
          return { outcome: 'blocked' };
        }
      }
      const videoRef = `videos/${d.jobId}.mp4`;
      const posterRef = `videos/${d.jobId}.jpg`;
      await this.o.store.put(videoRef, createReadStream(video.path), 'video/mp4');
      await this.o.store.put(posterRef, createReadStream(video.posterPath), 'image/jpeg');
      const vr: VideoResult = {
        videoRef, posterRef, bytes: video.bytes, width: video.width, height: video.height, frames: video.frames, fps: video.fps,
        durationSec: video.durationSec, sha256: video.sha256, needsLink, downgraded: false,
      };
      if (reviewRequired) {
        // Held for a moderator like any job's video: the shares stay held; the decision settles them and the sweep ends the board.
        const held = await this.o.core.lifecycle.hold(d.jobId, vr);
        log.info({ outcome: held.kind }, 'storyboard held for review');
        return { outcome: String(held.kind), durationSec: video.durationSec };
      }
      const done = await this.o.core.lifecycle.finish(d.jobId, { kind: 'video', result: vr });
      await collab.renderDone(d.jobId, d.boardKey);
      log.info({ outcome: done.kind }, 'storyboard rendered');
      return { outcome: String(done.kind), durationSec: video.durationSec };
    } catch (err) {
      if (abort.signal.aborted && (await this.stitchOver(d.jobId, d.boardKey).catch(() => false))) {
        log.info('stitch stopped: its render is over');
        return { skipped: true };
      }
      if (err instanceof UnrecoverableError) {
        await collab.renderFailed(d.jobId, d.boardKey, { code: 'failed', message: err.message }).catch(() => undefined);
        throw err;
      }
      await this.onError(job, d.jobId, d.boardKey, err, log, async () => undefined);
      throw err;
    } finally {
      stop();
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    }
  }
}
