import type { Middleware } from 'koa';
import { BlobStoreError, MEDIA_ROUTE_PREFIX, verifyMediaSignature, type BlobStore } from '@framecast/core';
import { HttpError } from './http-error.ts';
import { sendBlob } from './send-blob.ts';

const TYPES: Record<string, string> = { mp4: 'video/mp4', jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp' };
/** Only what chat users are sent links to: finished videos, their posters, and the step previews shown in status messages. */
const SERVED = /^(videos\/[A-Za-z0-9._-]{1,200}\.(mp4|jpg)|previews\/[A-Za-z0-9._-]{1,200}\.jpg)$/;

export interface MediaRouteOptions {
  store: Pick<BlobStore, 'stream' | 'size'>;
  secret: string;
  now?: () => number;
}

/**
 * `GET /media/<key>?exp=…&sig=…`: a stored video, poster or step preview behind a signed, expiring link (the
 * links a local blob store's url() makes when FRAMECAST_PUBLIC_URL is set). Anything else, a
 * tampered or expired link, is refused without saying whether the blob exists. Streams the blob
 * with Range (206) and HEAD, so players can seek and a link checker need not download the video.
 */
export function mediaRouter(o: MediaRouteOptions): Middleware {
  return async (ctx, next) => {
    if (!ctx.path.startsWith(MEDIA_ROUTE_PREFIX) || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next();
    let key: string;
    try {
      key = decodeURIComponent(ctx.path.slice(MEDIA_ROUTE_PREFIX.length));
    } catch {
      throw new HttpError(404, 'not_found', 'no such media');
    }
    if (!SERVED.test(key)) throw new HttpError(404, 'not_found', 'no such media');
    const exp = typeof ctx.query.exp === 'string' ? ctx.query.exp : undefined;
    const sig = typeof ctx.query.sig === 'string' ? ctx.query.sig : undefined;
    const check = verifyMediaSignature(key, exp, sig, o.secret, Math.floor((o.now ?? Date.now)() / 1000));
    if (check === 'expired') throw new HttpError(410, 'link_expired', 'this link has expired');
    if (check !== 'ok') throw new HttpError(403, 'bad_signature', 'this link is not valid');
    let sent: 'sent' | 'unsatisfiable';
    try {
      sent = await sendBlob(ctx, o.store, key, { contentType: TYPES[key.split('.').pop() ?? ''] ?? 'application/octet-stream', cacheControl: 'private, max-age=3600' });
    } catch (err) {
      if (err instanceof BlobStoreError && err.code === 'not_found') throw new HttpError(404, 'not_found', 'no such media');
      throw err;
    }
    if (sent === 'unsatisfiable') throw new HttpError(416, 'range_not_satisfiable', 'the range is outside the file', { headers: { 'Content-Range': ctx.response.get('Content-Range') } });
  };
}
