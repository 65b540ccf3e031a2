/**
 * manifest.json of a Wan-style ONNX model directory: which files hold which component, and the
 * numbers the pipeline needs (text length, latent channels, VAE factors, latent statistics,
 * sampler defaults, image-conditioning mode, preview projection).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { RuntimeError } from '../video-runtime.ts';

const TensorDtypeSchema = z.enum(['float32', 'float16']);
export type TensorDtype = z.infer<typeof TensorDtypeSchema>;

const FileSchema = z.string().min(1).refine((f) => !path.isAbsolute(f) && !f.split(/[\\/]/).includes('..'), {
  message: 'must be a relative path inside the model directory',
});

export const WanManifestSchema = z
  .object({
    format: z.literal('framecast-wan-onnx'),
    version: z.literal(1),
    name: z.string().min(1),
    tokenizer: z.object({
      file: FileSchema.default('tokenizer.json'),
      configFile: FileSchema.optional(),
      padId: z.number().int().nonnegative().default(0),
    }),
    textEncoder: z.object({
      file: FileSchema,
      /** L: ids are padded/truncated to this length; embeddings are [1, L, D]. */
      textLength: z.number().int().positive(),
      hiddenSize: z.number().int().positive(),
      dtype: TensorDtypeSchema.default('float32'),
      /** Zero the embeddings past the prompt's length, as diffusers' Wan pipelines do. */
      zeroPadding: z.boolean().default(true),
    }),
    /** The (high-noise) denoising transformer. */
    transformer: z.object({
      file: FileSchema,
      dtype: TensorDtypeSchema.default('float32'),
      timestepDtype: z.enum(['float32', 'float16', 'int64']).default('float32'),
    }),
    /** The low-noise expert (Wan2.2 A14B); used for t < boundaryRatio × 1000 (t == boundary is the high-noise expert's). */
    transformer2: z
      .object({
        file: FileSchema,
        dtype: TensorDtypeSchema.default('float32'),
        timestepDtype: z.enum(['float32', 'float16', 'int64']).default('float32'),
      })
      .optional(),
    boundaryRatio: z.number().gt(0).lt(1).optional(),
    /** TI2V-5B style: the timestep is per token, [1, F'·H'/p·W'/p]. */
    perTokenTimestep: z.boolean().default(false),
    /** Transformer patch size (t, h, w); tokens = F'/pt · H'/ph · W'/pw. */
    patchSize: z.tuple([z.number().int().positive(), z.number().int().positive(), z.number().int().positive()]).default([1, 2, 2]),
    vae: z.object({
      decoderFile: FileSchema,
      encoderFile: FileSchema.optional(),
      dtype: TensorDtypeSchema.default('float32'),
      latentChannels: z.number().int().positive(),
      spatialFactor: z.union([z.literal(8), z.literal(16)]),
      temporalFactor: z.literal(4),
      latentsMean: z.array(z.number()),
      latentsStd: z.array(z.number().positive()),
    }),
    /** How an input image conditions the video; absent = text-to-video only. */
    imageConditioning: z.enum(['concat', 'first-frame-replace']).optional(),
    defaults: z.object({
      steps: z.number().int().positive(),
      draftSteps: z.number().int().positive(),
      shift: z.number().positive(),
      /** High-noise stage (or the only transformer). */
      guidanceScale: z.number().min(1),
      /** Low-noise stage; guidanceScale when absent. */
      guidanceScale2: z.number().min(1).optional(),
      scheduler: z.enum(['euler', 'unipc']).default('unipc'),
      /**
       * The σ grid of either sampler: 'wan' (the official Wan2.2 code's, the model authors') or
       * 'diffusers' (diffusers ≥ 0.37's UniPCMultistepScheduler / FlowMatchEulerDiscreteScheduler).
       * See flow-scheduler.ts.
       */
      flowSigmas: z.enum(['wan', 'diffusers']).default('wan'),
      negativePrompt: z.string().default(''),
    }),
    /**
     * Graphs exported at one fixed size (tools/export-wan-onnx.py: the Wan VAE unrolls its frame
     * loop): only this width × height × frames runs; capabilities offer just this size, and with
     * `fps` just that clip length ((frames − 1) / fps seconds) at that rate.
     */
    staticShape: z
      .object({
        width: z.number().int().positive(),
        height: z.number().int().positive(),
        frames: z.number().int().min(5),
        fps: z.number().int().min(4).max(60).optional(),
      })
      .optional(),
    limits: z
      .object({
        maxWidth: z.number().int().positive(),
        maxHeight: z.number().int().positive(),
        maxFrames: z.number().int().positive(),
      })
      .optional(),
    /** Linear latent→RGB projection for previews, applied to the normalised latent; output in [-1, 1]. */
    preview: z
      .object({
        rgbFactors: z.array(z.tuple([z.number(), z.number(), z.number()])),
        rgbBias: z.tuple([z.number(), z.number(), z.number()]),
      })
      .optional(),
  })
  .superRefine((m, ctx) => {
    const zc = m.vae.latentChannels;
    if (m.vae.latentsMean.length !== zc || m.vae.latentsStd.length !== zc)
      ctx.addIssue({ code: 'custom', path: ['vae'], message: `latentsMean and latentsStd need ${zc} values` });
    if (m.preview !== undefined && m.preview.rgbFactors.length !== zc)
      ctx.addIssue({ code: 'custom', path: ['preview', 'rgbFactors'], message: `need ${zc} rows` });
    if (m.transformer2 !== undefined && m.boundaryRatio === undefined)
      ctx.addIssue({ code: 'custom', path: ['boundaryRatio'], message: 'required with transformer2' });
    if (m.imageConditioning !== undefined && m.vae.encoderFile === undefined)
      ctx.addIssue({ code: 'custom', path: ['vae', 'encoderFile'], message: 'required for image conditioning' });
  });

export type WanManifest = z.infer<typeof WanManifestSchema>;
export type WanManifestInput = z.input<typeof WanManifestSchema>;

export const MANIFEST_FILE = 'manifest.json';

export async function readWanManifest(modelDir: string): Promise<WanManifest> {
  const file = path.join(modelDir, MANIFEST_FILE);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (cause) {
    throw new RuntimeError('bad_input', `cannot read model manifest ${file}`, { cause });
  }
  const parsed = WanManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new RuntimeError('bad_input', `invalid model manifest ${file}: ${issues}`);
  }
  return parsed.data;
}
