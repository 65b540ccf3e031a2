export { OnnxGraphBuilder, OnnxGraphError, attr } from './onnx-graph-builder.ts';
export type { OnnxAttr, OnnxDim, InitializerData, OnnxEncodeOptions } from './onnx-graph-builder.ts';
export { OnnxDataType, OnnxAttributeType, modelProtoType } from './onnx-proto.ts';
export type { OnnxDataTypeValue } from './onnx-proto.ts';
