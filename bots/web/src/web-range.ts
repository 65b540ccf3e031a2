import type { Context } from 'koa';

/** One byte range, both ends inclusive. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * A `Range` header against a body of `size` bytes (RFC 9110 §14): one range of `bytes=a-b`,
 * `bytes=a-` or `bytes=-n`. `undefined`: no header, or one this server ignores (another unit,
 * several ranges: the whole body is sent with 200, as the RFC allows); `'unsatisfiable'`: 416.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
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

/**
 * Answers with `bytes` honouring a Range request: 206 with Content-Range for one satisfiable range,
 * 416 for an unsatisfiable one, 200 with the whole body otherwise. Always `Accept-Ranges: bytes`.
 */
export function sendBytes(ctx: Context, bytes: Buffer, contentType: string): void {
  ctx.set('Accept-Ranges', 'bytes');
  const range = parseRange(ctx.get('Range') || undefined, bytes.length);
  if (range === 'unsatisfiable') {
    ctx.set('Content-Range', `bytes */${bytes.length}`);
    ctx.status = 416;
    ctx.body = { error: 'range_not_satisfiable' };
    return;
  }
  ctx.type = contentType;
  if (range === undefined) {
    ctx.status = 200;
    ctx.body = bytes;
    return;
  }
  ctx.status = 206;
  ctx.set('Content-Range', `bytes ${range.start}-${range.end}/${bytes.length}`);
  ctx.body = bytes.subarray(range.start, range.end + 1);
}
