import { spawn } from 'node:child_process';
import { z } from 'zod';
import { VideoError, tailLines } from './video-error.ts';

const StreamSchema = z.looseObject({
  index: z.number(),
  codec_type: z.string().optional(),
  codec_name: z.string().optional(),
  codec_tag_string: z.string().optional(),
  profile: z.string().optional(),
  level: z.number().optional(),
  pix_fmt: z.string().optional(),
  width: z.number().optional(),
  height: z.number().optional(),
  avg_frame_rate: z.string().optional(),
  r_frame_rate: z.string().optional(),
  nb_frames: z.string().optional(),
  nb_read_packets: z.string().optional(),
  duration: z.string().optional(),
});

const ProbeSchema = z.looseObject({
  streams: z.array(StreamSchema).default([]),
  format: z
    .looseObject({
      format_name: z.string().optional(),
      duration: z.string().optional(),
      size: z.string().optional(),
      bit_rate: z.string().optional(),
      tags: z.record(z.string(), z.string()).optional(),
    })
    .optional(),
});

export type FfprobeOutput = z.infer<typeof ProbeSchema>;

/** Runs ffprobe with JSON output; rejects with VideoError 'bad_input' when it cannot read the file. */
export function ffprobeJson(file: string, extraArgs: string[] = []): Promise<FfprobeOutput> {
  return new Promise((resolve, reject) => {
    const args = ['-v', 'error', '-print_format', 'json', ...extraArgs, file];
    const child = spawn('ffprobe', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e: NodeJS.ErrnoException) => {
      reject(
        e.code === 'ENOENT'
          ? new VideoError('ffmpeg_missing', 'ffprobe not found on the PATH; apt-get install ffmpeg', { cause: e })
          : new VideoError('probe_failed', `ffprobe could not start: ${e.message}`, { cause: e }),
      );
    });
    child.on('close', (code) => {
      const stderr = Buffer.concat(err).toString('utf8');
      if (code !== 0) {
        reject(
          new VideoError('bad_input', `ffprobe cannot read the video (${tailLines(stderr, 2) || `exit ${code}`})`, {
            ffmpegLog: tailLines(stderr),
          }),
        );
        return;
      }
      try {
        resolve(ProbeSchema.parse(JSON.parse(Buffer.concat(out).toString('utf8'))));
      } catch (e) {
        reject(new VideoError('probe_failed', 'ffprobe printed output that is not the expected JSON', { cause: e }));
      }
    });
  });
}

/** "16/1" → 16, "30000/1001" → 29.97…; undefined for "0/0". */
export function parseRate(rate: string | undefined): number | undefined {
  if (!rate) return undefined;
  const [n, d] = rate.split('/').map(Number);
  if (n === undefined || !Number.isFinite(n) || n <= 0) return undefined;
  const den = d === undefined ? 1 : d;
  if (!Number.isFinite(den) || den <= 0) return undefined;
  return n / den;
}

export interface VideoProbe {
  codec: string;
  codecTag: string | undefined;
  profile: string | undefined;
  /** H.264 level × 10 (41 = 4.1). */
  level: number | undefined;
  pixFmt: string | undefined;
  width: number;
  height: number;
  fps: number;
  /** Packets of the video stream that could actually be read. */
  frames: number;
  /** Frames the container's index promises (mp4 stts), when it has one; more than `frames` = truncated. */
  indexedFrames: number | undefined;
  durationSec: number;
  hasAudio: boolean;
  formatName: string | undefined;
  tags: Record<string, string>;
}

/** The first video stream of a file, with its frame count read from the container's packet index. */
export async function probeVideo(file: string): Promise<VideoProbe> {
  const probe = await ffprobeJson(file, ['-count_packets', '-show_format', '-show_streams']);
  const video = probe.streams.find((s) => s.codec_type === 'video');
  if (!video || !video.width || !video.height) {
    throw new VideoError('bad_input', 'the file has no video stream');
  }
  const fps = parseRate(video.avg_frame_rate) ?? parseRate(video.r_frame_rate);
  const frames = Number(video.nb_read_packets ?? video.nb_frames ?? NaN);
  const durationSec = Number(video.duration ?? probe.format?.duration ?? NaN);
  if (fps === undefined || !Number.isFinite(frames) || frames <= 0) {
    throw new VideoError('bad_input', 'the video stream has no frames or no frame rate');
  }
  return {
    codec: video.codec_name ?? 'unknown',
    codecTag: video.codec_tag_string,
    profile: video.profile,
    level: video.level,
    pixFmt: video.pix_fmt,
    width: video.width,
    height: video.height,
    fps,
    frames,
    indexedFrames: video.nb_frames !== undefined && Number(video.nb_frames) > 0 ? Number(video.nb_frames) : undefined,
    durationSec: Number.isFinite(durationSec) ? durationSec : frames / fps,
    hasAudio: probe.streams.some((s) => s.codec_type === 'audio'),
    formatName: probe.format?.format_name,
    tags: probe.format?.tags ?? {},
  };
}
