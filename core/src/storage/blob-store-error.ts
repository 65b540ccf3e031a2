import { FramecastError } from '../errors/framecast-error.ts';

export type BlobStoreErrorCode =
  /** No blob under that key. */
  | 'not_found'
  /** The key is empty, too long, absolute, has `..`, NUL or a character outside the allowed set. */
  | 'invalid_key'
  /** The store is misconfigured (missing bucket, bad directory). */
  | 'config'
  /** A byte range that starts past the blob's end, or ends before it starts. */
  | 'invalid_range'
  /** Anything else the backend reported (disk full, network, permissions). */
  | 'backend';

export class BlobStoreError extends FramecastError {
  declare readonly code: BlobStoreErrorCode;
  readonly key: string | undefined;
  constructor(code: BlobStoreErrorCode, message: string, options?: { key?: string; cause?: unknown }) {
    super(code, message, options?.cause === undefined ? {} : { cause: options.cause });
    this.name = 'BlobStoreError';
    this.key = options?.key;
  }
}

export function isBlobNotFound(err: unknown): boolean {
  return err instanceof BlobStoreError && err.code === 'not_found';
}
