import { Routes, type RawFile } from 'discord.js';
import type { Locale, ProgressEvent, ReplyTargetOf, Unsubscribe } from '@framecast/core';
import { queuedButtons } from './discord-actions.ts';
import type { DiscordContext } from './discord-context.ts';
import { tokenIsFresh } from './discord-delivery.ts';
import { dt, eta, progressBar } from './discord-texts.ts';

export interface DiscordProgressOptions {
  /** Step edits of one job at most this often (the first and the last always go). Default 2000 ms. */
  minEditIntervalMs?: number;
}

interface JobView {
  target: ReplyTargetOf<'discord'> | undefined;
  locale: Locale;
  lastEditAt: number;
  /** Edits of one job run one after another, in the feed's order. */
  chain: Promise<void>;
  lastPreview: string | undefined;
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
  const jobs = new Map<string, JobView>();

  async function viewOf(jobId: string): Promise<JobView> {
    let v = jobs.get(jobId);
    if (v === undefined) {
      const rec = await ctx.core.job(jobId);
      const target = rec?.replyTarget?.platform === 'discord' ? rec.replyTarget : undefined;
      v = { target, locale: rec?.locale ?? ctx.config.defaultLocale, lastEditAt: 0, chain: Promise.resolve(), lastPreview: undefined };
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
      await ctx.rest.patch(Routes.webhookMessage(t.applicationId, t.interactionToken, '@original'), { body, files, auth: false });
    } catch (err) {
      // A progress edit lost to a rate limit or a hiccup is replaced by the next one.
      ctx.logger.debug({ err, jobId: e.jobId }, 'discord: progress edit failed');
    }
  }

  return ctx.core.progress.subscribe({ platform: 'discord' }, async (e) => {
    if (e.type === 'ready' || e.type === 'delivered' || e.type === 'failed' || e.type === 'cancelled') {
      const v = jobs.get(e.jobId);
      jobs.delete(e.jobId);
      // The delivery follows; let an edit in flight finish first so it cannot land after it.
      await v?.chain;
      return;
    }
    const v = await viewOf(e.jobId);
    const content = progressText(e, v.locale);
    if (content === undefined) return;
    const at = ctx.now();
    const isLastStep = e.type === 'step' && e.step >= e.totalSteps;
    if (e.type === 'step' && !isLastStep && at - v.lastEditAt < minEditIntervalMs) return;
    v.lastEditAt = at;
    v.chain = v.chain.then(() => edit(e, v, content));
  }, { minStepIntervalMs: 0 });
}
