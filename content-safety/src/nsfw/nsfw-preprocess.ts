/**
 * Preprocessing that matches nsfwjs 4.4 (`NSFWJS.infer`): pixels as float32 / 255, then
 * `tf.image.resizeBilinear(x, [size, size], alignCorners = true)` (half_pixel_centers false) to
 * fill the square with no crop, skipped when the image is already size×size. tfjs samples the
 * source at r·(inH−1)/(outH−1) — corner pixels map onto corner pixels, no anti-aliasing — and we
 * do the same arithmetic here, so our input tensor equals the one nsfwjs feeds its model.
 *
 * A crop rectangle is resized as if it had been cut out first: the same thing nsfwjs would do
 * with the cropped image.
 */

export interface CropRect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * Writes one NHWC [size, size, 3] float image into `out` at `outOffset` (in floats).
 * `rgb` is packed RGB (3 bytes a pixel), `width`×`height`.
 */
export function resizeBilinearToTensor(
  rgb: Uint8Array,
  width: number,
  height: number,
  size: number,
  out: Float32Array,
  outOffset = 0,
  rect: CropRect = { x: 0, y: 0, width, height },
): void {
  if (rgb.length !== width * height * 3) {
    throw new RangeError(`expected ${width * height * 3} bytes of RGB for ${width}x${height}, got ${rgb.length}`);
  }
  const { x: rx, y: ry, width: rw, height: rh } = rect;
  if (!(rw >= 1 && rh >= 1 && rx >= 0 && ry >= 0 && rx + rw <= width && ry + rh <= height)) {
    throw new RangeError(`crop ${JSON.stringify(rect)} is outside the ${width}x${height} image`);
  }
  if (out.length < outOffset + size * size * 3) throw new RangeError('output tensor is too small');
  const scaleY = size > 1 ? (rh - 1) / (size - 1) : rh / size;
  const scaleX = size > 1 ? (rw - 1) / (size - 1) : rw / size;
  const rowStride = width * 3;
  let o = outOffset;
  for (let r = 0; r < size; r++) {
    const fy = Math.fround(scaleY * r);
    const y0 = Math.max(0, Math.floor(fy));
    const y1 = Math.min(rh - 1, Math.ceil(fy));
    const dy = fy - y0;
    const top = (ry + y0) * rowStride;
    const bottom = (ry + y1) * rowStride;
    for (let c = 0; c < size; c++) {
      const fx = Math.fround(scaleX * c);
      const x0 = Math.max(0, Math.floor(fx));
      const x1 = Math.min(rw - 1, Math.ceil(fx));
      const dx = fx - x0;
      const left = (rx + x0) * 3;
      const right = (rx + x1) * 3;
      for (let ch = 0; ch < 3; ch++) {
        const tl = (rgb[top + left + ch] ?? 0) / 255;
        const tr = (rgb[top + right + ch] ?? 0) / 255;
        const bl = (rgb[bottom + left + ch] ?? 0) / 255;
        const br = (rgb[bottom + right + ch] ?? 0) / 255;
        const t = tl + (tr - tl) * dx;
        const b = bl + (br - bl) * dx;
        out[o++] = t + (b - t) * dy;
      }
    }
  }
}

/**
 * The box left after trimming plain borders: from each side, rows (or columns) are trimmed while
 * at least 98 % of their pixels stay within `tolerance` (per channel) of the mean colour of that
 * side's outermost line. Catches a picture pasted in a wide solid or near-solid frame, which
 * otherwise dilutes the picture's score. Returns the whole image when nothing is trimmed.
 */
export function findContentBox(rgb: Uint8Array, width: number, height: number, tolerance = 16): CropRect {
  const px = (x: number, y: number, c: number): number => rgb[(y * width + x) * 3 + c] ?? 0;
  const lineMean = (horizontal: boolean, at: number): [number, number, number] => {
    const n = horizontal ? width : height;
    const sum = [0, 0, 0];
    for (let i = 0; i < n; i++)
      for (let c = 0; c < 3; c++) sum[c] = (sum[c] ?? 0) + (horizontal ? px(i, at, c) : px(at, i, c));
    return [(sum[0] ?? 0) / n, (sum[1] ?? 0) / n, (sum[2] ?? 0) / n];
  };
  const isBorder = (horizontal: boolean, at: number, from: number, to: number, ref: [number, number, number]): boolean => {
    let off = 0;
    const allowed = Math.floor((to - from) * 0.02);
    for (let i = from; i < to; i++) {
      const x = horizontal ? i : at;
      const y = horizontal ? at : i;
      if (Math.abs(px(x, y, 0) - ref[0]) > tolerance || Math.abs(px(x, y, 1) - ref[1]) > tolerance || Math.abs(px(x, y, 2) - ref[2]) > tolerance) {
        if (++off > allowed) return false;
      }
    }
    return true;
  };
  let top = 0;
  let bottom = height - 1;
  let left = 0;
  let right = width - 1;
  const refTop = lineMean(true, 0);
  while (top < bottom && isBorder(true, top, 0, width, refTop)) top++;
  const refBottom = lineMean(true, height - 1);
  while (bottom > top && isBorder(true, bottom, 0, width, refBottom)) bottom--;
  const refLeft = lineMean(false, 0);
  while (left < right && isBorder(false, left, top, bottom + 1, refLeft)) left++;
  const refRight = lineMean(false, width - 1);
  while (right > left && isBorder(false, right, top, bottom + 1, refRight)) right--;
  if (top >= bottom || left >= right) return { x: 0, y: 0, width, height }; // a plain image: nothing inside
  return { x: left, y: top, width: right - left + 1, height: bottom - top + 1 };
}
