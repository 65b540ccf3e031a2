/**
 * A small ONNX model writer: builds a ModelProto node by node and encodes it with protobufjs
 * (schema in onnx-subset.proto). Enough for the models we generate or convert: float32 / int64 /
 * int32 / uint8 initializers as little-endian raw_data, typed attributes (int, float, ints,
 * floats, string), graph inputs and outputs with fixed or symbolic dimensions, model doc string
 * and metadata. Used by the nsfwjs → ONNX converter and by the tiny Wan model generator.
 *
 * Names: a name given explicitly (graph input, node output) must be new, or building fails;
 * a name made from a prefix is the prefix itself when free, else `prefix_<n>`.
 */
import { OnnxAttributeType, OnnxDataType, modelProtoType } from './onnx-proto.ts';
import type { OnnxDataTypeValue } from './onnx-proto.ts';
import { FramecastError } from '@framecast/core';

export class OnnxGraphError extends FramecastError {
  declare readonly code: 'onnx_graph_invalid';
  constructor(message: string) {
    super('onnx_graph_invalid', message);
    this.name = 'OnnxGraphError';
  }
}

/** A dimension is a fixed size or a symbolic name (a dynamic batch, frames, height...). */
export type OnnxDim = number | string;

export type OnnxAttr =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'ints'; value: readonly number[] }
  | { kind: 'floats'; value: readonly number[] }
  | { kind: 'string'; value: string };

/** Attribute constructors: `{ axis: attr.int(1), epsilon: attr.float(1e-3), mode: attr.string('edge') }`. */
export const attr = {
  int: (value: number): OnnxAttr => ({ kind: 'int', value }),
  float: (value: number): OnnxAttr => ({ kind: 'float', value }),
  ints: (value: readonly number[]): OnnxAttr => ({ kind: 'ints', value }),
  floats: (value: readonly number[]): OnnxAttr => ({ kind: 'floats', value }),
  string: (value: string): OnnxAttr => ({ kind: 'string', value }),
};

export type InitializerData = Float32Array | BigInt64Array | Int32Array | Uint8Array;

export interface OnnxEncodeOptions {
  /** ModelProto.producer_name; default 'framecast-onnx-writer'. */
  producer?: string;
  docString?: string;
  /** ModelProto.metadata_props (what ONNX Runtime reports as custom metadata). */
  metadata?: Record<string, string>;
}

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

const HOST_LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

function dataTypeOf(data: InitializerData): OnnxDataTypeValue {
  if (data instanceof Float32Array) return OnnxDataType.FLOAT;
  if (data instanceof BigInt64Array) return OnnxDataType.INT64;
  if (data instanceof Int32Array) return OnnxDataType.INT32;
  return OnnxDataType.UINT8;
}

/** raw_data is little-endian whatever the host's byte order. */
function rawBytes(data: InitializerData): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  if (HOST_LITTLE_ENDIAN || data instanceof Uint8Array) return bytes;
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < data.length; i++) {
    if (data instanceof Float32Array) view.setFloat32(i * 4, data[i] ?? 0, true);
    else if (data instanceof Int32Array) view.setInt32(i * 4, data[i] ?? 0, true);
    else view.setBigInt64(i * 8, data[i] ?? 0n, true);
  }
  return bytes;
}

function integers(name: string, values: readonly number[]): number[] {
  for (const v of values) if (!Number.isSafeInteger(v)) throw new OnnxGraphError(`attribute ${name}: ${v} is not an integer; use attr.float(s)`);
  return [...values];
}

function toAttribute(name: string, a: OnnxAttr): AttributeMessage {
  switch (a.kind) {
    case 'int':
      return { name, type: OnnxAttributeType.INT, i: integers(name, [a.value])[0] ?? 0 };
    case 'float':
      return { name, type: OnnxAttributeType.FLOAT, f: a.value };
    case 'ints':
      return { name, type: OnnxAttributeType.INTS, ints: integers(name, a.value) };
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
  private readonly names = new Set<string>();
  private counter = 0;

  /** `opset`: the default-domain opset version the model imports. */
  constructor(
    private readonly graphName: string,
    private readonly opset = 17,
  ) {}

  /** A new value name: `prefix` when free, else `prefix_<n>`. */
  fresh(prefix: string): string {
    let name = prefix;
    while (this.names.has(name)) name = `${prefix}_${++this.counter}`;
    this.names.add(name);
    return name;
  }

  private claim(name: string): string {
    if (name === '') throw new OnnxGraphError('a value name must not be empty');
    if (this.names.has(name)) throw new OnnxGraphError(`value name ${name} is already used in graph ${this.graphName}`);
    this.names.add(name);
    return name;
  }

  /** Declares a graph input; returns its name. */
  input(name: string, elemType: OnnxDataTypeValue, dims: readonly OnnxDim[]): string {
    this.inputs.push(valueInfo(this.claim(name), elemType, dims));
    return name;
  }

  /** Declares an existing value (a node output) as a graph output; returns its name. */
  output(name: string, elemType: OnnxDataTypeValue, dims: readonly OnnxDim[]): string {
    if (!this.names.has(name)) throw new OnnxGraphError(`graph output ${name} is not produced by the graph`);
    this.outputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  /** Adds a constant tensor (element type from the array type); returns its name. */
  initializer(prefix: string, dims: readonly number[], data: InitializerData): string {
    const count = dims.reduce((a, b) => a * b, 1);
    if (count !== data.length) throw new OnnxGraphError(`initializer ${prefix}: ${data.length} values for dims [${dims.join(',')}]`);
    const name = this.fresh(prefix);
    this.initializers.push({ name, dims: [...dims], data_type: dataTypeOf(data), raw_data: rawBytes(data) });
    return name;
  }

  /** A float32 constant of shape `dims`. */
  floats(prefix: string, dims: readonly number[], values: ArrayLike<number>): string {
    return this.initializer(prefix, dims, values instanceof Float32Array ? values : Float32Array.from(values));
  }

  /** A 1-D int64 constant (shapes, pads, axes). */
  int64s(prefix: string, values: readonly number[]): string {
    return this.initializer(prefix, [values.length], BigInt64Array.from(integers(prefix, values), (v) => BigInt(v)));
  }

  /** A float32 scalar (rank 0). */
  scalar(prefix: string, value: number): string {
    return this.initializer(prefix, [], Float32Array.of(value));
  }

  /**
   * Adds a node. `outputs` is the list of output names (each must be new), or a count of fresh
   * names to make. `''` in `inputs` skips an optional input. Returns the output names.
   */
  node(opType: string, inputs: readonly string[], outputs: readonly string[] | number = 1, attrs: Record<string, OnnxAttr> = {}): string[] {
    for (const i of inputs) if (i !== '' && !this.names.has(i)) throw new OnnxGraphError(`${opType} node: input ${i} is not defined`);
    const outs =
      typeof outputs === 'number'
        ? Array.from({ length: outputs }, () => this.fresh(opType.toLowerCase()))
        : outputs.map((o) => this.claim(o));
    this.nodes.push({
      name: outs[0] ?? this.fresh(opType),
      op_type: opType,
      input: [...inputs],
      output: outs,
      attribute: Object.entries(attrs).map(([k, v]) => toAttribute(k, v)),
    });
    return outs;
  }

  /** Single-output node; `outputName` names the output (must be new), else a fresh name. */
  op(opType: string, inputs: readonly string[], attrs: Record<string, OnnxAttr> = {}, outputName?: string): string {
    const [out] = this.node(opType, inputs, outputName === undefined ? 1 : [outputName], attrs);
    if (out === undefined) throw new OnnxGraphError('unreachable: node without output');
    return out;
  }

  /** Encodes the model: IR version 8, default-domain opset from the constructor. */
  encode(options: OnnxEncodeOptions = {}): Uint8Array {
    const type = modelProtoType();
    const metadata = Object.entries(options.metadata ?? {});
    const message = {
      ir_version: 8,
      producer_name: options.producer ?? 'framecast-onnx-writer',
      producer_version: '1',
      opset_import: [{ domain: '', version: this.opset }],
      ...(options.docString !== undefined ? { doc_string: options.docString } : {}),
      graph: {
        name: this.graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
      ...(metadata.length > 0 ? { metadata_props: metadata.map(([key, value]) => ({ key, value })) } : {}),
    };
    const problem = type.verify(message);
    if (problem !== null) throw new OnnxGraphError(`ONNX model does not match the schema: ${problem}`);
    return type.encode(type.fromObject(message)).finish();
  }
}
