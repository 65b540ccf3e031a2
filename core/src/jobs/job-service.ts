import type { Redis } from 'ioredis';
import { tAll, type LocalizedText } from '../i18n/messages.ts';
import type { FairQueue } from '../queue/fair-queue.ts';
import type { QuotaService } from '../quota/quota-service.ts';
import { Keys } from '../redis/keys.ts';
import { FINAL_STATES, type JobRecord, type JobStore } from './job-record.ts';

export interface Actor {
  userKey: string;
  isAdmin: boolean;
}

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
    if (await this.queue.removeWaiting(jobId, rec.userKey)) {
      await this.jobs.update(jobId, { state: 'cancelled', finishedAt: Date.now() });
      await this.quota.refund(jobId);
      return { status: 'cancelled', message: tAll('job.cancelled', { jobId }) };
    }
    await this.redis.set(this.keys.cancelFlag(jobId), actor.userKey, 'EX', CANCEL_FLAG_TTL_SECONDS);
    return { status: 'cancel_requested', message: tAll('job.cancel_requested', { jobId }) };
  }

  async isCancelRequested(jobId: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.cancelFlag(jobId))) === 1;
  }
}
