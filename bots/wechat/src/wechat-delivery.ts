import { formatSpecSummary, type BlobStore, type DeliveryHandler, type DeliveryJobData, type ReplyTargetOf } from '@framecast/core';
import { FileBox, type FileBoxInterface } from 'file-box';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RoomQuota } from './room-quota.ts';
import { toldCancelKey } from './wechat-commands.ts';
import { wt } from './wechat-messages.ts';

/** Where an answer goes: a contact (private chat), or a room with the member to mention. */
export type WechatTarget = Pick<ReplyTargetOf<'wechat'>, 'contactId' | 'roomId' | 'mentionId'>;

/** Sends into WeChat (the adapter implements it with wechaty; tests may wrap it). */
export interface WechatSender {
  sayText(target: WechatTarget, text: string): Promise<void>;
  sayFile(target: WechatTarget, file: FileBoxInterface): Promise<void>;
}

/** The room or contact is gone (the bot left the room, the contact deleted it): no retry will help. */
export class WechatTargetGone extends Error {
  readonly code = 'wechat_target_gone';
}

/** The bot is not logged in: the delivery waits (retried with backoff) until it is. */
export class WechatNotLoggedIn extends Error {
  readonly code = 'wechat_not_logged_in';
}

/** How long a link to a video that could not be sent stays valid (S3 signs it; local storage with FRAMECAST_PUBLIC_URL too). */
const LINK_SECONDS = 7 * 24 * 3600;
/** A room or contact not found this many times running is gone. */
const GONE_AFTER_ATTEMPTS = 3;
/** A poster larger than this is not put into the file's metadata. */
const MAX_THUMBNAIL_BYTES = 64 * 1024;

export interface WechatDeliveryOptions {
  store: BlobStore;
  sender: WechatSender;
  roomQuota: RoomQuota;
  redis: Redis;
  keyPrefix: string;
  logger: Logger;
}

/**
 * The delivery handler for `core.deliveries.consume('wechat', …)`: the video as a file (FileBox,
 * its poster in the metadata for puppets that show one), or a link when it is over the target's
 * budget or the send fails; the outcome's text when the job ended without a video (and the room's
 * credits back). A room or contact not found three attempts running gives the delivery up (the core
 * refunds the user);
 * anything else thrown is retried with backoff.
 */
export function wechatDeliveryHandler(opts: WechatDeliveryOptions): DeliveryHandler {
  const { store, sender, roomQuota, redis, keyPrefix, logger } = opts;
  return async (d, ctx) => {
    if (d.replyTarget.platform !== 'wechat') return { status: 'failed', reason: `not a wechat reply target (${d.replyTarget.platform})` };
    const target = d.replyTarget;
    try {
      await deliver(d, target);
      return { status: 'delivered' };
    } catch (err) {
      if (err instanceof WechatTargetGone) {
        // A puppet that hiccups also finds no room: sure only after a few tries.
        if (ctx.attempt < GONE_AFTER_ATTEMPTS) return { status: 'retry', retryAfterMs: 5000, reason: 'chat not found' };
        if (target.roomId !== undefined) await roomQuota.refund(d.jobId);
        logger.info({ jobId: d.jobId }, 'wechat delivery given up: the chat is gone');
        return { status: 'failed', reason: 'wechat: chat not found' };
      }
      throw err;
    }
  };

  async function deliver(d: DeliveryJobData, target: ReplyTargetOf<'wechat'>): Promise<void> {
    const locale = d.locale;
    if (d.outcome.kind !== 'video') {
      if (target.roomId !== undefined) await roomQuota.refund(d.jobId);
      if (d.outcome.kind === 'cancelled' && (await redis.exists(toldCancelKey(keyPrefix, d.jobId))) === 1) return;
      await sender.sayText(target, d.outcome.message[locale]);
      return;
    }
    const video = d.outcome.result;
    const mb = (video.bytes / 1048576).toFixed(1);
    const link = async () => {
      const url = await store.url(video.videoRef, LINK_SECONDS);
      if (/^https?:\/\//i.test(url)) await sender.sayText(target, wt('video_link', locale, { mb, url }));
      else {
        logger.warn({ jobId: d.jobId }, 'no public link for a video that could not be sent: set FRAMECAST_PUBLIC_URL (local storage) or use S3');
        await sender.sayText(target, wt('video_no_link', locale, { mb, jobId: d.jobId }));
      }
    };
    if (video.needsLink || (target.maxUploadBytes !== null && video.bytes > target.maxUploadBytes)) {
      await link();
      return;
    }
    const bytes = await store.get(video.videoRef);
    const file = FileBox.fromBuffer(bytes, `framecast-${d.jobId}.mp4`);
    file.metadata = { width: video.width, height: video.height, duration: video.durationSec, ...(await thumbnailOf(video.posterRef)) };
    // In a room the file alone says nothing about whose it is: a short line mentioning them goes first.
    if (target.roomId !== undefined && d.spec !== undefined) {
      await sender.sayText(target, wt('video_caption', locale, { summary: formatSpecSummary(d.spec, locale) }));
    }
    try {
      await sender.sayFile(target, file);
    } catch (err) {
      if (err instanceof WechatTargetGone || err instanceof WechatNotLoggedIn) throw err;
      // Large video sends fail on some puppets: the link always works.
      logger.warn({ err, jobId: d.jobId }, 'video file not sent: sending a link');
      await link();
    }
  }

  async function thumbnailOf(posterRef: string | undefined): Promise<{ thumbnail?: { mediaType: string; base64: string } }> {
    if (posterRef === undefined) return {};
    try {
      const poster = await store.get(posterRef);
      if (poster.length > MAX_THUMBNAIL_BYTES) return {};
      const mediaType = poster[0] === 0x89 ? 'image/png' : 'image/jpeg';
      return { thumbnail: { mediaType, base64: poster.toString('base64') } };
    } catch (err) {
      logger.debug({ err }, 'poster unreadable: the video goes without a thumbnail');
      return {};
    }
  }
}
