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
