export * from './video-error.ts';
export * from './aigc-label.ts';
export * from './cjk-font.ts';
export * from './drawtext-escape.ts';
export * from './ffprobe.ts';
export * from './h264-level.ts';
export * from './encode-video.ts';
export * from './fit-to-budget.ts';
