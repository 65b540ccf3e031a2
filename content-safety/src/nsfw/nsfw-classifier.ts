/**
 * The NSFW image classifier: nsfwjs's MobileNetV2 (or InceptionV3) converted to ONNX, run with
 * onnxruntime-node. Preprocessing matches nsfwjs (see nsfw-preprocess.ts).
 *
 * `moderateRgb` scores the whole image, a few fixed crops (plain borders trimmed, the centre, and
 * overlapping quadrants or a 3×3 grid) and sliding windows at several scales (nsfw-windows.ts) in
 * batched runs, and takes the worst crop: a wide frame, a collage or a picture-in-picture around
 * an explicit picture lowers the whole-image score a lot, a crop or window that holds it does not.
 * The windows are scored only where a cheap first pass finds a reason (skin-toned area, or a
 * suspicious fixed crop: see moderateBatch and nsfw-window-prior.ts), unless `exhaustive`.
 *
 * Rules: a crop whose summed probability of the block classes (default Porn + Hentai) reaches
 * block.min blocks; otherwise one whose summed review classes (default Sexy) reach review.min
 * sends the image to review; otherwise allow.
 */
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import type { Metadata, SharpOptions } from 'sharp';
import { FramecastError, type ContentModerator, type ModerationHit, type ModerationVerdict } from '@framecast/core';
import { ensureNsfwModel } from './ensure-nsfw-model.ts';
import { ONNX_INPUT_NAME, ONNX_OUTPUT_NAME } from './keras-to-onnx.ts';
import { findContentBox, resizeBilinearToTensor, type CropRect } from './nsfw-preprocess.ts';
import { slidingWindows, type NsfwWindowOptions } from './nsfw-windows.ts';
import { skinFraction, skinMap } from './nsfw-window-prior.ts';
import { isAcceptedFormat, sniffImageFormat } from '../image/image-format-sniffer.ts';

export const NSFW_CLASSES = ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'] as const;
export type NsfwClass = (typeof NSFW_CLASSES)[number];
export type NsfwScores = Record<NsfwClass, number>;

export interface NsfwRule {
  /** The probabilities of these classes are summed… */
  classes: NsfwClass[];
  /** …and the rule fires when the sum reaches this. */
  min: number;
}

export interface NsfwThresholds {
  block: NsfwRule;
  review: NsfwRule;
}

export const DEFAULT_NSFW_THRESHOLDS: NsfwThresholds = Object.freeze({
  block: Object.freeze({ classes: ['Porn', 'Hentai'], min: 0.5 }) as NsfwRule,
  review: Object.freeze({ classes: ['Sexy'], min: 0.7 }) as NsfwRule,
});

export type NsfwAction = 'allow' | 'review' | 'block';
export type NsfwCropKind = 'quadrants' | 'grid3' | 'none';

/** A window's block score that needs no second window to agree. */
export const WINDOW_ALONE_BLOCK_MIN = 0.8;

/**
 * The skin-toned (or mid-tone grey) share of a window (nsfw-window-prior.ts) from which it is
 * scored. The deciding windows of the collage and picture-in-picture tests have 0.55 or more;
 * neutral tiles have none.
 */
export const NSFW_WINDOW_MIN_SKIN = 0.2;

function isWindow(crop: string): boolean {
  return crop.startsWith('window-');
}

function overlaps(a: CropRect, b: CropRect): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

export interface NsfwCropScores {
  /** `whole`, `content` (borders trimmed), `center`, `cell-<row>-<col>` or `window-<side>-<x>-<y>`. */
  crop: string;
  rect: CropRect;
  scores: NsfwScores;
}

export interface NsfwVerdict {
  action: NsfwAction;
  /** Scores of the crop that decided (for allow: of the whole image). */
  scores: NsfwScores;
  /** The crop that decided; null for allow. */
  decidedBy: string | null;
  /** The highest block-rule and review-rule sums over all crops. */
  blockScore: number;
  reviewScore: number;
  /** Every crop and window scored, the whole image first. */
  crops: NsfwCropScores[];
  /** Sliding windows planned but left unscored by the first pass (0 when `exhaustive`). */
  windowsSkipped: number;
}

export interface NsfwRgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

export interface NsfwClassifierOptions {
  /** An .onnx file; by default the MobileNetV2 conversion, created on demand by ensureNsfwModel. */
  modelPath?: string;
  /** onnxruntime execution providers, e.g. ['cuda', 'cpu'] on a GPU host. Default ['cpu']. */
  executionProviders?: string[];
  thresholds?: Partial<NsfwThresholds>;
  /**
   * Fixed crops besides the whole image: 'quadrants' (centre + 4 overlapping quadrants), 'grid3'
   * (centre + 3×3), 'none' (the whole image only: no content crop and no windows either).
   */
  crops?: NsfwCropKind;
  /** Sliding windows over the content box (see nsfw-windows.ts; default on, ≤ 64); false for none. */
  windows?: NsfwWindowOptions | false;
  intraOpNumThreads?: number;
  /**
   * Largest batch handed to one session.run. Default 1: on CPU (MobileNetV2, onnxruntime 1.30,
   * 2 cores) a bigger batch costs more CPU per input, not less (8 ms at 1, 9–10 at 4, 9–22 at 16:
   * its activations fall out of cache), and each new batch size pays a one-off plan of about a
   * second. Raise it for a GPU execution provider.
   */
  maxBatch?: number;
  /**
   * Score every sliding window, not only those the first pass finds a reason for (see
   * moderateBatch). Default false; true is the exhaustive check the prior is measured against.
   */
  exhaustive?: boolean;
}

/** What `withOptions` may change: everything but the model and how it runs. */
export type NsfwPolicyOptions = Pick<NsfwClassifierOptions, 'thresholds' | 'crops' | 'windows' | 'maxBatch' | 'exhaustive'>;

interface NsfwPolicy {
  thresholds: NsfwThresholds;
  cropKind: NsfwCropKind;
  windows: NsfwWindowOptions | false;
  maxBatch: number;
  exhaustive: boolean;
}

/** Checks the options over `base` (the defaults, or the classifier being derived from). */
function resolvePolicy(opts: NsfwPolicyOptions, base: NsfwPolicy): NsfwPolicy {
  const windows = opts.windows ?? base.windows;
  if (windows !== false) slidingWindows({ x: 0, y: 0, width: 640, height: 480 }, windows); // throws on bad options, now rather than per image
  return {
    thresholds: {
      block: checkRule(opts.thresholds?.block ?? base.thresholds.block, 'block'),
      review: checkRule(opts.thresholds?.review ?? base.thresholds.review, 'review'),
    },
    cropKind: opts.crops ?? base.cropKind,
    windows,
    maxBatch: Math.max(1, opts.maxBatch ?? base.maxBatch),
    exhaustive: opts.exhaustive ?? base.exhaustive,
  };
}

const DEFAULT_POLICY: NsfwPolicy = { thresholds: DEFAULT_NSFW_THRESHOLDS, cropKind: 'quadrants', windows: {}, maxBatch: 1, exhaustive: false };

/** One model session and how many classifiers still use it. */
interface SharedSession {
  session: ort.InferenceSession;
  users: number;
}

export type NsfwErrorCode = 'image_decode_failed' | 'image_too_large' | 'unsupported_format' | 'invalid_image' | 'invalid_thresholds';

export class NsfwError extends FramecastError {
  declare readonly code: NsfwErrorCode;
  constructor(code: NsfwErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options?.cause === undefined ? {} : { cause: options.cause });
    this.name = 'NsfwError';
  }
}

/** Pixel limit for decoding user images (sharp's own default is 268 MP). */
export const NSFW_MAX_INPUT_PIXELS = 40_000_000;

function checkRule(rule: NsfwRule, which: string): NsfwRule {
  if (!(rule.min >= 0 && rule.min <= 1) || rule.classes.length === 0 || !rule.classes.every((c) => NSFW_CLASSES.includes(c))) {
    throw new NsfwError('invalid_thresholds', `${which}: classes must be among ${NSFW_CLASSES.join(',')} and min in [0,1]`);
  }
  return { classes: [...rule.classes], min: rule.min };
}

export function ruleScore(scores: NsfwScores, rule: NsfwRule): number {
  return rule.classes.reduce((sum, c) => sum + scores[c], 0);
}

/**
 * The crop rectangles scored by moderateRgb, the whole image first:
 * - `content`: the image with plain borders trimmed (when that removes ≥ 10 % of it);
 * - `center` and `cell-<r>-<c>`: the middle 60 % and four overlapping 60 % corner boxes
 *   ('quadrants'), or half-size boxes on a quarter-size stride ('grid3'), taken of the content box.
 */
export function nsfwCrops(
  rgb: Uint8Array,
  width: number,
  height: number,
  kind: NsfwCropKind,
  windows: NsfwWindowOptions | false = {},
): { crop: string; rect: CropRect }[] {
  const whole: CropRect = { x: 0, y: 0, width, height };
  const crops = [{ crop: 'whole', rect: whole }];
  if (kind === 'none' || width < 2 || height < 2) return crops;
  const content = findContentBox(rgb, width, height);
  const trimmed = content.width * content.height <= 0.9 * width * height && content.width >= 16 && content.height >= 16;
  const base = trimmed ? content : whole;
  if (trimmed) crops.push({ crop: 'content', rect: content });
  const box = (fx: number, fy: number, fw: number, fh: number): CropRect => {
    const w = Math.max(1, Math.round(base.width * fw));
    const h = Math.max(1, Math.round(base.height * fh));
    return {
      x: base.x + Math.min(base.width - w, Math.round(base.width * fx)),
      y: base.y + Math.min(base.height - h, Math.round(base.height * fy)),
      width: w,
      height: h,
    };
  };
  crops.push({ crop: 'center', rect: box(0.2, 0.2, 0.6, 0.6) });
  if (kind === 'quadrants') {
    // 60 % × 60 % boxes in the four corners: they overlap, so nothing is split between all of them.
    for (const [r, fy] of [0, 0.4].entries())
      for (const [c, fx] of [0, 0.4].entries()) crops.push({ crop: `cell-${r}-${c}`, rect: box(fx, fy, 0.6, 0.6) });
  } else {
    // Half-size boxes on a quarter-size stride.
    for (const [r, fy] of [0, 0.25, 0.5].entries())
      for (const [c, fx] of [0, 0.25, 0.5].entries()) crops.push({ crop: `cell-${r}-${c}`, rect: box(fx, fy, 0.5, 0.5) });
  }
  // Sliding windows over the content box: a small picture among others (a collage, a
  // picture-in-picture) fills most of some window, and is scored nearly as if it were alone.
  if (windows !== false) crops.push(...slidingWindows(base, windows));
  return crops;
}

export class NsfwClassifier {
  readonly thresholds: NsfwThresholds;
  private readonly cropKind: NsfwCropKind;
  private readonly windows: NsfwWindowOptions | false;
  private readonly maxBatch: number;
  private readonly exhaustive: boolean;
  private readonly session: ort.InferenceSession;
  private released = false;

  private constructor(
    private readonly shared: SharedSession,
    readonly inputSize: number,
    policy: NsfwPolicy,
  ) {
    shared.users++;
    this.session = shared.session;
    this.thresholds = policy.thresholds;
    this.cropKind = policy.cropKind;
    this.windows = policy.windows;
    this.maxBatch = policy.maxBatch;
    this.exhaustive = policy.exhaustive;
  }

  static async load(opts: NsfwClassifierOptions = {}): Promise<NsfwClassifier> {
    const policy = resolvePolicy(opts, DEFAULT_POLICY);
    const modelPath = opts.modelPath ?? (await ensureNsfwModel());
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      executionProviders: opts.executionProviders ?? ['cpu'],
      graphOptimizationLevel: 'all',
    };
    if (opts.intraOpNumThreads !== undefined) sessionOptions.intraOpNumThreads = opts.intraOpNumThreads;
    const session = await ort.InferenceSession.create(modelPath, sessionOptions);
    if (!session.inputNames.includes(ONNX_INPUT_NAME) || !session.outputNames.includes(ONNX_OUTPUT_NAME)) {
      await session.release();
      throw new Error(`${modelPath} is not an nsfwjs conversion (inputs ${session.inputNames.join(',')})`);
    }
    const meta = session.inputMetadata.find((m) => m.name === ONNX_INPUT_NAME);
    const dim = meta !== undefined && meta.isTensor ? meta.shape[1] : undefined;
    const inputSize = typeof dim === 'number' ? dim : 224;
    return new NsfwClassifier({ session, users: 0 }, inputSize, policy);
  }

  /**
   * A classifier with other thresholds, crops, windows or batch size (unset ones are this one's)
   * on this classifier's model session: no second copy of the weights and no second warm-up,
   * for a process that applies two policies (or a test that compares them). The session is
   * released when every classifier that shares it has been released.
   */
  withOptions(opts: NsfwPolicyOptions): NsfwClassifier {
    if (this.released) throw new Error('this classifier has been released');
    const base: NsfwPolicy = {
      thresholds: this.thresholds,
      cropKind: this.cropKind,
      windows: this.windows,
      maxBatch: this.maxBatch,
      exhaustive: this.exhaustive,
    };
    return new NsfwClassifier(this.shared, this.inputSize, resolvePolicy(opts, base));
  }

  /** Runs the model on prepared NHWC tensors (`count` images of inputSize², values in [0,1]). */
  async runTensor(tensor: Float32Array, count: number): Promise<NsfwScores[]> {
    const per = this.inputSize * this.inputSize * 3;
    if (tensor.length !== per * count) throw new RangeError(`expected ${per * count} floats, got ${tensor.length}`);
    const results: NsfwScores[] = [];
    for (let start = 0; start < count; start += this.maxBatch) {
      const n = Math.min(this.maxBatch, count - start);
      const input = new ort.Tensor('float32', tensor.subarray(start * per, (start + n) * per), [n, this.inputSize, this.inputSize, 3]);
      const out = await this.session.run({ [ONNX_INPUT_NAME]: input });
      const probs = out[ONNX_OUTPUT_NAME];
      if (probs === undefined) throw new Error('the model returned no probabilities');
      const data = probs.data as Float32Array;
      for (let i = 0; i < n; i++) {
        results.push({
          Drawing: data[i * 5] ?? 0,
          Hentai: data[i * 5 + 1] ?? 0,
          Neutral: data[i * 5 + 2] ?? 0,
          Porn: data[i * 5 + 3] ?? 0,
          Sexy: data[i * 5 + 4] ?? 0,
        });
      }
    }
    return results;
  }

  /** Scores several (image, crop) pairs in as few runs as possible. */
  async classifyRegions(regions: { image: NsfwRgbImage; rect?: CropRect }[]): Promise<NsfwScores[]> {
    const per = this.inputSize * this.inputSize * 3;
    const results: NsfwScores[] = [];
    // One run's tensor at a time (maxBatch inputs), so many regions never hold many tensors.
    for (let start = 0; start < regions.length; start += this.maxBatch) {
      const chunk = regions.slice(start, start + this.maxBatch);
      const tensor = new Float32Array(per * chunk.length);
      chunk.forEach(({ image, rect }, i) => {
        checkImage(image);
        resizeBilinearToTensor(image.data, image.width, image.height, this.inputSize, tensor, i * per, rect);
      });
      results.push(...(await this.runTensor(tensor, chunk.length)));
    }
    return results;
  }

  /** Scores whole images (several frames go in one run). */
  async classifyBatch(images: NsfwRgbImage[]): Promise<NsfwScores[]> {
    return this.classifyRegions(images.map((image) => ({ image })));
  }

  /** Scores the whole image only, as nsfwjs's `classify` would. */
  async classifyRgb(rgb: Uint8Array, width: number, height: number): Promise<NsfwScores> {
    const [scores] = await this.classifyBatch([{ data: rgb, width, height }]);
    if (scores === undefined) throw new Error('no scores');
    return scores;
  }

  /** Applies the thresholds to one set of scores. */
  actionFor(scores: NsfwScores): NsfwAction {
    if (ruleScore(scores, this.thresholds.block) >= this.thresholds.block.min) return 'block';
    if (ruleScore(scores, this.thresholds.review) >= this.thresholds.review.min) return 'review';
    return 'allow';
  }

  /** The crops and windows moderateRgb scores for an image of this size and content. */
  cropsFor(rgb: Uint8Array, width: number, height: number): { crop: string; rect: CropRect }[] {
    return nsfwCrops(rgb, width, height, this.cropKind, this.windows);
  }

  /**
   * Whole image plus crops and sliding windows, the worst one decides (see moderateBatch).
   */
  async moderateRgb(rgb: Uint8Array, width: number, height: number): Promise<NsfwVerdict> {
    const [v] = await this.moderateBatch([{ data: rgb, width, height }]);
    if (v === undefined) throw new Error('no verdict');
    return v;
  }

  /**
   * Moderates several images (the frames of a video) together, in two batched passes:
   * 1. the whole image and the fixed crops of every image;
   * 2. the sliding windows that have a reason to be scored: those with at least
   *    NSFW_WINDOW_MIN_SKIN of skin-toned or mid-tone grey area (nsfw-window-prior.ts), and every window centred
   *    in a fixed crop that pass 1 found suspicious (half the block or review threshold or more).
   *    An image that a fixed crop already blocks gets no windows: they could only confirm it.
   * With `exhaustive: true` every window is scored, in one pass (the behaviour before the prior).
   * The inputs go to the model in runs of maxBatch (default 1, see NsfwClassifierOptions).
   */
  async moderateBatch(images: NsfwRgbImage[]): Promise<NsfwVerdict[]> {
    for (const image of images) checkImage(image);
    const plans = images.map((img) => this.cropsFor(img.data, img.width, img.height));
    const firstPass = plans.map((crops) => (this.exhaustive ? crops : crops.filter((c) => !isWindow(c.crop))));
    const first = await this.scoreCrops(images, firstPass);
    if (this.exhaustive) return first.map((scored) => this.decide(scored, 0));
    const { block, review } = this.thresholds;
    const chosen = plans.map((crops, k) => {
      const windows = crops.filter((c) => isWindow(c.crop));
      const fixed = first[k] ?? [];
      const image = images[k];
      if (windows.length === 0 || image === undefined || fixed.some((c) => ruleScore(c.scores, block) >= block.min)) return [];
      const suspects = fixed
        .filter((c) => ruleScore(c.scores, block) >= block.min / 2 || ruleScore(c.scores, review) >= review.min / 2)
        .map((c) => c.rect);
      const map = skinMap(image.data, image.width, image.height);
      return windows.filter(({ rect }) => {
        if (skinFraction(map, rect) >= NSFW_WINDOW_MIN_SKIN) return true;
        const cx = rect.x + rect.width / 2;
        const cy = rect.y + rect.height / 2;
        return suspects.some((r) => cx >= r.x && cx < r.x + r.width && cy >= r.y && cy < r.y + r.height);
      });
    });
    const second = await this.scoreCrops(images, chosen);
    return first.map((scored, k) => {
      const windows = (plans[k] ?? []).filter((c) => isWindow(c.crop)).length;
      const extra = second[k] ?? [];
      return this.decide([...scored, ...extra], windows - extra.length);
    });
  }

  /** Scores the crops of each image, all images' crops in shared runs. */
  private async scoreCrops(images: NsfwRgbImage[], crops: { crop: string; rect: CropRect }[][]): Promise<NsfwCropScores[][]> {
    const regions = crops.flatMap((list, k) => list.map(({ rect }) => ({ image: images[k] as NsfwRgbImage, rect })));
    const scores = await this.classifyRegions(regions);
    let at = 0;
    return crops.map((list) => list.map((c) => ({ ...c, scores: scores[at++] as NsfwScores })));
  }

  /** The verdict over the scored crops (the whole image first). */
  private decide(scored: NsfwCropScores[], windowsSkipped: number): NsfwVerdict {
    let best = { block: -1, review: -1, blockAt: 0, reviewAt: 0 };
    scored.forEach((c, i) => {
      const b = ruleScore(c.scores, this.thresholds.block);
      const r = ruleScore(c.scores, this.thresholds.review);
      if (b > best.block) best = { ...best, block: b, blockAt: i };
      if (r > best.review) best = { ...best, review: r, reviewAt: i };
    });
    const whole = scored[0] as NsfwCropScores;
    const base = { blockScore: best.block, reviewScore: best.review, crops: scored, windowsSkipped };
    if (best.block >= this.thresholds.block.min) {
      const c = scored[best.blockAt] as NsfwCropScores;
      // A small window alone sees little context and can be fooled by texture: a block that only
      // one window supports needs a high score or a second, overlapping window; otherwise a person
      // reviews it.
      if (isWindow(c.crop) && best.block < WINDOW_ALONE_BLOCK_MIN) {
        const over = scored.filter((x) => ruleScore(x.scores, this.thresholds.block) >= this.thresholds.block.min);
        const confirmed = over.some((x) => !isWindow(x.crop)) || over.some((x) => x !== c && overlaps(x.rect, c.rect));
        if (!confirmed) return { action: 'review', scores: c.scores, decidedBy: c.crop, ...base };
      }
      return { action: 'block', scores: c.scores, decidedBy: c.crop, ...base };
    }
    if (best.review >= this.thresholds.review.min) {
      const c = scored[best.reviewAt] as NsfwCropScores;
      return { action: 'review', scores: c.scores, decidedBy: c.crop, ...base };
    }
    return { action: 'allow', scores: whole.scores, decidedBy: null, ...base };
  }

  /** Decodes an image file (JPEG, PNG or WebP only, see decodeImageRgb) safely, then moderateRgb. */
  async moderateImage(buffer: Buffer): Promise<NsfwVerdict> {
    const image = await decodeImageRgb(buffer);
    return this.moderateRgb(image.data, image.width, image.height);
  }

  /** Releases the model session once no other classifier from `withOptions` shares it. Idempotent. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    if (--this.shared.users === 0) await this.session.release();
  }
}

function checkImage(image: NsfwRgbImage): void {
  const { width, height, data } = image;
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new NsfwError('invalid_image', `bad image size ${width}x${height}`);
  }
  if (data.length !== width * height * 3) {
    throw new NsfwError('invalid_image', `expected ${width * height * 3} bytes of RGB for ${width}x${height}, got ${data.length}`);
  }
}

/**
 * Decodes to packed RGB with sharp: the format told by magic bytes (image/image-format-sniffer.ts)
 * must be JPEG, PNG or WebP — the same set as the image intake's decodeImageSafely — and sharp
 * must agree on it; SVG, GIF, TIFF, HEIF/AVIF, BMP, PDF and anything else are refused with
 * `unsupported_format` before libvips sees them. Then: pixel limit, fail on warnings (truncated or
 * corrupt files), first frame only, EXIF orientation applied, alpha dropped, grey or CMYK turned
 * into sRGB.
 */
export async function decodeImageRgb(buffer: Buffer, maxPixels = NSFW_MAX_INPUT_PIXELS): Promise<NsfwRgbImage> {
  const format = sniffImageFormat(buffer);
  if (!isAcceptedFormat(format)) throw new NsfwError('unsupported_format', `images must be JPEG, PNG or WebP (this one is ${format})`);
  const options: SharpOptions = { limitInputPixels: maxPixels, failOn: 'warning', animated: false };
  let meta: Metadata;
  try {
    // The header only (nothing is decoded), without the pixel limit, so an oversized image gets its own error.
    meta = await sharp(buffer, { ...options, limitInputPixels: false }).metadata();
  } catch (err) {
    throw new NsfwError('image_decode_failed', 'the image could not be read', { cause: err });
  }
  if (meta.format !== format) throw new NsfwError('image_decode_failed', `the file starts as ${format} but reads as ${meta.format}`);
  if (meta.width === undefined || meta.height === undefined) throw new NsfwError('image_decode_failed', 'the image has no size');
  if (meta.width * meta.height > maxPixels) {
    throw new NsfwError('image_too_large', `the image has ${meta.width}x${meta.height} pixels, more than ${maxPixels}`);
  }
  try {
    const { data, info } = await sharp(buffer, options)
      .rotate()
      .toColourspace('srgb')
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
  } catch (err) {
    if (err instanceof NsfwError) throw err;
    throw new NsfwError('image_decode_failed', 'the image could not be decoded', { cause: err });
  }
}

/** An image moderator for the core's ContentModerator port (source 'nsfw-onnx'). */
export function createNsfwImageModerator(c: NsfwClassifier): Required<Pick<ContentModerator, 'moderateImage'>> {
  return {
    async moderateImage(image): Promise<ModerationVerdict> {
      const v = await c.moderateRgb(image.data, image.width, image.height);
      const hits: ModerationHit[] = [];
      if (v.action !== 'allow') {
        const rule = v.action === 'block' ? c.thresholds.block : c.thresholds.review;
        for (const cls of rule.classes) hits.push({ category: 'nsfw-image', match: cls, score: v.scores[cls] });
      }
      return { action: v.action, hits, source: 'nsfw-onnx' };
    },
  };
}
