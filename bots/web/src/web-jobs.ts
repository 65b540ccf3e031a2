import { createHash } from 'node:crypto';
import { defaultStylePresets, findStylePreset, formatSpecSummary, type GenerationSpec, type JobRecord, type JobState, type Locale } from '@framecast/core';

/** Job ids as the core makes them (`j` + base36 time + hex); anything else is not looked up. */
export const JOB_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** The API's path prefix. */
export const API_PREFIX = '/api/web';

/** A job as its owner's page sees it (GET /api/web/jobs, /api/web/jobs/:id). */
export interface WebJobView {
  jobId: string;
  state: JobState;
  createdAt: number;
  finishedAt?: number;
  prompt: string;
  negativePrompt?: string;
  /** One line per language: `draft · 16:9 848×480 · 3 s · seed 42`. */
  summary: Record<Locale, string>;
  spec: { mode: 'draft' | 'final'; aspect: string; width: number; height: number; durationSeconds: number; seed: number; style?: string; referenceImage: boolean };
  cost: number;
  /** While queued: 1-based place in line and the ETA in seconds. */
  position?: number;
  etaSeconds?: number;
  error?: { code: string };
  /** Once the video may be shown (state succeeded): where to play, show and download it. */
  video?: { url: string; posterUrl?: string; downloadUrl: string; bytes: number; width: number; height: number; durationSec: number };
  /** While rendering: the latest latent preview (may 404 before the first step). */
  previewUrl?: string;
}

/** The owner's view of a job record. A held (review) or refused video is never exposed. */
export function jobView(rec: JobRecord, position?: { position: number; etaSeconds: number }): WebJobView {
  const base = `${API_PREFIX}/jobs/${encodeURIComponent(rec.jobId)}`;
  const s = rec.spec;
  const view: WebJobView = {
    jobId: rec.jobId,
    state: rec.state,
    createdAt: rec.createdAt,
    ...(rec.finishedAt === undefined ? {} : { finishedAt: rec.finishedAt }),
    prompt: s.prompt,
    ...(s.negativePrompt === undefined || s.negativePrompt === '' ? {} : { negativePrompt: s.negativePrompt }),
    summary: { 'zh-CN': formatSpecSummary(s, 'zh-CN'), en: formatSpecSummary(s, 'en') },
    spec: {
      mode: s.mode, aspect: s.aspect, width: s.width, height: s.height, durationSeconds: s.durationSeconds, seed: s.seed,
      ...(s.style === undefined ? {} : { style: s.style }), referenceImage: s.referenceImage !== undefined,
    },
    cost: rec.cost,
  };
  if (rec.state === 'queued' && position !== undefined && position.position > 0) {
    view.position = position.position;
    view.etaSeconds = Math.round(position.etaSeconds);
  }
  if (rec.error !== undefined && rec.state !== 'succeeded') view.error = { code: rec.error.code };
  if (rec.state === 'succeeded' && rec.result !== undefined) {
    const r = rec.result;
    view.video = {
      url: `${base}/video`,
      ...(r.posterRef === undefined ? {} : { posterUrl: `${base}/poster` }),
      downloadUrl: `${base}/video?download=1`,
      bytes: r.bytes, width: r.width, height: r.height, durationSec: r.durationSec,
    };
  }
  if (rec.state === 'active') view.previewUrl = `${base}/preview`;
  return view;
}

/**
 * The /video command that makes `spec` again with this seed and mode (a reroll or an upscale). A
 * style's phrases are already folded into the spec's prompts: they are taken out again and the
 * style named, so that the new job has the same style and the same text.
 */
export function commandTextOf(spec: GenerationSpec, seed: number, mode: 'draft' | 'final'): string {
  const preset = spec.style === undefined ? undefined : findStylePreset(defaultStylePresets(), spec.style);
  let prompt = spec.prompt;
  let negative = spec.negativePrompt ?? '';
  if (preset !== undefined) {
    if (preset.promptPrefix !== '' && prompt.startsWith(`${preset.promptPrefix}, `)) prompt = prompt.slice(preset.promptPrefix.length + 2);
    if (preset.promptSuffix !== '' && prompt.endsWith(`, ${preset.promptSuffix}`)) prompt = prompt.slice(0, -(preset.promptSuffix.length + 2));
    if (preset.negativePrompt !== '') {
      if (negative === preset.negativePrompt) negative = '';
      else if (negative.endsWith(`, ${preset.negativePrompt}`)) negative = negative.slice(0, -(preset.negativePrompt.length + 2));
    }
  }
  const neg = negative === '' ? '' : ` --neg "${negative.replace(/["“”]/g, "'")}"`;
  const style = preset === undefined ? ' --style none' : ` --style ${preset.name}`;
  return `${prompt} --seed ${seed} --ar ${spec.aspect} --duration ${spec.durationSeconds}${style}${neg}${mode === 'draft' ? ' --draft' : ''}`;
}

/** A seed from a click's request id: the same click sent twice asks for the same video. */
export function seedOf(nonce: string): number {
  return Number.parseInt(createHash('sha256').update(nonce).digest('hex').slice(0, 8), 16);
}
