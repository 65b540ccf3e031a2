/**
 * Proves that the ONNX conversion of nsfwjs's MobileNetV2 computes what nsfwjs computes:
 * - same input tensors → ONNX Runtime vs nsfwjs on tfjs-wasm, max abs difference ≤ 1e-3;
 * - whole path: our resize + ONNX from the decoded RGB vs nsfwjs's own `classify` on the same RGB.
 * The difference a sharp `fit: 'fill'` resize would make is printed, and shown to exceed 1e-3.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { NsfwClassifier, ensureNsfwModel, resizeBilinearToTensor, NSFW_CLASSES } from '@framecast/content-safety';
import { loadNsfwjsReference, type NsfwjsReference } from './fixtures/nsfw/nsfwjs-reference.ts';
import { syntheticImages, toRgb } from './fixtures/nsfw/synthetic-images.ts';

const SIZE = 224;
const PER = SIZE * SIZE * 3;
const images = syntheticImages();

let classifier: NsfwClassifier;
let ref: NsfwjsReference;

beforeAll(async () => {
  const modelPath = await ensureNsfwModel();
  classifier = await NsfwClassifier.load({ modelPath, crops: 'none' });
  ref = await loadNsfwjsReference('mobilenet_v2');
});

afterAll(async () => {
  ref?.dispose();
  await classifier?.release();
});

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] ?? NaN) - (b[i] ?? NaN)));
  return m;
}

describe('nsfwjs MobileNetV2 → ONNX', () => {
  it('has at least 20 varied test images', () => {
    expect(images.length).toBeGreaterThanOrEqual(20);
    expect(new Set(images.map((i) => `${i.width}x${i.height}`)).size).toBeGreaterThan(10);
    expect(images.some((i) => i.channels === 4)).toBe(true);
  });

  it('gives the same probabilities as nsfwjs on tfjs-wasm for identical input tensors', async () => {
    const tensor = new Float32Array(PER * images.length);
    images.forEach((img, i) => resizeBilinearToTensor(toRgb(img), img.width, img.height, SIZE, tensor, i * PER));
    const onnx = (await classifier.runTensor(tensor, images.length)).flatMap((s) => NSFW_CLASSES.map((c) => s[c]));
    const tfjs = await ref.predict(tensor, images.length);
    const diff = maxAbsDiff(onnx, tfjs);
    console.log(`identical tensors, ${images.length} images: max |onnx - tfjs| = ${diff.toExponential(2)}`);
    expect(diff).toBeLessThanOrEqual(1e-3);
    // Not a degenerate model: the images do not all get the same answer.
    const tops = new Set<number>();
    for (let i = 0; i < images.length; i++) {
      const row = Array.from(tfjs.subarray(i * 5, i * 5 + 5));
      tops.add(row.indexOf(Math.max(...row)));
    }
    expect(tops.size).toBeGreaterThan(1);
  });

  it('matches nsfwjs classify end to end (its /255 and bilinear resize vs ours)', async () => {
    let worst = 0;
    let worstName = '';
    for (const img of images) {
      const rgb = toRgb(img);
      const ours = await classifier.classifyRgb(rgb, img.width, img.height);
      const theirs = await ref.classify(rgb, img.width, img.height);
      const d = maxAbsDiff(NSFW_CLASSES.map((c) => ours[c]), NSFW_CLASSES.map((c) => theirs[c] ?? NaN));
      if (d > worst) [worst, worstName] = [d, img.name];
    }
    console.log(`end to end, ${images.length} images: max |ours - nsfwjs.classify| = ${worst.toExponential(2)} (${worstName})`);
    expect(worst).toBeLessThanOrEqual(1e-3);
  });

  // Why the classifier resizes by itself: sharp's resampler does not reproduce tfjs's
  // align-corners bilinear. If this ever fails, sharp would be good enough and our resize could go.
  it('a sharp fit:fill resize would not match nsfwjs within 1e-3', async () => {
    let worst = 0;
    let worstName = '';
    for (const img of images) {
      const { data } = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels } })
        .removeAlpha()
        .resize(SIZE, SIZE, { fit: 'fill', kernel: 'linear' })
        .raw()
        .toBuffer({ resolveWithObject: true });
      const viaSharp = await classifier.classifyRgb(new Uint8Array(data), SIZE, SIZE);
      const theirs = await ref.classify(toRgb(img), img.width, img.height);
      const d = maxAbsDiff(NSFW_CLASSES.map((c) => viaSharp[c]), NSFW_CLASSES.map((c) => theirs[c] ?? NaN));
      if (d > worst) [worst, worstName] = [d, img.name];
    }
    console.log(`sharp fit:fill (linear) resize instead: max diff = ${worst.toFixed(4)} (${worstName})`);
    expect(worst).toBeGreaterThan(1e-3);
  });
});
