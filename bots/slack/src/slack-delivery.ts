import { formatSpecSummary, type BlobStore, type DeliveryHandler, type DeliveryHandlerResult, type DeliveryJobData, type ReplyTargetOf } from '@framecast/core';
import { ErrorCode, type WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import { escapeMrkdwn, st } from './slack-messages.ts';
import { resultButtons, SlackStatusBoard, STATUS_RANK, statusBlocks } from './slack-progress.ts';

/** Web API errors that no retry will fix: the channel is gone, the bot is out of it, the token is dead. */
export const PERMANENT_SLACK_ERRORS: ReadonlySet<string> = new Set([
  'channel_not_found', 'not_in_channel', 'is_archived', 'account_inactive', 'token_revoked', 'invalid_auth', 'not_authed',
  'team_access_not_granted', 'restricted_action', 'msg_too_long', 'no_permission', 'missing_scope', 'ekm_access_denied',
]);

/**
 * files.getUploadURLExternal errors that say this workspace takes no such upload (a size limit set by
 * its admins, uploads turned off): the video goes out as a link at once.
 */
export const UPLOAD_REFUSED_ERRORS: ReadonlySet<string> = new Set([
  'file_upload_size_restricted', 'file_uploads_disabled', 'file_uploads_except_images_disabled', 'file_type_not_allowed',
]);

/** From this attempt on, a failing upload (Slack's file service down, the rest up) gives way to a link. Default. */
export const LINK_AFTER_ATTEMPTS = 5;

/** How long a link to an oversized video stays valid (S3 signs it; a local store ignores it). */
const LINK_SECONDS = 7 * 24 * 3600;

/** The upload was refused for its size or kind (413 from the upload URL, or a workspace limit): send a link. */
class UploadRefused extends Error {
  constructor(readonly why: string) {
    super(`upload refused: ${why}`);
  }
}

/** The upload was refused and the store has no link people can open (local storage without FRAMECAST_PUBLIC_URL). */
class UploadRefusedNoLink extends Error {
  constructor(readonly why: string) {
    super(`upload refused (${why}) and no public link to send instead`);
  }
}

/** An upload URL or the Web API answered 429: retry after this long. */
class RateLimited extends Error {
  constructor(readonly retryAfterMs: number) {
    super(`rate limited: retry after ${retryAfterMs} ms`);
  }
}

/** Slack's verdict on an error: retry (after Retry-After when it said), give up, or unknown (thrown: backoff). */
export function classifySlackError(err: unknown): DeliveryHandlerResult | undefined {
  if (err instanceof RateLimited) return { status: 'retry', retryAfterMs: err.retryAfterMs, reason: 'rate_limited' };
  if (err instanceof UploadRefusedNoLink) return { status: 'failed', reason: `slack: ${err.message}` };
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
  /** Shared with the progress renderer: the final edit of the status message is the last one. */
  board?: SlackStatusBoard;
  /**
   * From this delivery attempt on, when the three-step upload fails again (not a 429: those wait
   * for Retry-After) and the store gives an http(s) link, the video goes out as a link message
   * instead. Default LINK_AFTER_ATTEMPTS; Infinity never.
   */
  linkAfterAttempts?: number;
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
  const board = opts.board ?? new SlackStatusBoard();
  const linkAfterAttempts = opts.linkAfterAttempts ?? LINK_AFTER_ATTEMPTS;
  return async (d, ctx) => {
    if (d.replyTarget.platform !== 'slack') return { status: 'failed', reason: `not a slack reply target (${d.replyTarget.platform})` };
    const target = d.replyTarget;
    try {
      const via = await deliver(d, target, ctx?.attempt ?? 1);
      return { status: 'delivered', info: { via } };
    } catch (err) {
      const verdict = classifySlackError(err);
      if (verdict !== undefined) {
        logger.info({ jobId: d.jobId, verdict }, 'slack delivery not done');
        return verdict;
      }
      throw err;
    }
  };

  /** A link Slack users can open: the store's http(s) URL (S3, or local storage with FRAMECAST_PUBLIC_URL). */
  async function publicLink(ref: string): Promise<string | undefined> {
    const url = await store.url(ref, LINK_SECONDS).catch(() => undefined);
    return url !== undefined && /^https?:\/\//i.test(url) ? url : undefined;
  }

  /**
   * The video a previous attempt shared though its answer was lost (files.completeUploadExternal
   * went through, the connection dropped): its file id, when it is in the channel. A failed look is
   * no answer (the upload goes ahead).
   */
  async function sharedBefore(d: DeliveryJobData, target: ReplyTargetOf<'slack'>): Promise<string | undefined> {
    const name = `framecast-${d.jobId}.mp4`;
    try {
      const res = await client.files.list({ channel: target.channelId, count: 100 });
      return (res.files ?? []).find((f) => f.name === name && typeof f.id === 'string')?.id;
    } catch (err) {
      logger.info({ err, jobId: d.jobId }, 'files.list failed: uploading again');
      return undefined;
    }
  }

  /** The three steps: an upload URL, the bytes, the share into the channel or thread. Returns the file id. */
  async function upload(d: DeliveryJobData, target: ReplyTargetOf<'slack'>, videoRef: string, comment: string): Promise<string> {
    const bytes = await store.get(videoRef);
    const filename = `framecast-${d.jobId}.mp4`;
    let slot: Awaited<ReturnType<WebClient['files']['getUploadURLExternal']>>;
    try {
      slot = await client.files.getUploadURLExternal({ filename, length: bytes.length });
    } catch (err) {
      const code = (err as { code?: string; data?: { error?: string } }).code === ErrorCode.PlatformError ? (err as { data?: { error?: string } }).data?.error : undefined;
      if (code !== undefined && UPLOAD_REFUSED_ERRORS.has(code)) throw new UploadRefused(code);
      throw err;
    }
    if (slot.upload_url === undefined || slot.file_id === undefined) throw new Error('files.getUploadURLExternal answered without upload_url/file_id');
    const up = await fetch(slot.upload_url, { method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body: bytes, signal: AbortSignal.timeout(120_000) });
    if (up.status === 429) throw new RateLimited(retryAfterMs(up.headers.get('retry-after')));
    if (up.status === 413) throw new UploadRefused('upload answered 413');
    if (!up.ok) throw new Error(`upload URL answered ${up.status}`);
    await client.files.completeUploadExternal({
      files: [{ id: slot.file_id, title: d.spec?.prompt.slice(0, 200) ?? filename }],
      channel_id: target.channelId,
      initial_comment: comment,
      ...(target.threadTs === undefined ? {} : { thread_ts: target.threadTs }),
    });
    return slot.file_id;
  }

  async function deliver(d: DeliveryJobData, target: ReplyTargetOf<'slack'>, attempt: number): Promise<string> {
    const linkIfUploadFails = attempt >= linkAfterAttempts;
    const user = d.userKey.replace(/^slack:/, '');
    const locale = d.locale;
    const thread = target.threadTs === undefined ? {} : { thread_ts: target.threadTs };
    const summary = d.spec === undefined ? '' : escapeMrkdwn(formatSpecSummary(d.spec, locale));
    const ts = target.messageTs;
    if (d.outcome.kind !== 'video') {
      const text = st('status_failed', locale, { user, message: escapeMrkdwn(d.outcome.message[locale]) });
      if (ts !== undefined) await board.edit(d.jobId, { rank: STATUS_RANK.final }, async () => {
        await client.chat.update({ channel: target.channelId, ts, text, blocks: statusBlocks(text) });
      });
      else await client.chat.postMessage({ channel: target.channelId, text, ...thread });
      return 'message';
    }
    const video = d.outcome.result;
    const mb = (video.bytes / 1048576).toFixed(1);
    let fileId = '';
    let via: 'upload' | 'link';
    if (video.needsLink || (target.maxUploadBytes !== null && video.bytes > target.maxUploadBytes)) {
      const url = await store.url(video.videoRef, LINK_SECONDS);
      await client.chat.postMessage({ channel: target.channelId, text: st('video_link', locale, { user, mb, url }), ...thread });
      via = 'link';
    } else {
      try {
        // Exactly once: a retry first looks for the video an earlier attempt may have shared.
        const earlier = attempt > 1 ? await sharedBefore(d, target) : undefined;
        fileId = earlier ?? await upload(d, target, video.videoRef, st('video_comment', locale, { user, summary }));
        via = 'upload';
      } catch (err) {
        // The upload is refused (a workspace limit, 413), or keeps failing while Slack's messages work:
        // a link to the stored video, when there is one people can open.
        const refused = err instanceof UploadRefused;
        const verdict = classifySlackError(err);
        const fallback = refused || (linkIfUploadFails && verdict === undefined);
        const url = fallback ? await publicLink(video.videoRef) : undefined;
        if (url === undefined) {
          if (refused) throw new UploadRefusedNoLink((err as UploadRefused).why);
          throw err;
        }
        logger.info({ jobId: d.jobId, why: refused ? (err as UploadRefused).why : 'upload failing' }, 'slack: the video goes as a link');
        const why = !refused ? 'video_link_upload_failed' : /size|413/.test((err as UploadRefused).why) ? 'video_link' : 'video_link_uploads_off';
        await client.chat.postMessage({ channel: target.channelId, text: st(why, locale, { user, mb, url }), ...thread });
        via = 'link';
      }
    }
    // The status message becomes the video's controls; the video is out whatever happens to this edit.
    if (ts !== undefined && d.spec !== undefined) {
      const spec = d.spec;
      const text = st('status_delivered', locale, { user, summary });
      await board.edit(d.jobId, { rank: STATUS_RANK.final }, async () => {
        await client.chat
          .update({ channel: target.channelId, ts, text, blocks: statusBlocks(text, resultButtons({ jobId: d.jobId, spec }, locale, fileId)) })
          .catch((err: unknown) => logger.info({ err, jobId: d.jobId }, 'status message not updated after delivery'));
      });
    }
    return via;
  }
}
