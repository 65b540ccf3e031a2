import type { Redis } from 'ioredis';
import { tAll, type LocalizedText } from '../i18n/messages.ts';
import type { Deliveries } from '../queue/delivery.ts';
import type { FairQueue } from '../queue/fair-queue.ts';
import { GenerateJobDataSchema } from '../queue/job-payloads.schema.ts';
import type { QuotaService } from '../quota/quota-service.ts';
import { Keys } from '../redis/keys.ts';
import { FINAL_STATES, type JobRecord, type JobStore } from './job-record.ts';

export interface Actor {
  userKey: string;
  isAdmin: boolean;
}

export type ReviewResult =
  | { status: 'approved' | 'rejected'; message: LocalizedText }
  | { status: 'not_found' | 'not_admin' | 'not_in_review' | 'expired'; message: LocalizedText };

const REJECTED: LocalizedText = { en: 'A moderator did not approve this video. The credits were refunded.', 'zh-CN': '视频未通过人工审核，额度已退还。' };

export type CancelResult =
  | { status: 'cancelled' | 'cancel_requested'; message: LocalizedText }
  | { status: 'not_found' | 'not_owner' | 'already_finished'; message: LocalizedText };

const CANCEL_FLAG_TTL_SECONDS = 24 * 3600;

/** Reading and cancelling jobs on behalf of a user (or an admin). */
export class JobService {
  private readonly keys: Keys;
  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly jobs: JobStore,
    private readonly queue: FairQueue,
    private readonly quota: QuotaService,
    private readonly deliveries?: Deliveries,
  ) {
    this.keys = new Keys(prefix);
  }

  get(jobId: string): Promise<JobRecord | undefined> {
    return this.jobs.get(jobId);
  }

  list(userKey: string, limit?: number): Promise<JobRecord[]> {
    return this.jobs.listByUser(userKey, limit);
  }

  /**
   * Cancels a job for its owner or an admin: a waiting job is removed and refunded at once; a
   * running job gets a flag that its worker reads between denoising steps (the worker refunds).
   */
  async cancel(jobId: string, actor: Actor): Promise<CancelResult> {
    const rec = await this.jobs.get(jobId);
    if (rec === undefined) return { status: 'not_found', message: tAll('job.not_found', { jobId }) };
    if (rec.userKey !== actor.userKey && !actor.isAdmin) return { status: 'not_owner', message: tAll('job.not_owner', { jobId }) };
    if (FINAL_STATES.has(rec.state)) return { status: 'already_finished', message: tAll('job.already_finished', { jobId, state: rec.state }) };
    if (rec.state === 'review') {
      // Made, but held for a moderator: cancelling drops it and refunds.
      const base = await this.replyOf(rec);
      if (base !== undefined && this.deliveries !== undefined) {
        await this.deliveries.enqueue({ ...base, outcome: { kind: 'cancelled', message: tAll('job.cancelled', { jobId }) } });
      }
      await this.quota.refund(jobId);
      await this.jobs.update(jobId, { state: 'cancelled', finishedAt: Date.now() });
      return { status: 'cancelled', message: tAll('job.cancelled', { jobId }) };
    }
    if (await this.queue.removeWaiting(jobId, rec.userKey)) {
      await this.jobs.update(jobId, { state: 'cancelled', finishedAt: Date.now() });
      await this.quota.refund(jobId);
      return { status: 'cancelled', message: tAll('job.cancelled', { jobId }) };
    }
    await this.redis.set(this.keys.cancelFlag(jobId), actor.userKey, 'EX', CANCEL_FLAG_TTL_SECONDS);
    return { status: 'cancel_requested', message: tAll('job.cancel_requested', { jobId }) };
  }

  /**
   * An admin's decision on a video held for review: approved → delivered and charged; rejected →
   * never delivered, refunded, and the user is told.
   */
  async review(jobId: string, actor: Actor, decision: 'approve' | 'reject'): Promise<ReviewResult> {
    const rec = await this.jobs.get(jobId);
    if (rec === undefined) return { status: 'not_found', message: tAll('job.not_found', { jobId }) };
    if (!actor.isAdmin) return { status: 'not_admin', message: tAll('job.not_admin', { jobId }) };
    if (rec.state !== 'review' || rec.result === undefined) return { status: 'not_in_review', message: tAll('job.not_in_review', { jobId, state: rec.state }) };
    const base = await this.replyOf(rec);
    if (this.deliveries === undefined || base === undefined) {
      // Nowhere to answer any more: settle anyway so that nothing stays held.
      await this.quota.refund(jobId);
      await this.jobs.update(jobId, { state: 'failed', finishedAt: Date.now(), error: { code: 'review_expired', message: 'reply details expired', retryable: false } });
      return { status: 'expired', message: tAll('job.review_expired', { jobId }) };
    }
    if (decision === 'approve') {
      await this.deliveries.enqueue({ ...base, outcome: { kind: 'video', result: rec.result } });
      await this.quota.commit(jobId);
      await this.jobs.update(jobId, { state: 'succeeded', finishedAt: Date.now() });
      return { status: 'approved', message: tAll('job.approved', { jobId }) };
    }
    await this.deliveries.enqueue({ ...base, outcome: { kind: 'blocked', code: 'review_rejected', message: REJECTED } });
    await this.quota.refund(jobId);
    await this.jobs.update(jobId, { state: 'blocked', finishedAt: Date.now(), error: { code: 'review_rejected', message: `rejected by ${actor.userKey}`, retryable: false } });
    return { status: 'rejected', message: tAll('job.rejected', { jobId }) };
  }

  /** The delivery envelope for a job: from its record, or (older records) from its queue entry. */
  private async replyOf(rec: JobRecord) {
    const common = { version: 1 as const, jobId: rec.jobId, platform: rec.platform, userKey: rec.userKey, channelId: rec.channelId };
    if (rec.replyTarget !== undefined) return { ...common, locale: rec.locale ?? 'en', replyTarget: rec.replyTarget };
    const parsed = GenerateJobDataSchema.safeParse((await this.queue.queue.getJob(rec.jobId))?.data);
    return parsed.success ? { ...common, locale: parsed.data.locale, replyTarget: parsed.data.replyTarget } : undefined;
  }

  async isCancelRequested(jobId: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.cancelFlag(jobId))) === 1;
  }
}
