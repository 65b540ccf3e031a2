/**
 * The first frame for image-to-video: the reference image scaled to cover the target size and
 * cropped around its centre, as packed RGB24.
 */
import sharp from 'sharp';

export interface RgbImage {
  rgb: Buffer;
  width: number;
  height: number;
}

const MAX_TARGET_SIDE = 8192;

/** Returns exactly width × height × 3 bytes (8-bit sRGB, row-major, no padding). */
export async function resizeForConditioning(image: RgbImage, width: number, height: number): Promise<Buffer> {
  for (const [name, v] of [['width', width], ['height', height]] as const) {
    if (!Number.isInteger(v) || v < 1 || v > MAX_TARGET_SIDE) throw new RangeError(`${name} must be an integer in 1..${MAX_TARGET_SIDE}`);
  }
  if (image.rgb.length !== image.width * image.height * 3) throw new RangeError('rgb buffer does not match width × height × 3');
  const out = await sharp(image.rgb, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(width, height, { fit: 'cover', position: 'centre', kernel: 'lanczos3' })
    .removeAlpha()
    .raw()
    .toBuffer();
  if (out.length !== width * height * 3) throw new Error(`resize produced ${out.length} bytes, expected ${width * height * 3}`);
  return out;
}
