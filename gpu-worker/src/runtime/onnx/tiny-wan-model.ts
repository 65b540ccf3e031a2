/**
 * A tiny random-weight Wan-style model with the same ONNX inputs, outputs and ranks as public
 * exports (text encoder `input_ids` → [1, L, D]; transformer `hidden_states`, `timestep`,
 * `encoder_hidden_states` → velocity; VAE decoder `latent_sample` → [1, 3, F, H, W] in [-1, 1];
 * VAE encoder `sample` → latent), for tests and the local demo, the way diffusers tests its
 * pipelines with tiny random models. Weights are seeded (Philox), so every machine writes the
 * same files. Small enough that a 320×192, 17-frame, 8-step job runs on a CPU in seconds.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OnnxDataType, OnnxGraphBuilder, attr } from '@framecast/content-safety';
import { philoxNormals } from './philox-rng.ts';
import { MANIFEST_FILE } from './wan-manifest.schema.ts';
import type { WanManifestInput } from './wan-manifest.schema.ts';

export type TinyWanVariant =
  /** Two experts, per-token timestep, first-frame-replace image conditioning (text and image to video). */
  | 'ti2v'
  /** Two experts, scalar timestep, text-to-video only. */
  | 't2v'
  /** Two experts, scalar timestep, concat conditioning (16 + 4 + 16 = 36 input channels). */
  | 'i2v';

const GENERATOR_VERSION = 2;
const DEFAULT_SEED = 20251121;
const Z = 16;
const SPATIAL = 8;
const TEMPORAL = 4;
const TEXT_LEN = 32;
const TEXT_DIM = 32;
const HIDDEN = 32;
const DECODER_CH = 12;
const TIME_FREQS = 8;

/** Default location: <repo>/models/tiny-wan (gitignored). */
export function defaultTinyWanDir(variant: TinyWanVariant = 'ti2v'): string {
  const repo = fileURLToPath(new URL('../../../../', import.meta.url));
  return path.join(repo, 'models', variant === 'ti2v' ? 'tiny-wan' : `tiny-wan-${variant}`);
}

/** Seeded weights: N(0, 1)·scale from stream `stream` of seed `seed`. */
class WeightSource {
  private stream = 0;
  constructor(private readonly seed: number) {}
  normal(count: number, scale: number): Float32Array {
    const v = philoxNormals(this.seed, count, this.stream++);
    for (let i = 0; i < v.length; i++) v[i] = (v[i] as number) * scale;
    return v;
  }
}

function textEncoderModel(vocabSize: number, w: WeightSource): Uint8Array {
  const g = new OnnxGraphBuilder('tiny_text_encoder');
  const ids = g.input('input_ids', OnnxDataType.INT64, [1, TEXT_LEN]);
  const table = g.floats('embedding', [vocabSize, TEXT_DIM], w.normal(vocabSize * TEXT_DIM, 1));
  const emb = g.op('Gather', [table, ids], { axis: attr.int(0) });
  const proj = g.floats('proj_w', [TEXT_DIM, TEXT_DIM], w.normal(TEXT_DIM * TEXT_DIM, 1 / Math.sqrt(TEXT_DIM)));
  const bias = g.floats('proj_b', [TEXT_DIM], w.normal(TEXT_DIM, 0.1));
  const h = g.op('Add', [g.op('MatMul', [emb, proj]), bias]);
  g.op('Tanh', [h], {}, 'last_hidden_state');
  g.output('last_hidden_state', OnnxDataType.FLOAT, [1, TEXT_LEN, TEXT_DIM]);
  return g.encode();
}

function transformerModel(inChannels: number, perToken: boolean, w: WeightSource): Uint8Array {
  const g = new OnnxGraphBuilder('tiny_wan_transformer');
  const x = g.input('hidden_states', OnnxDataType.FLOAT, [1, inChannels, 'latent_frames', 'latent_height', 'latent_width']);
  const ts = g.input('timestep', OnnxDataType.FLOAT, perToken ? [1, 'tokens'] : [1]);
  const ctx = g.input('encoder_hidden_states', OnnxDataType.FLOAT, [1, TEXT_LEN, TEXT_DIM]);

  // Patch-ish input projection: Conv3d (1,3,3).
  const w1 = g.floats('in_w', [HIDDEN, inChannels, 1, 3, 3], w.normal(HIDDEN * inChannels * 9, 1 / Math.sqrt(inChannels * 9)));
  const b1 = g.floats('in_b', [HIDDEN], w.normal(HIDDEN, 0.05));
  const h = g.op('Conv', [x, w1, b1], { kernel_shape: attr.ints([1, 3, 3]), pads: attr.ints([0, 1, 1, 0, 1, 1]) });

  // Text: mean-pooled projection, added per channel, and a per-channel gate.
  const pooled = g.op('ReduceMean', [ctx], { axes: attr.ints([1]), keepdims: attr.int(0) });
  const wt = g.floats('text_w', [TEXT_DIM, HIDDEN], w.normal(TEXT_DIM * HIDDEN, 2 / Math.sqrt(TEXT_DIM)));
  const wg = g.floats('gate_w', [TEXT_DIM, HIDDEN], w.normal(TEXT_DIM * HIDDEN, 1 / Math.sqrt(TEXT_DIM)));
  const chanShape = g.int64s('chan_shape', [1, -1, 1, 1, 1]);
  const textAdd = g.op('Reshape', [g.op('MatMul', [pooled, wt]), chanShape]);
  const gate = g.op('Reshape', [g.op('Add', [g.op('Tanh', [g.op('MatMul', [pooled, wg])]), g.scalar('one', 1)]), chanShape]);

  // Timestep: sinusoidal features of t/1000, a 1×1×1 conv to HIDDEN channels.
  const t01 = g.op('Div', [ts, g.scalar('thousand', 1000)]);
  let tmap: string;
  if (perToken) {
    const shape = g.op('Shape', [x]);
    const fhw = g.op('Slice', [shape, g.int64s('s2', [2]), g.int64s('s5', [5])]);
    const tokGrid = g.op('Div', [fhw, g.int64s('patch', [1, 2, 2])]);
    const full = g.op('Concat', [g.int64s('one_one', [1, 1]), tokGrid], { axis: attr.int(0) });
    tmap = g.op('Reshape', [t01, full]);
  } else {
    tmap = g.op('Reshape', [t01, g.int64s('t_shape', [1, 1, 1, 1, 1])]);
  }
  const freqs = Array.from({ length: TIME_FREQS }, (_, k) => Math.PI * 2 ** (k / 2));
  const phase = g.op('Mul', [tmap, g.floats('freqs', [1, TIME_FREQS, 1, 1, 1], freqs)]);
  const feats = g.op('Concat', [g.op('Sin', [phase]), g.op('Cos', [phase])], { axis: attr.int(1) });
  const wtime = g.floats('time_w', [HIDDEN, 2 * TIME_FREQS, 1, 1, 1], w.normal(HIDDEN * 2 * TIME_FREQS, 1 / Math.sqrt(2 * TIME_FREQS)));
  let temb = g.op('Conv', [feats, wtime], { kernel_shape: attr.ints([1, 1, 1]) });
  if (perToken) {
    const scales = g.floats('tok_scales', [5], [1, 1, 1, 2, 2]);
    temb = g.op('Resize', [temb, '', scales], {
      mode: attr.string('nearest'),
      coordinate_transformation_mode: attr.string('asymmetric'),
      nearest_mode: attr.string('floor'),
    });
  }

  const mixed = g.op('Add', [g.op('Add', [g.op('Mul', [h, gate]), textAdd]), temb]);
  const act = g.op('Mul', [mixed, g.op('Sigmoid', [mixed])]);
  const w2 = g.floats('out_w', [Z, HIDDEN, 3, 3, 3], w.normal(Z * HIDDEN * 27, 1 / Math.sqrt(HIDDEN * 27)));
  const b2 = g.floats('out_b', [Z], w.normal(Z, 0.05));
  const out = g.op('Conv', [act, w2, b2], { kernel_shape: attr.ints([3, 3, 3]), pads: attr.ints([1, 1, 1, 1, 1, 1]) });
  g.op('Mul', [g.op('Tanh', [out]), g.scalar('out_scale', 2)], {}, 'noise_pred');
  g.output('noise_pred', OnnxDataType.FLOAT, [1, Z, 'latent_frames', 'latent_height', 'latent_width']);
  return g.encode();
}

interface DecoderWeights {
  w1: Float32Array; // [DECODER_CH, Z]
  b1: Float32Array; // [DECODER_CH]
  w2: Float32Array; // [3, DECODER_CH, 3, 3]
  b2: Float32Array; // [3]
}

function vaeDecoderModel(dw: DecoderWeights): Uint8Array {
  const g = new OnnxGraphBuilder('tiny_wan_vae_decoder');
  const lat = g.input('latent_sample', OnnxDataType.FLOAT, [1, Z, 'latent_frames', 'latent_height', 'latent_width']);
  const a = g.op('Conv', [lat, g.floats('dec_in_w', [DECODER_CH, Z, 1, 1, 1], dw.w1), g.floats('dec_in_b', [DECODER_CH], dw.b1)], {
    kernel_shape: attr.ints([1, 1, 1]),
  });
  // ×4 in time, ×8 in space (nearest); keep 1 + 4·(F'−1) frames: latent frame 0 → one frame, as Wan's causal VAE.
  const up = g.op('Resize', [a, '', g.floats('up_scales', [5], [1, 1, TEMPORAL, SPATIAL, SPATIAL])], {
    mode: attr.string('nearest'),
    coordinate_transformation_mode: attr.string('asymmetric'),
    nearest_mode: attr.string('floor'),
  });
  const trimmed = g.op('Slice', [up, g.int64s('t_start', [TEMPORAL - 1]), g.int64s('t_end', [2 ** 31 - 1]), g.int64s('t_axis', [2])]);
  const rgb = g.op('Conv', [trimmed, g.floats('dec_out_w', [3, DECODER_CH, 1, 3, 3], dw.w2), g.floats('dec_out_b', [3], dw.b2)], {
    kernel_shape: attr.ints([1, 3, 3]),
    pads: attr.ints([0, 1, 1, 0, 1, 1]),
  });
  g.op('Tanh', [rgb], {}, 'sample');
  g.output('sample', OnnxDataType.FLOAT, [1, 3, 'frames', 'height', 'width']);
  return g.encode();
}

function vaeEncoderModel(w: WeightSource): Uint8Array {
  const g = new OnnxGraphBuilder('tiny_wan_vae_encoder');
  const video = g.input('sample', OnnxDataType.FLOAT, [1, 3, 'frames', 'height', 'width']);
  // Repeat frame 0 three times in front: 1 + 4k frames → 4(k+1) → k+1 latent frames.
  const padded = g.op('Pad', [video, g.int64s('pads', [0, 0, TEMPORAL - 1, 0, 0, 0, 0, 0, 0, 0])], { mode: attr.string('edge') });
  const pooled = g.op('AveragePool', [padded], {
    kernel_shape: attr.ints([TEMPORAL, SPATIAL, SPATIAL]),
    strides: attr.ints([TEMPORAL, SPATIAL, SPATIAL]),
  });
  const enc = g.op('Conv', [pooled, g.floats('enc_w', [Z, 3, 1, 1, 1], w.normal(Z * 3, 1)), g.floats('enc_b', [Z], w.normal(Z, 0.1))], {
    kernel_shape: attr.ints([1, 1, 1]),
  });
  g.op('Identity', [enc], {}, 'latent');
  g.output('latent', OnnxDataType.FLOAT, [1, Z, 'latent_frames', 'latent_height', 'latent_width']);
  return g.encode();
}

const CJK =
  '的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱倒未持取设始版双历越史商千片容研像找友孩站广改议形委早房音火际则首单据导影失拿网香似斯专石若兵弟谁校读志飞观争究包组造落视济喜离虽坏兴切称热装黑企需列念环亮类猫狗鱼鸟雨雪云星夜春秋冬夏街灯龙舞桥湖河森草树叶雾阳';

/** A character-level BPE tokenizer (Metaspace, byte fallback, `</s>` appended) in tokenizer.json form. */
export function tinyTokenizerJson(): { json: object; vocabSize: number } {
  const vocab: Record<string, number> = {};
  const add = (t: string): void => {
    if (!(t in vocab)) vocab[t] = Object.keys(vocab).length;
  };
  add('<pad>');
  add('</s>');
  add('<unk>');
  for (let b = 0; b < 256; b++) add(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
  add('▁');
  for (let c = 0x21; c < 0x7f; c++) add(String.fromCharCode(c));
  for (const ch of CJK) add(ch);
  const merges: [string, string][] = [];
  const special = (id: number, content: string): object => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(0, '<pad>'), special(1, '</s>'), special(2, '<unk>')],
    normalizer: { type: 'NFKC' },
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      special_tokens: { '</s>': { id: '</s>', ids: [1], tokens: ['</s>'] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }],
    },
    model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab, merges },
  };
  return { json, vocabSize: Object.keys(vocab).length };
}

export interface TinyWanOptions {
  variant?: TinyWanVariant;
  seed?: number;
}

/** Writes every file of the tiny model into `dir` (overwriting). Returns the manifest written. */
export async function writeTinyWanModel(dir: string, options: TinyWanOptions = {}): Promise<WanManifestInput> {
  const variant = options.variant ?? 'ti2v';
  const seed = options.seed ?? DEFAULT_SEED;
  await mkdir(dir, { recursive: true });
  const w = new WeightSource(seed);
  const { json: tokenizer, vocabSize } = tinyTokenizerJson();
  const inChannels = variant === 'i2v' ? Z + TEMPORAL + Z : Z;
  const perToken = variant === 'ti2v';

  const decoder: DecoderWeights = {
    w1: w.normal(DECODER_CH * Z, 1 / Math.sqrt(Z)),
    b1: w.normal(DECODER_CH, 0.1),
    w2: w.normal(3 * DECODER_CH * 9, 1 / Math.sqrt(DECODER_CH * 9)),
    b2: w.normal(3, 0.1),
  };
  const latentsMean = Array.from(w.normal(Z, 0.5));
  const latentsStd = Array.from(w.normal(Z, 0.3), (v) => 1 + Math.abs(v));
  // The decoder is linear up to its tanh: rgb ≈ W2Σ·(W1·(z·std + mean) + b1) + b2 on flat regions.
  const rgbFactors: [number, number, number][] = [];
  const effective = (c: number, k: number): number => {
    let s = 0;
    for (let d = 0; d < DECODER_CH; d++) {
      let tap = 0;
      for (let t = 0; t < 9; t++) tap += decoder.w2[(c * DECODER_CH + d) * 9 + t] as number;
      s += tap * (decoder.w1[d * Z + k] as number);
    }
    return s;
  };
  const bias: [number, number, number] = [0, 0, 0];
  for (let c = 0; c < 3; c++) {
    let b = decoder.b2[c] as number;
    for (let d = 0; d < DECODER_CH; d++) {
      let tap = 0;
      for (let t = 0; t < 9; t++) tap += decoder.w2[(c * DECODER_CH + d) * 9 + t] as number;
      b += tap * (decoder.b1[d] as number);
    }
    for (let k = 0; k < Z; k++) b += effective(c, k) * (latentsMean[k] as number);
    bias[c] = b;
  }
  for (let k = 0; k < Z; k++) {
    const s = latentsStd[k] as number;
    rgbFactors.push([effective(0, k) * s, effective(1, k) * s, effective(2, k) * s]);
  }

  const files: [string, Uint8Array | string][] = [
    ['tokenizer.json', JSON.stringify(tokenizer)],
    ['text_encoder.onnx', textEncoderModel(vocabSize, w)],
    ['transformer_high_noise.onnx', transformerModel(inChannels, perToken, w)],
    ['transformer_low_noise.onnx', transformerModel(inChannels, perToken, w)],
    ['vae_decoder.onnx', vaeDecoderModel(decoder)],
  ];
  if (variant !== 't2v') files.push(['vae_encoder.onnx', vaeEncoderModel(w)]);

  const manifest: WanManifestInput = {
    format: 'framecast-wan-onnx',
    version: 1,
    name: `tiny-wan-${variant}`,
    tokenizer: { file: 'tokenizer.json', padId: 0 },
    textEncoder: { file: 'text_encoder.onnx', textLength: TEXT_LEN, hiddenSize: TEXT_DIM },
    transformer: { file: 'transformer_high_noise.onnx' },
    transformer2: { file: 'transformer_low_noise.onnx' },
    boundaryRatio: 0.875,
    perTokenTimestep: perToken,
    patchSize: [1, 2, 2],
    vae: {
      decoderFile: 'vae_decoder.onnx',
      ...(variant !== 't2v' ? { encoderFile: 'vae_encoder.onnx' } : {}),
      latentChannels: Z,
      spatialFactor: SPATIAL,
      temporalFactor: TEMPORAL,
      latentsMean,
      latentsStd,
    },
    ...(variant === 'ti2v' ? { imageConditioning: 'first-frame-replace' as const } : variant === 'i2v' ? { imageConditioning: 'concat' as const } : {}),
    defaults: { steps: 12, draftSteps: 8, shift: 5, guidanceScale: 4, guidanceScale2: 3, scheduler: 'unipc', negativePrompt: '色调艳丽，过曝，静态，细节模糊不清' },
    limits: { maxWidth: 1280, maxHeight: 1280, maxFrames: 81 },
    preview: { rgbFactors, rgbBias: bias },
  };
  for (const [name, data] of files) await writeFile(path.join(dir, name), data);
  await writeFile(path.join(dir, 'generator.json'), JSON.stringify({ generator: 'tiny-wan', version: GENERATOR_VERSION, variant, seed }));
  // The manifest last, atomically: its presence marks a complete model.
  const tmp = path.join(dir, `${MANIFEST_FILE}.tmp-${process.pid}`);
  await writeFile(tmp, JSON.stringify(manifest, null, 2));
  await rename(tmp, path.join(dir, MANIFEST_FILE));
  return manifest;
}

/**
 * Idempotent: writes the tiny model into `dir` (default <repo>/models/tiny-wan) unless a complete
 * one of the same generator version, variant and seed is there. Returns the directory.
 */
export async function ensureTinyWanModel(dir?: string, options: TinyWanOptions = {}): Promise<string> {
  const variant = options.variant ?? 'ti2v';
  const seed = options.seed ?? DEFAULT_SEED;
  const target = dir ?? defaultTinyWanDir(variant);
  if (await isCurrent(target, variant, seed)) return target;
  // Write into a fresh sibling folder and rename it into place, so a concurrent reader (another
  // test process) never sees half-written files.
  const tmp = `${target}.tmp-${process.pid}-${randomUUID()}`;
  await writeTinyWanModel(tmp, { variant, seed });
  await mkdir(path.dirname(target), { recursive: true });
  try {
    await rename(tmp, target);
  } catch {
    if (await isCurrent(target, variant, seed)) {
      await rm(tmp, { recursive: true, force: true });
      return target;
    }
    await rm(target, { recursive: true, force: true });
    await rename(tmp, target);
  }
  return target;
}

async function isCurrent(dir: string, variant: TinyWanVariant, seed: number): Promise<boolean> {
  try {
    const stamp = JSON.parse(await readFile(path.join(dir, 'generator.json'), 'utf8')) as { version?: unknown; variant?: unknown; seed?: unknown };
    await readFile(path.join(dir, MANIFEST_FILE));
    return stamp.version === GENERATOR_VERSION && stamp.variant === variant && stamp.seed === seed;
  } catch {
    return false;
  }
}
