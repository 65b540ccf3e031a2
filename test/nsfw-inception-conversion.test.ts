/**
 * The converter also handles nsfwjs's InceptionV3 (299×299: MaxPool, AveragePool 'same',
 * Concatenate, BatchNormalization without scale): same probabilities as nsfwjs on tfjs-wasm for
 * identical input tensors, on a handful of images (the model is large, so few).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { NsfwClassifier, ensureNsfwModel, resizeBilinearToTensor, NSFW_CLASSES } from '@framecast/content-safety';
import { loadNsfwjsReference, type NsfwjsReference } from './fixtures/nsfw/nsfwjs-reference.ts';
import { syntheticImages, toRgb } from './fixtures/nsfw/synthetic-images.ts';

let classifier: NsfwClassifier;
let ref: NsfwjsReference;

beforeAll(async () => {
  classifier = await NsfwClassifier.load({ modelPath: await ensureNsfwModel({ model: 'inception_v3' }), crops: 'none' });
  ref = await loadNsfwjsReference('inception_v3');
});

afterAll(async () => {
  ref?.dispose();
  await classifier?.release();
});

it('InceptionV3 → ONNX matches nsfwjs on tfjs-wasm (max abs diff ≤ 1e-3)', async () => {
  expect(classifier.inputSize).toBe(299);
  const picks = ['skin-portrait-600x800', 'texture-512x384', 'rings-299', 'gradient-radial-640x480'];
  const images = syntheticImages(new RegExp(`^(${picks.join('|')})$`));
  expect(images).toHaveLength(picks.length);
  const per = 299 * 299 * 3;
  const tensor = new Float32Array(per * images.length);
  images.forEach((img, i) => resizeBilinearToTensor(toRgb(img), img.width, img.height, 299, tensor, i * per));
  const onnx = (await classifier.runTensor(tensor, images.length)).flatMap((s) => NSFW_CLASSES.map((c) => s[c]));
  const tfjs = await ref.predict(tensor, images.length);
  let diff = 0;
  for (let i = 0; i < onnx.length; i++) diff = Math.max(diff, Math.abs((onnx[i] ?? NaN) - (tfjs[i] ?? NaN)));
  console.log(`InceptionV3, ${images.length} images: max |onnx - tfjs| = ${diff.toExponential(2)}`);
  expect(tfjs).toHaveLength(onnx.length);
  expect(diff).toBeLessThanOrEqual(1e-3);
});
