/**
 * The protobufjs type of onnx.ModelProto, parsed once from `onnx-subset.proto` (the part of the
 * ONNX IR specification that our writer needs), and the enum values the writer uses.
 */
import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';

/** TensorProto.DataType values. */
export const OnnxDataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
} as const;
export type OnnxDataTypeValue = (typeof OnnxDataType)[keyof typeof OnnxDataType];

/** AttributeProto.AttributeType values. */
export const OnnxAttributeType = {
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  FLOATS: 6,
  INTS: 7,
} as const;

let modelType: protobuf.Type | undefined;

/** The protobufjs type of onnx.ModelProto (parsed on first use); tests decode with it too. */
export function modelProtoType(): protobuf.Type {
  modelType ??= protobuf
    .parse(readFileSync(new URL('./onnx-subset.proto', import.meta.url), 'utf8'), { keepCase: true })
    .root.lookupType('onnx.ModelProto');
  return modelType;
}
