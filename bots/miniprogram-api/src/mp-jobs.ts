import { ASPECTS, DURATION_LIMITS, PROMPT_MAX_CHARS, SEED_MAX, type JobRecord, type JobState, type LocalizedText } from '@framecast/core';
import { z } from 'zod';

/** A job's state as the mini program shows it. */
export const MP_JOB_STATES = ['queued', 'running', 'held', 'succeeded', 'failed', 'cancelled'] as const;
export type MpJobState = (typeof MP_JOB_STATES)[number];

/** The core's states, folded into the mini program's six. */
export function mpStateOf(state: JobState): MpJobState {
  switch (state) {
    case 'queued':
      return 'queued';
    case 'active':
      return 'running';
    case 'review':
      return 'held';
    case 'succeeded':
      return 'succeeded';
    case 'cancelled':
      return 'cancelled';
    case 'failed':
    case 'blocked':
    case 'undeliverable':
      return 'failed';
  }
}

/** `POST /api/mp/jobs`. */
export const CreateJobBodySchema = z.strictObject({
  prompt: z.string().trim().min(1).max(PROMPT_MAX_CHARS),
  imageId: z.string().min(1).max(80).optional(),
  aspect: z.enum(ASPECTS).optional(),
  duration: z.number().positive().max(DURATION_LIMITS.final.max).optional(),
  /** A style preset name (core/styles.json), or `none`. */
  style: z.string().trim().min(1).max(64).regex(/^[^\s"“”「」『』]+$/u, 'one word').optional(),
  draft: z.boolean().optional(),
  seed: z.number().int().min(0).max(SEED_MAX).optional(),
  /** The user accepted the subscription message (wx.requestSubscribeMessage): notify on completion. */
  subscribe: z.boolean().optional(),
  /** The client's id for this request (e.g. a UUID made when the button is tapped): a retry or a double tap makes one job. */
  requestId: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/).optional(),
});
export type CreateJobBody = z.infer<typeof CreateJobBodySchema>;

const QUOTE_PAIRS: ReadonlyArray<readonly [string, string]> = [['“', '”'], ['「', '」'], ['『', '』'], ['"', '"']];
const ANY_QUOTE = /["“”‘’「」『』]/g;

/**
 * The typed fields as the one `/video` grammar reads them. The prompt is quoted so that what the
 * user typed stays prompt text (a `--draft` inside it is not a flag), with a pair of quotes it does
 * not contain (or, when it holds every kind, with its quotes turned into apostrophes).
 */
export function commandTextOf(b: Pick<CreateJobBody, 'prompt' | 'aspect' | 'duration' | 'style' | 'draft' | 'seed'>): string {
  const prompt = b.prompt.replace(/\s+/g, ' ').trim();
  const pair = QUOTE_PAIRS.find(([open, close]) => !prompt.includes(open) && !prompt.includes(close));
  const quoted = pair === undefined ? `“${prompt.replace(ANY_QUOTE, "'")}”` : `${pair[0]}${prompt}${pair[1]}`;
  const parts = ['/video', quoted];
  if (b.seed !== undefined) parts.push(`--seed ${b.seed}`);
  if (b.aspect !== undefined) parts.push(`--ar ${b.aspect}`);
  if (b.duration !== undefined) parts.push(`--duration ${b.duration}`);
  if (b.style !== undefined) parts.push(`--style ${b.style}`);
  if (b.draft === true) parts.push('--draft');
  return parts.join(' ');
}

/** A job as the API answers it. */
export interface MpJobView {
  id: string;
  state: MpJobState;
  /** 1-based place in line while queued, else 0. */
  position: number;
  etaSeconds: number;
  cost: number;
  prompt: string;
  mode: 'draft' | 'final';
  aspect: string;
  durationSeconds: number;
  width: number;
  height: number;
  seed: number;
  style?: string;
  hasImage: boolean;
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  /** Set when state is failed or cancelled: a code and the message in the caller's language. */
  error?: { code: string; message: string };
  /** Set when succeeded: where to play it (with the Bearer token, or the signed URLs of /media). */
  video?: { width: number; height: number; durationSec: number; bytes: number; url: string; posterUrl?: string };
  published: boolean;
}

export interface JobViewExtras {
  position?: number;
  etaSeconds?: number;
  published: boolean;
  locale: 'zh-CN' | 'en';
  /** A localised message for failures the record only holds in English. */
  failedText?: LocalizedText;
}

export const MP_API_PREFIX = '/api/mp';

export function jobView(rec: JobRecord, x: JobViewExtras): MpJobView {
  const state = mpStateOf(rec.state);
  const s = rec.spec;
  const view: MpJobView = {
    id: rec.jobId, state,
    position: state === 'queued' ? (x.position ?? 0) : 0,
    etaSeconds: state === 'queued' || state === 'running' ? (x.etaSeconds ?? 0) : 0,
    cost: rec.cost, prompt: s.prompt, mode: s.mode, aspect: s.aspect, durationSeconds: s.durationSeconds,
    width: s.width, height: s.height, seed: s.seed, hasImage: s.referenceImage !== undefined, createdAt: rec.createdAt,
    published: x.published,
  };
  if (s.style !== undefined) view.style = s.style;
  if (rec.startedAt !== undefined) view.startedAt = rec.startedAt;
  if (rec.finishedAt !== undefined) view.finishedAt = rec.finishedAt;
  if (state === 'failed' || state === 'cancelled') {
    const code = rec.state === 'blocked' ? 'blocked' : rec.state === 'undeliverable' ? 'undeliverable' : (rec.error?.code ?? rec.state);
    view.error = { code, message: x.failedText?.[x.locale] ?? rec.error?.message ?? code };
  }
  if (state === 'succeeded' && rec.result !== undefined) {
    const r = rec.result;
    view.video = {
      width: r.width, height: r.height, durationSec: r.durationSec, bytes: r.bytes,
      url: `${MP_API_PREFIX}/jobs/${rec.jobId}/video`,
      ...(r.posterRef === undefined ? {} : { posterUrl: `${MP_API_PREFIX}/jobs/${rec.jobId}/poster` }),
    };
  }
  return view;
}
