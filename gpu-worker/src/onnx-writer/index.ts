export { OnnxGraphBuilder, attr } from './onnx-graph-builder.ts';
export type { OnnxAttr, OnnxDim, InitializerData } from './onnx-graph-builder.ts';
export { OnnxDataType, modelProtoType } from './onnx-proto.ts';
