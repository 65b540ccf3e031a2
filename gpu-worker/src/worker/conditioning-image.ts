import sharp from 'sharp';
import type { BlobStore } from '@framecast/core';

/**
 * The stored reference image as the pipeline's first frame: RGB24, exactly width×height,
 * centre-cropped to cover. The stored blob was already checked and re-encoded at intake.
 */
export async function loadConditioningImage(store: BlobStore, ref: string, width: number, height: number): Promise<{ rgb: Uint8Array; width: number; height: number }> {
  const bytes = await store.get(ref);
  const { data, info } = await sharp(bytes, { limitInputPixels: 40_000_000, failOn: 'error' })
    .rotate()
    .removeAlpha()
    .toColourspace('srgb')
    .resize(width, height, { fit: 'cover', position: 'centre' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`expected RGB, got ${info.channels} channels`);
  return { rgb: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
}
