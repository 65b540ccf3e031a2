import { formatSpecSummary, type BlobStore, type DeliveryHandler, type DeliveryHandlerResult, type DeliveryJobData, type ReplyTargetOf } from '@framecast/core';
import { ErrorCode, type WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import { escapeMrkdwn, st } from './slack-messages.ts';
import { resultButtons, statusBlocks } from './slack-progress.ts';

/** Web API errors that no retry will fix: the channel is gone, the bot is out of it, the token is dead. */
export const PERMANENT_SLACK_ERRORS: ReadonlySet<string> = new Set([
  'channel_not_found', 'not_in_channel', 'is_archived', 'account_inactive', 'token_revoked', 'invalid_auth', 'not_authed',
  'team_access_not_granted', 'restricted_action', 'msg_too_long', 'no_permission', 'missing_scope', 'ekm_access_denied',
]);

/** How long a link to an oversized video stays valid (S3 signs it; a local store ignores it). */
const LINK_SECONDS = 7 * 24 * 3600;

/** An upload URL or the Web API answered 429: retry after this long. */
class RateLimited extends Error {
  constructor(readonly retryAfterMs: number) {
    super(`rate limited: retry after ${retryAfterMs} ms`);
  }
}

/** Slack's verdict on an error: retry (after Retry-After when it said), give up, or unknown (thrown: backoff). */
export function classifySlackError(err: unknown): DeliveryHandlerResult | undefined {
  if (err instanceof RateLimited) return { status: 'retry', retryAfterMs: err.retryAfterMs, reason: 'rate_limited' };
  const e = err as { code?: string; retryAfter?: number; data?: { error?: string } };
  if (e?.code === ErrorCode.RateLimitedError) return { status: 'retry', retryAfterMs: Math.max(0, (e.retryAfter ?? 1) * 1000), reason: 'rate_limited' };
  if (e?.code === ErrorCode.PlatformError) {
    const code = e.data?.error ?? 'unknown';
    if (PERMANENT_SLACK_ERRORS.has(code)) return { status: 'failed', reason: `slack: ${code}` };
    if (code === 'ratelimited') return { status: 'retry', retryAfterMs: 1000, reason: 'rate_limited' };
  }
  return undefined;
}

/** Retry-After in seconds (or an HTTP date) as milliseconds. */
function retryAfterMs(header: string | null): number {
  if (header === null) return 1000;
  const n = Number(header);
  if (Number.isFinite(n)) return Math.max(0, n * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? 1000 : Math.max(0, at - Date.now());
}

export interface SlackDeliveryOptions {
  store: BlobStore;
  /** A client that throws on 429 (rejectRateLimitedCalls) and does not retry: the delivery queue retries. */
  client: WebClient;
  logger: Logger;
}

/**
 * The delivery handler for `core.deliveries.consume('slack', …)`: uploads the mp4 into the
 * channel or thread (files.getUploadURLExternal → POST the bytes → files.completeUploadExternal),
 * a link when it is over the target's budget, the refusal or failure text otherwise; then turns the
 * status message into the result's controls. 429 → retry after Retry-After; a channel that is gone
 * → failed for good; anything else thrown → retried with backoff.
 */
export function slackDeliveryHandler(opts: SlackDeliveryOptions): DeliveryHandler {
  const { store, client, logger } = opts;
  return async (d) => {
    if (d.replyTarget.platform !== 'slack') return { status: 'failed', reason: `not a slack reply target (${d.replyTarget.platform})` };
    const target = d.replyTarget;
    try {
      await deliver(d, target);
      return { status: 'delivered' };
    } catch (err) {
      const verdict = classifySlackError(err);
      if (verdict !== undefined) {
        logger.info({ jobId: d.jobId, verdict }, 'slack delivery not done');
        return verdict;
      }
      throw err;
    }
  };

  async function deliver(d: DeliveryJobData, target: ReplyTargetOf<'slack'>): Promise<void> {
    const user = d.userKey.replace(/^slack:/, '');
    const locale = d.locale;
    const thread = target.threadTs === undefined ? {} : { thread_ts: target.threadTs };
    const summary = d.spec === undefined ? '' : escapeMrkdwn(formatSpecSummary(d.spec, locale));
    if (d.outcome.kind !== 'video') {
      const text = st('status_failed', locale, { user, message: escapeMrkdwn(d.outcome.message[locale]) });
      if (target.messageTs !== undefined) await client.chat.update({ channel: target.channelId, ts: target.messageTs, text, blocks: statusBlocks(text) });
      else await client.chat.postMessage({ channel: target.channelId, text, ...thread });
      return;
    }
    const video = d.outcome.result;
    let fileId = '';
    if (video.needsLink || (target.maxUploadBytes !== null && video.bytes > target.maxUploadBytes)) {
      const url = await store.url(video.videoRef, LINK_SECONDS);
      await client.chat.postMessage({ channel: target.channelId, text: st('video_link', locale, { user, mb: (video.bytes / 1048576).toFixed(1), url }), ...thread });
    } else {
      const bytes = await store.get(video.videoRef);
      const filename = `framecast-${d.jobId}.mp4`;
      const slot = await client.files.getUploadURLExternal({ filename, length: bytes.length });
      if (slot.upload_url === undefined || slot.file_id === undefined) throw new Error('files.getUploadURLExternal answered without upload_url/file_id');
      const up = await fetch(slot.upload_url, { method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body: bytes, signal: AbortSignal.timeout(120_000) });
      if (up.status === 429) throw new RateLimited(retryAfterMs(up.headers.get('retry-after')));
      if (!up.ok) throw new Error(`upload URL answered ${up.status}`);
      await client.files.completeUploadExternal({
        files: [{ id: slot.file_id, title: d.spec?.prompt.slice(0, 200) ?? filename }],
        channel_id: target.channelId,
        initial_comment: st('video_comment', locale, { user, summary }),
        ...thread,
      });
      fileId = slot.file_id;
    }
    // The status message becomes the video's controls; the video is out whatever happens to this edit.
    if (target.messageTs !== undefined && d.spec !== undefined) {
      const text = st('status_delivered', locale, { user, summary });
      await client.chat
        .update({ channel: target.channelId, ts: target.messageTs, text, blocks: statusBlocks(text, resultButtons({ jobId: d.jobId, spec: d.spec }, locale, fileId)) })
        .catch((err: unknown) => logger.info({ err, jobId: d.jobId }, 'status message not updated after delivery'));
    }
  }
}
