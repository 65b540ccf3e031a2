export * from './blob-store.ts';
export * from './blob-store-error.ts';
export * from './blob-key.ts';
export * from './local-blob-store.ts';
export * from './s3-blob-store.ts';
export * from './create-blob-store.ts';
export * from './blob-store-from-config.ts';
export * from './media-links.ts';
