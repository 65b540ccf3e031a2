/**
 * The output scan's report beside a held video, for the operator who reviews it: the verdict, the
 * thresholds, up to SCAN_REPORT_MAX_FRAMES scored frames (the deciding ones first, the rest spread
 * over the video) and a small JPEG of each (`scans/<jobId>/frame-<i>.jpg`, ≤ 320 px wide), then
 * `scans/<jobId>/report.json` last, so a report never points at a missing thumbnail.
 */
import { spawn } from 'node:child_process';
import sharp from 'sharp';
import {
  SCAN_REPORT_MAX_FRAMES, SCAN_THUMBNAIL_WIDTH, ScanReportSchema, scanFrameKey, scanReportKey, type BlobStore, type ScanReport,
} from '@framecast/core';
import type { OutputScanFrame, OutputScanVerdict } from './output-scanner.ts';

export interface ScanReportOptions {
  /** Most frames listed (and thumbnailed). Default and at most SCAN_REPORT_MAX_FRAMES. */
  maxFrames?: number;
  /** Per ffmpeg process. Default 30 s. */
  timeoutMs?: number;
  now?: () => number;
}

/** Which scored frames a report lists: the deciding ones first, then evenly spread, in time order. */
export function pickReportFrames(frames: readonly OutputScanFrame[], decidingFrames: readonly number[], max: number): OutputScanFrame[] {
  if (frames.length <= max) return [...frames];
  const chosen = new Set<number>();
  for (const t of decidingFrames) {
    const i = frames.findIndex((f) => Math.abs(f.timeSec - t) < 1e-6);
    if (i >= 0 && chosen.size < max) chosen.add(i);
  }
  const free = max - chosen.size;
  for (let k = 0; k < free && chosen.size < max; k++) {
    const i = Math.round((k * (frames.length - 1)) / Math.max(1, free - 1));
    chosen.add(i);
  }
  // Rounding may have hit chosen indices: fill from the start.
  for (let i = 0; chosen.size < max && i < frames.length; i++) chosen.add(i);
  return [...chosen].sort((a, b) => a - b).map((i) => frames[i] as OutputScanFrame);
}

/** Writes the thumbnails and the report; returns the report written. */
export async function writeScanReport(store: Pick<BlobStore, 'put'>, jobId: string, videoPath: string, verdict: OutputScanVerdict, o: ScanReportOptions = {}): Promise<ScanReport> {
  const max = Math.min(SCAN_REPORT_MAX_FRAMES, Math.max(1, o.maxFrames ?? SCAN_REPORT_MAX_FRAMES));
  const picked = pickReportFrames(verdict.frames ?? [], verdict.decidingFrames, max);
  const frames: ScanReport['frames'] = [];
  for (const [index, f] of picked.entries()) {
    const key = scanFrameKey(jobId, index);
    const jpeg = await frameThumbnail(videoPath, f.timeSec, o.timeoutMs ?? 30_000).catch(() => undefined);
    if (jpeg !== undefined) await store.put(key, jpeg, 'image/jpeg');
    frames.push({ index, timeSec: f.timeSec, scores: clampScores(f.scores), action: f.action, ...(jpeg === undefined ? {} : { key }) });
  }
  const report = ScanReportSchema.parse({
    version: 1, jobId, verdict: verdict.action, ...(verdict.category === undefined ? {} : { category: verdict.category }),
    decidingFrames: verdict.decidingFrames.slice(0, 1000),
    ...(verdict.thresholds === undefined ? {} : { thresholds: verdict.thresholds }),
    scannedFrames: verdict.frames?.length ?? 0, frames, createdAt: (o.now ?? Date.now)(),
  } satisfies ScanReport);
  await store.put(scanReportKey(jobId), Buffer.from(JSON.stringify(report)), 'application/json');
  return report;
}

function clampScores(scores: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(scores).slice(0, 16)) out[k.slice(0, 40)] = Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0;
  return out;
}

/** One frame at `timeSec` as a JPEG at most SCAN_THUMBNAIL_WIDTH wide (ffmpeg decodes, sharp encodes). */
export async function frameThumbnail(videoPath: string, timeSec: number, timeoutMs: number): Promise<Buffer> {
  let png = await ffmpegFrame(['-ss', timeSec.toFixed(3), '-i', videoPath], timeoutMs);
  // Past the last frame's start (rounding): take a frame of the video's last half second instead.
  if (png.length === 0) png = await ffmpegFrame(['-sseof', '-0.5', '-i', videoPath], timeoutMs);
  if (png.length === 0) throw new Error(`no frame at ${timeSec} s`);
  return sharp(png).resize({ width: SCAN_THUMBNAIL_WIDTH, withoutEnlargement: true }).jpeg({ quality: 75 }).toBuffer();
}

function ffmpegFrame(input: string[], timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const args = ['-nostdin', '-v', 'error', ...input, '-frames:v', '1', '-an', '-f', 'image2pipe', '-c:v', 'png', 'pipe:1'];
    const child = spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'ignore'] });
    const chunks: Buffer[] = [];
    let bytes = 0;
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (c: Buffer) => {
      bytes += c.length;
      // A frame of a ≤ 4096² video as PNG stays well under this.
      if (bytes > 64 * 1024 * 1024) child.kill('SIGKILL');
      else chunks.push(c);
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(Buffer.concat(chunks));
      else reject(new Error(`ffmpeg exited with ${code ?? 'a signal'}`));
    });
  });
}
