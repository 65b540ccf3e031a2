import type { GenerationSpec } from '../model/generation-spec.schema.ts';

/** The reference: one second of draft video at 848×480 costs one credit. */
const REFERENCE_PIXELS = 848 * 480;
const FINAL_FACTOR = 2;

/**
 * Credits a spec costs: proportional to seconds × pixels (what the GPU spends), doubled for final
 * quality (more steps), rounded up, at least 1.
 * draft 16:9 3 s → 3; final 16:9 5 s (1280×720) → 23.
 */
export function costOf(spec: Pick<GenerationSpec, 'mode' | 'durationSeconds' | 'width' | 'height'>): number {
  const pixels = (spec.width * spec.height) / REFERENCE_PIXELS;
  const raw = spec.durationSeconds * pixels * (spec.mode === 'final' ? FINAL_FACTOR : 1);
  return Math.max(1, Math.ceil(raw - 1e-9));
}
