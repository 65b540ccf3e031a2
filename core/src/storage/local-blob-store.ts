import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { assertValidBlobKey } from './blob-key.ts';
import { signMediaUrl } from './media-links.ts';
import { BlobStoreError } from './blob-store-error.ts';
import type { BlobStore, ByteRange, StoredBlob } from './blob-store.ts';

export interface LocalBlobStoreOptions {
  /** Root directory; created on first write. Default `./data/blobs` (relative to the process cwd). */
  dir?: string;
  /**
   * Where the HTTP server serves blobs to the outside (`FRAMECAST_PUBLIC_URL`) and the secret that
   * signs the links. Without it, url() gives a file:// URL (usable on this machine only).
   */
  publicUrl?: { base: string; secret: string };
}

export const DEFAULT_LOCAL_BLOB_DIR = './data/blobs';

/** Temp files live here; keys cannot start with '.', so no key can ever name this folder. */
const TEMP_DIR = '.tmp';

function errno(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string'
    ? err.code
    : undefined;
}

/** A range a blob of `size` bytes can answer: whole numbers, start within the blob, end ≥ start. */
export function validRange(range: ByteRange, size: number): boolean {
  return Number.isSafeInteger(range.start) && Number.isSafeInteger(range.end) && range.start >= 0 && range.start < size && range.end >= range.start;
}

/**
 * Blobs as files under one directory. Keys map to relative paths (`videos/abc.mp4` →
 * `<dir>/videos/abc.mp4`). Writes go to a temp file in `<dir>/.tmp/`, are flushed, then renamed into
 * place, so a reader never sees a half-written blob and a crash leaves only a temp file behind.
 * Content types are not stored (the interface never reads them back). Deleting a missing key is a
 * no-op, as on S3.
 */
export class LocalBlobStore implements BlobStore {
  readonly kind = 'local';
  readonly dir: string;

  private readonly publicUrl: { base: string; secret: string } | undefined;

  constructor(options: LocalBlobStoreOptions = {}) {
    this.dir = path.resolve(options.dir ?? DEFAULT_LOCAL_BLOB_DIR);
    this.publicUrl = options.publicUrl;
  }

  /** Absolute path of a key's file (validates the key). */
  pathOf(key: string): string {
    assertValidBlobKey(key);
    const full = path.resolve(this.dir, ...key.split('/'));
    // Belt and braces: the charset already rules this out.
    if (!full.startsWith(this.dir + path.sep)) {
      throw new BlobStoreError('invalid_key', 'blob key resolves outside the store directory');
    }
    return full;
  }

  async put(key: string, data: Buffer | Readable, contentType: string): Promise<StoredBlob> {
    const target = this.pathOf(key);
    const tempDir = path.join(this.dir, TEMP_DIR);
    const temp = path.join(tempDir, `${randomUUID()}.part`);
    try {
      await mkdir(tempDir, { recursive: true });
      await mkdir(path.dirname(target), { recursive: true });
      if (Buffer.isBuffer(data)) {
        const fh = await open(temp, 'wx');
        try {
          await fh.writeFile(data);
          await fh.sync();
        } finally {
          await fh.close();
        }
      } else {
        await pipeline(data, createWriteStream(temp, { flags: 'wx', flush: true }));
      }
      await rename(temp, target);
      const { size } = await stat(target);
      return { key, size, contentType };
    } catch (err) {
      await rm(temp, { force: true }).catch(() => undefined);
      if (errno(err) === 'EISDIR' || errno(err) === 'ENOTDIR') {
        throw new BlobStoreError('invalid_key', 'blob key collides with an existing key used as a folder', {
          key,
          cause: err,
        });
      }
      throw new BlobStoreError('backend', `local blob write failed (${errno(err) ?? 'error'})`, { key, cause: err });
    }
  }

  async get(key: string): Promise<Buffer> {
    const file = this.pathOf(key);
    try {
      return await readFile(file);
    } catch (err) {
      throw this.mapReadError(err, key);
    }
  }

  async stream(key: string, range?: ByteRange): Promise<Readable> {
    const file = this.pathOf(key);
    // Open first so a missing key fails here, not later on the stream's 'error' event.
    let fh: Awaited<ReturnType<typeof open>>;
    let size: number;
    try {
      fh = await open(file, 'r');
      const info = await fh.stat().catch(async (err: unknown) => {
        await fh.close();
        throw err;
      });
      if (!info.isFile()) {
        await fh.close();
        throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
      }
      size = info.size;
    } catch (err) {
      throw this.mapReadError(err, key);
    }
    if (range === undefined) return fh.createReadStream({ autoClose: true });
    if (!validRange(range, size)) {
      await fh.close();
      throw new BlobStoreError('invalid_range', `byte range ${range.start}-${range.end} is outside the blob (${size} bytes)`, { key });
    }
    return fh.createReadStream({ autoClose: true, start: range.start, end: Math.min(range.end, size - 1) });
  }

  async size(key: string): Promise<number> {
    try {
      const info = await stat(this.pathOf(key));
      if (!info.isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
      return info.size;
    } catch (err) {
      if (err instanceof BlobStoreError) throw err;
      throw this.mapReadError(err, key);
    }
  }

  async exists(key: string): Promise<boolean> {
    const file = this.pathOf(key);
    try {
      return (await stat(file)).isFile();
    } catch (err) {
      if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return false;
      throw new BlobStoreError('backend', `local blob stat failed (${errno(err) ?? 'error'})`, { key, cause: err });
    }
  }

  async delete(key: string): Promise<void> {
    const file = this.pathOf(key);
    try {
      await unlink(file);
    } catch (err) {
      const code = errno(err);
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      if (code === 'EISDIR') return; // a folder of other keys, not a blob
      throw new BlobStoreError('backend', `local blob delete failed (${code ?? 'error'})`, { key, cause: err });
    }
  }

  /** `file://` URL of the blob; the expiry is meaningless here and ignored. */
  /** A signed, expiring https link through the HTTP server when a public URL is set; else file://. */
  async url(key: string, expiresInSeconds = 7 * 24 * 3600): Promise<string> {
    const file = this.pathOf(key);
    if (this.publicUrl === undefined) return pathToFileURL(file).href;
    return signMediaUrl(this.publicUrl.base, key, Math.floor(Date.now() / 1000) + expiresInSeconds, this.publicUrl.secret);
  }

  private mapReadError(err: unknown, key: string): BlobStoreError {
    const code = errno(err);
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') {
      return new BlobStoreError('not_found', `no blob under key ${JSON.stringify(key)}`, { key, cause: err });
    }
    return new BlobStoreError('backend', `local blob read failed (${code ?? 'error'})`, { key, cause: err });
  }
}
