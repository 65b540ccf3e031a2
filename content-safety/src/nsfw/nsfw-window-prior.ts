/**
 * The cheap prior that decides which sliding windows are worth a model input: a skin-tone map.
 *
 * The windows exist to find a small explicit picture among others (a collage tile, a
 * picture-in-picture inset) that the whole image and the fixed crops dilute. Such a picture shows
 * skin, so a window with (almost) no skin-toned area can add nothing the fixed crops missed. The
 * map is made of 8×8-pixel blocks: a block is skin when at least 70 % of its pixels fall in the
 * YCbCr skin range (Cb 77–127, Cr 133–173, a classic chroma-only rule, so any lightness and most
 * human skin tones, drawn ones included) and its mean colour does too; requiring most of a block
 * keeps sensor or synthetic noise from lighting up isolated pixels everywhere.
 *
 * A window's skin fraction is the share of skin blocks among the blocks it touches, read off a
 * summed-area table, so planning costs one pass over the image (about 3 ms at 640×480) however
 * many windows there are.
 *
 * Colour is no help in a greyscale picture, and the model sees skin in one all the same (the
 * high-risk test picture turned grey still scores 0.98 whole, and an inset of it is missed by the
 * fixed crops): so a mid-tone grey block (chroma within ±10 of neutral, luma 50–220, most of its
 * pixels too) counts like a skin block. White or black backgrounds, paper and gutters stay out.
 *
 * Its remaining blind spot: strongly tinted pictures (a red or blue filter over the whole scene).
 * The classifier also scores the windows inside any fixed crop that the model itself found
 * suspicious (see NsfwClassifier.moderateRgb), and `exhaustive: true` scores every window.
 */
import type { CropRect } from './nsfw-preprocess.ts';

/** Side of a block of the skin map, in pixels. */
export const SKIN_BLOCK = 8;

export interface SkinMap {
  /** Image size in pixels. */
  width: number;
  height: number;
  /** Blocks across and down. */
  cols: number;
  rows: number;
  /** Summed-area table of skin blocks, (cols + 1) × (rows + 1). */
  sums: Uint32Array;
}

/**
 * Whether a colour lies in the YCbCr skin range, or is a mid-tone grey (BT.601 coefficients
 * ×2^16).
 */
function isSkin(r: number, g: number, b: number): boolean {
  const cb = (-11056 * r - 21712 * g + 32768 * b) / 65536 + 128;
  const cr = (32768 * r - 27440 * g - 5328 * b) / 65536 + 128;
  if (cb >= 77 && cb <= 127 && cr >= 133 && cr <= 173) return true;
  const y = (19595 * r + 38470 * g + 7471 * b) / 65536;
  return y >= 50 && y <= 220 && Math.abs(cb - 128) <= 10 && Math.abs(cr - 128) <= 10;
}

/** Builds the skin map of a packed RGB image. */
export function skinMap(rgb: Uint8Array, width: number, height: number): SkinMap {
  const cols = Math.ceil(width / SKIN_BLOCK);
  const rows = Math.ceil(height / SKIN_BLOCK);
  const sums = new Uint32Array((cols + 1) * (rows + 1));
  for (let by = 0; by < rows; by++) {
    let rowSum = 0;
    const y0 = by * SKIN_BLOCK;
    const y1 = Math.min(height, y0 + SKIN_BLOCK);
    for (let bx = 0; bx < cols; bx++) {
      const x0 = bx * SKIN_BLOCK;
      const x1 = Math.min(width, x0 + SKIN_BLOCK);
      let n = 0;
      let sr = 0;
      let sg = 0;
      let sb = 0;
      for (let y = y0; y < y1; y++) {
        let i = (y * width + x0) * 3;
        for (let x = x0; x < x1; x++, i += 3) {
          const r = rgb[i] ?? 0;
          const g = rgb[i + 1] ?? 0;
          const b = rgb[i + 2] ?? 0;
          sr += r;
          sg += g;
          sb += b;
          if (isSkin(r, g, b)) n++;
        }
      }
      const count = (y1 - y0) * (x1 - x0);
      if (n >= 0.7 * count && isSkin(sr / count, sg / count, sb / count)) rowSum++;
      sums[(by + 1) * (cols + 1) + bx + 1] = (sums[by * (cols + 1) + bx + 1] ?? 0) + rowSum;
    }
  }
  return { width, height, cols, rows, sums };
}

/** The share of skin blocks among the blocks that `rect` touches, in [0, 1]. */
export function skinFraction(map: SkinMap, rect: CropRect): number {
  const c0 = Math.max(0, Math.floor(rect.x / SKIN_BLOCK));
  const r0 = Math.max(0, Math.floor(rect.y / SKIN_BLOCK));
  const c1 = Math.min(map.cols, Math.ceil((rect.x + rect.width) / SKIN_BLOCK));
  const r1 = Math.min(map.rows, Math.ceil((rect.y + rect.height) / SKIN_BLOCK));
  if (c1 <= c0 || r1 <= r0) return 0;
  const w = map.cols + 1;
  const at = (r: number, c: number): number => map.sums[r * w + c] ?? 0;
  return (at(r1, c1) - at(r0, c1) - at(r1, c0) + at(r0, c0)) / ((c1 - c0) * (r1 - r0));
}
