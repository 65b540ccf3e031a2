import { rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import ffmpeg from 'fluent-ffmpeg';
import { aigcMetadataValue, readAigcMetadata } from './aigc-label.ts';
import { describeEncoded, h264OutputOptions, type EncodedVideo, type X264Preset } from './encode-video.ts';
import { runFfmpeg } from './ffmpeg-run.ts';
import { VideoError } from './video-error.ts';

export interface BudgetAttempt {
  width: number;
  height: number;
  videoKbps: number;
  bytes: number;
}

export type BudgetFit =
  /** Already small enough: the video is untouched. */
  | { fits: true; reencoded: false; video: EncodedVideo; attempts: [] }
  /** Re-encoded to fit; `video` is the new file, the original is left in place. */
  | { fits: true; reencoded: true; video: EncodedVideo; attempts: BudgetAttempt[] }
  /** Could not be made small enough at a watchable quality: deliver `video` (the original) by link. */
  | { fits: false; needsLink: true; video: EncodedVideo; attempts: BudgetAttempt[] };

export interface FitOptions {
  /** Where a re-encoded file goes; default `<name>.fit.mp4` next to the original. */
  outputPath?: string;
  preset?: X264Preset;
  /** Fraction of the budget to aim at (container overhead, ABR overshoot); default 0.9. */
  targetFraction?: number;
  /** Below this video bitrate the result is not worth sending; default 48 kbps. */
  minVideoKbps?: number;
  /** Smallest side after scaling down; default 144 px. */
  minSide?: number;
  signal?: AbortSignal;
}

/** Scale steps after two tries at full size. */
const SCALE_STEPS = [0.75, 0.5];

function even(n: number): number {
  return Math.max(2, 2 * Math.round(n / 2));
}

/**
 * Makes `video` fit `budgetBytes`: if it is larger, re-encode with an average bitrate computed from
 * its duration; if that misses, a second try corrected by how far the first one was off; then the
 * same at 75 % and 50 % size. Labels are already burnt in; the AIGC metadata is carried over; the
 * poster is kept. If nothing fits (or the bitrate would be below `minVideoKbps`), the answer is
 * `{ fits: false, needsLink: true }` and the caller delivers a link to the original.
 */
export async function fitToBudget(video: EncodedVideo, budgetBytes: number, options: FitOptions = {}): Promise<BudgetFit> {
  if (!(budgetBytes > 0)) throw new VideoError('bad_input', `budget must be a positive byte count, got ${budgetBytes}`);
  if (video.bytes <= budgetBytes) return { fits: true, reencoded: false, video, attempts: [] };

  const target = budgetBytes * (options.targetFraction ?? 0.9);
  const minKbps = options.minVideoKbps ?? 48;
  const minSide = options.minSide ?? 144;
  const preset = options.preset ?? 'medium';
  const duration = Math.max(video.durationSec, 1 / video.fps);
  const audioKbps = video.hasAudio ? 32 : 0;
  const outputPath = path.resolve(options.outputPath ?? video.path.replace(/\.mp4$/i, '') + '.fit.mp4');
  const tmp = `${outputPath}.${process.pid}.part`;
  const label = await readAigcMetadata(video.path);
  if (!label) throw new VideoError('bad_metadata', 'refusing to re-encode a video without its AIGC metadata');
  const aigcJson = aigcMetadataValue(label);

  const attempts: BudgetAttempt[] = [];
  const plan: { scale: number; kbps: () => number }[] = [];
  let kbps = Math.floor((target * 8) / duration / 1000) - audioKbps;
  plan.push({ scale: 1, kbps: () => kbps });
  // Second try: correct the bitrate by how far the first landed from the target.
  plan.push({
    scale: 1,
    kbps: () => {
      const last = attempts[attempts.length - 1];
      if (last) kbps = Math.floor(last.videoKbps * Math.min(0.95, target / last.bytes));
      return kbps;
    },
  });
  for (const s of SCALE_STEPS) plan.push({ scale: s, kbps: () => kbps });

  try {
    for (const step of plan) {
      const width = even(video.width * step.scale);
      const height = even(video.height * step.scale);
      if (Math.min(width, height) < minSide && step.scale < 1) break;
      const videoKbps = step.kbps();
      if (videoKbps < minKbps) break; // not worth sending: deliver a link instead
      const command = ffmpeg({ stdoutLines: 40 }).input(video.path);
      const filters = [`scale=${width}:${height}:flags=lanczos`, 'setsar=1', 'format=yuv420p'];
      command
        .output(tmp)
        .outputOptions(
          '-map', '0:v:0',
          ...(video.hasAudio ? ['-map', '0:a:0?', '-c:a', 'aac', '-b:a', `${audioKbps}k`] : ['-an']),
          '-vf', filters.join(','),
          ...h264OutputOptions({ width, height, fps: video.fps, preset, aigcJson, rate: { kbps: videoKbps } }),
        );
      await runFfmpeg(command, options.signal ? { signal: options.signal } : {});
      const { size } = await stat(tmp);
      attempts.push({ width, height, videoKbps, bytes: size });
      if (size <= budgetBytes) {
        await rename(tmp, outputPath);
        const fitted = await describeEncoded(outputPath, video.posterPath, video.posterFrame);
        return { fits: true, reencoded: true, video: fitted, attempts };
      }
    }
  } finally {
    await rm(tmp, { force: true });
  }
  return { fits: false, needsLink: true, video, attempts };
}
