import { Routes, type RawFile } from 'discord.js';
import type { EditFence, Locale, ProgressEvent, ReplyTargetOf, Unsubscribe } from '@framecast/core';
import { queuedButtons } from './discord-actions.ts';
import type { DiscordContext } from './discord-context.ts';
import { tokenIsFresh } from './discord-delivery.ts';
import { dt, eta, progressBar } from './discord-texts.ts';

export interface DiscordProgressOptions {
  /** Step edits of one job at most this often (the first and the last always go). Default 2000 ms. */
  minEditIntervalMs?: number;
  /** Shared with the delivery handler, so that no progress edit lands after the video's. */
  board?: DiscordReplyBoard;
}

interface JobView {
  target: ReplyTargetOf<'discord'> | undefined;
  locale: Locale;
  lastEditAt: number;
  lastPreview: string | undefined;
  /** How far the reply has got (queued 1 … review 5, steps by number, the worker's attempt): never back. */
  rank: number;
  step: number;
  attempt: number;
}

const RANK = { queued: 1, started: 2, step: 3, encoding: 4, review: 5 } as const;

/**
 * The deferred replies this process edits, one per job: progress edits of a job run one after
 * another, and once its delivery begins (`settle`) none follows — the edit in flight is awaited
 * first — so the video's edit is the last one and keeps its text and buttons. (Progress and delivery
 * are separate consumers: without this a late "Encoding…" could overwrite a delivered reply.)
 */
export class DiscordReplyBoard {
  private readonly chains = new Map<string, Promise<void>>();
  private readonly settled = new Set<string>();

  /**
   * `fence`: the same order across processes (the replica rendering a job's progress is not always
   * the one delivering it): a progress edit that any process's delivery has begun before is skipped,
   * and the delivery waits for one in flight.
   */
  constructor(private readonly maxJobs = 10_000, private readonly fence?: EditFence) {}

  /** How long a progress edit may take before it is aborted (under the fence's window), ms. */
  get editTimeoutMs(): number {
    return this.fence === undefined ? 15_000 : Math.max(1000, this.fence.windowMs - 2000);
  }

  /** Queues a progress edit of the job's reply, unless its delivery has begun. */
  edit(jobId: string, write: () => Promise<void>): void {
    if (this.settled.has(jobId)) return;
    const fence = this.fence;
    const next = (this.chains.get(jobId) ?? Promise.resolve()).then(async () => {
      if (this.settled.has(jobId)) return;
      if (fence === undefined) await write();
      else await fence.progress(jobId, write);
    }).catch(() => undefined);
    this.chains.set(jobId, next);
    if (this.chains.size > this.maxJobs) this.chains.delete(this.chains.keys().next().value as string);
  }

  /** The delivery begins: no more progress edits for the job; resolves once the one in flight is done. */
  async settle(jobId: string): Promise<void> {
    this.settled.add(jobId);
    if (this.settled.size > this.maxJobs) this.settled.delete(this.settled.values().next().value as string);
    await this.chains.get(jobId);
    await this.fence?.settle(jobId);
  }

  /** The job's story is over (delivered, failed, cancelled). */
  forget(jobId: string): void {
    this.chains.delete(jobId);
    this.settled.delete(jobId);
  }
}

/** The status line for an event; undefined for events the delivery answers (ready and after). */
export function progressText(e: ProgressEvent, locale: Locale): string | undefined {
  switch (e.type) {
    case 'queued':
      return dt('queued', locale, { position: Math.max(1, e.position), eta: eta(e.etaSeconds, locale) });
    case 'started':
      return dt('started', locale);
    case 'step':
      return dt('step', locale, { bar: progressBar(e.step, e.totalSteps), step: e.step, total: e.totalSteps });
    case 'encoding':
      return dt(e.phase === 'scanning' ? 'scanning' : 'encoding', locale);
    case 'review':
      return dt('review', locale);
    default:
      return undefined;
  }
}

/**
 * Edits each job's deferred reply as its progress arrives (core.progress.subscribe({ platform:
 * 'discord' })): place in line and ETA, the step with a bar and the latest latent preview, encoding
 * and checking. Throttled per job; nothing after `ready` (the delivery edits the same message), and
 * nothing once the interaction token is too old to edit with.
 */
export async function startDiscordProgress(ctx: DiscordContext, opts: DiscordProgressOptions = {}): Promise<Unsubscribe> {
  const minEditIntervalMs = opts.minEditIntervalMs ?? 2000;
  const board = opts.board ?? new DiscordReplyBoard();
  const jobs = new Map<string, JobView>();

  async function viewOf(jobId: string): Promise<JobView> {
    let v = jobs.get(jobId);
    if (v === undefined) {
      const rec = await ctx.core.job(jobId);
      const target = rec?.replyTarget?.platform === 'discord' ? rec.replyTarget : undefined;
      v = { target, locale: rec?.locale ?? ctx.config.defaultLocale, lastEditAt: 0, lastPreview: undefined, rank: 0, step: 0, attempt: 1 };
      jobs.set(jobId, v);
      // A job that never reaches an end in this process is forgotten after a day.
      if (jobs.size > 10_000) jobs.delete(jobs.keys().next().value as string);
    }
    return v;
  }

  async function edit(e: ProgressEvent, v: JobView, content: string): Promise<void> {
    const t = v.target;
    if (t === undefined || t.interactionToken === undefined || !tokenIsFresh(t, ctx.now())) return;
    const body: Record<string, unknown> = { content, allowed_mentions: { parse: [] } };
    const files: RawFile[] = [];
    body.components = e.type === 'queued' ? queuedButtons(e.jobId, v.locale) : [];
    if (e.type === 'step' && e.previewRef !== undefined && e.previewRef !== v.lastPreview) {
      try {
        files.push({ name: 'preview.jpg', data: await ctx.store.get(e.previewRef), contentType: 'image/jpeg' });
        body.attachments = [{ id: 0, filename: 'preview.jpg' }];
        body.embeds = [{ image: { url: 'attachment://preview.jpg' } }];
        v.lastPreview = e.previewRef;
      } catch {
        // No preview this time.
      }
    }
    try {
      // Aborted rather than sent late (a rate limit's wait): the delivery waits for it no longer than that.
      await ctx.rest.patch(Routes.webhookMessage(t.applicationId, t.interactionToken, '@original'), { body, files, auth: false, signal: AbortSignal.timeout(board.editTimeoutMs) });
    } catch (err) {
      // A progress edit lost to a rate limit or a hiccup is replaced by the next one.
      ctx.logger.debug({ err, jobId: e.jobId }, 'discord: progress edit failed');
    }
  }

  return ctx.core.progress.subscribe({ platform: 'discord' }, async (e) => {
    if (e.type === 'ready' || e.type === 'delivered' || e.type === 'failed' || e.type === 'cancelled') {
      // The delivery edits the reply from here on (the board keeps progress edits from landing after it).
      jobs.delete(e.jobId);
      if (e.type !== 'ready') board.forget(e.jobId);
      return;
    }
    const v = await viewOf(e.jobId);
    const content = progressText(e, v.locale);
    if (content === undefined) return;
    // Never back: a 'queued' that a fast worker's 'started' overtook is dropped (a new attempt starts over).
    const rank = RANK[e.type];
    const step = e.type === 'step' ? e.step : e.type === 'encoding' && e.phase === 'scanning' ? 1 : 0;
    const attempt = e.type === 'started' ? e.attempt : v.attempt;
    if (attempt === v.attempt && (rank < v.rank || (rank === v.rank && step < v.step))) return;
    const at = ctx.now();
    const isLastStep = e.type === 'step' && e.step >= e.totalSteps;
    if (e.type === 'step' && !isLastStep && at - v.lastEditAt < minEditIntervalMs) return;
    if (attempt < v.attempt) return;
    v.rank = rank;
    v.step = step;
    v.attempt = attempt;
    v.lastEditAt = at;
    board.edit(e.jobId, () => edit(e, v, content));
  }, { minStepIntervalMs: 0, exclusive: 'discord-progress' });
}
