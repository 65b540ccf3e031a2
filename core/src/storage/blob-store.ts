import type { Readable } from 'node:stream';

export interface StoredBlob {
  key: string;
  size: number;
  contentType: string;
}

/** Bytes `start`..`end` of a blob, both ends inclusive (as in an HTTP Range). */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Where videos, posters and reference images live. A local directory by default; S3-compatible
 * object storage when workers and bots run on different machines.
 */
export interface BlobStore {
  readonly kind: string;
  put(key: string, data: Buffer | Readable, contentType: string): Promise<StoredBlob>;
  get(key: string): Promise<Buffer>;
  /** The blob, or only `range` of it (clamped to the blob's end; a start past the end is `invalid_range`). */
  stream(key: string, range?: ByteRange): Promise<Readable>;
  /** The blob's size in bytes (`not_found` when there is none). */
  size(key: string): Promise<number>;
  exists(key: string): Promise<boolean>;
  delete(key: string): Promise<void>;
  /** A URL a platform can fetch (signed for S3, file:// for a local directory). */
  url(key: string, expiresInSeconds?: number): Promise<string>;
}
