/**
 * Fidelity against diffusers: ONNX exports of diffusers' own Wan2.2 pipelines (tiny random weights,
 * the real architectures), with every intermediate diffusers 0.40 produced from the same initial
 * latents (test/fixtures/diffusers-wan/, see its README). With `flowSigmas: 'diffusers'` the
 * pipeline must reproduce the text embeddings, the timesteps and sigmas, the latents after every
 * step and the decoded frames (within one 8-bit level); with the default ('wan') the timesteps are
 * the official Wan2.2 grid.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { flowSchedule, shiftSigma } from './flow-scheduler.ts';
import { OnnxVideoRuntime } from './onnx-video-runtime.ts';
import type { DenoiseStepInfo } from './onnx-video-runtime.ts';
import { philoxNormals } from './philox-rng.ts';
import { readWanManifest } from './wan-manifest.schema.ts';

const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/diffusers-wan/', import.meta.url));
const quiet = { info: () => {}, warn: () => {} };

const FileRef = z.object({ file: z.string(), dtype: z.enum(['float32', 'uint8']), shape: z.array(z.number().int().positive()) });
const GoldenSchema = z.object({
  versions: z.object({ diffusers: z.string() }),
  prompt: z.string(),
  negativePrompt: z.string(),
  seed: z.number().int().nonnegative(),
  steps: z.number().int().positive(),
  frames: z.number().int().positive(),
  height: z.number().int().positive(),
  width: z.number().int().positive(),
  guidanceScale: z.number(),
  guidanceScale2: z.number().nullable(),
  timesteps: z.array(z.number()),
  sigmas: z.array(z.number()),
  initialLatents: FileRef,
  condEmbeds: FileRef,
  uncondEmbeds: FileRef,
  stepLatents: z.array(FileRef.extend({ step: z.number().int(), timestep: z.number() })),
  framesRgb: FileRef,
});
type Golden = z.infer<typeof GoldenSchema>;

interface Case {
  name: string;
  dir: string;
  golden: Golden;
}

async function f32(dir: string, ref: z.infer<typeof FileRef>): Promise<Float32Array> {
  const buf = await readFile(path.join(dir, ref.file));
  const n = ref.shape.reduce((a, b) => a * b, 1);
  expect(buf.length).toBe(4 * n);
  // Little-endian on disk; copy into an aligned buffer.
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = buf.readFloatLE(4 * i);
  return out;
}

function maxAbs(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

function maxAbsValue(a: Float32Array): number {
  let m = 0;
  for (const v of a) m = Math.max(m, Math.abs(v));
  return m;
}

let tmp: string;
const cases = new Map<string, Case>();

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'diffusers-wan-'));
  for (const name of ['a14b', 'ti2v']) {
    await promisify(execFile)('tar', ['xzf', path.join(FIXTURES, `${name}.tgz`), '-C', tmp]);
    const dir = path.join(tmp, name);
    const golden = GoldenSchema.parse(JSON.parse(await readFile(path.join(dir, 'golden.json'), 'utf8')));
    cases.set(name, { name, dir, golden });
  }
});

afterAll(async () => {
  if (tmp !== undefined) await rm(tmp, { recursive: true, force: true });
});

function getCase(name: string): Case {
  const c = cases.get(name);
  if (c === undefined) throw new Error(`fixture ${name} not unpacked`);
  return c;
}

describe('diffusers Wan2.2 fixtures: schedules', () => {
  for (const name of ['a14b', 'ti2v']) {
    it(`${name}: the 'diffusers' UniPC grid is diffusers' timesteps and float32 sigmas exactly`, async () => {
      const { golden, dir } = getCase(name);
      const m = await readWanManifest(dir);
      const s = flowSchedule('unipc', golden.steps, m.defaults.shift, 'diffusers');
      expect(s.timesteps).toEqual(golden.timesteps);
      expect(s.sigmas).toEqual(golden.sigmas);
      // The default grid is the official Wan2.2 one: shift(linspace(0.999, 0, n+1)[:-1]), truncated.
      const wan = flowSchedule('unipc', golden.steps, m.defaults.shift);
      expect(wan.timesteps).toEqual(Array.from({ length: golden.steps }, (_, i) => Math.trunc(1000 * shiftSigma((Math.fround(0.999) * (golden.steps - i)) / golden.steps, m.defaults.shift))));
      expect(wan.timesteps).not.toEqual(golden.timesteps);
    });

    it(`${name}: the initial latents are philoxNormals(seed, n, 0)`, async () => {
      const { golden, dir } = getCase(name);
      const init = await f32(dir, golden.initialLatents);
      expect(maxAbs(philoxNormals(golden.seed, init.length, 0), init)).toBe(0);
    });
  }

  it('6 steps, shift 5: diffusers 999 961 909 833 714 501, Wan2.2 999 961 908 833 713 499', () => {
    expect(flowSchedule('unipc', 6, 5, 'diffusers').timesteps).toEqual([999, 961, 909, 833, 714, 501]);
    expect(flowSchedule('unipc', 6, 5, 'wan').timesteps).toEqual([999, 961, 908, 833, 713, 499]);
    expect(flowSchedule('euler', 6, 5, 'wan').timesteps).toEqual([999, 961, 908, 833, 713, 499]);
  });
});


describe('diffusers Wan2.2 fixtures: the ONNX pipeline with flowSigmas "diffusers"', () => {
  for (const name of ['a14b', 'ti2v']) {
    it(`${name}: embeddings, timesteps, sigmas, experts, latents after every step and decoded frames`, async () => {
      const { golden, dir } = getCase(name);
      const trace: DenoiseStepInfo[] = [];
      const latents: Float32Array[] = [];
      const rt = new OnnxVideoRuntime({
        modelDir: dir,
        executionProvider: 'cpu',
        logger: quiet,
        intraOpThreads: 1,
        flowSigmas: 'diffusers',
        onDenoiseStep: (s) => trace.push(s),
        onStepLatents: (_step, l) => latents.push(l),
      });
      try {
        const m = await readWanManifest(dir);
        // Text embeddings (cond and uncond, zero past the prompt).
        const cond = await rt.encodePrompt(golden.prompt);
        const uncond = await rt.encodePrompt(golden.negativePrompt);
        const embeds = Math.max(maxAbs(cond, await f32(dir, golden.condEmbeds)), maxAbs(uncond, await f32(dir, golden.uncondEmbeds)));
        expect(embeds).toBeLessThan(1e-5);

        const result = await rt.generate({
          prompt: golden.prompt,
          negativePrompt: golden.negativePrompt,
          width: golden.width,
          height: golden.height,
          frames: golden.frames,
          fps: 16,
          seed: golden.seed,
          mode: 'final',
          steps: golden.steps,
        });

        expect(trace.map((s) => s.timestep)).toEqual(golden.timesteps);
        expect(trace.map((s) => s.sigma)).toEqual(golden.sigmas.slice(0, -1));
        const boundary = m.boundaryRatio === undefined ? undefined : m.boundaryRatio * 1000;
        expect(trace.map((s) => s.expert)).toEqual(golden.timesteps.map((t) => (boundary === undefined || t >= boundary ? 'high' : 'low')));
        expect(trace.map((s) => s.guidanceScale)).toEqual(trace.map((s) => (s.expert === 'high' ? golden.guidanceScale : (golden.guidanceScale2 ?? golden.guidanceScale))));
        expect(trace.every((s) => s.passes === 2)).toBe(true);

        // Latents after every step: float32 agreement, relative to their size.
        expect(latents).toHaveLength(golden.stepLatents.length);
        const latentDiffs: number[] = [];
        for (const [k, ref] of golden.stepLatents.entries()) {
          const want = await f32(dir, ref);
          const d = maxAbs(latents[k]!, want);
          latentDiffs.push(d);
          expect(d, `step ${ref.step}`).toBeLessThan(2e-5 * Math.max(1, maxAbsValue(want)));
        }

        // Decoded frames within one 8-bit level.
        if (result.kind !== 'frames') throw new Error('expected frames');
        const want = await readFile(path.join(dir, golden.framesRgb.file));
        const [F, H, W] = golden.framesRgb.shape as [number, number, number, number];
        expect(result.frames).toHaveLength(F);
        let maxLevels = 0;
        let levelsOver1 = 0;
        result.frames.forEach((frame, f) => {
          expect(frame.length).toBe(H * W * 3);
          for (let i = 0; i < frame.length; i++) {
            const d = Math.abs((frame[i] as number) - (want[f * H * W * 3 + i] as number));
            maxLevels = Math.max(maxLevels, d);
            if (d > 1) levelsOver1++;
          }
        });
        // FRAMECAST_FIDELITY_REPORT=1 prints the measured differences.
        if (process.env.FRAMECAST_FIDELITY_REPORT === '1') console.log(JSON.stringify({ case: name, embeds, latents: latentDiffs, maxLevels, levelsOver1 }));
        expect(maxLevels).toBeLessThanOrEqual(1);
      } finally {
        await rt.dispose();
      }
    });
  }

  it('a14b: with the default grid the timesteps are the official Wan2.2 ones', async () => {
    const { golden, dir } = getCase('a14b');
    const trace: DenoiseStepInfo[] = [];
    const rt = new OnnxVideoRuntime({ modelDir: dir, executionProvider: 'cpu', logger: quiet, intraOpThreads: 1, onDenoiseStep: (s) => trace.push(s) });
    try {
      await rt.generate({ prompt: golden.prompt, width: 64, height: 64, frames: 9, fps: 16, seed: 1, mode: 'final', steps: 6, guidanceScale: 1 });
      expect(trace.map((s) => s.timestep)).toEqual([999, 961, 908, 833, 713, 499]);
    } finally {
      await rt.dispose();
    }
  });

  it('a14b: at t == boundary (875, step 6 of 12) the high-noise expert runs, as diffusers does (t >= boundary)', async () => {
    const { dir } = getCase('a14b');
    expect((await readWanManifest(dir)).boundaryRatio).toBe(0.875);
    const { timesteps } = flowSchedule('unipc', 12, 5, 'diffusers');
    expect(timesteps[5]).toBe(875);
    const trace: DenoiseStepInfo[] = [];
    const rt = new OnnxVideoRuntime({ modelDir: dir, executionProvider: 'cpu', logger: quiet, intraOpThreads: 1, flowSigmas: 'diffusers', onDenoiseStep: (s) => trace.push(s) });
    try {
      await rt.generate({ prompt: 'a boat', width: 64, height: 64, frames: 9, fps: 16, seed: 3, mode: 'final', steps: 12 });
      expect(trace.map((s) => s.timestep)).toEqual(timesteps);
      expect(trace[5]).toMatchObject({ timestep: 875, expert: 'high', guidanceScale: 4 });
      expect(trace[6]).toMatchObject({ expert: 'low', guidanceScale: 3 });
      expect(trace.map((s) => s.expert)).toEqual(timesteps.map((t) => (t >= 875 ? 'high' : 'low')));
    } finally {
      await rt.dispose();
    }
  });
});
