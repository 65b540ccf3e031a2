/**
 * Sliding windows for NSFW moderation: square boxes at several scales that slide over the image,
 * so a small explicit picture inside a collage, a picture-in-picture or a busy page is scored
 * filling (most of) the model's input instead of being diluted by everything around it.
 *
 * Window sides are fractions of the shorter side of the box they cover (by default 1/2, 1/3 and
 * 1/4), the stride half a window, the last window of a row or column flush with the far edge.
 * The count is capped: when the plan exceeds `maxWindows`, the stride grows for every scale
 * (0.5 → 0.6 → 0.75 of a window) and, if that is still too many, the smallest scale is dropped
 * and the strides tried again.
 *
 * Why 64 by default: with 40 the 1/4 scale is dropped on 4:3, square and 16:9 images, and a
 * high-risk tile in a 4×4 collage then scores as low as 0.28 (480×480) or 0.07 (1280×720) in its
 * best window; with 64 (50 windows at 640×480 or 480×480, 63 at 1280×720) every tile position of
 * 3×3 and 4×4 collages at those sizes reached ≥ 0.68. Each window is one model input, so cost grows
 * linearly with the count (see bench/src/moderation-nsfw.ts).
 *
 * The price in false positives: more inputs, more chances for one to misfire. On neutral
 * synthetic images and collages the worst window stays under 0.13 (block rule), but on lavfi
 * testsrc frames a 180 px window over the colour ramp reached 0.47 (1280×720 pre-shrunk to
 * 640×360; 0.31 at 320×240), against 0.08 for the whole frame: close to the 0.5 default. Windows smaller than `minSide` pixels are not made (a tiny crop
 * upscaled to the model's input is blur, and it misfires).
 */
import type { CropRect } from './nsfw-preprocess.ts';

export interface NsfwWindowOptions {
  /** Window sides as fractions of the shorter side of the box. Default [1/2, 1/3, 1/4]. */
  scales?: number[];
  /** Stride as a fraction of the window side, before the cap widens it. Default 0.5. */
  stride?: number;
  /** Most windows for one image. Default 64. */
  maxWindows?: number;
  /** Smallest window side in pixels. Default 64. */
  minSide?: number;
  /** Strides tried, in order, when the plan is over maxWindows (fractions of a window). */
  widerStrides?: number[];
}

export const DEFAULT_NSFW_WINDOWS: Readonly<Required<NsfwWindowOptions>> = Object.freeze({
  scales: Object.freeze([1 / 2, 1 / 3, 1 / 4]) as number[],
  stride: 0.5,
  maxWindows: 64,
  minSide: 64,
  widerStrides: Object.freeze([0.6, 0.75]) as number[],
});

export interface NsfwWindow {
  /** `window-<side>-<x>-<y>` in pixels of the image. */
  crop: string;
  rect: CropRect;
}

/** Start offsets along one axis: every `stride`, the last flush with the end. */
function offsets(length: number, side: number, stride: number): number[] {
  if (side >= length) return [0];
  const n = Math.ceil((length - side) / stride) + 1;
  const out = new Set<number>();
  for (let i = 0; i < n; i++) out.add(Math.min(length - side, Math.round(i * stride)));
  return [...out];
}

function plan(box: CropRect, scales: number[], strideFraction: number, minSide: number): NsfwWindow[] {
  const short = Math.min(box.width, box.height);
  const windows: NsfwWindow[] = [];
  for (const scale of scales) {
    const side = Math.round(short * scale);
    if (side < minSide) continue;
    const stride = Math.max(1, side * strideFraction);
    for (const y of offsets(box.height, side, stride))
      for (const x of offsets(box.width, side, stride)) {
        const rect = { x: box.x + x, y: box.y + y, width: side, height: side };
        windows.push({ crop: `window-${side}-${rect.x}-${rect.y}`, rect });
      }
  }
  return windows;
}

/** The sliding windows over `box` (usually the content box), at most `maxWindows` of them. */
export function slidingWindows(box: CropRect, options: NsfwWindowOptions = {}): NsfwWindow[] {
  const o = { ...DEFAULT_NSFW_WINDOWS, ...options };
  if (!(o.stride > 0 && o.stride <= 1) || !(o.maxWindows >= 0) || o.scales.some((s) => !(s > 0 && s < 1))) {
    throw new RangeError('windows: scales in (0,1), stride in (0,1], maxWindows ≥ 0');
  }
  const scales = [...o.scales].sort((a, b) => b - a); // largest first: the last is dropped first
  const strides = [o.stride, ...o.widerStrides.filter((s) => s > o.stride && s <= 1)];
  while (scales.length > 0) {
    for (const stride of strides) {
      const windows = plan(box, scales, stride, o.minSide);
      if (windows.length <= o.maxWindows) return windows;
    }
    scales.pop();
  }
  return [];
}
