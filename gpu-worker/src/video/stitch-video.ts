import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { aigcMetadataValue, buildAigcLabel, type AigcLabelInput } from './aigc-label.ts';
import {
  defaultPosterPath, describeEncoded, h264OutputOptions, labelChains, labelGeometry, labelSettings, POSTER_OUTPUT_OPTIONS, writeVideoAndPoster,
  type EncodedVideo, type EncodeOptions, type X264Preset,
} from './encode-video.ts';
import { escapeFilterOptionValue as esc } from './drawtext-escape.ts';
import { VideoError, tailLines } from './video-error.ts';

/** One shot's clip, in order. */
export interface StitchClip {
  path: string;
  /** frames / fps of the clip as written. */
  durationSec: number;
  /** Shown along the bottom while the shot plays (empty: none). */
  subtitle?: string;
}

export interface StitchOptions {
  clips: readonly StitchClip[];
  width: number;
  height: number;
  fps: number;
  /** Cross-fade between shots (ffmpeg xfade), seconds; clamped to half the shortest clip. 0: a cut. */
  transitionSeconds: number;
  /** The end card crediting contributors (omitted: none). */
  endCard?: { title: string; names: readonly string[]; seconds: number };
  /** A CJK-capable font for subtitles and the end card (see findCjkFontFile). */
  fontFile: string;
  outputPath: string;
  signal?: AbortSignal;
}

export interface StitchPlan {
  /** The -filter_complex graph (kept so callers and tests can see what was drawn). */
  filterGraph: string;
  /** Lines the end card draws. */
  endCardLines: string[];
  /** Seconds the result lasts: the clips, less one overlap per transition, plus the end card. */
  durationSec: number;
  transitionSeconds: number;
  /** Where each xfade starts, seconds. */
  offsets: number[];
}

const SUBTITLE_MAX_CHARS = 60;
const NAMES_PER_LINE = 3;

function ellipsis(text: string, max: number): string {
  const chars = Array.from(text.replace(/\s+/g, ' ').trim());
  return chars.length <= max ? chars.join('') : `${chars.slice(0, max - 1).join('')}…`;
}

function drawtext(font: string, text: string, size: number, y: string, extra: string[] = []): string {
  return [
    `drawtext=fontfile=${esc(font)}`, `text=${esc(text)}`, 'expansion=none', `fontsize=${size}`, 'fontcolor=white', 'x=(w-text_w)/2', `y=${y}`, ...extra,
  ].join(':');
}

/** The filter graph that joins the clips (a pure function: what `stitchVideo` runs). */
export function planStitch(o: Omit<StitchOptions, 'outputPath' | 'signal'>): StitchPlan {
  if (o.clips.length === 0) throw new VideoError('bad_input', 'nothing to stitch');
  const shortest = Math.min(...o.clips.map((c) => c.durationSec));
  const T = o.clips.length > 1 ? Math.max(0, Math.min(o.transitionSeconds, shortest / 2)) : 0;
  const g = labelGeometry(o.width, o.height);
  const subSize = Math.max(10, Math.round(Math.min(o.width, o.height) * 0.06));
  const chains: string[] = [];
  o.clips.forEach((c, i) => {
    const sub = c.subtitle === undefined || c.subtitle.trim() === '' ? '' : `,${drawtext(o.fontFile, ellipsis(c.subtitle, SUBTITLE_MAX_CHARS), subSize, `h-text_h-${g.margin * 2}`, ['box=1', 'boxcolor=black@0.45', `boxborderw=${Math.max(2, Math.round(subSize * 0.3))}`])}`;
    chains.push(`[${i}:v]fps=${o.fps},scale=${o.width}:${o.height},setsar=1,format=yuv420p,settb=AVTB${sub}[v${i}]`);
  });
  const offsets: number[] = [];
  let last = 'v0';
  let total = o.clips[0]?.durationSec ?? 0;
  for (let i = 1; i < o.clips.length; i++) {
    const d = o.clips[i]?.durationSec ?? 0;
    const out = `x${i}`;
    if (T > 0) {
      const offset = Math.max(0, total - T);
      offsets.push(offset);
      chains.push(`[${last}][v${i}]xfade=transition=fade:duration=${T.toFixed(4)}:offset=${offset.toFixed(4)}[${out}]`);
      total = offset + d;
    } else {
      chains.push(`[${last}][v${i}]concat=n=2:v=1:a=0[${out}]`);
      total += d;
    }
    last = out;
  }
  const endCardLines: string[] = [];
  if (o.endCard !== undefined && o.endCard.seconds > 0) {
    const e = o.endCard;
    endCardLines.push(e.title);
    for (let i = 0; i < e.names.length; i += NAMES_PER_LINE) endCardLines.push(e.names.slice(i, i + NAMES_PER_LINE).join(' · '));
    const size = Math.max(10, Math.round(Math.min(o.width, o.height) * 0.07));
    const lineH = Math.round(size * 1.5);
    const top = `(h-${lineH * endCardLines.length})/2`;
    const texts = endCardLines.map((line, i) => drawtext(o.fontFile, ellipsis(line, 80), i === 0 ? Math.round(size * 1.15) : size, `${top}+${i * lineH}`));
    const idx = o.clips.length;
    chains.push(`[${idx}:v]fps=${o.fps},format=yuv420p,setsar=1,settb=AVTB,${texts.join(',')}[card]`);
    chains.push(`[${last}][card]concat=n=2:v=1:a=0[out]`);
    total += e.seconds;
  } else {
    chains.push(`[${last}]null[out]`);
  }
  return { filterGraph: chains.join(';'), endCardLines, durationSec: total, transitionSeconds: T, offsets };
}

/**
 * Joins shot clips into one video: cross-fades (xfade), per-shot subtitles, and an end card
 * crediting the contributors, written as H.264 (the AIGC labels are the encoder's next step; see
 * stitchLabelledVideo for both in one pass).
 */
export async function stitchVideo(o: StitchOptions): Promise<StitchPlan> {
  const plan = planStitch(o);
  await mkdir(path.dirname(o.outputPath), { recursive: true });
  const args = ['-hide_banner', '-y', '-v', 'error', ...stitchInputArgs(o)];
  args.push('-filter_complex', plan.filterGraph, '-map', '[out]', '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '16', '-pix_fmt', 'yuv420p', '-r', String(o.fps), '-an', o.outputPath);
  await runFfmpegArgs(args, o.signal);
  return plan;
}

/** The AIGC labels a stitch draws in its own pass (what encodeVideo would add in a second one). */
export interface StitchLabels extends Pick<EncodeOptions, 'labelSeconds' | 'labelText' | 'cornerText'> {
  /** The implicit AIGC label (metadata): producer and job id. */
  aigc: AigcLabelInput;
  /** Where the poster JPEG goes; default: outputPath with `.jpg`. */
  posterPath?: string;
  /** x264 preset, default 'veryfast'. */
  preset?: X264Preset;
  /** x264 constant rate factor, default 20 (encodeVideo's). */
  crf?: number;
}

/**
 * Stitches and labels in one ffmpeg pass: the stitch's graph, then the visible AIGC labels (corner
 * mark, opening label) drawn on the joined video, the AIGC metadata, the poster of the middle frame —
 * the same file contract as `stitchVideo` followed by `encodeVideo` (H.264 High yuv420p mp4 with
 * faststart), with one decode and one encode instead of two of each.
 */
export async function stitchLabelledVideo(o: StitchOptions, labels: StitchLabels): Promise<{ plan: StitchPlan; video: EncodedVideo }> {
  const plan = planStitch(o);
  const width = o.width - (o.width % 2);
  const height = o.height - (o.height % 2);
  if (width < 2 || height < 2) throw new VideoError('bad_input', `video size ${o.width}x${o.height} is too small`);
  const outputPath = path.resolve(o.outputPath);
  const posterPath = path.resolve(labels.posterPath ?? defaultPosterPath(outputPath));
  const frames = Math.max(1, Math.round(plan.durationSec * o.fps));
  const posterFrame = Math.floor(frames / 2);
  const head = ['[out]setpts=PTS-STARTPTS', ...(width !== o.width || height !== o.height ? [`crop=${width}:${height}:0:0`] : []), 'setsar=1'].join(',');
  const graph = [plan.filterGraph, ...labelChains(head, { font: o.fontFile, width, height, ...labelSettings(labels) }, posterFrame)].join(';');
  const aigcJson = aigcMetadataValue(buildAigcLabel(labels.aigc));
  await writeVideoAndPoster(outputPath, posterPath, async (tmpVideo, tmpPoster) => {
    const args = ['-hide_banner', '-y', '-v', 'error', ...stitchInputArgs(o), '-filter_complex', graph,
      '-map', '[v]', '-an', '-r', String(o.fps),
      ...h264OutputOptions({ width, height, fps: o.fps, preset: labels.preset ?? 'veryfast', aigcJson, rate: { crf: labels.crf ?? 20 } }), tmpVideo,
      ...POSTER_OUTPUT_OPTIONS, tmpPoster];
    await runFfmpegArgs(args, o.signal);
  });
  return { plan, video: await describeEncoded(outputPath, posterPath, posterFrame) };
}

function stitchInputArgs(o: StitchOptions): string[] {
  const args: string[] = [];
  for (const c of o.clips) args.push('-i', c.path);
  if (o.endCard !== undefined && o.endCard.seconds > 0) {
    args.push('-f', 'lavfi', '-i', `color=c=0x101018:s=${o.width}x${o.height}:r=${o.fps}:d=${o.endCard.seconds}`);
  }
  return args;
}

/** Runs ffmpeg with arguments; a VideoError with the log's tail when it fails. */
export function runFfmpegArgs(args: readonly string[], signal?: AbortSignal, stdin?: (w: NodeJS.WritableStream) => Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(new VideoError('cancelled', 'cancelled'));
      return;
    }
    const p = spawn('ffmpeg', args, { stdio: [stdin === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'] });
    let log = '';
    p.stderr?.on('data', (b: Buffer) => {
      log = (log + b.toString('utf8')).slice(-8000);
    });
    const onAbort = () => p.kill('SIGKILL');
    signal?.addEventListener('abort', onAbort, { once: true });
    p.on('error', (err) => {
      signal?.removeEventListener('abort', onAbort);
      reject(new VideoError(/ENOENT/.test(err.message) ? 'ffmpeg_missing' : 'encode_failed', `ffmpeg: ${err.message}`, { cause: err }));
    });
    p.on('close', (code) => {
      signal?.removeEventListener('abort', onAbort);
      if (signal?.aborted === true) reject(new VideoError('cancelled', 'cancelled'));
      else if (code === 0) resolve();
      // The log may quote drawtext's text (people's shots): kept on the error, not in its message.
      else reject(new VideoError('encode_failed', `ffmpeg exited with ${String(code)}`, { ffmpegLog: tailLines(log, 8) }));
    });
    if (stdin !== undefined && p.stdin !== null) {
      p.stdin.on('error', () => undefined);
      stdin(p.stdin).then(() => p.stdin?.end(), (err: unknown) => {
        p.kill('SIGKILL');
        reject(err instanceof Error ? err : new Error(String(err)));
      });
    }
  });
}

/** Writes raw RGB24 frames as a near-lossless H.264 clip (an intermediate: no labels). */
export async function writeClip(frames: readonly Uint8Array[], width: number, height: number, fps: number, outputPath: string, signal?: AbortSignal): Promise<void> {
  await mkdir(path.dirname(outputPath), { recursive: true });
  const args = ['-hide_banner', '-y', '-v', 'error', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-r', String(fps), '-i', 'pipe:0',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '10', '-pix_fmt', 'yuv420p', '-an', outputPath];
  await runFfmpegArgs(args, signal, async (w) => {
    for (const f of frames) {
      if (!w.write(Buffer.from(f.buffer, f.byteOffset, f.byteLength))) await new Promise((r) => w.once('drain', r));
    }
  });
}

/** Re-encodes a finished clip (a remote runtime's file) to the size and rate, and takes its last frame as PNG. */
export async function normaliseClip(input: string, width: number, height: number, fps: number, outputPath: string, lastFramePath: string, signal?: AbortSignal): Promise<void> {
  await runFfmpegArgs(['-hide_banner', '-y', '-v', 'error', '-i', input, '-vf', `fps=${fps},scale=${width}:${height},setsar=1`, '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '10', '-pix_fmt', 'yuv420p', '-an', outputPath], signal);
  await runFfmpegArgs(['-hide_banner', '-y', '-v', 'error', '-sseof', '-0.2', '-i', outputPath, '-update', '1', '-frames:v', '1', lastFramePath], signal);
}
