import type { RuntimeCapabilities } from '@framecast/core';
import type { TemplateShape, WorkflowTemplateName } from './workflow-template.ts';

/** Wan2.2 TI2V-5B renders 720p only, landscape or portrait (Wan2.2's SUPPORTED_SIZES['ti2v-5B']). */
export const TI2V_5B_SIZES: readonly { width: number; height: number }[] = [
  { width: 1280, height: 704 },
  { width: 704, height: 1280 },
];

/** A14B: up to 720p worth of pixels (1280×720, 960×960 …). */
export const A14B_MAX_PIXELS = 1280 * 720;

/**
 * What a ComfyUI Wan2.2 template renders, read from its shape:
 * - T2V-A14B / I2V-A14B (two experts, Wan2.1 VAE): sides multiples of 16 up to 720p worth of
 *   pixels, 81 frames at 16 fps. Wan2.2's own scripts list only 832×480 and 1280×720 (either
 *   way), but the models render other ratios at those areas (ComfyUI's example template itself is
 *   640×640), so the grammar's 1:1 and 4:3 keep their shape.
 * - TI2V-5B (one model, Wan2.2 VAE): 1280×704 or 704×1280 only, 121 frames at 24 fps; drafts
 *   cannot be smaller.
 * - The start image follows the latent node: WanImageToVideo needs one (I2V), Wan22ImageToVideoLatent
 *   takes one or not (TI2V), EmptyHunyuanLatentVideo takes none (T2V).
 */
export function comfyTemplateCapabilities(
  template: WorkflowTemplateName,
  shape: TemplateShape,
  steps: { draft: number; final: number },
): RuntimeCapabilities {
  const fiveB = shape.sizeMultiple === 32;
  return {
    version: 1,
    runtime: 'comfyui',
    model: template,
    sizes: fiveB
      ? [{ kind: 'list', sizes: TI2V_5B_SIZES.map((s) => ({ ...s })) }]
      : [{ kind: 'grid', multiple: shape.sizeMultiple, minSide: shape.sizeMultiple, maxWidth: 1280, maxHeight: 1280, maxPixels: A14B_MAX_PIXELS }],
    imageInput: shape.startImage,
    maxFrames: fiveB ? 121 : 81,
    fps: fiveB ? 24 : 16,
    steps,
  };
}
