/**
 * NSFW image classification throughput: our ONNX conversion of nsfwjs MobileNetV2 on
 * onnxruntime-node (CPU) next to nsfwjs itself on @tensorflow/tfjs with the wasm backend, in the
 * same run, on the same 224×224 input tensors (so no resize is timed on either side).
 *
 * Then what moderation actually costs per 640×480 RGB image, side by side (resize included):
 * - `nsfw_onnx_whole_images_per_s`: classifyRgb, the whole image only (one model input);
 * - `nsfw_onnx_moderate_fixed_images_per_s`: moderateRgb with the fixed crops only (windows off);
 * - `nsfw_onnx_moderate_images_per_s`: moderateRgb as shipped (fixed crops + sliding windows);
 * with the number of model inputs per image for each. The `nsfw_onnx_images_per_s` and
 * `nsfw_onnx_batched_images_per_s` figures are model inputs a second, not moderated images.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { NsfwClassifier, ensureNsfwModel, type NsfwRgbImage } from '@framecast/content-safety';

const SIZE = 224;
const PER = SIZE * SIZE * 3;
const IMAGES = 24;
/** Stop a side after this long even if not all images ran. */
const BUDGET_MS = 12_000;

function inputs(): Float32Array {
  // Seeded smooth colour fields plus noise: deterministic, not constant.
  let s = 12345;
  const rand = (): number => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296);
  const out = new Float32Array(PER * IMAGES);
  for (let n = 0; n < IMAGES; n++) {
    const [a, b, c] = [rand(), rand(), rand()];
    for (let p = 0; p < SIZE * SIZE; p++) {
      const x = (p % SIZE) / SIZE;
      const y = Math.floor(p / SIZE) / SIZE;
      const i = n * PER + p * 3;
      out[i] = Math.min(1, Math.max(0, a * x + 0.2 * rand()));
      out[i + 1] = Math.min(1, Math.max(0, b * y + 0.2 * rand()));
      out[i + 2] = Math.min(1, Math.max(0, c * (1 - x) + 0.2 * rand()));
    }
  }
  return out;
}

/** Seeded photo-like 640×480 RGB images (smooth colour fields with noise). */
function rgbImages(count: number, width = 640, height = 480): NsfwRgbImage[] {
  let s = 777;
  const rand = (): number => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296);
  return Array.from({ length: count }, () => {
    const [a, b, c] = [rand(), rand(), rand()];
    const data = new Uint8Array(width * height * 3);
    for (let p = 0; p < width * height; p++) {
      const x = (p % width) / width;
      const y = Math.floor(p / width) / height;
      data[p * 3] = 255 * Math.min(1, a * x + 0.2 * rand());
      data[p * 3 + 1] = 255 * Math.min(1, b * y + 0.2 * rand());
      data[p * 3 + 2] = 255 * Math.min(1, c * (1 - x) + 0.2 * rand());
    }
    return { data, width, height };
  });
}

/** Images a second through `fn`, one image at a time, for at most `budgetMs` (after one warm-up). */
async function perImage(images: NsfwRgbImage[], fn: (img: NsfwRgbImage) => Promise<unknown>, budgetMs: number): Promise<number> {
  const first = images[0];
  if (first !== undefined) await fn(first);
  const t0 = performance.now();
  let done = 0;
  for (const img of images) {
    await fn(img);
    done++;
    if (performance.now() - t0 > budgetMs) break;
  }
  return done / ((performance.now() - t0) / 1000);
}

async function timed(run: (i: number) => Promise<Float32Array | void>): Promise<{ imagesPerSec: number; images: number }> {
  const t0 = performance.now();
  let done = 0;
  while (done < IMAGES && performance.now() - t0 < BUDGET_MS) {
    await run(done);
    done++;
  }
  const sec = (performance.now() - t0) / 1000;
  return { imagesPerSec: done / sec, images: done };
}

export async function run(): Promise<Record<string, unknown>> {
  const x = inputs();

  // ONNX Runtime, one image a run, then batches of 8.
  const onnx = await NsfwClassifier.load({ modelPath: await ensureNsfwModel() });
  await onnx.runTensor(x.subarray(0, PER), 1); // warm-up
  const onnxOne = await timed(async (i) => {
    await onnx.runTensor(x.subarray(i * PER, (i + 1) * PER), 1);
  });
  await onnx.runTensor(x, IMAGES); // warm-up for the batch shapes (a new shape re-plans memory)
  const t0 = performance.now();
  const onnxAll = await onnx.runTensor(x, IMAGES); // maxBatch 16 → runs of 16 and 8
  const onnxBatchedPerSec = IMAGES / ((performance.now() - t0) / 1000);

  // Whole image vs moderateRgb (fixed crops, then fixed crops + windows) on 640×480 RGB.
  const imgs = rgbImages(8);
  const fixedOnly = await NsfwClassifier.load({ modelPath: await ensureNsfwModel(), windows: false });
  const sample = imgs[0] as NsfwRgbImage;
  const inputsFixed = fixedOnly.cropsFor(sample.data, sample.width, sample.height).length;
  const inputsWindows = onnx.cropsFor(sample.data, sample.width, sample.height).length;
  const wholePerSec = await perImage(imgs, (i) => onnx.classifyRgb(i.data, i.width, i.height), 4000);
  const fixedPerSec = await perImage(imgs, (i) => fixedOnly.moderateRgb(i.data, i.width, i.height), 6000);
  const windowsPerSec = await perImage(imgs, (i) => onnx.moderateRgb(i.data, i.width, i.height), 10_000);
  await fixedOnly.release();

  // nsfwjs on tfjs-wasm.
  const require = createRequire(import.meta.url);
  setWasmPaths(`${path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm'))}${path.sep}`);
  await tf.setBackend('wasm');
  await tf.ready();
  const nsfwjs = await import('nsfwjs');
  const info = console.info;
  console.info = () => {}; // nsfwjs.load prints a hosting hint
  const ref = (await nsfwjs.load('MobileNetV2')) as unknown as { model: tf.LayersModel; dispose(): void };
  console.info = info;
  let maxAbsDiff = 0;
  const predict = async (i: number): Promise<Float32Array> => {
    const t = tf.tensor4d(x.subarray(i * PER, (i + 1) * PER), [1, SIZE, SIZE, 3]);
    const y = ref.model.predict(t) as tf.Tensor;
    const data = (await y.data()) as Float32Array;
    t.dispose();
    y.dispose();
    return data;
  };
  await predict(0); // warm-up
  const tfjs = await timed(async (i) => {
    const p = await predict(i);
    const o = onnxAll[i];
    if (o !== undefined) {
      [o.Drawing, o.Hentai, o.Neutral, o.Porn, o.Sexy].forEach((v, k) => (maxAbsDiff = Math.max(maxAbsDiff, Math.abs(v - (p[k] ?? NaN)))));
    }
  });
  ref.dispose();
  await onnx.release();

  const r = (v: number): number => Math.round(v * 100) / 100;
  return {
    nsfw_model: 'nsfwjs 4.4.0 MobileNetV2, 224x224',
    nsfw_cpus: os.cpus().length,
    nsfw_onnx_images_per_s: r(onnxOne.imagesPerSec),
    nsfw_onnx_batched_images_per_s: r(onnxBatchedPerSec),
    nsfw_onnx_whole_images_per_s: r(wholePerSec),
    nsfw_onnx_moderate_fixed_images_per_s: r(fixedPerSec),
    nsfw_onnx_moderate_images_per_s: r(windowsPerSec),
    nsfw_onnx_moderate_inputs_per_image: { whole: 1, fixed: inputsFixed, windows: inputsWindows, size: '640x480' },
    nsfw_tfjs_wasm_images_per_s: r(tfjs.imagesPerSec),
    nsfw_onnx_vs_tfjs_wasm: r(onnxOne.imagesPerSec / tfjs.imagesPerSec),
    nsfw_images_timed: { onnx: onnxOne.images, tfjs_wasm: tfjs.images },
    nsfw_max_abs_prob_diff: maxAbsDiff,
  };
}
