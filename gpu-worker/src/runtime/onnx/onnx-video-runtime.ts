/**
 * The embedded Wan-style text/image-to-video pipeline on onnxruntime-node: tokenizer → text
 * encoder → flow-matching denoising loop over one or two transformers (Wan2.2 A14B experts
 * switched at boundary_ratio × 1000) with classifier-free guidance → VAE decode → RGB24 frames.
 * Sessions are created once in load() and kept warm across jobs.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import ort from 'onnxruntime-node';
import type { RuntimeCapabilities } from '@framecast/core';
import { RuntimeError } from '../video-runtime.ts';
import type { RuntimeHooks, RuntimeRequest, RuntimeResult, StepProgress, VideoRuntime } from '../video-runtime.ts';
import { NUM_TRAIN_TIMESTEPS, createFlowSampler, expertAt } from './flow-scheduler.ts';
import type { FlowSigmas, SchedulerKind } from './flow-scheduler.ts';
import { onnxModelCapabilities } from './model-capabilities.ts';
import { philoxNormals } from './philox-rng.ts';
import { readWanManifest } from './wan-manifest.schema.ts';
import type { TensorDtype, WanManifest } from './wan-manifest.schema.ts';
import {
  applyGuidanceInPlace,
  concatChannels,
  denormalizeLatents,
  firstFrameMask,
  fromFloat16Bits,
  geometrySize,
  imageVideoTensor,
  latentGeometry,
  latentPreview,
  normalizeLatentsInPlace,
  predictX0,
  replaceFirstFrameInPlace,
  toFloat16Bits,
  tokenCount,
  videoToRgbFrames,
} from './wan-latents.ts';

/** pino-compatible subset. */
export interface RuntimeLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

const consoleLogger: RuntimeLogger = {
  info: () => {},
  warn: (obj, msg) => console.warn(`[onnx-runtime] ${msg}`, obj),
};

export type ExecutionProviderChoice = 'auto' | 'cuda' | 'cpu';

/**
 * FRAMECAST_ORT_PROVIDERS (a list of `cuda`, `cpu`) → the runtime's choice: unset or both →
 * 'auto' (CUDA when onnxruntime-node's CUDA binaries are installed and a session opens on it,
 * else CPU with a warning); `cuda` alone → 'cuda' (fails loudly instead of falling back);
 * `cpu` alone → 'cpu'.
 */
export function executionProviderFromList(providers: readonly string[]): ExecutionProviderChoice {
  const cuda = providers.includes('cuda');
  const cpu = providers.includes('cpu');
  if (cuda) return cpu ? 'auto' : 'cuda';
  return cpu ? 'cpu' : 'auto';
}

/** What ran at one denoising step (instrumentation for tests and logs). */
export interface DenoiseStepInfo {
  step: number;
  timestep: number;
  sigma: number;
  expert: 'high' | 'low';
  guidanceScale: number;
  /** Transformer passes this step: 1 (no CFG) or 2. */
  passes: number;
}

export interface OnnxVideoRuntimeOptions {
  modelDir: string;
  /** 'auto' tries CUDA and falls back to CPU with a log line. Default 'auto'. */
  executionProvider?: ExecutionProviderChoice;
  /** ORT intra-op threads (0 or absent: ORT's default). */
  intraOpThreads?: number;
  /** A preview every k steps (and on the last); 0 = never. Default 1. */
  previewEvery?: number;
  /** Longer side of the preview at most this (integer nearest upscale of the latent). Default 160. */
  previewMaxSide?: number;
  /** Overrides the manifest's sampler. */
  scheduler?: SchedulerKind;
  /** Overrides the manifest's `defaults.flowSigmas` (the σ grid: 'wan' or 'diffusers'). */
  flowSigmas?: FlowSigmas;
  logger?: RuntimeLogger;
  onDenoiseStep?: (info: DenoiseStepInfo) => void;
  /** The latents after each step (1-based), before decoding (instrumentation for fidelity tests). */
  onStepLatents?: (step: number, latents: Float32Array) => void;
}

const MAX_STEPS = 200;
const EMBEDDING_CACHE = 16;

interface Component {
  session: ort.InferenceSession;
  dtype: TensorDtype;
}

interface Transformer extends Component {
  timestepDtype: 'float32' | 'float16' | 'int64';
}

interface Loaded {
  manifest: WanManifest;
  tokenizer: Tokenizer;
  eosId: number | undefined;
  textEncoder: Component;
  high: Transformer;
  low: Transformer | undefined;
  decoder: Component;
  encoder: Component | undefined;
  provider: 'cuda' | 'cpu';
}

/**
 * onnxruntime-node ships CUDA support as extra shared libraries next to its binding, fetched by its
 * install script on GPU hosts (skipped by default here). Without them ORT fails — and logs an error
 * — on every CUDA attempt, so 'auto' checks first.
 */
export function cudaProviderInstalled(): boolean {
  try {
    const binding = createRequire(import.meta.url).resolve('onnxruntime-node');
    const binDir = path.join(path.dirname(binding), '..', 'bin', 'napi-v6', process.platform, process.arch);
    return existsSync(path.join(binDir, 'libonnxruntime_providers_cuda.so')) || existsSync(path.join(binDir, 'onnxruntime_providers_cuda.dll'));
  } catch {
    return false;
  }
}

function isOomMessage(message: string): boolean {
  return /out of memory|failed to allocate|bad_alloc|cudaErrorMemoryAllocation|CUDNN_STATUS_ALLOC_FAILED|OOM/i.test(message);
}

/** Maps an ORT failure to a RuntimeError code. */
export function classifyOrtError(err: unknown, what: string): RuntimeError {
  if (err instanceof RuntimeError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (isOomMessage(message)) return new RuntimeError('oom', `${what}: out of memory`, { cause: err });
  return new RuntimeError('transient', `${what} failed: ${message.slice(0, 300)}`, { cause: err });
}

function floatTensor(data: Float32Array, dims: readonly number[], dtype: TensorDtype): ort.Tensor {
  return dtype === 'float16' ? new ort.Tensor('float16', toFloat16Bits(data), dims) : new ort.Tensor('float32', data, dims);
}

function toFloat32(t: ort.Tensor | undefined, what: string): Float32Array {
  if (t === undefined) throw new RuntimeError('transient', `${what} returned no output`);
  const data: unknown = t.data;
  if (data instanceof Float32Array) return data;
  if (t.type === 'float16' && data instanceof Uint16Array) return fromFloat16Bits(data);
  if (ArrayBuffer.isView(data) && !(data instanceof DataView) && !(data instanceof BigInt64Array) && !(data instanceof BigUint64Array))
    return Float32Array.from(data as unknown as ArrayLike<number>);
  throw new RuntimeError('transient', `${what} returned ${t.type}, expected a float tensor`);
}

const NAMED_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
// Python's str `\s` (the set re uses), which differs from JavaScript's in \x1c–\x1f, \x85 and \ufeff.
const PY_WHITESPACE = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/g;

function unescapeHtml(text: string): string {
  return text.replace(/&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|(amp|lt|gt|quot|apos));?/g, (all: string, dec?: string, hex?: string, name?: string) => {
    if (name !== undefined) return name === 'apos' && !all.endsWith(';') ? all : (NAMED_ENTITIES[name] ?? all);
    const code = dec !== undefined ? Number.parseInt(dec, 10) : Number.parseInt(hex ?? '', 16);
    return code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff) ? String.fromCodePoint(code) : '\uFFFD';
  });
}

/**
 * The prompt cleaning of diffusers' Wan pipelines (`prompt_clean`) and of the official Wan code's
 * tokenizer (`clean='whitespace'`): HTML entities unescaped twice (the common ones: &amp; &lt; &gt;
 * &quot; &apos; and numeric), every run of whitespace one space, trimmed. (Both also run ftfy's
 * fix_text, which repairs mojibake; not reproduced.)
 */
export function cleanPrompt(text: string): string {
  return unescapeHtml(unescapeHtml(text)).replace(PY_WHITESPACE, ' ').trim();
}

function checkCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw new RuntimeError('cancelled', 'generation cancelled');
}

export class OnnxVideoRuntime implements VideoRuntime {
  readonly name = 'onnx';
  private loaded: Loaded | undefined;
  private loading: Promise<Loaded> | undefined;
  private readonly logger: RuntimeLogger;
  private readonly embeddingCache = new Map<string, Float32Array>();

  constructor(private readonly options: OnnxVideoRuntimeOptions) {
    this.logger = options.logger ?? consoleLogger;
  }

  /** The execution provider the sessions run on (after load). */
  get executionProvider(): 'cuda' | 'cpu' | undefined {
    return this.loaded?.provider;
  }

  get manifest(): WanManifest | undefined {
    return this.loaded?.manifest;
  }

  /** From the manifest (read on its own when the model is not loaded yet). */
  async capabilities(): Promise<RuntimeCapabilities> {
    return onnxModelCapabilities(this.loaded?.manifest ?? (await readWanManifest(this.options.modelDir)));
  }

  async load(): Promise<void> {
    if (this.loaded !== undefined) return;
    this.loading ??= this.doLoad().catch((err: unknown) => {
      this.loading = undefined;
      throw err;
    });
    this.loaded = await this.loading;
  }

  private async doLoad(): Promise<Loaded> {
    const dir = this.options.modelDir;
    const manifest = await readWanManifest(dir);
    const tokJson: unknown = JSON.parse(await readFile(path.join(dir, manifest.tokenizer.file), 'utf8'));
    const tokConfig: unknown =
      manifest.tokenizer.configFile === undefined ? {} : JSON.parse(await readFile(path.join(dir, manifest.tokenizer.configFile), 'utf8'));
    const tokenizer = new Tokenizer(tokJson as object, tokConfig as object);
    const eosId = tokenizer.token_to_id('</s>');

    const choice = this.options.executionProvider ?? 'auto';
    let provider: 'cuda' | 'cpu' = choice === 'cpu' ? 'cpu' : 'cuda';
    if (choice === 'auto' && !cudaProviderInstalled()) {
      this.logger.warn({ reason: 'libonnxruntime_providers_cuda.so not installed with onnxruntime-node' }, 'CUDA execution provider unavailable, using CPU');
      provider = 'cpu';
    }
    const sessionOptions = (p: 'cuda' | 'cpu'): ort.InferenceSession.SessionOptions => ({
      executionProviders: [p],
      graphOptimizationLevel: 'all',
      ...(this.options.intraOpThreads !== undefined && this.options.intraOpThreads > 0 ? { intraOpNumThreads: this.options.intraOpThreads } : {}),
    });
    const open = async (file: string): Promise<ort.InferenceSession> => {
      const full = path.join(dir, file);
      if (provider === 'cuda') {
        try {
          return await ort.InferenceSession.create(full, sessionOptions('cuda'));
        } catch (err) {
          if (choice === 'cuda') throw classifyOrtError(err, `loading ${file} on CUDA`);
          this.logger.warn({ file, reason: err instanceof Error ? err.message.slice(0, 200) : String(err) }, 'CUDA execution provider unavailable, falling back to CPU');
          provider = 'cpu';
        }
      }
      try {
        return await ort.InferenceSession.create(full, sessionOptions('cpu'));
      } catch (err) {
        throw classifyOrtError(err, `loading ${file}`);
      }
    };

    const textEncoder: Component = { session: await open(manifest.textEncoder.file), dtype: manifest.textEncoder.dtype };
    const high: Transformer = { session: await open(manifest.transformer.file), dtype: manifest.transformer.dtype, timestepDtype: manifest.transformer.timestepDtype };
    const low: Transformer | undefined =
      manifest.transformer2 === undefined
        ? undefined
        : { session: await open(manifest.transformer2.file), dtype: manifest.transformer2.dtype, timestepDtype: manifest.transformer2.timestepDtype };
    const decoder: Component = { session: await open(manifest.vae.decoderFile), dtype: manifest.vae.dtype };
    const encoder: Component | undefined = manifest.vae.encoderFile === undefined ? undefined : { session: await open(manifest.vae.encoderFile), dtype: manifest.vae.dtype };
    this.logger.info({ model: manifest.name, provider, experts: low === undefined ? 1 : 2 }, 'onnx video runtime loaded');
    return { manifest, tokenizer, eosId, textEncoder, high, low, decoder, encoder, provider };
  }

  async dispose(): Promise<void> {
    const l = this.loaded ?? (this.loading === undefined ? undefined : await this.loading.catch(() => undefined));
    this.loaded = undefined;
    this.loading = undefined;
    this.embeddingCache.clear();
    if (l === undefined) return;
    for (const c of [l.textEncoder, l.high, l.low, l.decoder, l.encoder]) if (c !== undefined) await c.session.release();
  }

  async generate(request: RuntimeRequest, hooks: RuntimeHooks = {}): Promise<RuntimeResult> {
    await this.load();
    const l = this.loaded;
    if (l === undefined) throw new RuntimeError('transient', 'runtime not loaded');
    const m = l.manifest;
    const signal = hooks.signal;
    checkCancelled(signal);

    // ---- validate
    const g = latentGeometry(
      { latentChannels: m.vae.latentChannels, spatialFactor: m.vae.spatialFactor, temporalFactor: m.vae.temporalFactor, patchSize: m.patchSize, limits: m.limits },
      request.width,
      request.height,
      request.frames,
    );
    const fixed = m.staticShape;
    if (fixed !== undefined && (request.width !== fixed.width || request.height !== fixed.height || request.frames !== fixed.frames))
      throw new RuntimeError('bad_input', `model ${m.name} was exported for ${fixed.width}×${fixed.height}, ${fixed.frames} frames only`);
    const steps = request.steps ?? (request.mode === 'draft' ? m.defaults.draftSteps : m.defaults.steps);
    if (!Number.isInteger(steps) || steps < 1 || steps > MAX_STEPS) throw new RuntimeError('bad_input', `steps must be an integer in 1..${MAX_STEPS}, got ${steps}`);
    if (!Number.isSafeInteger(request.seed) || request.seed < 0) throw new RuntimeError('bad_input', `seed must be a non-negative safe integer`);
    if (request.guidanceScale !== undefined && !(request.guidanceScale >= 1 && request.guidanceScale <= 30))
      throw new RuntimeError('bad_input', `guidanceScale must be in 1..30, got ${request.guidanceScale}`);
    const image = request.image;
    if (image !== undefined) {
      if (m.imageConditioning === undefined || l.encoder === undefined) throw new RuntimeError('bad_input', `model ${m.name} does not take an image`);
      if (image.width !== request.width || image.height !== request.height || image.rgb.length !== image.width * image.height * 3)
        throw new RuntimeError('bad_input', `image must be ${request.width}×${request.height} RGB24`);
    } else if (m.imageConditioning === 'concat') {
      throw new RuntimeError('bad_input', `model ${m.name} needs a first-frame image`);
    }
    const guidanceHigh = request.guidanceScale ?? m.defaults.guidanceScale;
    const guidanceLow = request.guidanceScale ?? m.defaults.guidanceScale2 ?? m.defaults.guidanceScale;
    const needUncond = guidanceHigh !== 1 || (l.low !== undefined && guidanceLow !== 1);

    // ---- text
    const cond = await this.encodeText(l, request.prompt);
    const uncond = needUncond ? await this.encodeText(l, request.negativePrompt ?? m.defaults.negativePrompt) : undefined;
    checkCancelled(signal);

    // ---- image conditioning
    let concatCond: Float32Array | undefined;
    let firstFrameCond: Float32Array | undefined;
    if (image !== undefined && l.encoder !== undefined) {
      if (m.imageConditioning === 'concat') {
        const lat = await this.encodeVideo(l, l.encoder, imageVideoTensor(image.rgb, image.width, image.height, request.frames), request.frames, request, g.frames);
        concatCond = concatChannels([firstFrameMask(g, m.vae.temporalFactor), lat]);
      } else {
        firstFrameCond = await this.encodeVideo(l, l.encoder, imageVideoTensor(image.rgb, image.width, image.height, 1), 1, request, 1);
      }
    }

    // ---- denoise
    const sampler = createFlowSampler(this.options.scheduler ?? m.defaults.scheduler, steps, m.defaults.shift, this.options.flowSigmas ?? m.defaults.flowSigmas);
    const { sigmas, timesteps } = sampler.schedule;
    // TI2V with an image: as diffusers' WanImageToVideoPipeline does, the sampler's latents keep
    // their own first frame; the transformer sees it replaced by the image's latent, and so does the
    // decoder. (The official Wan2.2 code replaces it in the latents after every step instead: the
    // decoded video is the same, the sampler being elementwise; the per-step latents match diffusers'.)
    let latents = philoxNormals(request.seed, geometrySize(g), 0);
    const boundary = m.boundaryRatio === undefined ? undefined : m.boundaryRatio * NUM_TRAIN_TIMESTEPS;
    const latentDims = [1, g.channels, g.frames, g.height, g.width];
    const inputDims = concatCond === undefined ? latentDims : [1, g.channels + concatCond.length / (g.frames * g.height * g.width), g.frames, g.height, g.width];
    const previewEvery = this.options.previewEvery ?? 1;
    const tokens = tokenCount(g, m.patchSize);
    const firstFrameTokens = tokens / (g.frames / m.patchSize[0]);

    for (let i = 0; i < steps; i++) {
      checkCancelled(signal);
      const t = timesteps[i] as number;
      const sigma = sigmas[i] as number;
      const useLow = l.low !== undefined && expertAt(t, boundary) === 'low';
      const model = useLow && l.low !== undefined ? l.low : l.high;
      const scale = useLow ? guidanceLow : guidanceHigh;
      let modelInput = latents;
      if (concatCond !== undefined) modelInput = concatChannels([latents, concatCond]);
      else if (firstFrameCond !== undefined) modelInput = replaceFirstFrameInPlace(latents.slice(), g, firstFrameCond);
      let timestepValues: number[];
      let timestepDims: number[];
      if (m.perTokenTimestep) {
        timestepValues = new Array<number>(tokens).fill(t);
        if (firstFrameCond !== undefined) timestepValues.fill(0, 0, firstFrameTokens);
        timestepDims = [1, tokens];
      } else {
        timestepValues = [t];
        timestepDims = [1];
      }
      const velocity = await this.runTransformer(model, modelInput, inputDims, timestepValues, timestepDims, cond, m, `denoising step ${i + 1}`);
      let passes = 1;
      if (scale !== 1 && uncond !== undefined) {
        const vu = await this.runTransformer(model, modelInput, inputDims, timestepValues, timestepDims, uncond, m, `denoising step ${i + 1}`);
        applyGuidanceInPlace(velocity, vu, scale);
        passes = 2;
      }
      this.options.onDenoiseStep?.({ step: i + 1, timestep: t, sigma, expert: model === l.high ? 'high' : 'low', guidanceScale: scale, passes });
      const before = latents;
      latents = sampler.step(velocity, latents, i);
      this.options.onStepLatents?.(i + 1, latents.slice());

      const progress: StepProgress = { step: i + 1, totalSteps: steps };
      if (m.preview !== undefined && previewEvery > 0 && ((i + 1) % previewEvery === 0 || i === steps - 1)) {
        const x0 = predictX0(before, velocity, sigma);
        if (firstFrameCond !== undefined) replaceFirstFrameInPlace(x0, g, firstFrameCond);
        progress.preview = latentPreview(x0, g, m.preview, this.options.previewMaxSide ?? 160);
      }
      hooks.onStep?.(progress);
    }
    checkCancelled(signal);

    // ---- decode
    if (firstFrameCond !== undefined) replaceFirstFrameInPlace(latents, g, firstFrameCond);
    const decoded = denormalizeLatents(latents, g, m.vae.latentsMean, m.vae.latentsStd);
    let out: Record<string, ort.Tensor>;
    try {
      out = await l.decoder.session.run({ [l.decoder.session.inputNames[0] ?? 'latent_sample']: floatTensor(decoded, latentDims, l.decoder.dtype) });
    } catch (err) {
      throw classifyOrtError(err, 'VAE decode');
    }
    const video = toFloat32(out[l.decoder.session.outputNames[0] ?? ''], 'VAE decoder');
    const frames = videoToRgbFrames(video, request.frames, request.height, request.width);
    return { kind: 'frames', frames, width: request.width, height: request.height, fps: request.fps };
  }

  private async runTransformer(
    model: Transformer,
    input: Float32Array,
    dims: number[],
    timestep: number[],
    timestepDims: number[],
    context: Float32Array,
    m: WanManifest,
    what: string,
  ): Promise<Float32Array> {
    const tsTensor =
      model.timestepDtype === 'int64'
        ? new ort.Tensor('int64', BigInt64Array.from(timestep, (v) => BigInt(Math.trunc(v))), timestepDims)
        : floatTensor(Float32Array.from(timestep), timestepDims, model.timestepDtype);
    const [nHidden, nTime, nCtx] = ['hidden_states', 'timestep', 'encoder_hidden_states'];
    let out: Record<string, ort.Tensor>;
    try {
      out = await model.session.run({
        [nHidden]: floatTensor(input, dims, model.dtype),
        [nTime]: tsTensor,
        [nCtx]: floatTensor(context, [1, m.textEncoder.textLength, m.textEncoder.hiddenSize], model.dtype),
      });
    } catch (err) {
      throw classifyOrtError(err, what);
    }
    const v = toFloat32(out[model.session.outputNames[0] ?? ''], 'transformer');
    const expected = m.vae.latentChannels * (dims[2] as number) * (dims[3] as number) * (dims[4] as number);
    if (v.length !== expected) throw new RuntimeError('transient', `transformer returned ${v.length} values, expected ${expected}`);
    // A fresh copy: the sampler keeps references to outputs across steps.
    return v.slice();
  }

  /** VAE-encodes a video tensor [1, 3, frames, H, W] and returns the normalised latent (z channels). */
  private async encodeVideo(l: Loaded, encoder: Component, video: Float32Array, frames: number, request: RuntimeRequest, latentFrames: number): Promise<Float32Array> {
    const m = l.manifest;
    let out: Record<string, ort.Tensor>;
    try {
      out = await encoder.session.run({ [encoder.session.inputNames[0] ?? 'sample']: floatTensor(video, [1, 3, frames, request.height, request.width], encoder.dtype) });
    } catch (err) {
      throw classifyOrtError(err, 'VAE encode');
    }
    const raw = toFloat32(out[encoder.session.outputNames[0] ?? ''], 'VAE encoder');
    const zc = m.vae.latentChannels;
    const per = latentFrames * (request.height / m.vae.spatialFactor) * (request.width / m.vae.spatialFactor);
    // An encoder that returns [mean, logvar] (2z channels): the mode is the mean.
    if (raw.length !== zc * per && raw.length !== 2 * zc * per) throw new RuntimeError('transient', `VAE encoder returned ${raw.length} values, expected ${zc * per}`);
    const lat = raw.slice(0, zc * per);
    return normalizeLatentsInPlace(lat, zc, m.vae.latentsMean, m.vae.latentsStd);
  }

  /** The text encoder's embeddings [1, L, D] of a prompt (a copy), as the denoising loop uses them. */
  async encodePrompt(text: string): Promise<Float32Array> {
    await this.load();
    const l = this.loaded;
    if (l === undefined) throw new RuntimeError('transient', 'runtime not loaded');
    return (await this.encodeText(l, text)).slice();
  }

  /** Prompt → embeddings [1, L, D] (float32), zero past the prompt when the manifest says so. */
  private async encodeText(l: Loaded, text: string): Promise<Float32Array> {
    const cached = this.embeddingCache.get(text);
    if (cached !== undefined) return cached;
    const { textLength: L, hiddenSize: D, zeroPadding } = l.manifest.textEncoder;
    let ids = l.tokenizer.encode(cleanPrompt(text)).ids;
    if (ids.length > L) {
      const last = ids[ids.length - 1];
      ids = ids.slice(0, L);
      if (last !== undefined && last === l.eosId) ids[L - 1] = last;
    }
    const length = ids.length;
    const padded = new BigInt64Array(L).fill(BigInt(l.manifest.tokenizer.padId));
    for (let i = 0; i < length; i++) padded[i] = BigInt(ids[i] as number);
    const session = l.textEncoder.session;
    const feeds: Record<string, ort.Tensor> = { [session.inputNames[0] ?? 'input_ids']: new ort.Tensor('int64', padded, [1, L]) };
    if (session.inputNames.includes('attention_mask')) {
      const mask = new BigInt64Array(L);
      mask.fill(1n, 0, length);
      feeds.attention_mask = new ort.Tensor('int64', mask, [1, L]);
    }
    let out: Record<string, ort.Tensor>;
    try {
      out = await session.run(feeds);
    } catch (err) {
      throw classifyOrtError(err, 'text encoder');
    }
    const emb = toFloat32(out[session.outputNames[0] ?? ''], 'text encoder').slice();
    if (emb.length !== L * D) throw new RuntimeError('transient', `text encoder returned ${emb.length} values, expected ${L * D}`);
    if (zeroPadding) emb.fill(0, length * D);
    if (this.embeddingCache.size >= EMBEDDING_CACHE) {
      const oldest = this.embeddingCache.keys().next().value;
      if (oldest !== undefined) this.embeddingCache.delete(oldest);
    }
    this.embeddingCache.set(text, emb);
    return emb;
  }
}

