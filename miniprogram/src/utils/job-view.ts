import type { Job } from '../api/types';
import { t, type Lang } from '../i18n/index';

/** What a job card shows, computed from the job (pure: tested without a page). */
export interface JobView {
  id: string;
  prompt: string;
  state: Job['state'];
  status: string;
  /** 0–100 while rendering, else -1 (no bar). */
  percent: number;
  costText: string;
  canCancel: boolean;
  canPlay: boolean;
  canPublish: boolean;
  published: boolean;
  errorText: string;
}

export function statusText(job: Job, lang: Lang): string {
  switch (job.state) {
    case 'queued': {
      // The place in line is 1-based; 0 or none means the server has not placed it yet.
      const position = job.position !== undefined && job.position >= 1 ? job.position : undefined;
      const eta = job.etaSeconds !== undefined && job.etaSeconds > 0 ? Math.round(job.etaSeconds) : undefined;
      if (position !== undefined) return eta !== undefined ? t('state_queued_eta', { position, eta }, lang) : t('state_queued', { position }, lang);
      return eta !== undefined ? t('state_queued_plain_eta', { eta }, lang) : t('state_queued_plain', {}, lang);
    }
    case 'running':
      return job.progress ? t('state_running_step', { step: job.progress.step, total: job.progress.total }, lang) : t('state_running', {}, lang);
    case 'held':
      return t('state_held', {}, lang);
    case 'succeeded':
      return t('state_succeeded', {}, lang);
    case 'failed':
      return t('state_failed', {}, lang);
    case 'cancelled':
      return t('state_cancelled', {}, lang);
  }
}

export function jobView(job: Job, lang: Lang): JobView {
  const percent = job.state === 'running' && job.progress ? Math.round((job.progress.step / job.progress.total) * 100) : -1;
  return {
    id: job.id,
    prompt: job.prompt ?? '',
    state: job.state,
    status: statusText(job, lang),
    percent,
    costText: job.cost !== undefined ? t('job_cost', { n: job.cost }, lang) : '',
    canCancel: job.state === 'queued' || job.state === 'running',
    canPlay: job.state === 'succeeded',
    canPublish: job.state === 'succeeded' && job.published !== true,
    published: job.published === true,
    errorText: job.state === 'failed' && job.error ? job.error.message : '',
  };
}
