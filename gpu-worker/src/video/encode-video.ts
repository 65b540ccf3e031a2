import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import ffmpeg from 'fluent-ffmpeg';
import { AIGC_METADATA_KEY, aigcMetadataValue, buildAigcLabel, type AigcLabelInput } from './aigc-label.ts';
import { findCjkFontFile } from './cjk-font.ts';
import { escapeFilterOptionValue as esc } from './drawtext-escape.ts';
import { runFfmpeg } from './ffmpeg-run.ts';
import { probeVideo, type VideoProbe } from './ffprobe.ts';
import { h264LevelFor } from './h264-level.ts';
import { readMp4Summary, type Mp4Summary } from './mp4-summary.ts';
import { VideoError } from './video-error.ts';

export type EncodeInput =
  /** Raw RGB24 frames (width*height*3 bytes each), piped to ffmpeg's stdin. */
  | { kind: 'frames'; frames: Uint8Array[]; width: number; height: number; fps: number }
  /** A finished video (ComfyUI, the hosted API): decoded and re-encoded with labels. */
  | { kind: 'file'; path: string };

export type X264Preset = 'ultrafast' | 'superfast' | 'veryfast' | 'faster' | 'fast' | 'medium' | 'slow' | 'slower';

export interface EncodeOptions {
  /** Where the mp4 goes (written as a temp file next to it, then renamed). */
  outputPath: string;
  /** Where the poster JPEG goes; default: outputPath with `.jpg`. */
  posterPath?: string;
  /** The implicit AIGC label (GB 45438-2025): producer and job id. */
  aigc: AigcLabelInput;
  /** x264 constant rate factor, default 20. */
  crf?: number;
  /** x264 preset, default 'medium'. */
  preset?: X264Preset;
  /** How long the visible opening label stays, seconds; default and minimum 2 (GB 45438). */
  labelSeconds?: number;
  /** Opening label text, default "AI生成 / AI-generated". */
  labelText?: string;
  /** Corner mark drawn on every frame and on the poster, default "AI生成". */
  cornerText?: string;
  /** A font file for the labels; default: Noto Sans CJK found through fontconfig. */
  fontFile?: string;
  /**
   * Add a silent AAC track. Default false: Discord, Slack and WeChat (chat and mini program
   * `<video>`) all play video-only mp4; a silent track costs bytes and nothing else. Some Android
   * galleries show a "no audio" badge, which is harmless.
   */
  silentAudio?: boolean;
  /** Resample a file input to this frame rate (default: keep the source's). */
  fps?: number;
  signal?: AbortSignal;
}

export interface EncodedVideo {
  path: string;
  posterPath: string;
  bytes: number;
  width: number;
  height: number;
  frames: number;
  fps: number;
  durationSec: number;
  /** sha256 of the mp4 file, hex. */
  sha256: string;
  codec: string;
  profile: string | undefined;
  /** e.g. 41 for level 4.1, as ffprobe reports it. */
  level: number | undefined;
  hasAudio: boolean;
  /** Index of the frame the poster was taken from. */
  posterFrame: number;
}

export const DEFAULT_LABEL_TEXT = 'AI生成 / AI-generated';
export const DEFAULT_CORNER_TEXT = 'AI生成';
export const MIN_LABEL_SECONDS = 2;

/** Width of the default label in em, measured loosely (2 CJK glyphs ≈ 1 em, 18 Latin ≈ 0.55 em). */
function approxTextEm(text: string): number {
  let em = 0;
  for (const ch of text) em += /[\u2e80-\u9fff\uff00-\uffef]/.test(ch) ? 1 : 0.58;
  return em;
}

export interface LabelGeometry {
  labelFontSize: number;
  cornerFontSize: number;
  margin: number;
}

/** Font sizes relative to the frame: the label spans at most ~85 % of the width, ≤ 7.5 % of the height. */
export function labelGeometry(width: number, height: number, labelText = DEFAULT_LABEL_TEXT): LabelGeometry {
  const byWidth = (width * 0.85) / Math.max(1, approxTextEm(labelText));
  const labelFontSize = Math.max(10, Math.floor(Math.min(height * 0.075, byWidth)));
  const cornerFontSize = Math.max(9, Math.floor(Math.min(width, height) * 0.045));
  const margin = Math.max(4, Math.round(Math.min(width, height) * 0.03));
  return { labelFontSize, cornerFontSize, margin };
}

/** What the visible labels draw, and where (see labelChains). */
export interface LabelFilterParams {
  font: string;
  width: number;
  height: number;
  labelSeconds: number;
  labelText: string;
  cornerText: string;
}

/** drawtext for the small corner mark (top right, every frame). */
function cornerFilter(p: LabelFilterParams): string {
  const g = labelGeometry(p.width, p.height, p.labelText);
  const pad = Math.max(2, Math.round(g.cornerFontSize * 0.25));
  return [
    `drawtext=fontfile=${esc(p.font)}`,
    `text=${esc(p.cornerText)}`,
    'expansion=none',
    `fontsize=${g.cornerFontSize}`,
    'fontcolor=white@0.85',
    'box=1',
    'boxcolor=black@0.35',
    `boxborderw=${pad}`,
    `x=${esc(`w-text_w-${g.margin + pad}`)}`,
    `y=${g.margin + pad}`,
  ].join(':');
}

/** drawtext for the opening label (bottom centre, semi-transparent box, first `labelSeconds`). */
function openingLabelFilter(p: LabelFilterParams): string {
  const g = labelGeometry(p.width, p.height, p.labelText);
  const pad = Math.max(3, Math.round(g.labelFontSize * 0.35));
  return [
    `drawtext=fontfile=${esc(p.font)}`,
    `text=${esc(p.labelText)}`,
    'expansion=none',
    `fontsize=${g.labelFontSize}`,
    'fontcolor=white',
    'box=1',
    'boxcolor=black@0.6',
    `boxborderw=${pad}`,
    `x=${esc('(w-text_w)/2')}`,
    `y=${esc(`h-text_h-${g.margin + pad}`)}`,
    `enable=${esc(`lt(t,${p.labelSeconds})`)}`,
  ].join(':');
}

/**
 * The filter chains that draw the labels and take the poster: `head` (a chain ending in the frames
 * to label, e.g. `[0:v]setpts=…`) is split into `[v]` (corner mark + opening label, yuv420p: the
 * video) and `[p]` (frame `posterFrame` with the corner mark only: the poster).
 */
export function labelChains(head: string, p: LabelFilterParams, posterFrame: number): string[] {
  return [
    `${head},split=2[main][still]`,
    `[main]${cornerFilter(p)},${openingLabelFilter(p)},format=yuv420p[v]`,
    `[still]select=${esc(`gte(n,${posterFrame})`)},${cornerFilter(p)}[p]`,
  ];
}

/** Output options of the poster JPEG taken from `[p]`. */
export const POSTER_OUTPUT_OPTIONS: readonly string[] = ['-map', '[p]', '-frames:v', '1', '-q:v', '3', '-f', 'image2', '-c:v', 'mjpeg'];

/** The labels' settings with their defaults (labelSeconds at least MIN_LABEL_SECONDS). */
export function labelSettings(o: Pick<EncodeOptions, 'labelSeconds' | 'labelText' | 'cornerText'>): { labelSeconds: number; labelText: string; cornerText: string } {
  return {
    labelSeconds: Math.max(MIN_LABEL_SECONDS, o.labelSeconds ?? MIN_LABEL_SECONDS),
    labelText: o.labelText ?? DEFAULT_LABEL_TEXT,
    cornerText: o.cornerText ?? DEFAULT_CORNER_TEXT,
  };
}

/** Where the poster goes by default: the video's path with `.jpg`. */
export function defaultPosterPath(outputPath: string): string {
  return outputPath.replace(/\.[^./]*$/, '') + '.jpg';
}

/**
 * Runs `write(tmpVideo, tmpPoster)` and moves both temp files into place; on any failure removes
 * them and rethrows. A missing poster is 'encode_failed'.
 */
export async function writeVideoAndPoster(outputPath: string, posterPath: string, write: (tmpVideo: string, tmpPoster: string) => Promise<void>): Promise<void> {
  await mkdir(path.dirname(outputPath), { recursive: true });
  await mkdir(path.dirname(posterPath), { recursive: true });
  const tmpVideo = `${outputPath}.${process.pid}.part`;
  const tmpPoster = `${posterPath}.${process.pid}.part`;
  try {
    await write(tmpVideo, tmpPoster);
    await stat(tmpPoster).catch((err: unknown) => {
      throw new VideoError('encode_failed', 'ffmpeg wrote no poster frame', { cause: err });
    });
    await rename(tmpVideo, outputPath);
    await rename(tmpPoster, posterPath);
  } catch (err) {
    await Promise.all([rm(tmpVideo, { force: true }), rm(tmpPoster, { force: true })]);
    throw err;
  }
}

function checkFrames(input: Extract<EncodeInput, { kind: 'frames' }>): void {
  const { frames, width, height, fps } = input;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 2 || height < 2 || width > 8192 || height > 8192) {
    throw new VideoError('bad_input', `frame size ${width}x${height} is out of range (2..8192)`);
  }
  if (!(fps > 0 && fps <= 240)) throw new VideoError('bad_input', `fps ${fps} is out of range (0, 240]`);
  if (frames.length === 0) throw new VideoError('bad_input', 'no frames to encode');
  const expected = width * height * 3;
  const bad = frames.findIndex((f) => f.byteLength !== expected);
  if (bad >= 0) {
    throw new VideoError(
      'bad_input',
      `frame ${bad} has ${frames[bad]!.byteLength} bytes, expected ${expected} (${width}x${height} RGB24)`,
    );
  }
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * What a file we wrote holds: read from its mp4 header in this process, or (a layout that reader does
 * not follow, or not H.264/yuv420p) by ffprobe.
 */
async function inspectEncoded(file: string): Promise<Mp4Summary | VideoProbe> {
  const summary = await readMp4Summary(file).catch(() => undefined);
  if (summary !== undefined && summary.codec === 'h264' && summary.pixFmt === 'yuv420p') return summary;
  try {
    return await probeVideo(file);
  } catch (err) {
    throw new VideoError('probe_failed', 'ffprobe cannot read the video just encoded', { cause: err });
  }
}

/** Reads a file we wrote (its mp4 header, ffprobe as the fallback) and checks it is what every platform plays. */
export async function describeEncoded(file: string, posterPath: string, posterFrame: number): Promise<EncodedVideo> {
  const [probe, { size }, sha256] = await Promise.all([inspectEncoded(file), stat(file), sha256File(file)]);
  if (probe.codec !== 'h264' || probe.pixFmt !== 'yuv420p') {
    throw new VideoError('probe_failed', `encoded video is ${probe.codec}/${probe.pixFmt}, expected h264/yuv420p`);
  }
  return {
    path: file,
    posterPath,
    bytes: size,
    width: probe.width,
    height: probe.height,
    frames: probe.frames,
    fps: probe.fps,
    durationSec: probe.durationSec,
    sha256,
    codec: probe.codec,
    profile: probe.profile,
    level: probe.level,
    hasAudio: probe.hasAudio,
    posterFrame,
  };
}

/** Common H.264/mp4 output options: High profile, yuv420p, avc1 tag, faststart, AIGC metadata. */
export function h264OutputOptions(p: {
  width: number;
  height: number;
  fps: number;
  preset: X264Preset;
  aigcJson: string;
  rate: { crf: number } | { kbps: number };
}): string[] {
  const rate =
    'crf' in p.rate
      ? ['-crf', String(p.rate.crf)]
      : ['-b:v', `${p.rate.kbps}k`, '-maxrate', `${Math.round(p.rate.kbps * 1.25)}k`, '-bufsize', `${p.rate.kbps * 2}k`];
  return [
    '-c:v', 'libx264',
    '-preset', p.preset,
    ...rate,
    '-profile:v', 'high',
    '-level:v', h264LevelFor(p.width, p.height, p.fps),
    '-pix_fmt', 'yuv420p',
    '-tag:v', 'avc1',
    '-g', String(Math.max(1, Math.round(p.fps * 2))),
    '-map_metadata', '-1',
    '-map_chapters', '-1',
    '-metadata', `${AIGC_METADATA_KEY}=${p.aigcJson}`,
    '-movflags', '+faststart+use_metadata_tags',
    '-f', 'mp4',
  ];
}

/**
 * Encodes frames or re-encodes a file to H.264 High (level ≥ 4.1 chosen from size and rate) yuv420p
 * mp4 with faststart, even dimensions (odd ones are cropped by one pixel), the visible AIGC label on
 * the first `labelSeconds` (default 2 s; the whole video if shorter), a small "AI生成" corner mark on
 * every frame, the implicit AIGC metadata, and a poster JPEG of the middle frame with the corner mark
 * (never the big label). Source metadata of file inputs is dropped (ComfyUI embeds the prompt there).
 */
export async function encodeVideo(input: EncodeInput, options: EncodeOptions): Promise<EncodedVideo> {
  const font = await findCjkFontFile(options.fontFile);
  const { labelSeconds, labelText, cornerText } = labelSettings(options);
  const preset = options.preset ?? 'medium';
  const crf = options.crf ?? 20;
  const outputPath = path.resolve(options.outputPath);
  const posterPath = path.resolve(options.posterPath ?? defaultPosterPath(outputPath));
  const aigcJson = aigcMetadataValue(buildAigcLabel(options.aigc));

  let srcWidth: number;
  let srcHeight: number;
  let srcFps: number;
  let srcFrames: number;
  const command = ffmpeg({ stdoutLines: 40 });
  if (input.kind === 'frames') {
    checkFrames(input);
    ({ width: srcWidth, height: srcHeight, fps: srcFps } = input);
    srcFrames = input.frames.length;
    const frames = input.frames;
    command
      .input(Readable.from((function* () {
        for (const f of frames) yield Buffer.from(f.buffer, f.byteOffset, f.byteLength);
      })()))
      .inputOptions('-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${srcWidth}x${srcHeight}`, '-framerate', String(srcFps));
  } else {
    const probe = await probeVideo(input.path); // bad_input for a corrupt or empty file
    if (probe.indexedFrames !== undefined && probe.frames < Math.floor(probe.indexedFrames * 0.9)) {
      throw new VideoError(
        'bad_input',
        `the input video is truncated or corrupt: ${probe.frames} of ${probe.indexedFrames} frames are readable`,
      );
    }
    srcWidth = probe.width;
    srcHeight = probe.height;
    srcFps = options.fps ?? probe.fps;
    srcFrames = options.fps === undefined ? probe.frames : Math.max(1, Math.round(probe.durationSec * options.fps));
    command.input(input.path);
  }
  const width = srcWidth - (srcWidth % 2);
  const height = srcHeight - (srcHeight % 2);
  if (width < 2 || height < 2) throw new VideoError('bad_input', `video size ${srcWidth}x${srcHeight} is too small`);
  const posterFrame = Math.floor(srcFrames / 2);
  const labels: LabelFilterParams = { font, width, height, labelSeconds, labelText, cornerText };

  const head = [
    'setpts=PTS-STARTPTS',
    ...(input.kind === 'file' && options.fps !== undefined ? [`fps=${options.fps}`] : []),
    `crop=${width}:${height}:0:0`,
    'setsar=1',
  ].join(',');
  command.complexFilter(labelChains(`[0:v]${head}`, labels, posterFrame).join(';'));

  if (options.silentAudio === true) {
    command.input('anullsrc=channel_layout=stereo:sample_rate=48000').inputOptions('-f', 'lavfi');
  }
  await writeVideoAndPoster(outputPath, posterPath, async (tmpVideo, tmpPoster) => {
    command
      .output(tmpVideo)
      .outputOptions(
        '-map', '[v]',
        ...(options.silentAudio === true ? ['-map', '1:a', '-c:a', 'aac', '-b:a', '32k', '-shortest'] : ['-an']),
        ...h264OutputOptions({ width, height, fps: srcFps, preset, aigcJson, rate: { crf } }),
      )
      .output(tmpPoster)
      .outputOptions(...POSTER_OUTPUT_OPTIONS);
    await runFfmpeg(command, { inputIsForeign: input.kind === 'file', ...(options.signal ? { signal: options.signal } : {}) });
    if (input.kind === 'file') {
      // ffmpeg skips undecodable packets and exits 0: a truncated file's index promises frames it lacks.
      const got = await inspectEncoded(tmpVideo).catch(() => undefined);
      if (!got || got.frames < Math.floor(srcFrames * 0.9)) {
        throw new VideoError(
          'bad_input',
          `the input video is truncated or corrupt: decoded ${got?.frames ?? 0} of ${srcFrames} frames`,
        );
      }
    }
  });
  return describeEncoded(outputPath, posterPath, posterFrame);
}
