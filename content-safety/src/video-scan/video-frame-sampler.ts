/**
 * Samples frames of a video with ffmpeg/ffprobe from the PATH, decoded as packed RGB at their own
 * aspect ratio: the first frame, N frames a second, and the last frame.
 *
 * Frames keep their native size up to `maxSide` (default 640 in scanVideo) on the longer side;
 * larger ones are shrunk by ffmpeg with the aspect ratio kept. That shrink is only a pre-shrink to
 * bound memory and resize work: the classifier then crops (content box, windows) and does the
 * nsfwjs bilinear resize of each crop to its 224×224 input itself, exactly as for an image. Frames
 * are NOT squashed to the model's square here (that would hide a letterboxed or small
 * picture-in-picture from the crops).
 *
 * ffmpeg is spawned directly (no shell, arguments as an array), one process that decodes the video
 * once: its filter graph splits the decoded frames into the regular samples (`fps` filter, capped
 * by -frames:v), read as raw rgb24 frames from stdout, and the frames of the last second (`select`
 * from the probed duration, with `showinfo` for their times), read from a third pipe, of which the
 * final one is kept. Frames are scaled to the decoded size by ffmpeg before they reach us. The
 * process is killed after a timeout.
 */
import { spawn } from 'node:child_process';
import { FramecastError } from '@framecast/core';

export type VideoScanErrorCode =
  | 'ffmpeg_missing'
  | 'probe_failed'
  | 'no_video_stream'
  | 'video_too_long'
  | 'video_too_large'
  | 'decode_failed'
  | 'timeout';

export class VideoScanError extends FramecastError {
  declare readonly code: VideoScanErrorCode;
  constructor(code: VideoScanErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options?.cause === undefined ? {} : { cause: options.cause });
    this.name = 'VideoScanError';
  }
}

export interface VideoProbe {
  durationSec: number;
  /** The container's start time; frame times are reported relative to it. */
  startSec: number;
  width: number;
  height: number;
  frameRate: number;
}

export interface SampledFrame {
  timeSec: number;
  /** Packed RGB, width × height × 3 bytes. */
  rgb: Uint8Array;
  width: number;
  height: number;
}

export interface SampleFramesOptions {
  /** Longest side of a decoded frame; larger videos are shrunk with the aspect ratio kept. */
  maxSide: number;
  framesPerSecond: number;
  /** Most frames in all, the first and last included; the rate is lowered to cover the whole video. */
  maxFrames: number;
  /** Per ffmpeg/ffprobe process. */
  timeoutMs: number;
  ffmpegPath?: string;
  ffprobePath?: string;
}

interface RunResult {
  stdout: Buffer;
  stderr: string;
}

/** Runs `cmd`; `onStdout` takes stdout (else it is collected), `onFd3` what the child writes to pipe:3. */
function run(cmd: string, args: string[], timeoutMs: number, onStdout?: (chunk: Buffer) => void, onFd3?: (chunk: Buffer) => void): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    // A fourth stdio entry makes the child untyped: stdout and stderr are pipes all the same.
    const child = spawn(cmd, args, { stdio: onFd3 ? ['ignore', 'pipe', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe'] });
    child.stdio[3]?.on('data', (chunk: Buffer) => onFd3?.(chunk));
    const out: Buffer[] = [];
    let err = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout?.on('data', (chunk: Buffer) => (onStdout ? onStdout(chunk) : out.push(chunk)));
    child.stderr?.on('data', (chunk: Buffer) => {
      // Keep the tail only: ffmpeg can be chatty.
      err = (err + chunk.toString('utf8')).slice(-16_384);
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        e.code === 'ENOENT'
          ? new VideoScanError('ffmpeg_missing', `${cmd} is not on the PATH`, { cause: e })
          : new VideoScanError('decode_failed', `${cmd} failed to start`, { cause: e }),
      );
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (timedOut) reject(new VideoScanError('timeout', `${cmd} took longer than ${timeoutMs} ms`));
      else if (code !== 0) reject(new VideoScanError(cmd.endsWith('ffprobe') ? 'probe_failed' : 'decode_failed', `${cmd} exited with ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`));
      else resolve({ stdout: Buffer.concat(out), stderr: err });
    });
  });
}

function parseRate(rate: string | undefined): number {
  if (rate === undefined) return 0;
  const [n, d] = rate.split('/').map(Number);
  if (n === undefined || !Number.isFinite(n)) return 0;
  return d === undefined ? n : d > 0 ? n / d : 0;
}

export async function probeVideo(file: string, opts: { timeoutMs: number; ffprobePath?: string }): Promise<VideoProbe> {
  const { stdout } = await run(
    opts.ffprobePath ?? 'ffprobe',
    ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height,avg_frame_rate,r_frame_rate,duration:format=duration,start_time', '-of', 'json', '--', file],
    opts.timeoutMs,
  );
  let json: { streams?: { width?: number; height?: number; avg_frame_rate?: string; r_frame_rate?: string; duration?: string }[]; format?: { duration?: string; start_time?: string } };
  try {
    json = JSON.parse(stdout.toString('utf8')) as typeof json;
  } catch (e) {
    throw new VideoScanError('probe_failed', 'ffprobe printed something that is not JSON', { cause: e });
  }
  const stream = json.streams?.[0];
  if (stream?.width === undefined || stream.height === undefined) throw new VideoScanError('no_video_stream', 'the file has no video stream');
  const durationSec = Number(stream.duration ?? json.format?.duration ?? NaN);
  const frameRate = parseRate(stream.avg_frame_rate) || parseRate(stream.r_frame_rate);
  if (!Number.isFinite(durationSec) || durationSec <= 0) throw new VideoScanError('probe_failed', 'the video has no duration');
  const start = Number(json.format?.start_time ?? 0);
  return { durationSec, startSec: Number.isFinite(start) ? start : 0, width: stream.width, height: stream.height, frameRate };
}

/** Splits a stream of bytes into frames of `frameBytes`. */
function frameCollector(frameBytes: number, onFrame: (frame: Uint8Array) => void): (chunk: Buffer) => void {
  let current = new Uint8Array(frameBytes);
  let filled = 0;
  return (chunk) => {
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(frameBytes - filled, chunk.length - offset);
      current.set(chunk.subarray(offset, offset + n), filled);
      filled += n;
      offset += n;
      if (filled === frameBytes) {
        onFrame(current);
        current = new Uint8Array(frameBytes);
        filled = 0;
      }
    }
  };
}

/** The decoded frame size: the probe's, shrunk to fit `maxSide` on its longer side (aspect kept). */
export function frameSize(probe: Pick<VideoProbe, 'width' | 'height'>, maxSide: number): { width: number; height: number } {
  const f = Math.min(1, maxSide / Math.max(probe.width, probe.height));
  return { width: Math.max(1, Math.round(probe.width * f)), height: Math.max(1, Math.round(probe.height * f)) };
}

export async function sampleFrames(file: string, probe: VideoProbe, opts: SampleFramesOptions): Promise<SampledFrame[]> {
  if (!(opts.maxSide >= 16)) throw new RangeError('maxSide must be ≥ 16');
  const { width, height } = frameSize(probe, opts.maxSide);
  const frameBytes = width * height * 3;
  const ffmpeg = opts.ffmpegPath ?? 'ffmpeg';
  // An explicit output size (the one computed above) so every frame on stdout has exactly frameBytes.
  const scale = `scale=${width}:${height}:flags=bilinear,format=rgb24`;
  // Leave one frame for the last frame; lower the rate so the samples still span the whole video.
  const regularBudget = Math.max(1, opts.maxFrames - 1);
  const fps = Math.min(opts.framesPerSecond, regularBudget / probe.durationSec);
  const frames: SampledFrame[] = [];
  const collect = frameCollector(frameBytes, (rgb) => {
    frames.push({ timeSec: frames.length / fps, rgb, width, height });
  });
  // The last frame: of the frames in the last second or so (timestamps start at 0: no -copyts),
  // the final one is kept, with its time from showinfo.
  const tail = Math.min(probe.durationSec, Math.max(1, probe.frameRate > 0 ? 3 / probe.frameRate : 1));
  const tailFrom = Math.max(0, probe.durationSec - tail);
  let last: Uint8Array | undefined;
  const keepLast = frameCollector(frameBytes, (rgb) => {
    last = rgb;
  });
  // The fps filter's first output is the first decoded frame (t = 0); then one every 1/fps.
  const graph = [
    `[0:v:0]split=2[a][b]`,
    `[a]fps=${fps.toFixed(6)},${scale}[regular]`,
    `[b]select='gte(t,${tailFrom.toFixed(3)})',${scale},showinfo[last]`,
  ].join(';');
  const { stderr } = await run(
    ffmpeg,
    [
      ...['-nostdin', '-v', 'info', '-i', file, '-filter_complex', graph],
      ...['-map', '[regular]', '-frames:v', String(regularBudget), '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'],
      ...['-map', '[last]', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:3'],
    ],
    opts.timeoutMs,
    collect,
    keepLast,
  );
  if (frames.length === 0) throw new VideoScanError('decode_failed', 'no frame could be decoded');
  const times = [...stderr.matchAll(/pts_time:\s*(-?[0-9.]+)/g)].map((m) => Number(m[1]));
  const lastTime = times.at(-1);
  if (last !== undefined && lastTime !== undefined && Number.isFinite(lastTime)) {
    const prev = frames.at(-1);
    // Skip it when the regular samples already ended on (nearly) the same frame.
    const minGap = probe.frameRate > 0 ? 0.5 / probe.frameRate : 0.01;
    if (prev === undefined || lastTime - prev.timeSec > minGap) frames.push({ timeSec: lastTime, rgb: last, width, height });
  }
  return frames;
}
