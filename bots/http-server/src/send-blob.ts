import type { Context } from 'koa';
import type { BlobStore, ByteRange } from '@framecast/core';

/**
 * A `Range` header against a body of `size` bytes (RFC 9110 §14.2): one range `bytes=a-b`,
 * `bytes=a-` or the suffix `bytes=-n`. `undefined`: no header, or one this server may ignore and
 * answer with the whole body (another unit, several ranges, `a-b` with b < a, a malformed value);
 * `'unsatisfiable'`: a first byte past the end, or a zero-length suffix (416).
 */
export function parseByteRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  if (header === undefined || header === '') return undefined;
  const m = /^bytes=(\d{0,15})-(\d{0,15})$/.exec(header.trim());
  if (m === null) return undefined;
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return undefined;
  if (a === '') {
    const n = Number(b);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  if (start >= size) return 'unsatisfiable';
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  if (end < start) return undefined;
  return { start, end };
}

export interface SendBlobOptions {
  contentType: string;
  /** `Cache-Control` of the answer (default `private, max-age=300`). */
  cacheControl?: string;
}

/**
 * Streams a stored blob as the answer, honouring `Range` (206 with Content-Range for one
 * satisfiable range) and HEAD (headers only; nothing is read). Never holds the blob in memory.
 * Returns `'unsatisfiable'` without answering when the range starts past the end, so that the
 * caller answers 416 in its own error shape (with `Content-Range: bytes *\/<size>`, already set);
 * a missing blob throws the store's `not_found` for the caller to map to its 404.
 */
export async function sendBlob(ctx: Context, store: Pick<BlobStore, 'stream' | 'size'>, key: string, o: SendBlobOptions): Promise<'sent' | 'unsatisfiable'> {
  const size = await store.size(key);
  ctx.set('Accept-Ranges', 'bytes');
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Cache-Control', o.cacheControl ?? 'private, max-age=300');
  const range = parseByteRange(ctx.get('Range') || undefined, size);
  if (range === 'unsatisfiable') {
    ctx.set('Content-Range', `bytes */${size}`);
    return 'unsatisfiable';
  }
  const head = ctx.method === 'HEAD';
  if (range === undefined) {
    if (!head) ctx.body = await store.stream(key);
    ctx.status = 200;
  } else {
    if (!head) ctx.body = await store.stream(key, range);
    ctx.status = 206;
    ctx.set('Content-Range', `bytes ${range.start}-${range.end}/${size}`);
  }
  // After the body: koa clears the length when it is given a stream.
  ctx.type = o.contentType;
  ctx.length = range === undefined ? size : range.end - range.start + 1;
  return 'sent';
}
