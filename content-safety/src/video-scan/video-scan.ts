/**
 * Moderates a video by its frames: the first frame, N a second (default 1) and the last frame,
 * each scored whole by the NSFW classifier at its input size.
 *
 * Rules, with the classifier's thresholds:
 * - block when any sampled frame reaches the block rule (decidingFrames: every such frame);
 * - review when two consecutive sampled frames both reach the review rule (decidingFrames: the
 *   first such pair). A single review-level frame alone is allowed: one frame of a clip that
 *   looks suggestive is usually a transition or a misfire, a sustained shot is not;
 * - allow otherwise (decidingFrames empty).
 *
 * Bounded: videos longer than maxDurationSec or larger than maxPixels are refused with a
 * VideoScanError; at most maxFrames frames are decoded (the rate is lowered so the samples still
 * span the whole video); every ffmpeg process is killed after timeoutMs.
 */
import type { NsfwAction, NsfwClassifier, NsfwScores } from '../nsfw/nsfw-classifier.ts';
import { probeVideo, sampleFrames, VideoScanError } from './video-frame-sampler.ts';

export interface VideoScanOptions {
  /** Regular samples a second. Default 1. */
  framesPerSecond?: number;
  /** Most frames scored, first and last included. Default 64. */
  maxFrames?: number;
  /** Longest video accepted. Default 600 s. */
  maxDurationSec?: number;
  /** Largest frame accepted (width × height). Default 4096 × 4096. */
  maxPixels?: number;
  /** Per ffmpeg process. Default 120 s. */
  timeoutMs?: number;
  ffmpegPath?: string;
  ffprobePath?: string;
}

export interface VideoFrameScore {
  timeSec: number;
  scores: NsfwScores;
  action: NsfwAction;
}

export interface VideoScanVerdict {
  action: NsfwAction;
  frames: VideoFrameScore[];
  /** Times (s) of the frames that decided: every block frame, or the first consecutive review pair. */
  decidingFrames: number[];
  durationSec: number;
}

export const VIDEO_SCAN_DEFAULTS = {
  framesPerSecond: 1,
  maxFrames: 64,
  maxDurationSec: 600,
  maxPixels: 4096 * 4096,
  timeoutMs: 120_000,
} as const;

/** Applies the frame rules to scored frames (in time order). */
export function decideVideo(frames: VideoFrameScore[]): Pick<VideoScanVerdict, 'action' | 'decidingFrames'> {
  const blocking = frames.filter((f) => f.action === 'block').map((f) => f.timeSec);
  if (blocking.length > 0) return { action: 'block', decidingFrames: blocking };
  for (let i = 1; i < frames.length; i++) {
    const a = frames[i - 1];
    const b = frames[i];
    // A block-level frame also reaches review, but blocks were handled above.
    if (a?.action === 'review' && b?.action === 'review') return { action: 'review', decidingFrames: [a.timeSec, b.timeSec] };
  }
  return { action: 'allow', decidingFrames: [] };
}

export async function scanVideo(path: string, classifier: NsfwClassifier, opts: VideoScanOptions = {}): Promise<VideoScanVerdict> {
  const o = { ...VIDEO_SCAN_DEFAULTS, ...opts };
  if (!(o.framesPerSecond > 0) || !(o.maxFrames >= 2)) throw new RangeError('framesPerSecond must be > 0 and maxFrames ≥ 2');
  const tools = {
    timeoutMs: o.timeoutMs,
    ...(o.ffmpegPath !== undefined ? { ffmpegPath: o.ffmpegPath } : {}),
    ...(o.ffprobePath !== undefined ? { ffprobePath: o.ffprobePath } : {}),
  };
  const probe = await probeVideo(path, tools);
  if (probe.durationSec > o.maxDurationSec) {
    throw new VideoScanError('video_too_long', `the video lasts ${probe.durationSec.toFixed(1)} s, more than ${o.maxDurationSec} s`);
  }
  if (probe.width * probe.height > o.maxPixels) {
    throw new VideoScanError('video_too_large', `frames of ${probe.width}x${probe.height} are larger than allowed`);
  }
  const size = classifier.inputSize;
  const sampled = await sampleFrames(path, probe, { ...tools, size, framesPerSecond: o.framesPerSecond, maxFrames: o.maxFrames });
  const scores = await classifier.classifyBatch(sampled.map((f) => ({ data: f.rgb, width: size, height: size })));
  const frames: VideoFrameScore[] = sampled.map((f, i) => {
    const s = scores[i] as NsfwScores;
    return { timeSec: Math.round(f.timeSec * 1000) / 1000, scores: s, action: classifier.actionFor(s) };
  });
  return { ...decideVideo(frames), frames, durationSec: probe.durationSec };
}
