import { createHmac, timingSafeEqual } from 'node:crypto';
import { isBlobNotFound, LocalBlobStore, type BlobStore } from '@framecast/core';
import { sendBlob } from '@framecast/http-server';
import type { Context } from 'koa';
import { MpError } from './mp-error.ts';

export type MediaKind = 'video' | 'poster';

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
  let sent: 'sent' | 'unsatisfiable';
  try {
    sent = await sendBlob(ctx, store, key, { contentType: TYPES[kind], cacheControl: 'private, max-age=300' });
  } catch (err) {
    if (isBlobNotFound(err)) throw MpError.of(404, 'not_found', 'not_found');
    throw err;
  }
  if (sent === 'unsatisfiable') {
    throw MpError.of(416, 'range_not_satisfiable', 'range_not_satisfiable', {}, { 'Content-Range': ctx.response.get('Content-Range'), 'Accept-Ranges': 'bytes' });
  }
}
