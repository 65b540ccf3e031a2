/**
 * A difference hash (dHash) of a video frame, to score a frame once when the video holds still:
 * the frame is shrunk to a (DHASH_SIDE + 1) × DHASH_SIDE grid of mean luma (area averages, so
 * codec noise averages out) and each bit says whether a cell is darker than its right neighbour.
 *
 * 16 × 16 = 256 bits, finer than the usual 8 × 8: a picture-in-picture inset of 1/16 of the frame
 * covers about 16 cells and flips several of their bits, where an 8 × 8 hash could miss it. Two
 * frames count as the same when at most DHASH_SAME_MAX_DISTANCE bits differ.
 */

export const DHASH_SIDE = 16;
/** Most differing bits (of 256) for two frames to count as the same picture. */
export const DHASH_SAME_MAX_DISTANCE = 3;

/** The 256-bit dHash of a packed RGB frame, as 8 words. */
export function frameDHash(rgb: Uint8Array, width: number, height: number): Uint32Array {
  const cols = DHASH_SIDE + 1;
  const rows = DHASH_SIDE;
  const sum = new Float64Array(cols * rows);
  const count = new Uint32Array(cols * rows);
  for (let y = 0; y < height; y++) {
    const r = Math.min(rows - 1, Math.floor((y * rows) / height));
    let i = y * width * 3;
    for (let x = 0; x < width; x++, i += 3) {
      const c = Math.min(cols - 1, Math.floor((x * cols) / width));
      // BT.601 luma, ×1000.
      sum[r * cols + c] = (sum[r * cols + c] ?? 0) + 299 * (rgb[i] ?? 0) + 587 * (rgb[i + 1] ?? 0) + 114 * (rgb[i + 2] ?? 0);
      count[r * cols + c] = (count[r * cols + c] ?? 0) + 1;
    }
  }
  const mean = (k: number): number => (sum[k] ?? 0) / Math.max(1, count[k] ?? 0);
  const hash = new Uint32Array((DHASH_SIDE * DHASH_SIDE) / 32);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < DHASH_SIDE; c++) {
      if (mean(r * cols + c) < mean(r * cols + c + 1)) {
        const bit = r * DHASH_SIDE + c;
        hash[bit >> 5] = (hash[bit >> 5] ?? 0) | (1 << (bit & 31));
      }
    }
  return hash;
}

/** Differing bits between two hashes. */
export function dHashDistance(a: Uint32Array, b: Uint32Array): number {
  let d = 0;
  for (let k = 0; k < Math.max(a.length, b.length); k++) {
    let v = ((a[k] ?? 0) ^ (b[k] ?? 0)) >>> 0;
    while (v !== 0) {
      v &= v - 1;
      d++;
    }
  }
  return d;
}
