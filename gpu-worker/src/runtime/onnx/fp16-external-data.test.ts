/**
 * The runtime loads fp16 graphs whose weights live in external data files, as
 * tools/export-wan-onnx.py writes them for real checkpoints: the tiny model's graphs are rewritten
 * here with float16 inputs and outputs (manifest dtype 'float16', float16 timesteps), float16
 * weights, and every sizeable initializer moved to `<file>.data`; the pipeline on them must match the
 * float32 model closely.
 */
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import protobuf from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RuntimeRequest, RuntimeResult } from '../video-runtime.ts';
import { OnnxVideoRuntime } from './onnx-video-runtime.ts';
import { writeTinyWanModel } from './tiny-wan-model.ts';
import { toFloat16Bits } from './wan-latents.ts';
import type { WanManifestInput } from './wan-manifest.schema.ts';

/** The parts of onnx.proto the rewrite touches, external data included (field numbers as in onnx.proto). */
const ONNX_PROTO = `
syntax = "proto3";
package onnx;
message AttributeProto { string name = 1; float f = 2; int64 i = 3; bytes s = 4; TensorProto t = 5; repeated float floats = 7; repeated int64 ints = 8; repeated bytes strings = 9; string doc_string = 13; int32 type = 20; }
message ValueInfoProto { string name = 1; TypeProto type = 2; string doc_string = 3; }
message NodeProto { repeated string input = 1; repeated string output = 2; string name = 3; string op_type = 4; repeated AttributeProto attribute = 5; string doc_string = 6; string domain = 7; }
message StringStringEntryProto { string key = 1; string value = 2; }
message OperatorSetIdProto { string domain = 1; int64 version = 2; }
message ModelProto { int64 ir_version = 1; repeated OperatorSetIdProto opset_import = 8; string producer_name = 2; string producer_version = 3; string domain = 4; int64 model_version = 5; string doc_string = 6; GraphProto graph = 7; repeated StringStringEntryProto metadata_props = 14; }
message GraphProto { repeated NodeProto node = 1; string name = 2; repeated TensorProto initializer = 5; string doc_string = 10; repeated ValueInfoProto input = 11; repeated ValueInfoProto output = 12; repeated ValueInfoProto value_info = 13; }
message TensorProto { repeated int64 dims = 1; int32 data_type = 2; repeated float float_data = 4 [packed = true]; repeated int32 int32_data = 5 [packed = true]; repeated int64 int64_data = 7 [packed = true]; string name = 8; bytes raw_data = 9; string doc_string = 12; repeated StringStringEntryProto external_data = 13; int32 data_location = 14; }
message TensorShapeProto { message Dimension { oneof value { int64 dim_value = 1; string dim_param = 2; } string denotation = 3; } repeated Dimension dim = 1; }
message TypeProto { message Tensor { int32 elem_type = 1; TensorShapeProto shape = 2; } oneof value { Tensor tensor_type = 1; } string denotation = 6; }
`;
const FLOAT = 1;
const FLOAT16 = 10;
const EXTERNAL = 1;

interface Tensor {
  name: string;
  dims: number[];
  data_type: number;
  raw_data?: Uint8Array;
  external_data?: { key: string; value: string }[];
  data_location?: number;
}
interface ValueInfo {
  name: string;
  type?: { tensor_type?: { elem_type: number } };
}
interface Node {
  input: string[];
  output: string[];
  op_type: string;
  name?: string;
  attribute?: { name: string; i?: number; type: number }[];
}
interface Model {
  graph: { node: Node[]; initializer: Tensor[]; input: ValueInfo[]; output: ValueInfo[] };
}

const castNode = (from: string, to: string, elemType: number): Node => ({ input: [from], output: [to], op_type: 'Cast', name: `cast_${to}`, attribute: [{ name: 'to', i: elemType, type: 2 }] });

/** Rewrites one graph: float16 I/O, float16 weights (cast back to float inside), weights external. */
function toFp16External(bytes: Uint8Array, dataFile: string): { model: Uint8Array; data: Uint8Array; external: number } {
  const type = protobuf.parse(ONNX_PROTO, { keepCase: true }).root.lookupType('onnx.ModelProto');
  const model = type.toObject(type.decode(bytes), { longs: Number, defaults: false, arrays: true }) as Model;
  const g = model.graph;
  const rename = (from: string, to: string): void => {
    for (const n of g.node) n.input = n.input.map((x) => (x === from ? to : x));
  };
  const head: Node[] = [];
  const tail: Node[] = [];
  for (const input of g.input) {
    const tt = input.type?.tensor_type;
    if (tt?.elem_type !== FLOAT) continue;
    tt.elem_type = FLOAT16;
    rename(input.name, `${input.name}__f32`);
    head.push(castNode(input.name, `${input.name}__f32`, FLOAT));
  }
  for (const output of g.output) {
    const tt = output.type?.tensor_type;
    if (tt?.elem_type !== FLOAT) continue;
    tt.elem_type = FLOAT16;
    const inner = `${output.name}__f32`;
    for (const n of g.node) n.output = n.output.map((x) => (x === output.name ? inner : x));
    rename(output.name, inner);
    tail.push(castNode(inner, output.name, FLOAT16));
  }
  const chunks: Uint8Array[] = [];
  let offset = 0;
  let external = 0;
  for (const t of g.initializer) {
    const raw = t.raw_data;
    if (raw === undefined) continue;
    if (t.data_type === FLOAT && raw.length >= 64) {
      const f32 = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
      const half = toFloat16Bits(f32);
      const name = t.name;
      t.name = `${name}__f16`;
      t.data_type = FLOAT16;
      t.raw_data = new Uint8Array(half.buffer);
      head.push(castNode(t.name, name, FLOAT));
    }
    const data = t.raw_data;
    if (data === undefined || data.length < 256) continue;
    chunks.push(data);
    t.external_data = [
      { key: 'location', value: dataFile },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(data.length) },
    ];
    t.data_location = EXTERNAL;
    delete t.raw_data;
    offset += data.length;
    external++;
  }
  g.node = [...head, ...g.node, ...tail];
  const data = new Uint8Array(offset);
  let o = 0;
  for (const c of chunks) {
    data.set(c, o);
    o += c.length;
  }
  return { model: type.encode(type.fromObject(model)).finish(), data, external };
}

const quiet = { info: () => {}, warn: () => {} };
let tmp: string;
let fp32Dir: string;
let fp16Dir: string;
let externalCount = 0;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'wan-fp16-'));
  fp32Dir = path.join(tmp, 'fp32');
  fp16Dir = path.join(tmp, 'fp16');
  const manifest = await writeTinyWanModel(fp32Dir, { variant: 'ti2v' });
  await writeTinyWanModel(fp16Dir, { variant: 'ti2v' });
  for (const file of (await readdir(fp16Dir)).filter((f) => f.endsWith('.onnx'))) {
    const { model, data, external } = toFp16External(await readFile(path.join(fp16Dir, file)), `${file}.data`);
    await writeFile(path.join(fp16Dir, file), model);
    await writeFile(path.join(fp16Dir, `${file}.data`), data);
    externalCount += external;
  }
  const fp16: WanManifestInput = {
    ...manifest,
    textEncoder: { ...manifest.textEncoder, dtype: 'float16' },
    transformer: { ...manifest.transformer, dtype: 'float16', timestepDtype: 'float16' },
    ...(manifest.transformer2 !== undefined ? { transformer2: { ...manifest.transformer2, dtype: 'float16', timestepDtype: 'float16' } } : {}),
    vae: { ...manifest.vae, dtype: 'float16' },
  };
  await writeFile(path.join(fp16Dir, 'manifest.json'), JSON.stringify(fp16));
});

afterAll(async () => {
  if (tmp !== undefined) await rm(tmp, { recursive: true, force: true });
});

function frames(r: RuntimeResult): Uint8Array[] {
  if (r.kind !== 'frames') throw new Error('expected frames');
  return r.frames;
}

describe('fp16 graphs with external data', () => {
  it('the rewritten model keeps its weights outside the .onnx files', async () => {
    expect(externalCount).toBeGreaterThanOrEqual(10);
    const size = (await stat(path.join(fp16Dir, 'transformer_high_noise.onnx'))).size;
    const data = (await stat(path.join(fp16Dir, 'transformer_high_noise.onnx.data'))).size;
    expect(data).toBeGreaterThan(4 * size);
    // Without its data file the graph does not load.
    const copy = path.join(tmp, 'no-data');
    await writeFile(path.join(tmp, 'no-data.onnx'), await readFile(path.join(fp16Dir, 'transformer_high_noise.onnx')));
    const ort = (await import('onnxruntime-node')).default;
    await expect(ort.InferenceSession.create(`${copy}.onnx`)).rejects.toThrow();
  });

  it('generates text- and image-conditioned videos that match the float32 model (measured: mean 0.05, max 1 level)', async () => {
    const a = new OnnxVideoRuntime({ modelDir: fp32Dir, executionProvider: 'cpu', logger: quiet, intraOpThreads: 1 });
    const b = new OnnxVideoRuntime({ modelDir: fp16Dir, executionProvider: 'cpu', logger: quiet, intraOpThreads: 1 });
    try {
      const rgb = new Uint8Array(64 * 64 * 3).map((_, i) => (i * 7) & 255);
      const requests: RuntimeRequest[] = [
        { prompt: 'a red kite over the sea', width: 64, height: 64, frames: 5, fps: 16, seed: 3, mode: 'draft', steps: 4 },
        { prompt: '雪夜里的一只黑猫', width: 64, height: 64, frames: 5, fps: 16, seed: 4, mode: 'draft', steps: 4, image: { rgb, width: 64, height: 64 } },
      ];
      for (const request of requests) {
        const fa = frames(await a.generate(request));
        const fb = frames(await b.generate(request));
        expect(fb).toHaveLength(fa.length);
        let sum = 0;
        let max = 0;
        let n = 0;
        fa.forEach((f, k) => {
          const g = fb[k]!;
          for (let i = 0; i < f.length; i++) {
            const d = Math.abs(f[i]! - g[i]!);
            sum += d;
            max = Math.max(max, d);
            n++;
          }
        });
        if (process.env.FRAMECAST_FIDELITY_REPORT === '1') console.log(JSON.stringify({ fp16VsFp32: { mean: sum / n, max } }));
        // Different (float16 weights and activations at the boundaries), and close.
        expect(max).toBeGreaterThan(0);
        expect(sum / n).toBeLessThan(0.5);
        expect(max).toBeLessThanOrEqual(4);
      }
    } finally {
      await a.dispose();
      await b.dispose();
    }
  });
});
