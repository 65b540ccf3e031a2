import { createHmac, timingSafeEqual } from 'node:crypto';

/** Slack refuses requests whose timestamp is further than this from now (replays). */
export const SLACK_MAX_SKEW_SECONDS = 5 * 60;

export type SignatureCheck = { ok: true } | { ok: false; reason: 'missing_headers' | 'stale_timestamp' | 'bad_signature' };

/** `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}` with the signing secret: what Slack sends. */
export function slackSignature(signingSecret: string, timestamp: string | number, rawBody: Buffer | string): string {
  const mac = createHmac('sha256', signingSecret);
  mac.update(`v0:${timestamp}:`);
  mac.update(rawBody);
  return `v0=${mac.digest('hex')}`;
}

/**
 * Checks `X-Slack-Signature` over the raw body and refuses a timestamp more than five minutes
 * from `nowSeconds`. Pure: the receiver answers 401 on anything but `{ ok: true }`.
 */
export function verifySlackSignature(
  signingSecret: string,
  headers: { signature: string | undefined; timestamp: string | undefined },
  rawBody: Buffer,
  nowSeconds: number = Math.floor(Date.now() / 1000),
): SignatureCheck {
  const { signature, timestamp } = headers;
  if (signature === undefined || timestamp === undefined || !/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'missing_headers' };
  if (Math.abs(nowSeconds - Number(timestamp)) > SLACK_MAX_SKEW_SECONDS) return { ok: false, reason: 'stale_timestamp' };
  const expected = Buffer.from(slackSignature(signingSecret, timestamp, rawBody));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'bad_signature' };
  return { ok: true };
}
