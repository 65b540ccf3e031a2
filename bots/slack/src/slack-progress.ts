import { randomBytes } from 'node:crypto';
import { formatEta, formatSpecSummary, type BlobStore, type Core, type EditFence, type JobRecord, type Locale, type ProgressEvent, type Unsubscribe } from '@framecast/core';
import type { Button, KnownBlock } from '@slack/types';
import { ErrorCode, type WebClient } from '@slack/web-api';
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

/** The status message's blocks: its text, the step preview (a public image URL) and the buttons that fit the job's state. */
export function statusBlocks(text: string, buttons: Button[] = [], image?: { url: string; alt: string }): KnownBlock[] {
  const blocks: KnownBlock[] = [{ type: 'section', text: { type: 'mrkdwn', text } }];
  if (image !== undefined) blocks.push({ type: 'image', block_id: 'fc_preview', image_url: image.url, alt_text: image.alt });
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

/** How far along a status message is; an edit never takes it back (see SlackStatusBoard). */
export const STATUS_RANK = { queued: 1, started: 2, step: 3, encoding: 4, review: 5, ready: 6, final: 7 } as const;

/** Where a status edit stands: its rank, its step, and (for `started`) the worker's attempt. */
export interface StatusPosition {
  rank: number;
  step?: number;
  /** A later attempt (a job run again after a worker's failure) starts over from `started`. */
  attempt?: number;
}

/** The rank of a progress event's status (steps by their number), undefined for events with none. */
export function statusRankOf(e: ProgressEvent): StatusPosition | undefined {
  switch (e.type) {
    case 'started':
      return { rank: STATUS_RANK.started, step: 0, attempt: e.attempt };
    case 'queued':
    case 'review':
    case 'ready':
      return { rank: STATUS_RANK[e.type], step: 0 };
    case 'step':
      return { rank: STATUS_RANK.step, step: e.step };
    case 'encoding':
      return { rank: STATUS_RANK.encoding, step: e.phase === 'scanning' ? 1 : 0 };
    case 'failed':
    case 'cancelled':
      return { rank: STATUS_RANK.final, step: 0 };
    case 'delivered':
      return undefined;
  }
}

/**
 * The status messages this process edits, one per job: every edit of a job's message (the progress
 * renderer's and the delivery's) goes through `edit`, which runs them one at a time in the order
 * they were asked for and drops one that would take the message back — a `queued` that a fast
 * worker's `started` overtook, or a progress edit that comes after the delivery's final one (which
 * would remove the result's buttons). Without it a late chat.update can leave a running job's
 * message without its Cancel button, or a delivered one without Reroll/Delete.
 */
export class SlackStatusBoard {
  private readonly jobs = new Map<string, { rank: number; step: number; attempt: number; chain: Promise<void> }>();

  /**
   * `fence`: the same order across processes (the replica rendering a job's progress is not always
   * the one delivering it): a progress edit that a final edit anywhere has begun before is skipped,
   * and a final edit waits for a progress edit in flight.
   */
  constructor(private readonly maxJobs = 10_000, private readonly fence?: EditFence) {}

  /** Runs `write` unless the job's message already shows a later state; resolves with whether it ran. */
  async edit(jobId: string, at: StatusPosition, write: () => Promise<void>): Promise<boolean> {
    let entry = this.jobs.get(jobId);
    if (entry === undefined) {
      entry = { rank: 0, step: 0, attempt: 1, chain: Promise.resolve() };
      this.jobs.set(jobId, entry);
      if (this.jobs.size > this.maxJobs) this.jobs.delete(this.jobs.keys().next().value as string);
    }
    const e = entry;
    const step = at.step ?? 0;
    const run = e.chain.then(async () => {
      // A final edit (the delivery's, a failure's) may repeat; nothing goes back from a later state,
      // except a new attempt's run (after a final state, nothing at all).
      const attempt = at.attempt ?? e.attempt;
      const final = STATUS_RANK.final as number;
      const later = at.rank === final
        || (e.rank !== final && (attempt > e.attempt || (attempt === e.attempt && (at.rank > e.rank || (at.rank === e.rank && step >= e.step)))));
      if (!later) return false;
      e.rank = at.rank;
      e.step = step;
      e.attempt = Math.max(attempt, e.attempt);
      const fence = this.fence;
      if (fence === undefined) await write();
      else if (at.rank === final) {
        await fence.settle(jobId);
        await write();
      } else return fence.progress(jobId, write);
      return true;
    });
    e.chain = run.then(() => undefined, () => undefined);
    return run;
  }

  /** The job's story is over in this process (delivered): its entry goes. */
  forget(jobId: string): void {
    this.jobs.delete(jobId);
  }
}

/** How long a step preview's link stays valid (Slack fetches it when the message is shown). */
const PREVIEW_LINK_SECONDS = 24 * 3600;

/**
 * A link Slack can fetch for a step preview: the store's URL when it is http(s) (S3, or local
 * storage served by the HTTP server with FRAMECAST_PUBLIC_URL); undefined for file:// or on error.
 */
export async function publicPreviewUrl(store: Pick<BlobStore, 'url'> | undefined, ref: string | undefined): Promise<string | undefined> {
  if (store === undefined || ref === undefined) return undefined;
  try {
    const url = await store.url(ref, PREVIEW_LINK_SECONDS);
    return /^https?:\/\//i.test(url) ? url : undefined;
  } catch {
    return undefined;
  }
}

export interface SlackProgressOptions {
  core: Core;
  /** Where the step previews are; their links go into the status message when Slack can reach them. */
  store?: Pick<BlobStore, 'url'>;
  /** A client that does not wait out 429s (a status edit that is rate-limited is skipped; the next one comes). */
  client: WebClient;
  logger: Logger;
  /** Step edits of one job at most this often. Default 2000 ms (chat.update is Tier 3). */
  minStepIntervalMs?: number;
  /** Shared with the delivery handler, so that no progress edit lands after the final one. */
  board?: SlackStatusBoard;
}

/**
 * The progress renderer: one status message per job, edited with chat.update as the core's
 * progress events arrive (position, steps, encoding, review, failure). The delivery handler writes
 * the final state (the buttons under the video).
 */
export async function startSlackProgress(opts: SlackProgressOptions): Promise<Unsubscribe> {
  const { core, client, logger } = opts;
  const board = opts.board ?? new SlackStatusBoard();
  const targets = new Map<string, StatusTarget | undefined>();
  /** Jobs whose preview Slack refused: their status message stays text only. */
  const noPreview = new Set<string>();
  return core.progress.subscribe({ platform: 'slack' }, async (e) => {
    if (e.type !== 'step' && e.type !== 'queued' && e.type !== 'started') noPreview.delete(e.jobId);
    if (e.type === 'delivered') {
      targets.delete(e.jobId);
      board.forget(e.jobId);
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
    const rank = statusRankOf(e);
    if (text === undefined || rank === undefined) return;
    const running = e.type === 'queued' || e.type === 'started' || e.type === 'step';
    const buttons = running ? [cancelButton(e.jobId, target.locale)] : [];
    const url = e.type === 'step' && !noPreview.has(e.jobId) ? await publicPreviewUrl(opts.store, e.previewRef) : undefined;
    const image = url === undefined ? undefined : { url, alt: st('preview_alt', target.locale, { step: e.type === 'step' ? e.step : 0 }) };
    const t = target;
    const edited = await board.edit(e.jobId, rank, async () => {
      try {
        await client.chat.update({ channel: t.channel, ts: t.ts, text, blocks: statusBlocks(text, buttons, image) });
      } catch (err) {
        logger.debug({ err, jobId: e.jobId, type: e.type }, 'status message not updated');
        // Slack could not fetch the preview (invalid_blocks, downloading image failed): text only from now on.
        if (image !== undefined && (err as { data?: { error?: string } }).data?.error !== 'ratelimited' && (err as { code?: string }).code !== ErrorCode.RateLimitedError) {
          noPreview.add(e.jobId);
          await client.chat
            .update({ channel: t.channel, ts: t.ts, text, blocks: statusBlocks(text, buttons) })
            .catch((err2: unknown) => logger.debug({ err: err2, jobId: e.jobId }, 'status message not updated'));
        }
      }
    });
    if (!edited) logger.debug({ jobId: e.jobId, type: e.type }, 'status edit skipped: the message already shows a later state');
  }, { minStepIntervalMs: opts.minStepIntervalMs ?? 2000, exclusive: 'slack-progress' });
}
