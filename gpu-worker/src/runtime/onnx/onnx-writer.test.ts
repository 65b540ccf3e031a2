import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { OnnxDataType, OnnxGraphBuilder, attr, modelProtoType } from '../../onnx-writer/index.ts';

describe('ONNX writer', () => {
  it('encodes a ModelProto that decodes back and that ONNX Runtime runs', async () => {
    const g = new OnnxGraphBuilder('check');
    const x = g.input('x', OnnxDataType.FLOAT, [1, 'n']);
    const w = g.floats('w', [1, 3], [1, 2, 3]);
    const y = g.op('Mul', [x, w]);
    const s = g.op('ReduceMean', [y], { axes: attr.ints([1]), keepdims: attr.int(1) }, 'sum');
    g.output(s, OnnxDataType.FLOAT, [1, 1]);
    const bytes = g.encode();

    const decoded = modelProtoType().toObject(modelProtoType().decode(bytes), { longs: Number }) as {
      ir_version: number;
      opset_import: { version: number }[];
      graph: { node: { op_type: string; attribute?: { name: string; type: number; ints?: number[] }[] }[]; input: { name: string }[]; initializer: { dims: number[]; data_type: number }[] };
    };
    expect(decoded.ir_version).toBe(8);
    expect(decoded.opset_import[0]?.version).toBe(17);
    expect(decoded.graph.node.map((n) => n.op_type)).toEqual(['Mul', 'ReduceMean']);
    expect(decoded.graph.node[1]?.attribute?.find((a) => a.name === 'axes')).toMatchObject({ type: 7, ints: [1] });
    expect(decoded.graph.initializer[0]).toMatchObject({ dims: [1, 3], data_type: 1 });

    const session = await ort.InferenceSession.create(bytes);
    const out = await session.run({ x: new ort.Tensor('float32', Float32Array.of(1, 1, 2), [1, 3]) });
    expect(Array.from(out.sum!.data as Float32Array)).toEqual([(1 + 2 + 6) / 3]);
    await session.release();
  });

  it('rejects an initializer whose data does not fit its dims', () => {
    const g = new OnnxGraphBuilder('bad');
    expect(() => g.floats('w', [2, 2], [1, 2, 3])).toThrow(/3 values/);
  });
});
