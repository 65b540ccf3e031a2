import type { Readable } from 'node:stream';

export interface StoredBlob {
  key: string;
  size: number;
  contentType: string;
}

/**
 * Where videos, posters and reference images live. A local directory by default; S3-compatible
 * object storage when workers and bots run on different machines.
 */
export interface BlobStore {
  readonly kind: string;
  put(key: string, data: Buffer | Readable, contentType: string): Promise<StoredBlob>;
  get(key: string): Promise<Buffer>;
  stream(key: string): Promise<Readable>;
  exists(key: string): Promise<boolean>;
  delete(key: string): Promise<void>;
  /** A URL a platform can fetch (signed for S3, file:// for a local directory). */
  url(key: string, expiresInSeconds?: number): Promise<string>;
}
