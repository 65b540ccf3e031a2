// Public surface of @framecast/content-safety. Each area exports from its own index.
export * from './fetch/index.ts';
export * from './nsfw/index.ts';
export * from './keyword/index.ts';
export * from './image/index.ts';
export * from './video-scan/index.ts';
export * from './remote/index.ts';
export * from './pipeline/index.ts';
export * from './onnx/index.ts';
