/**
 * A small writer of ONNX models: collects nodes, initializers, inputs and outputs, and encodes a
 * ModelProto with protobufjs from the ONNX subset in `onnx-subset.proto` (written from the ONNX
 * IR specification). Only what our converters need: float tensors, int64 tensors, and the
 * attribute kinds float, int, ints, string.
 */
import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';

const PROTO_TEXT = readFileSync(new URL('./onnx-subset.proto', import.meta.url), 'utf8');
let modelType: protobuf.Type | undefined;

function modelProtoType(): protobuf.Type {
  modelType ??= protobuf.parse(PROTO_TEXT, { keepCase: true }).root.lookupType('onnx.ModelProto');
  return modelType;
}

/** ONNX TensorProto.DataType values. */
export const OnnxDataType = { FLOAT: 1, UINT8: 2, INT32: 6, INT64: 7 } as const;
/** ONNX AttributeProto.AttributeType values. */
const AttrType = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

export type OnnxAttributeValue = number | number[] | string | { float: number };

interface AttributeMessage {
  name: string;
  type: number;
  f?: number;
  i?: number;
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

interface NodeMessage {
  name: string;
  op_type: string;
  input: string[];
  output: string[];
  attribute: AttributeMessage[];
}

/** A dimension is a fixed size or a symbolic name (for a dynamic batch). */
export type OnnxDim = number | string;

interface ValueInfoMessage {
  name: string;
  type: { tensor_type: { elem_type: number; shape: { dim: ({ dim_value: number } | { dim_param: string })[] } } };
}

function attribute(name: string, value: OnnxAttributeValue): AttributeMessage {
  if (typeof value === 'string') return { name, type: AttrType.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) {
    for (const v of value) if (!Number.isInteger(v)) throw new Error(`attribute ${name}: ints must be integers`);
    return { name, type: AttrType.INTS, ints: value };
  }
  if (typeof value === 'object') return { name, type: AttrType.FLOAT, f: value.float };
  if (!Number.isInteger(value)) throw new Error(`attribute ${name}: use { float } for a float attribute`);
  return { name, type: AttrType.INT, i: value };
}

function valueInfo(name: string, elemType: number, dims: readonly OnnxDim[]): ValueInfoMessage {
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

  constructor(private readonly graphName: string) {}

  /** A fresh tensor name with the given stem. */
  fresh(stem: string): string {
    let name = stem;
    while (this.names.has(name)) name = `${stem}__${++this.counter}`;
    this.names.add(name);
    return name;
  }

  addInput(name: string, dims: readonly OnnxDim[], elemType: number = OnnxDataType.FLOAT): string {
    this.names.add(name);
    this.inputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  addOutput(name: string, dims: readonly OnnxDim[], elemType: number = OnnxDataType.FLOAT): void {
    this.outputs.push(valueInfo(name, elemType, dims));
  }

  addFloatInitializer(stem: string, dims: readonly number[], data: Float32Array): string {
    const count = dims.reduce((a, b) => a * b, 1);
    if (count !== data.length) throw new Error(`initializer ${stem}: ${data.length} values for dims [${dims.join(',')}]`);
    const name = this.fresh(stem);
    const raw = new Uint8Array(data.byteLength);
    // raw_data is little-endian; copy element-wise through a DataView so the host order never matters.
    const view = new DataView(raw.buffer);
    for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i] ?? 0, true);
    this.initializers.push({ name, dims: [...dims], data_type: OnnxDataType.FLOAT, raw_data: raw });
    return name;
  }

  addInt64Initializer(stem: string, values: readonly number[]): string {
    const name = this.fresh(stem);
    const raw = new Uint8Array(values.length * 8);
    const view = new DataView(raw.buffer);
    values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
    this.initializers.push({ name, dims: [values.length], data_type: OnnxDataType.INT64, raw_data: raw });
    return name;
  }

  addFloatScalar(stem: string, value: number): string {
    const name = this.fresh(stem);
    const raw = new Uint8Array(4);
    new DataView(raw.buffer).setFloat32(0, value, true);
    this.initializers.push({ name, dims: [], data_type: OnnxDataType.FLOAT, raw_data: raw });
    return name;
  }

  /** Adds a node with one output and returns the output's name. */
  node(opType: string, inputs: readonly string[], stem: string, attrs: Record<string, OnnxAttributeValue> = {}): string {
    const output = this.fresh(stem);
    this.nodes.push({
      name: output,
      op_type: opType,
      input: [...inputs],
      output: [output],
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return output;
  }

  /** Encodes the model (IR version 8, default-domain opset `opset`). */
  encode(opts: { opset: number; producer: string; docString?: string; metadata?: Record<string, string> }): Uint8Array {
    const type = modelProtoType();
    const message = {
      ir_version: 8,
      opset_import: [{ domain: '', version: opts.opset }],
      producer_name: opts.producer,
      producer_version: '1',
      doc_string: opts.docString ?? '',
      graph: {
        name: this.graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
      metadata_props: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
    };
    const problem = type.verify(message);
    if (problem !== null) throw new Error(`ONNX model does not match the schema: ${problem}`);
    return type.encode(type.fromObject(message)).finish();
  }
}
