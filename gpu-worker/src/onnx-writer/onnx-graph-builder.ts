/**
 * Builds an ONNX ModelProto node by node and encodes it with protobufjs (see onnx-proto.ts).
 * Enough for small generated models: float32 / int64 / int32 initializers as raw_data, typed
 * attributes, graph inputs and outputs with fixed or symbolic dimensions.
 */
import { OnnxAttributeType, OnnxDataType, modelProtoType } from './onnx-proto.ts';
import type { OnnxDataTypeValue } from './onnx-proto.ts';

export type OnnxDim = number | string;

export type OnnxAttr =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'ints'; value: readonly number[] }
  | { kind: 'floats'; value: readonly number[] }
  | { kind: 'string'; value: string };

export const attr = {
  int: (value: number): OnnxAttr => ({ kind: 'int', value }),
  float: (value: number): OnnxAttr => ({ kind: 'float', value }),
  ints: (value: readonly number[]): OnnxAttr => ({ kind: 'ints', value }),
  floats: (value: readonly number[]): OnnxAttr => ({ kind: 'floats', value }),
  string: (value: string): OnnxAttr => ({ kind: 'string', value }),
};

interface AttributeMessage {
  name: string;
  type: number;
  i?: number;
  f?: number;
  s?: Uint8Array;
  ints?: number[];
  floats?: number[];
}

interface TensorMessage {
  name: string;
  dims: number[];
  data_type: number;
  raw_data: Uint8Array;
}

interface ValueInfoMessage {
  name: string;
  type: { tensor_type: { elem_type: number; shape: { dim: ({ dim_value: number } | { dim_param: string })[] } } };
}

interface NodeMessage {
  name: string;
  op_type: string;
  input: string[];
  output: string[];
  attribute: AttributeMessage[];
}

export type InitializerData = Float32Array | BigInt64Array | Int32Array | Uint8Array;

function dataTypeOf(data: InitializerData): OnnxDataTypeValue {
  if (data instanceof Float32Array) return OnnxDataType.FLOAT;
  if (data instanceof BigInt64Array) return OnnxDataType.INT64;
  if (data instanceof Int32Array) return OnnxDataType.INT32;
  return OnnxDataType.UINT8;
}

function toAttribute(name: string, a: OnnxAttr): AttributeMessage {
  switch (a.kind) {
    case 'int':
      return { name, type: OnnxAttributeType.INT, i: a.value };
    case 'float':
      return { name, type: OnnxAttributeType.FLOAT, f: a.value };
    case 'ints':
      return { name, type: OnnxAttributeType.INTS, ints: [...a.value] };
    case 'floats':
      return { name, type: OnnxAttributeType.FLOATS, floats: [...a.value] };
    case 'string':
      return { name, type: OnnxAttributeType.STRING, s: new TextEncoder().encode(a.value) };
  }
}

function valueInfo(name: string, elemType: OnnxDataTypeValue, dims: readonly OnnxDim[]): ValueInfoMessage {
  return {
    name,
    type: {
      tensor_type: {
        elem_type: elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) },
      },
    },
  };
}

export class OnnxGraphBuilder {
  private readonly nodes: NodeMessage[] = [];
  private readonly initializers: TensorMessage[] = [];
  private readonly inputs: ValueInfoMessage[] = [];
  private readonly outputs: ValueInfoMessage[] = [];
  private counter = 0;

  constructor(
    private readonly graphName: string,
    private readonly opset = 17,
  ) {}

  input(name: string, elemType: OnnxDataTypeValue, dims: readonly OnnxDim[]): string {
    this.inputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  output(name: string, elemType: OnnxDataTypeValue, dims: readonly OnnxDim[]): string {
    this.outputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  /** Adds a constant tensor; returns its name. */
  initializer(prefix: string, dims: readonly number[], data: InitializerData): string {
    const count = dims.reduce((a, b) => a * b, 1);
    if (count !== data.length) throw new Error(`initializer ${prefix}: ${data.length} values for dims [${dims.join(',')}]`);
    const name = `${prefix}_${this.counter++}`;
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
    this.initializers.push({ name, dims: [...dims], data_type: dataTypeOf(data), raw_data: bytes });
    return name;
  }

  floats(prefix: string, dims: readonly number[], values: ArrayLike<number>): string {
    return this.initializer(prefix, dims, Float32Array.from(values));
  }

  int64s(prefix: string, values: readonly number[]): string {
    return this.initializer(prefix, [values.length], BigInt64Array.from(values.map((v) => BigInt(v))));
  }

  scalar(prefix: string, value: number): string {
    return this.initializer(prefix, [], Float32Array.of(value));
  }

  /**
   * Adds a node. `outputs` is the list of output names, or a count of fresh names to make.
   * Returns the output names.
   */
  node(opType: string, inputs: readonly string[], outputs: readonly string[] | number = 1, attrs: Record<string, OnnxAttr> = {}): string[] {
    const outs = typeof outputs === 'number' ? Array.from({ length: outputs }, () => `${opType.toLowerCase()}_${this.counter++}`) : [...outputs];
    this.nodes.push({
      name: `${opType}_${this.counter++}`,
      op_type: opType,
      input: [...inputs],
      output: outs,
      attribute: Object.entries(attrs).map(([k, v]) => toAttribute(k, v)),
    });
    return outs;
  }

  /** Single-output shorthand. */
  op(opType: string, inputs: readonly string[], attrs: Record<string, OnnxAttr> = {}, outputName?: string): string {
    const [out] = this.node(opType, inputs, outputName === undefined ? 1 : [outputName], attrs);
    if (out === undefined) throw new Error('unreachable: node without output');
    return out;
  }

  encode(producer = 'framecast-onnx-writer'): Uint8Array {
    const type = modelProtoType();
    const message = {
      ir_version: 8,
      producer_name: producer,
      producer_version: '1',
      opset_import: [{ domain: '', version: this.opset }],
      graph: {
        name: this.graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    };
    const err = type.verify(message);
    if (err !== null) throw new Error(`invalid ONNX model message: ${err}`);
    return type.encode(type.fromObject(message)).finish();
  }
}
