import { z } from 'zod';

export const ASPECTS = ['16:9', '9:16', '1:1', '4:3', '3:4'] as const;
export const AspectSchema = z.enum(ASPECTS);
export type Aspect = z.infer<typeof AspectSchema>;

export const ModeSchema = z.enum(['draft', 'final']);
export type Mode = z.infer<typeof ModeSchema>;

/** A reference image already fetched, checked and stored (see content-safety's safe image intake). */
export const ReferenceImageSchema = z.object({
  /** Key in the blob store (core/src/storage). */
  ref: z.string().min(1).max(512),
  width: z.number().int().positive().max(16384),
  height: z.number().int().positive().max(16384),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type ReferenceImage = z.infer<typeof ReferenceImageSchema>;

export const PROMPT_MAX_CHARS = 1500;
export const NEGATIVE_MAX_CHARS = 500;
export const SEED_MAX = 0xffffffff;

/**
 * What to generate. Produced by the prompt grammar, validated again when a worker reads a job
 * (Redis data outlives code versions, hence the version field).
 */
export const GenerationSpecSchema = z.object({
  version: z.literal(1),
  prompt: z.string().min(1).max(PROMPT_MAX_CHARS),
  negativePrompt: z.string().max(NEGATIVE_MAX_CHARS).optional(),
  mode: ModeSchema,
  durationSeconds: z.number().positive().max(30),
  fps: z.number().int().min(4).max(60),
  /** Frame count, always 4k+1 as the Wan VAE needs. */
  frames: z.number().int().min(5).max(1025).refine((n) => (n - 1) % 4 === 0, 'frames must be 4k+1'),
  aspect: AspectSchema,
  width: z.number().int().min(16).max(4096).multipleOf(16),
  height: z.number().int().min(16).max(4096).multipleOf(16),
  seed: z.number().int().min(0).max(SEED_MAX),
  /** Name of a style preset (core/styles.json); its text is already folded into prompt/negativePrompt. */
  style: z.string().max(64).optional(),
  referenceImage: ReferenceImageSchema.optional(),
});
export type GenerationSpec = z.infer<typeof GenerationSpecSchema>;
