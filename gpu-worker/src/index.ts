export * from './runtime/video-runtime.ts';
export * from './runtime/onnx/index.ts';
export * from './video/index.ts';
export * from './runtime/comfyui/index.ts';
export * from './runtime/dashscope/index.ts';
export * from './worker/index.ts';
export * from './collab/index.ts';
