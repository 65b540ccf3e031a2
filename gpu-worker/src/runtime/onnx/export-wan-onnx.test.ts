/**
 * tools/export-wan-onnx.py without torch: `--help`, and `--dry-run`, which writes manifest.json from
 * a diffusers checkpoint's JSON configs alone. The manifests it writes for the three Wan2.2 families
 * must be ones the runtime accepts. (The export itself needs torch and a GPU; see the README's
 * "Real weights".) Skipped where python3 is absent.
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onnxModelCapabilities } from './model-capabilities.ts';
import { WanManifestSchema } from './wan-manifest.schema.ts';

const SCRIPT = fileURLToPath(new URL('../../../../tools/export-wan-onnx.py', import.meta.url));
const hasPython = spawnSync('python3', ['--version']).status === 0;
const run = promisify(execFile);

interface FakeCheckpoint {
  index: Record<string, unknown>;
  transformer: Record<string, unknown>;
  vae: Record<string, unknown>;
  experts: boolean;
}

const range = (n: number, f: (i: number) => number): number[] => Array.from({ length: n }, (_, i) => f(i));

/** The configs of diffusers' Wan2.2 checkpoints, as far as the manifest reads them. */
const checkpoints: Record<string, FakeCheckpoint> = {
  't2v-a14b': {
    index: { _class_name: 'WanPipeline', boundary_ratio: 0.875, expand_timesteps: false, transformer_2: ['diffusers', 'WanTransformer3DModel'] },
    transformer: { in_channels: 16, out_channels: 16, patch_size: [1, 2, 2], text_dim: 4096 },
    vae: { z_dim: 16, latents_mean: range(16, (i) => i / 10 - 0.8), latents_std: range(16, (i) => 1 + i / 10) },
    experts: true,
  },
  'i2v-a14b': {
    index: { _class_name: 'WanImageToVideoPipeline', boundary_ratio: 0.9, expand_timesteps: false, transformer_2: ['diffusers', 'WanTransformer3DModel'] },
    transformer: { in_channels: 36, out_channels: 16, patch_size: [1, 2, 2], text_dim: 4096 },
    vae: { z_dim: 16, latents_mean: range(16, () => 0.1), latents_std: range(16, () => 2) },
    experts: true,
  },
  'ti2v-5b': {
    index: { _class_name: 'WanPipeline', boundary_ratio: null, expand_timesteps: true, transformer_2: [null, null] },
    transformer: { in_channels: 48, out_channels: 48, patch_size: [1, 2, 2], text_dim: 4096 },
    vae: { z_dim: 48, latents_mean: range(48, () => 0), latents_std: range(48, () => 1), scale_factor_spatial: 16, scale_factor_temporal: 4, patch_size: 2, is_residual: true },
    experts: false,
  },
};

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'export-wan-'));
});
afterAll(async () => {
  if (tmp !== undefined) await rm(tmp, { recursive: true, force: true });
});

async function writeCheckpoint(name: string, c: FakeCheckpoint): Promise<string> {
  const dir = path.join(tmp, `ckpt-${name}`);
  const json = async (rel: string, data: unknown): Promise<void> => {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await writeFile(path.join(dir, rel), JSON.stringify(data));
  };
  await json('model_index.json', { ...c.index, text_encoder: ['transformers', 'UMT5EncoderModel'], transformer: ['diffusers', 'WanTransformer3DModel'], vae: ['diffusers', 'AutoencoderKLWan'] });
  await json('transformer/config.json', c.transformer);
  if (c.experts) await json('transformer_2/config.json', c.transformer);
  await json('vae/config.json', c.vae);
  await json('text_encoder/config.json', { d_model: 4096 });
  await json('scheduler/scheduler_config.json', { _class_name: 'UniPCMultistepScheduler', flow_shift: 3.0 });
  return dir;
}

describe.skipIf(!hasPython)('tools/export-wan-onnx.py (no torch needed)', () => {
  it('--help describes the exporter', async () => {
    const { stdout } = await run('python3', [SCRIPT, '--help']);
    expect(stdout).toMatch(/framecast-wan-onnx/);
    for (const flag of ['--out', '--dtype', '--text-encoder-dtype', '--flow-sigmas', '--dry-run', '--no-verify']) expect(stdout).toContain(flag);
  });

  for (const [variant, c] of Object.entries(checkpoints)) {
    it(`--dry-run writes a manifest the runtime accepts for ${variant}`, async () => {
      const ckpt = await writeCheckpoint(variant, c);
      const out = path.join(tmp, `out-${variant}`);
      await run('python3', [SCRIPT, ckpt, '--out', out, '--dry-run']);
      const m = WanManifestSchema.parse(JSON.parse(await readFile(path.join(out, 'manifest.json'), 'utf8')));
      expect(m.name).toBe(`wan2.2-${variant}`);
      expect(m.textEncoder).toMatchObject({ textLength: 512, hiddenSize: 4096, dtype: 'float32' });
      expect(m.transformer.dtype).toBe('float16');
      expect(m.vae.latentChannels).toBe(c.vae.z_dim);
      expect(m.defaults).toMatchObject({ scheduler: 'unipc', flowSigmas: 'wan' });
      expect(m.defaults.negativePrompt.startsWith('色调艳丽，过曝，静态')).toBe(true);
      const caps = onnxModelCapabilities(m);
      if (variant === 'ti2v-5b') {
        expect(m).toMatchObject({ perTokenTimestep: true, imageConditioning: 'first-frame-replace', transformer: { file: 'transformer.onnx' } });
        expect(m.vae).toMatchObject({ spatialFactor: 16, encoderFile: 'vae_encoder.onnx' });
        expect(m.transformer2).toBeUndefined();
        expect(m.defaults).toMatchObject({ steps: 50, draftSteps: 25, shift: 5, guidanceScale: 5 });
        expect(m.limits).toEqual({ maxWidth: 1280, maxHeight: 704, maxFrames: 121 });
        expect(m.staticShape).toEqual({ width: 1280, height: 704, frames: 121, fps: 24 });
        expect(caps).toMatchObject({ imageInput: 'optional', sizes: [{ kind: 'list', sizes: [{ width: 1280, height: 704 }] }], fps: 24, durationsSeconds: [5] });
      } else {
        expect(m).toMatchObject({ perTokenTimestep: false, transformer: { file: 'transformer_high_noise.onnx' }, transformer2: { file: 'transformer_low_noise.onnx' } });
        expect(m.boundaryRatio).toBe(variant === 't2v-a14b' ? 0.875 : 0.9);
        expect(m.vae.spatialFactor).toBe(8);
        expect(m.limits).toEqual({ maxWidth: 832, maxHeight: 480, maxFrames: 81 });
        expect(m.staticShape).toEqual({ width: 832, height: 480, frames: 81, fps: 16 });
        expect(caps).toMatchObject({ sizes: [{ kind: 'list', sizes: [{ width: 832, height: 480 }] }], maxFrames: 81, fps: 16 });
        if (variant === 't2v-a14b') {
          expect(m.defaults).toMatchObject({ steps: 40, shift: 12, guidanceScale: 4, guidanceScale2: 3 });
          expect(m.imageConditioning).toBeUndefined();
          expect(caps.imageInput).toBe('none');
        } else {
          expect(m.defaults).toMatchObject({ steps: 40, shift: 5, guidanceScale: 3.5, guidanceScale2: 3.5 });
          expect(m).toMatchObject({ imageConditioning: 'concat', vae: { encoderFile: 'vae_encoder.onnx' } });
          expect(caps.imageInput).toBe('required');
        }
      }
    });
  }

  it('honours --dtype bf16 (float32 I/O), --flow-sigmas, sizes, and refuses bad sizes and an existing manifest', async () => {
    const ckpt = await writeCheckpoint('t2v-opts', checkpoints['t2v-a14b']!);
    const out = path.join(tmp, 'out-opts');
    await run('python3', [SCRIPT, ckpt, '--out', out, '--dry-run', '--dtype', 'bf16', '--flow-sigmas', 'diffusers', '--width', '1280', '--height', '720', '--steps', '30', '--name', 'my-wan']);
    const m = WanManifestSchema.parse(JSON.parse(await readFile(path.join(out, 'manifest.json'), 'utf8')));
    expect(m).toMatchObject({ name: 'my-wan', transformer: { dtype: 'float32' }, vae: { dtype: 'float32' }, staticShape: { width: 1280, height: 720, frames: 81 } });
    expect(m.defaults).toMatchObject({ flowSigmas: 'diffusers', steps: 30, draftSteps: 15 });
    await expect(run('python3', [SCRIPT, ckpt, '--out', out, '--dry-run'])).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/exists; pass --overwrite/) });
    await expect(run('python3', [SCRIPT, ckpt, '--out', path.join(tmp, 'x'), '--dry-run', '--width', '840'])).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/multiples of 16/) });
    await expect(run('python3', [SCRIPT, ckpt, '--out', path.join(tmp, 'x'), '--dry-run', '--frames', '80'])).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/4k\+1/) });
  });
});
