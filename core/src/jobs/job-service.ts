import { tAll, type LocalizedText } from '../i18n/messages.ts';
import type { FairQueue } from '../queue/fair-queue.ts';
import type { JobLifecycle, Actor } from './job-lifecycle.ts';
import { FINAL_STATES, type JobRecord, type JobStore } from './job-record.ts';

export type { Actor };

export type ReviewResult =
  | { status: 'approved' | 'rejected'; message: LocalizedText }
  | { status: 'not_found' | 'not_admin' | 'not_in_review'; message: LocalizedText };

export type CancelResult =
  | { status: 'cancelled' | 'cancel_requested'; message: LocalizedText }
  | { status: 'not_found' | 'not_owner' | 'already_finished'; message: LocalizedText };

/** Reading, cancelling and reviewing jobs on behalf of a user or an admin; every change goes through JobLifecycle. */
export class JobService {
  constructor(
    private readonly jobs: JobStore,
    private readonly queue: FairQueue,
    private readonly lifecycle: JobLifecycle,
  ) {}

  get(jobId: string): Promise<JobRecord | undefined> {
    return this.jobs.get(jobId);
  }

  list(userKey: string, limit?: number): Promise<JobRecord[]> {
    return this.jobs.listByUser(userKey, limit);
  }

  /**
   * Cancels a job for its owner or an admin. A waiting job (or a video held for review) ends at
   * once: refunded, and its user is told through the delivery. A running job gets a request that
   * its worker reads between steps and during encoding; the worker ends it the same way.
   */
  async cancel(jobId: string, actor: Actor): Promise<CancelResult> {
    const rec = await this.jobs.get(jobId);
    if (rec === undefined) return { status: 'not_found', message: tAll('job.not_found', { jobId }) };
    if (rec.userKey !== actor.userKey && !actor.isAdmin) return { status: 'not_owner', message: tAll('job.not_owner', { jobId }) };
    if (FINAL_STATES.has(rec.state)) return { status: 'already_finished', message: tAll('job.already_finished', { jobId, state: rec.state }) };
    if (rec.state === 'review' || (await this.queue.removeWaiting(jobId, rec.userKey))) {
      const res = await this.lifecycle.cancelNow(jobId);
      if (res.status === 'ok' && res.kind === 'cancelled') return { status: 'cancelled', message: tAll('job.cancelled', { jobId }) };
      const now = await this.jobs.get(jobId);
      if (now !== undefined && FINAL_STATES.has(now.state)) return { status: 'already_finished', message: tAll('job.already_finished', { jobId, state: now.state }) };
    }
    await this.lifecycle.requestCancel(jobId, actor.userKey);
    return { status: 'cancel_requested', message: tAll('job.cancel_requested', { jobId }) };
  }

  /** An admin's decision on a video held for review: approved → sent and charged; rejected → refunded and told. */
  async review(jobId: string, actor: Actor, decision: 'approve' | 'reject'): Promise<ReviewResult> {
    const rec = await this.jobs.get(jobId);
    if (rec === undefined) return { status: 'not_found', message: tAll('job.not_found', { jobId }) };
    if (!actor.isAdmin) return { status: 'not_admin', message: tAll('job.not_admin', { jobId }) };
    if (rec.state !== 'review' || rec.result === undefined) return { status: 'not_in_review', message: tAll('job.not_in_review', { jobId, state: rec.state }) };
    const res = await this.lifecycle.decide(jobId, decision, actor.userKey);
    if (res.status !== 'ok') {
      const now = await this.jobs.get(jobId);
      return { status: 'not_in_review', message: tAll('job.not_in_review', { jobId, state: now?.state ?? 'unknown' }) };
    }
    return decision === 'approve' ? { status: 'approved', message: tAll('job.approved', { jobId }) } : { status: 'rejected', message: tAll('job.rejected', { jobId }) };
  }
}
