import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { OnnxDataType, OnnxGraphBuilder, OnnxGraphError, attr, modelProtoType } from './index.ts';

interface DecodedModel {
  ir_version: number;
  producer_name: string;
  doc_string?: string;
  opset_import: { version: number }[];
  metadata_props?: { key: string; value: string }[];
  graph: {
    node: { name: string; op_type: string; output: string[]; attribute?: { name: string; type: number; i?: number; f?: number; ints?: number[]; floats?: number[] }[] }[];
    input: { name: string }[];
    initializer: { name: string; dims: number[]; data_type: number }[];
  };
}

function decode(bytes: Uint8Array): DecodedModel {
  return modelProtoType().toObject(modelProtoType().decode(bytes), { longs: Number }) as DecodedModel;
}

describe('ONNX writer', () => {
  it('encodes a ModelProto that decodes back and that ONNX Runtime runs', async () => {
    const g = new OnnxGraphBuilder('check');
    const x = g.input('x', OnnxDataType.FLOAT, [1, 'n']);
    const w = g.floats('w', [1, 3], [1, 2, 3]);
    const y = g.op('Mul', [x, w]);
    const s = g.op('ReduceMean', [y], { axes: attr.ints([1]), keepdims: attr.int(1) }, 'sum');
    g.output(s, OnnxDataType.FLOAT, [1, 1]);
    const bytes = g.encode();

    const decoded = decode(bytes);
    expect(decoded.ir_version).toBe(8);
    expect(decoded.producer_name).toBe('framecast-onnx-writer');
    expect(decoded.opset_import[0]?.version).toBe(17);
    expect(decoded.graph.node.map((n) => n.op_type)).toEqual(['Mul', 'ReduceMean']);
    expect(decoded.graph.node[1]?.attribute?.find((a) => a.name === 'axes')).toMatchObject({ type: 7, ints: [1] });
    expect(decoded.graph.initializer[0]).toMatchObject({ name: 'w', dims: [1, 3], data_type: 1 });

    const session = await ort.InferenceSession.create(bytes);
    const out = await session.run({ x: new ort.Tensor('float32', Float32Array.of(1, 1, 2), [1, 3]) });
    expect(Array.from(out.sum!.data as Float32Array)).toEqual([(1 + 2 + 6) / 3]);
    await session.release();
  });

  it('writes opset, doc string, metadata, float and int attributes, int64 and scalar constants as given', async () => {
    const g = new OnnxGraphBuilder('typed', 13);
    const x = g.input('x', OnnxDataType.FLOAT, ['N', 2, 2, 1]);
    const nchw = g.op('Transpose', [x], { perm: attr.ints([0, 3, 1, 2]) }, 'x/nchw');
    const padded = g.op('Pad', [nchw, g.int64s('x/pads', [0, 0, 1, 1, 0, 0, 0, 0])], { mode: attr.string('constant') });
    const bn = g.op(
      'BatchNormalization',
      [padded, g.floats('bn/gamma', [1], [2]), g.floats('bn/beta', [1], [0.5]), g.floats('bn/mean', [1], [1]), g.floats('bn/var', [1], [3])],
      { epsilon: attr.float(1) },
    );
    const clipped = g.op('Clip', [bn, g.scalar('min', 0), g.scalar('max', 6)]);
    const flat = g.op('Flatten', [clipped], { axis: attr.int(1) }, 'out');
    g.output(flat, OnnxDataType.FLOAT, ['N', 9]);
    const bytes = g.encode({ producer: 'unit-test', docString: 'a doc', metadata: { classes: 'A,B', version: '3' } });

    const decoded = decode(bytes);
    expect(decoded.producer_name).toBe('unit-test');
    expect(decoded.doc_string).toBe('a doc');
    expect(decoded.opset_import[0]?.version).toBe(13);
    expect(decoded.metadata_props).toEqual([
      { key: 'classes', value: 'A,B' },
      { key: 'version', value: '3' },
    ]);
    // Prefixes become names as they are when free; node names are their first output.
    expect(decoded.graph.initializer.map((i) => i.name)).toEqual(['x/pads', 'bn/gamma', 'bn/beta', 'bn/mean', 'bn/var', 'min', 'max']);
    expect(decoded.graph.initializer.find((i) => i.name === 'x/pads')).toMatchObject({ dims: [8], data_type: OnnxDataType.INT64 });
    expect(decoded.graph.initializer.find((i) => i.name === 'min')).toMatchObject({ data_type: OnnxDataType.FLOAT });
    expect(decoded.graph.node.map((n) => n.name)).toEqual(['x/nchw', 'pad', 'batchnormalization', 'clip', 'out']);
    const eps = decoded.graph.node[2]?.attribute?.[0];
    expect(eps).toMatchObject({ name: 'epsilon', type: 1, f: 1 });

    const session = await ort.InferenceSession.create(bytes);
    // 2×2 image [[4, 10], [1, 7]] padded top-left with zeros, then 2·(v − 1)/√(3 + 1) + 0.5 = v − 0.5, clipped to [0, 6].
    const res = await session.run({ x: new ort.Tensor('float32', Float32Array.of(4, 10, 1, 7), [1, 2, 2, 1]) });
    expect(res.out!.dims).toEqual([1, 9]);
    expect(Array.from(res.out!.data as Float32Array)).toEqual([0, 0, 0, 0, 3.5, 6, 0, 0.5, 6]);
    await session.release();
  });

  it('makes distinct names from a repeated prefix', () => {
    const g = new OnnxGraphBuilder('names');
    const x = g.input('x', OnnxDataType.FLOAT, [2]);
    const a = g.floats('w', [2], [1, 2]);
    const b = g.floats('w', [2], [3, 4]);
    const [r1, r2] = [g.op('Relu', [x]), g.op('Relu', [x])];
    expect(a).toBe('w');
    expect(new Set([a, b, r1, r2]).size).toBe(4);
    expect(b.startsWith('w_')).toBe(true);
  });

  it('returns every output of a multi-output node', async () => {
    const g = new OnnxGraphBuilder('split');
    const x = g.input('x', OnnxDataType.FLOAT, [4]);
    const [lo, hi] = g.node('Split', [x, g.int64s('sizes', [1, 3])], ['lo', 'hi'], { axis: attr.int(0) });
    g.output(lo!, OnnxDataType.FLOAT, [1]);
    g.output(hi!, OnnxDataType.FLOAT, [3]);
    const session = await ort.InferenceSession.create(g.encode());
    const res = await session.run({ x: new ort.Tensor('float32', Float32Array.of(1, 2, 3, 4), [4]) });
    expect(Array.from(res.lo!.data as Float32Array)).toEqual([1]);
    expect(Array.from(res.hi!.data as Float32Array)).toEqual([2, 3, 4]);
    await session.release();
  });

  it('rejects an initializer whose data does not fit its dims', () => {
    const g = new OnnxGraphBuilder('bad');
    expect(() => g.floats('w', [2, 2], [1, 2, 3])).toThrow(/3 values/);
  });

  it('rejects a reused explicit name, an undefined input or output, and a fractional int attribute', () => {
    const g = new OnnxGraphBuilder('bad');
    const x = g.input('x', OnnxDataType.FLOAT, [1]);
    g.op('Relu', [x], {}, 'y');
    expect(() => g.op('Relu', [x], {}, 'y')).toThrow(OnnxGraphError);
    expect(() => g.input('x', OnnxDataType.FLOAT, [1])).toThrow(/already used/);
    expect(() => g.op('Relu', ['nope'])).toThrow(/not defined/);
    expect(() => g.output('nope', OnnxDataType.FLOAT, [1])).toThrow(/not produced/);
    expect(() => g.op('Flatten', [x], { axis: attr.int(0.5) })).toThrow(/not an integer/);
    expect(() => g.int64s('shape', [1, 1.5])).toThrow(/not an integer/);
  });
});
