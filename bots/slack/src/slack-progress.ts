import { randomBytes } from 'node:crypto';
import { formatEta, formatSpecSummary, type Core, type JobRecord, type Locale, type ProgressEvent, type Unsubscribe } from '@framecast/core';
import type { Button, KnownBlock } from '@slack/types';
import type { WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import { escapeMrkdwn, st } from './slack-messages.ts';

/** Block Kit action ids of the adapter's buttons. */
export const ACTION = { reroll: 'fc_reroll', upscale: 'fc_upscale', cancel: 'fc_cancel', delete: 'fc_delete' } as const;

/** A button value: the job and a nonce, so that a double click is one action (its eventId). */
export function buttonValue(jobId: string, extra: string = randomBytes(6).toString('hex')): string {
  return `${jobId}|${extra}`;
}

export function parseButtonValue(value: string | undefined): { jobId: string; extra: string } | undefined {
  if (value === undefined) return undefined;
  const [jobId, extra = ''] = value.split('|');
  return jobId === undefined || jobId === '' ? undefined : { jobId, extra };
}

/** The status message's blocks: its text, and the buttons that fit the job's state. */
export function statusBlocks(text: string, buttons: Button[] = []): KnownBlock[] {
  const blocks: KnownBlock[] = [{ type: 'section', text: { type: 'mrkdwn', text } }];
  if (buttons.length > 0) blocks.push({ type: 'actions', block_id: 'fc_actions', elements: buttons });
  return blocks;
}

export function cancelButton(jobId: string, locale: Locale): Button {
  return { type: 'button', action_id: ACTION.cancel, text: { type: 'plain_text', text: st('button_cancel', locale) }, value: buttonValue(jobId, 'c') };
}

/** Reroll, upscale (for a draft) and delete, under a delivered video. `fileId` is the uploaded video's. */
export function resultButtons(job: Pick<JobRecord, 'jobId' | 'spec'>, locale: Locale, fileId = ''): Button[] {
  const out: Button[] = [
    { type: 'button', action_id: ACTION.reroll, text: { type: 'plain_text', text: st('button_reroll', locale) }, value: buttonValue(job.jobId) },
  ];
  if (job.spec.mode === 'draft') out.push({ type: 'button', action_id: ACTION.upscale, text: { type: 'plain_text', text: st('button_upscale', locale) }, value: buttonValue(job.jobId), style: 'primary' });
  out.push({ type: 'button', action_id: ACTION.delete, text: { type: 'plain_text', text: st('button_delete', locale) }, value: buttonValue(job.jobId, fileId), style: 'danger' });
  return out;
}

/** Where a job's status message is, and what it says about the job. */
export interface StatusTarget {
  channel: string;
  ts: string;
  userId: string;
  locale: Locale;
  summary: string;
}

/** The status message of a Slack job, from its record (undefined when it has none). */
export function statusTargetOf(job: JobRecord | undefined, defaultLocale: Locale): StatusTarget | undefined {
  const target = job?.replyTarget;
  if (job === undefined || target?.platform !== 'slack' || target.messageTs === undefined) return undefined;
  const locale = job.locale ?? defaultLocale;
  return { channel: target.channelId, ts: target.messageTs, userId: job.userKey.replace(/^slack:/, ''), locale, summary: escapeMrkdwn(formatSpecSummary(job.spec, locale)) };
}

/** The status text for one event; undefined for events the delivery handler renders (delivered). */
export function statusText(e: ProgressEvent, t: StatusTarget): string | undefined {
  const base = { user: t.userId, summary: t.summary };
  switch (e.type) {
    case 'queued':
      return st('status_queued', t.locale, { ...base, position: Math.max(1, e.position), eta: formatEta(e.etaSeconds, t.locale) });
    case 'started':
      return st('status_started', t.locale, base);
    case 'step': {
      const filled = Math.round((e.step / e.totalSteps) * 10);
      return st('status_step', t.locale, { ...base, step: e.step, total: e.totalSteps, bar: `${'▰'.repeat(filled)}${'▱'.repeat(10 - filled)}` });
    }
    case 'encoding':
      return st(e.phase === 'scanning' ? 'status_scanning' : 'status_encoding', t.locale, base);
    case 'review':
      return st('status_review', t.locale, base);
    case 'ready':
      return st('status_ready', t.locale, base);
    case 'failed':
    case 'cancelled':
      return st('status_failed', t.locale, { user: t.userId, message: escapeMrkdwn(e.message[t.locale]) });
    case 'delivered':
      return undefined;
  }
}

export interface SlackProgressOptions {
  core: Core;
  /** A client that does not wait out 429s (a status edit that is rate-limited is skipped; the next one comes). */
  client: WebClient;
  logger: Logger;
  /** Step edits of one job at most this often. Default 2000 ms (chat.update is Tier 3). */
  minStepIntervalMs?: number;
}

/**
 * The progress renderer: one status message per job, edited with chat.update as the core's
 * progress events arrive (position, steps, encoding, review, failure). The delivery handler writes
 * the final state (the buttons under the video).
 */
export async function startSlackProgress(opts: SlackProgressOptions): Promise<Unsubscribe> {
  const { core, client, logger } = opts;
  const targets = new Map<string, StatusTarget | undefined>();
  return core.progress.subscribe({ platform: 'slack' }, async (e) => {
    if (e.type === 'delivered') {
      targets.delete(e.jobId);
      return;
    }
    let target = targets.get(e.jobId);
    if (!targets.has(e.jobId)) {
      target = statusTargetOf(await core.job(e.jobId), core.config.defaultLocale);
      targets.set(e.jobId, target);
    }
    if (target === undefined) return;
    const text = statusText(e, target);
    if (e.type === 'failed' || e.type === 'cancelled') targets.delete(e.jobId);
    if (text === undefined) return;
    const running = e.type === 'queued' || e.type === 'started' || e.type === 'step';
    try {
      await client.chat.update({ channel: target.channel, ts: target.ts, text, blocks: statusBlocks(text, running ? [cancelButton(e.jobId, target.locale)] : []) });
    } catch (err) {
      logger.debug({ err, jobId: e.jobId, type: e.type }, 'status message not updated');
    }
  }, { minStepIntervalMs: opts.minStepIntervalMs ?? 2000 });
}
