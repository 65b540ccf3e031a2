import type { RuntimeCapabilities } from '@framecast/core';
import type { WanManifest } from './wan-manifest.schema.ts';

/** Spec limits (GenerationSpecSchema) used where a manifest sets none. */
const SPEC_MAX_SIDE = 4096;
const SPEC_MAX_FRAMES = 1025;

/**
 * What an ONNX Wan model renders, from its manifest, exactly as the runtime validates a request
 * (latentGeometry): sides a multiple of VAE factor × spatial patch (16 for the Wan2.1 VAE and the
 * tiny test model, 32 for the Wan2.2 VAE of TI2V-5B), within the manifest's limits; an image when
 * the model has image conditioning (concat: I2V needs one; first-frame replace: TI2V may take one).
 *
 * A temporal patch above 1 would also constrain the frame count; no Wan export has one, so it is
 * not declared (the runtime still refuses such counts).
 */
export function onnxModelCapabilities(m: WanManifest): RuntimeCapabilities {
  const multiple = m.vae.spatialFactor * Math.max(m.patchSize[1], m.patchSize[2]);
  const fixed = m.staticShape;
  if (fixed !== undefined)
    return {
      version: 1,
      runtime: 'onnx',
      model: m.name,
      sizes: [{ kind: 'list', sizes: [{ width: fixed.width, height: fixed.height }] }],
      imageInput: m.imageConditioning === undefined ? 'none' : m.imageConditioning === 'concat' ? 'required' : 'optional',
      maxFrames: Math.min(fixed.frames, SPEC_MAX_FRAMES),
      ...(fixed.fps !== undefined && (fixed.frames - 1) / fixed.fps <= 30 ? { fps: fixed.fps, durationsSeconds: [(fixed.frames - 1) / fixed.fps] } : {}),
      steps: { draft: m.defaults.draftSteps, final: m.defaults.steps },
    };
  return {
    version: 1,
    runtime: 'onnx',
    model: m.name,
    sizes: [
      {
        kind: 'grid',
        multiple,
        minSide: multiple,
        maxWidth: Math.min(m.limits?.maxWidth ?? SPEC_MAX_SIDE, SPEC_MAX_SIDE),
        maxHeight: Math.min(m.limits?.maxHeight ?? SPEC_MAX_SIDE, SPEC_MAX_SIDE),
      },
    ],
    imageInput: m.imageConditioning === undefined ? 'none' : m.imageConditioning === 'concat' ? 'required' : 'optional',
    maxFrames: Math.max(5, Math.min(m.limits?.maxFrames ?? SPEC_MAX_FRAMES, SPEC_MAX_FRAMES)),
    steps: { draft: m.defaults.draftSteps, final: m.defaults.steps },
  };
}
