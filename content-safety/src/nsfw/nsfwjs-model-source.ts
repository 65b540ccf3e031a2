/**
 * Reads the trained models that the `nsfwjs` npm package ships: each is a browserify/UMD bundle
 * (`dist/models/<name>/model.min.js`) exporting a TensorFlow.js layers-model `model.json`, and
 * weight shards (`group1-shardXofN.min.js`) exporting the shard bytes as base64. Weights are
 * uint8-quantized; they are dequantized exactly as tfjs-core's `decodeWeights` does
 * (`q * scale + min`, stored as float32).
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';

export type NsfwModelName = 'mobilenet_v2' | 'inception_v3';

export interface KerasLayer {
  class_name: string;
  name: string;
  config: Record<string, unknown>;
  /** Keras 2.2 format: [[[layerName, nodeIndex, tensorIndex, kwargs], ...]] */
  inbound_nodes: [string, number, number, unknown][][];
}

export interface KerasModelSource {
  name: NsfwModelName;
  nsfwjsVersion: string;
  inputSize: number;
  layers: KerasLayer[];
  inputLayers: string[];
  outputLayers: string[];
  /** Dequantized weights by tfjs name (`<layer>/<param>`), with their shapes. */
  weights: Map<string, { shape: number[]; values: Float32Array }>;
}

interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; min?: number; scale?: number };
}

interface ModelJson {
  modelTopology: {
    keras_version?: string;
    model_config: {
      class_name: string;
      config: { layers: KerasLayer[]; input_layers: [string, number, number][]; output_layers: [string, number, number][] };
    };
  };
  weightsManifest: { paths: string[]; weights: WeightSpec[] }[];
}

const require = createRequire(import.meta.url);

/** The folder of the installed nsfwjs package (its exports map hides package.json). */
export function nsfwjsPackageDir(): string {
  const entry = require.resolve('nsfwjs'); // …/nsfwjs/dist/cjs/index.js
  let dir = path.dirname(entry);
  while (path.basename(dir) !== 'nsfwjs') {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the nsfwjs package folder from ${entry}`);
    dir = parent;
  }
  return dir;
}

export function nsfwjsVersion(): string {
  const pkg = JSON.parse(readFileSync(path.join(nsfwjsPackageDir(), 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

function dequantize(spec: WeightSpec, bytes: Uint8Array): Float32Array {
  const count = spec.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(count);
  const q = spec.quantization;
  if (spec.dtype !== 'float32') throw new Error(`weight ${spec.name}: dtype ${spec.dtype} is not supported`);
  if (q === undefined) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
  } else if (q.dtype === 'uint8' || q.dtype === 'uint16') {
    if (q.min === undefined || q.scale === undefined) throw new Error(`weight ${spec.name}: quantization without min/scale`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < count; i++) {
      const v = q.dtype === 'uint8' ? (bytes[i] ?? 0) : view.getUint16(i * 2, true);
      out[i] = v * q.scale + q.min;
    }
  } else {
    throw new Error(`weight ${spec.name}: quantization ${q.dtype} is not supported`);
  }
  return out;
}

function byteSize(spec: WeightSpec): number {
  const count = spec.shape.reduce((a, b) => a * b, 1);
  const q = spec.quantization?.dtype;
  if (q === 'uint8') return count;
  if (q === 'uint16' || q === 'float16') return count * 2;
  return count * 4;
}

export function loadNsfwjsModel(name: NsfwModelName): KerasModelSource {
  const dir = path.join(nsfwjsPackageDir(), 'dist', 'models', name);
  const json = require(path.join(dir, 'model.min.js')) as ModelJson;
  const cfg = json.modelTopology.model_config.config;
  const weights = new Map<string, { shape: number[]; values: Float32Array }>();
  for (const group of json.weightsManifest) {
    const shards = group.paths.map((p) => {
      const base64 = require(path.join(dir, `${p}.min.js`)) as unknown;
      if (typeof base64 !== 'string') throw new Error(`weight shard ${p} is not a base64 string`);
      return Buffer.from(base64, 'base64');
    });
    const all = Buffer.concat(shards);
    let offset = 0;
    for (const spec of group.weights) {
      const size = byteSize(spec);
      if (offset + size > all.length) throw new Error(`weight ${spec.name} runs past the end of its shards`);
      weights.set(spec.name, { shape: spec.shape, values: dequantize(spec, all.subarray(offset, offset + size)) });
      offset += size;
    }
    if (offset !== all.length) throw new Error(`weight group ${group.paths.join(',')}: ${all.length - offset} bytes left over`);
  }
  const input = cfg.layers.find((l) => l.class_name === 'InputLayer');
  const shape = input?.config['batch_input_shape'] as (number | null)[] | undefined;
  const inputSize = shape?.[1];
  if (typeof inputSize !== 'number') throw new Error('the model has no fixed input size');
  return {
    name,
    nsfwjsVersion: nsfwjsVersion(),
    inputSize,
    layers: cfg.layers,
    inputLayers: cfg.input_layers.map((l) => l[0]),
    outputLayers: cfg.output_layers.map((l) => l[0]),
    weights,
  };
}
