/**
 * Moderates a video by its frames: the first frame, N a second (default 1) and the last frame.
 * Each frame is decoded at its own aspect ratio (pre-shrunk to ≤ 640 px on the longer side, see
 * video-frame-sampler.ts) and moderated like an image by `classifier.moderateRgb`: the whole
 * frame, the content box (letterbox bars trimmed), the fixed crops and the sliding windows, batched
 * per frame; the worst crop decides the frame. So letterboxed or picture-in-picture video cannot
 * hide a picture by keeping it small.
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
  /** Regular samples a second. Default 1 (VIDEO_SCAN_DEFAULTS.framesPerSecond). */
  framesPerSecond?: number;
  /**
   * Most frames scored, first and last included; when the video is too long for
   * framesPerSecond, the rate is lowered so the samples still span it. Default 64.
   */
  maxFrames?: number;
  /**
   * Longest side of a decoded frame, a pre-shrink before the classifier's own crops and nsfwjs
   * resize (each crop is resized to 224×224 anyway). Default 640.
   */
  maxFrameSide?: number;
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
  /** Scores of the crop that decided the frame (for allow: of the whole frame). */
  scores: NsfwScores;
  action: NsfwAction;
  /** The crop or window that decided (`whole`, `content`, `window-…`), null for allow. Optional for callers that build frames themselves. */
  decidedBy?: string | null;
  /** The highest block-rule sum over the frame's crops. */
  blockScore?: number;
}

export interface VideoScanVerdict {
  action: NsfwAction;
  frames: VideoFrameScore[];
  /** Times (s) of the frames that decided: every block frame, or the first consecutive review pair. */
  decidingFrames: number[];
  durationSec: number;
}

/** The defaults of VideoScanOptions (a 5 s clip: 6 frames; 64 frames ≈ a minute at 1/s). */
export const VIDEO_SCAN_DEFAULTS = {
  framesPerSecond: 1,
  maxFrames: 64,
  maxFrameSide: 640,
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
  const sampled = await sampleFrames(path, probe, { ...tools, maxSide: o.maxFrameSide, framesPerSecond: o.framesPerSecond, maxFrames: o.maxFrames });
  const frames: VideoFrameScore[] = [];
  for (const f of sampled) {
    // One frame at a time (its crops and windows batched): the frame's pixels can go once scored.
    const v = await classifier.moderateRgb(f.rgb, f.width, f.height);
    frames.push({ timeSec: Math.round(f.timeSec * 1000) / 1000, scores: v.scores, action: v.action, decidedBy: v.decidedBy, blockScore: v.blockScore });
  }
  return { ...decideVideo(frames), frames, durationSec: probe.durationSec };
}
