import { createHmac, timingSafeEqual } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { LocalBlobStore, type BlobStore } from '@framecast/core';
import type { Context } from 'koa';
import { MpError } from './mp-error.ts';

export type MediaKind = 'video' | 'poster';

/** `bytes=a-b`, `bytes=a-`, `bytes=-n` (one range; several are answered as the whole file). */
export type RangeResult = { kind: 'none' } | { kind: 'range'; start: number; end: number } | { kind: 'unsatisfiable' };

export function parseRange(header: string | undefined, size: number): RangeResult {
  if (header === undefined || header === '') return { kind: 'none' };
  const m = /^bytes=(\d{0,15})-(\d{0,15})$/.exec(header.trim());
  if (m === null) return header.includes(',') ? { kind: 'none' } : { kind: 'unsatisfiable' };
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return { kind: 'unsatisfiable' };
  if (a === '') {
    const n = Number(b);
    if (n === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'range', start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  if (start >= size || end < start) return { kind: 'unsatisfiable' };
  return { kind: 'range', start, end };
}

/** Signed, expiring links to one job's video or poster (HMAC-SHA256 over job id, kind and expiry). */
export class MediaSigner {
  constructor(
    private readonly secret: string,
    private readonly now: () => number = Date.now,
  ) {}

  private sig(jobId: string, kind: MediaKind, exp: number): string {
    return createHmac('sha256', this.secret).update(`mp\n${jobId}\n${kind}\n${exp}`).digest('base64url');
  }

  /** The query string `exp=…&sig=…` valid for `ttlSeconds`, and when it ends (ms). */
  sign(jobId: string, kind: MediaKind, ttlSeconds: number): { query: string; expiresAt: number } {
    const exp = Math.floor(this.now() / 1000) + ttlSeconds;
    return { query: `exp=${exp}&sig=${this.sig(jobId, kind, exp)}`, expiresAt: exp * 1000 };
  }

  check(jobId: string, kind: MediaKind, exp: unknown, sig: unknown): 'ok' | 'expired' | 'bad_signature' {
    if (typeof exp !== 'string' || typeof sig !== 'string' || !/^\d{1,12}$/.test(exp) || !/^[A-Za-z0-9_-]{43}$/.test(sig)) return 'bad_signature';
    const want = Buffer.from(this.sig(jobId, kind, Number(exp)));
    const got = Buffer.from(sig);
    if (want.length !== got.length || !timingSafeEqual(want, got)) return 'bad_signature';
    return Number(exp) * 1000 < this.now() ? 'expired' : 'ok';
  }
}

const TYPES: Record<MediaKind, string> = { video: 'video/mp4', poster: 'image/jpeg' };

/**
 * Answers a stored video or poster. Local storage: from the file, with `Range` (206 with
 * Content-Range, 416 outside the file, `Accept-Ranges: bytes`) so the `<video>` component can
 * seek. Other storage (S3): a 302 to a presigned URL valid for `redirectTtlSeconds`, which the
 * object store serves with Range itself.
 */
export async function serveBlob(ctx: Context, store: BlobStore, key: string, kind: MediaKind, redirectTtlSeconds: number): Promise<void> {
  ctx.set('Cache-Control', 'private, max-age=300');
  ctx.set('X-Content-Type-Options', 'nosniff');
  if (!(store instanceof LocalBlobStore)) {
    ctx.set('Cache-Control', 'no-store');
    ctx.redirect(await store.url(key, redirectTtlSeconds));
    return;
  }
  const file = store.pathOf(key);
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch {
    throw MpError.of(404, 'not_found', 'not_found');
  }
  ctx.set('Accept-Ranges', 'bytes');
  ctx.type = TYPES[kind];
  const range = parseRange(ctx.get('Range') || undefined, size);
  if (range.kind === 'unsatisfiable') {
    throw MpError.of(416, 'range_not_satisfiable', 'range_not_satisfiable', {}, { 'Content-Range': `bytes */${size}`, 'Accept-Ranges': 'bytes' });
  }
  // HEAD gets the headers only (koa sends no body for it); no file is opened.
  const head = ctx.method === 'HEAD';
  if (range.kind === 'none') {
    if (!head) ctx.body = createReadStream(file);
    ctx.status = 200;
    ctx.length = size;
    return;
  }
  if (!head) ctx.body = createReadStream(file, { start: range.start, end: range.end });
  ctx.status = 206;
  ctx.set('Content-Range', `bytes ${range.start}-${range.end}/${size}`);
  ctx.length = range.end - range.start + 1;
}
