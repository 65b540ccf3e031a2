import type { Core, JobRecord, ReplyTargetOf, Unsubscribe } from '@framecast/core';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RoomQuota } from './room-quota.ts';
import type { WechatSender } from './wechat-delivery.ts';
import { wt } from './wechat-messages.ts';

export interface WechatProgressOptions {
  core: Core;
  redis: Redis;
  sender: WechatSender;
  roomQuota: RoomQuota;
  logger: Logger;
  /** A job still rendering this long after it was accepted gets its one progress note. Default 60 s. */
  noteAfterMs?: number;
}

/**
 * WeChat cannot edit a message, so progress is one note at most: when a job is still rendering
 * `noteAfterMs` after it was accepted (one per job across processes, by a Redis SET NX). A job
 * that ends without a video gives its room's credits back (the delivery handler does too; the
 * refund happens once).
 */
export async function startWechatProgress(opts: WechatProgressOptions): Promise<Unsubscribe> {
  const { core, redis, sender, roomQuota, logger } = opts;
  const noteAfterMs = opts.noteAfterMs ?? 60_000;
  const jobs = new Map<string, JobRecord | undefined>();
  const jobOf = async (jobId: string) => {
    if (!jobs.has(jobId)) jobs.set(jobId, await core.job(jobId));
    return jobs.get(jobId);
  };
  return core.progress.subscribe({ platform: 'wechat' }, async (e) => {
    if (e.type === 'delivered') {
      jobs.delete(e.jobId);
      return;
    }
    if (e.type === 'failed' || e.type === 'cancelled') {
      const job = await jobOf(e.jobId);
      jobs.delete(e.jobId);
      if (job?.replyTarget?.platform === 'wechat' && job.replyTarget.roomId !== undefined) {
        await roomQuota.refund(e.jobId).catch((err: unknown) => logger.warn({ err, jobId: e.jobId }, 'room credits not refunded yet'));
      }
      return;
    }
    if (e.type !== 'step') return;
    const job = await jobOf(e.jobId);
    if (job === undefined || job.replyTarget?.platform !== 'wechat' || Date.now() - job.createdAt < noteAfterMs) return;
    const noteKey = `${core.config.keyPrefix}:wechat:note:${e.jobId}`;
    if ((await redis.set(noteKey, '1', 'EX', 24 * 3600, 'NX')) !== 'OK') return;
    const target: ReplyTargetOf<'wechat'> = job.replyTarget;
    const locale = job.locale ?? 'zh-CN';
    await sender
      .sayText(target, wt('progress_note', locale, { jobId: e.jobId, step: e.step, total: e.totalSteps }))
      .catch((err: unknown) => logger.info({ err, jobId: e.jobId }, 'progress note not sent'));
  }, { minStepIntervalMs: 1000 });
}
