export * from './image-format-sniffer.ts';
export * from './safe-image-decoder.ts';
export * from './conditioning-resize.ts';
