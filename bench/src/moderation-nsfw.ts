/**
 * NSFW image classification throughput: our ONNX conversion of nsfwjs MobileNetV2 on
 * onnxruntime-node (CPU) next to nsfwjs itself on @tensorflow/tfjs with the wasm backend, in the
 * same run, on the same 224×224 input tensors (so no resize is timed on either side).
 *
 * Then what moderation actually costs per 640×480 RGB image, side by side (resize included):
 * - `nsfw_onnx_whole_images_per_s`: classifyRgb, the whole image only (one model input);
 * - `nsfw_onnx_moderate_fixed_images_per_s`: moderateRgb with the fixed crops only (windows off);
 * - `nsfw_onnx_moderate_exhaustive_images_per_s`: moderateRgb scoring every sliding window (the
 *   check before the first-pass prior, `exhaustive: true`), the baseline;
 * - `nsfw_onnx_moderate_images_per_s`: moderateRgb as shipped (fixed crops, then the windows the
 *   first pass finds a reason for);
 * with the model inputs per image and the CPU seconds per image (process.cpuUsage, all threads:
 * on a shared machine the rate depends on the neighbours, the CPU time much less; on an idle
 * 2-core machine the rate is about 2 / CPU seconds at best, 1 / CPU seconds at worst). The
 * `nsfw_onnx_images_per_s` and `nsfw_onnx_batched_images_per_s` figures are model inputs a second,
 * not moderated images.
 *
 * Last, `nsfw_video_5s`: scanVideo of a 5 s 1280×720 lavfi testsrc clip (6 frames sampled, decoded
 * at 640×360), before (exhaustive windows, no frame deduplication) and after (as shipped), wall
 * and CPU seconds (ffmpeg's included).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { NsfwClassifier, ensureNsfwModel, scanVideo, type NsfwRgbImage } from '@framecast/content-safety';

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

/**
 * CPU seconds used so far by this process (all its threads) and by its children that have ended
 * (ffmpeg), the latter from /proc/self/stat (0 where there is no /proc).
 */
function cpuSeconds(): number {
  const own = process.cpuUsage();
  let children = 0;
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 16 and 17 of proc(5) (cutime, cstime), counted from field 3 here; in clock ticks (100/s on Linux).
    children = (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    children = 0;
  }
  return (own.user + own.system) / 1e6 + (Number.isFinite(children) ? children : 0);
}

/** Images a second and CPU seconds an image through `fn`, one image at a time, for at most `budgetMs` (after one warm-up). */
async function perImage(images: NsfwRgbImage[], fn: (img: NsfwRgbImage) => Promise<unknown>, budgetMs: number): Promise<{ perSec: number; cpuSec: number }> {
  const first = images[0];
  if (first !== undefined) await fn(first);
  const t0 = performance.now();
  const c0 = cpuSeconds();
  let done = 0;
  for (const img of images) {
    await fn(img);
    done++;
    if (performance.now() - t0 > budgetMs) break;
  }
  return { perSec: done / ((performance.now() - t0) / 1000), cpuSec: (cpuSeconds() - c0) / done };
}

/** Wall and CPU seconds of one call. */
async function timeOnce<T>(fn: () => Promise<T>): Promise<{ value: T; wallSec: number; cpuSec: number }> {
  const t0 = performance.now();
  const c0 = cpuSeconds();
  const value = await fn();
  return { value, wallSec: (performance.now() - t0) / 1000, cpuSec: cpuSeconds() - c0 };
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
  const batched = onnx.withOptions({ maxBatch: 16 }); // the default is one input a run
  await batched.runTensor(x, IMAGES); // warm-up for the batch shapes (a new shape re-plans memory)
  const t0 = performance.now();
  const onnxAll = await batched.runTensor(x, IMAGES); // maxBatch 16 → runs of 16 and 8
  const onnxBatchedPerSec = IMAGES / ((performance.now() - t0) / 1000);
  await batched.release();

  // Whole image vs moderateRgb (fixed crops; every window; the windows the first pass picks) on 640×480 RGB.
  const imgs = rgbImages(8);
  const fixedOnly = onnx.withOptions({ windows: false });
  // The check as it was: every window, in runs of 16.
  const exhaustive = onnx.withOptions({ exhaustive: true, maxBatch: 16 });
  const sample = imgs[0] as NsfwRgbImage;
  const inputsFixed = fixedOnly.cropsFor(sample.data, sample.width, sample.height).length;
  const inputsWindows = onnx.cropsFor(sample.data, sample.width, sample.height).length;
  const whole = await perImage(imgs, (i) => onnx.classifyRgb(i.data, i.width, i.height), 4000);
  const fixed = await perImage(imgs, (i) => fixedOnly.moderateRgb(i.data, i.width, i.height), 6000);
  const before = await perImage(imgs, (i) => exhaustive.moderateRgb(i.data, i.width, i.height), 20_000);
  const after = await perImage(imgs, (i) => onnx.moderateRgb(i.data, i.width, i.height), 20_000);
  // What each scored, and whether the two reach the same verdicts.
  let inputsAfter = 0;
  let agree = 0;
  const actions: string[] = [];
  for (const img of imgs) {
    const a = await onnx.moderateRgb(img.data, img.width, img.height);
    const e = await exhaustive.moderateRgb(img.data, img.width, img.height);
    inputsAfter += a.crops.length;
    if (a.action === e.action) agree++;
    actions.push(`${e.action}->${a.action}`);
  }

  // A 5 s clip, before (every window, every frame) and after (as shipped).
  const video = await videoScan(onnx, exhaustive);
  await fixedOnly.release();
  await exhaustive.release();

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
  const r3 = (v: number): number => Math.round(v * 1000) / 1000;
  return {
    nsfw_model: 'nsfwjs 4.4.0 MobileNetV2, 224x224',
    nsfw_cpus: os.cpus().length,
    nsfw_onnx_images_per_s: r(onnxOne.imagesPerSec),
    nsfw_onnx_batched_images_per_s: r(onnxBatchedPerSec),
    nsfw_onnx_whole_images_per_s: r(whole.perSec),
    nsfw_onnx_moderate_fixed_images_per_s: r(fixed.perSec),
    nsfw_onnx_moderate_exhaustive_images_per_s: r(before.perSec),
    nsfw_onnx_moderate_images_per_s: r(after.perSec),
    nsfw_onnx_moderate_vs_exhaustive: r(after.perSec / before.perSec),
    nsfw_onnx_moderate_inputs_per_image: {
      whole: 1,
      fixed: inputsFixed,
      exhaustive: inputsWindows,
      moderate: r(inputsAfter / imgs.length),
      size: '640x480',
    },
    nsfw_onnx_cpu_s_per_image: { whole: r3(whole.cpuSec), fixed: r3(fixed.cpuSec), exhaustive: r3(before.cpuSec), moderate: r3(after.cpuSec) },
    nsfw_onnx_moderate_same_verdict_as_exhaustive: `${agree}/${imgs.length}`,
    nsfw_onnx_moderate_verdicts: actions.join(' '),
    nsfw_video_5s: video,
    nsfw_tfjs_wasm_images_per_s: r(tfjs.imagesPerSec),
    nsfw_onnx_vs_tfjs_wasm: r(onnxOne.imagesPerSec / tfjs.imagesPerSec),
    nsfw_images_timed: { onnx: onnxOne.images, tfjs_wasm: tfjs.images },
    nsfw_max_abs_prob_diff: maxAbsDiff,
  };
}

/** scanVideo of a 5 s 1280×720 testsrc clip: exhaustive windows and no deduplication, then as shipped. */
async function videoScan(shipped: NsfwClassifier, exhaustive: NsfwClassifier): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-nsfw-video-'));
  try {
    const file = path.join(dir, 'testsrc-5s.mp4');
    const made = spawnSync('ffmpeg', ['-nostdin', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=duration=5:size=1280x720:rate=25', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', file]);
    if (made.status !== 0) return { skipped: `ffmpeg failed: ${made.stderr.toString().trim().split('\n').at(-1) ?? ''}` };
    await scanVideo(file, shipped); // warm-up (the 640×360 shapes, ffmpeg in the page cache)
    const before = await timeOnce(() => scanVideo(file, exhaustive, { dedupFrames: false }));
    const after = await timeOnce(() => scanVideo(file, shipped));
    const round = (v: number): number => Math.round(v * 1000) / 1000;
    return {
      clip: 'lavfi testsrc 1280x720 25 fps, 5 s; 1 frame/s + last, decoded at 640x360',
      frames: after.value.frames.length,
      frames_scored_after: after.value.frames.filter((f) => f.duplicateOf === undefined).length,
      before_s: round(before.wallSec),
      after_s: round(after.wallSec),
      speedup: round(before.wallSec / after.wallSec),
      cpu_s_before: round(before.cpuSec),
      cpu_s_after: round(after.cpuSec),
      cpu_ratio: round(before.cpuSec / after.cpuSec),
      same_verdict: before.value.action === after.value.action,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
