/**
 * Moderates a video by its frames: the first frame, N a second (default 1) and the last frame.
 * Each frame is decoded at its own aspect ratio (pre-shrunk to ≤ 640 px on the longer side, see
 * video-frame-sampler.ts) and moderated like an image by `classifier.moderateRgb`: the whole
 * frame, the content box (letterbox bars trimmed), the fixed crops and the sliding windows (those
 * the classifier's first pass finds a reason for); the worst crop decides the frame. So letterboxed
 * or picture-in-picture video cannot hide a picture by keeping it small.
 *
 * Frames go to the classifier FRAME_BATCH at a time (`moderateBatch`: their crops share model
 * runs). A frame whose dHash (frame-dhash.ts) is within DHASH_SAME_MAX_DISTANCE bits of a frame
 * already scored is not scored again: it takes that frame's verdict and says so in `duplicateOf`.
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
import { DHASH_SAME_MAX_DISTANCE, dHashDistance, frameDHash } from './frame-dhash.ts';
import { probeVideo, sampleFrames, VideoScanError, type SampledFrame } from './video-frame-sampler.ts';

/** Frames moderated together (their crops share model runs); bounds the tensors held at once. */
export const FRAME_BATCH = 8;

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
  /** Score a frame that looks the same as one already scored (dHash) only once. Default true. */
  dedupFrames?: boolean;
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
  /** Set when the frame was not scored itself: the time of the same-looking frame whose verdict it took. */
  duplicateOf?: number;
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
  const frames = await scoreFrames(sampled, classifier, o.dedupFrames ?? true);
  return { ...decideVideo(frames), frames, durationSec: probe.durationSec };
}

/** Scores sampled frames (in time order), FRAME_BATCH at a time, each same-looking frame once. */
async function scoreFrames(sampled: SampledFrame[], classifier: NsfwClassifier, dedup: boolean): Promise<VideoFrameScore[]> {
  const time = (f: SampledFrame): number => Math.round(f.timeSec * 1000) / 1000;
  // For each frame, the index of the earlier frame it repeats (or its own index).
  const hashes: { hash: Uint32Array; index: number }[] = [];
  const source = sampled.map((f, i) => {
    if (!dedup) return i;
    const hash = frameDHash(f.rgb, f.width, f.height);
    const same = hashes.find((h) => dHashDistance(h.hash, hash) <= DHASH_SAME_MAX_DISTANCE);
    if (same !== undefined) return same.index;
    hashes.push({ hash, index: i });
    return i;
  });
  const unique = sampled.filter((_, i) => source[i] === i);
  const scored = new Map<SampledFrame, VideoFrameScore>();
  for (let start = 0; start < unique.length; start += FRAME_BATCH) {
    const batch = unique.slice(start, start + FRAME_BATCH);
    const verdicts = await classifier.moderateBatch(batch.map((f) => ({ data: f.rgb, width: f.width, height: f.height })));
    batch.forEach((f, k) => {
      const v = verdicts[k];
      if (v !== undefined) scored.set(f, { timeSec: time(f), scores: v.scores, action: v.action, decidedBy: v.decidedBy, blockScore: v.blockScore });
    });
  }
  return sampled.map((f, i) => {
    const from = sampled[source[i] ?? i] ?? f;
    const v = scored.get(from);
    if (v === undefined) throw new Error('a sampled frame was not scored');
    return from === f ? v : { ...v, timeSec: time(f), duplicateOf: v.timeSec };
  });
}
