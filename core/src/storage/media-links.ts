import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Signed, expiring links to stored blobs, served by the HTTP server at `GET /media/<key>`: how a
 * video that is too large to upload reaches a chat user when the blobs are on local disk (S3 has
 * its own presigned URLs). The signature is HMAC-SHA256 over the key and the expiry.
 */
export const MEDIA_ROUTE_PREFIX = '/media/';

function signature(key: string, expiresAt: number, secret: string): string {
  return createHmac('sha256', secret).update(`${key}\n${expiresAt}`).digest('base64url');
}

/** `<base>/media/<key>?exp=<unix s>&sig=<hmac>`. */
export function signMediaUrl(baseUrl: string, key: string, expiresAt: number, secret: string): string {
  const base = baseUrl.replace(/\/+$/, '');
  const path = key.split('/').map(encodeURIComponent).join('/');
  return `${base}${MEDIA_ROUTE_PREFIX}${path}?exp=${expiresAt}&sig=${signature(key, expiresAt, secret)}`;
}

export type MediaCheck = 'ok' | 'expired' | 'bad_signature';

/** Whether a link's signature holds for this key and has not expired (`nowSec`: unix seconds). */
export function verifyMediaSignature(key: string, exp: string | undefined, sig: string | undefined, secret: string, nowSec = Math.floor(Date.now() / 1000)): MediaCheck {
  if (exp === undefined || sig === undefined || !/^\d{1,12}$/.test(exp) || !/^[A-Za-z0-9_-]{43}$/.test(sig)) return 'bad_signature';
  const want = Buffer.from(signature(key, Number(exp), secret));
  const got = Buffer.from(sig);
  if (want.length !== got.length || !timingSafeEqual(want, got)) return 'bad_signature';
  return Number(exp) < nowSec ? 'expired' : 'ok';
}
