export * from './runtime/video-runtime.ts';
