import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RuntimeError } from '../video-runtime.ts';
import type { RuntimeRequest, RuntimeResult, StepProgress } from '../video-runtime.ts';
import { flowSchedule } from './flow-scheduler.ts';
import { OnnxVideoRuntime, classifyOrtError, cleanPrompt, cudaProviderInstalled, executionProviderFromList } from './onnx-video-runtime.ts';
import type { DenoiseStepInfo } from './onnx-video-runtime.ts';
import { ensureTinyWanModel } from './tiny-wan-model.ts';

const quiet = { info: () => {}, warn: () => {} };

function base(over: Partial<RuntimeRequest> = {}): RuntimeRequest {
  return { prompt: 'a red kite over the sea', width: 64, height: 64, frames: 5, fps: 16, seed: 1, mode: 'draft', steps: 3, ...over };
}

function framesOf(r: RuntimeResult): Uint8Array[] {
  if (r.kind !== 'frames') throw new Error('expected frames');
  return r.frames;
}

function digest(r: RuntimeResult): string {
  const h = createHash('sha256');
  for (const f of framesOf(r)) h.update(f);
  return h.digest('hex');
}

function meanAbsDiff(a: RuntimeResult, b: RuntimeResult): number {
  const fa = framesOf(a);
  const fb = framesOf(b);
  let s = 0;
  let n = 0;
  fa.forEach((f, k) => {
    const g = fb[k]!;
    for (let i = 0; i < f.length; i++) s += Math.abs(f[i]! - g[i]!);
    n += f.length;
  });
  return s / n;
}

function gradientImage(width: number, height: number, phase: number): { rgb: Uint8Array; width: number; height: number } {
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const o = 3 * (y * width + x);
      rgb[o] = (x * 4 + phase) & 255;
      rgb[o + 1] = (y * 4) & 255;
      rgb[o + 2] = phase;
    }
  return { rgb, width, height };
}

describe('OnnxVideoRuntime on the tiny ti2v model (two experts, per-token timestep, first-frame replace)', () => {
  let rt: OnnxVideoRuntime;
  let dir: string;
  beforeAll(async () => {
    dir = await ensureTinyWanModel();
    rt = new OnnxVideoRuntime({ modelDir: dir, executionProvider: 'auto', logger: quiet, intraOpThreads: 1 });
    await rt.load();
  });
  afterAll(async () => {
    await rt.dispose();
  });

  it('falls back to CPU here and keeps its sessions warm', async () => {
    expect(rt.executionProvider).toBe(cudaProviderInstalled() ? 'cuda' : 'cpu');
    await rt.load(); // no-op
    expect(rt.manifest?.name).toBe('tiny-wan-ti2v');
  });

  it('is deterministic for a seed and different for another seed', async () => {
    const a = await rt.generate(base());
    const b = await rt.generate(base());
    const c = await rt.generate(base({ seed: 2 }));
    expect(digest(a)).toBe(digest(b));
    expect(meanAbsDiff(a, c)).toBeGreaterThan(2);
  });

  it('text conditioning changes the output', async () => {
    const a = await rt.generate(base({ prompt: 'a red kite over the sea' }));
    const b = await rt.generate(base({ prompt: '雪夜里的一只黑猫' }));
    expect(meanAbsDiff(a, b)).toBeGreaterThan(2);
    const neg = await rt.generate(base({ negativePrompt: 'blurry, static' }));
    expect(meanAbsDiff(a, neg)).toBeGreaterThan(0.5);
  });

  it('image conditioning changes the output', async () => {
    const none = await rt.generate(base());
    const one = await rt.generate(base({ image: gradientImage(64, 64, 0) }));
    const two = await rt.generate(base({ image: gradientImage(64, 64, 200) }));
    expect(meanAbsDiff(none, one)).toBeGreaterThan(2);
    expect(meanAbsDiff(one, two)).toBeGreaterThan(2);
    await expect(rt.generate(base({ image: gradientImage(32, 32, 0) }))).rejects.toMatchObject({ code: 'bad_input' });
  });

  const sizes: [string, number, number][] = [
    ['16:9', 256, 144],
    ['9:16', 144, 256],
    ['1:1', 192, 192],
    ['4:3', 256, 192],
    ['3:4', 192, 256],
  ];
  for (const [aspect, width, height] of sizes) {
    it(`returns ${width}×${height} RGB24 frames for ${aspect}`, async () => {
      for (const frames of aspect === '16:9' ? [1, 5, 17] : [9]) {
        const r = await rt.generate(base({ width, height, frames, steps: 1, guidanceScale: 1, fps: 24 }));
        expect(r).toMatchObject({ kind: 'frames', width, height, fps: 24 });
        const out = framesOf(r);
        expect(out).toHaveLength(frames);
        for (const f of out) expect(f.length).toBe(width * height * 3);
      }
    });
  }

  it('rejects bad sizes and frame counts as bad_input', async () => {
    for (const over of [{ width: 100 }, { height: 72 }, { frames: 16 }, { frames: 0 }, { steps: 0 }, { width: 4096 }, { seed: -3 }, { guidanceScale: 0.5 }]) {
      const err = await rt.generate(base(over)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RuntimeError);
      expect((err as RuntimeError).code).toBe('bad_input');
    }
  });

  it('reports every step with previews every k steps, and cancels between steps', async () => {
    const progress: StepProgress[] = [];
    const rt2 = new OnnxVideoRuntime({ modelDir: dir, logger: quiet, previewEvery: 2, previewMaxSide: 96, executionProvider: 'cpu' });
    try {
      await rt2.generate(base({ steps: 5 }), { onStep: (p) => progress.push(p) });
      expect(progress.map((p) => p.step)).toEqual([1, 2, 3, 4, 5]);
      expect(progress.every((p) => p.totalSteps === 5)).toBe(true);
      expect(progress.map((p) => p.preview !== undefined)).toEqual([false, true, false, true, true]);
      const pv = progress[1]!.preview!;
      // latent 8×8 upscaled ×12 (the largest integer factor within 96).
      expect([pv.width, pv.height]).toEqual([96, 96]);
      expect(pv.rgb.length).toBe(96 * 96 * 3);

      const controller = new AbortController();
      const seen: number[] = [];
      const err = await rt2
        .generate(base({ steps: 6 }), {
          signal: controller.signal,
          onStep: (p) => {
            seen.push(p.step);
            if (p.step === 2) controller.abort();
          },
        })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RuntimeError);
      expect((err as RuntimeError).code).toBe('cancelled');
      expect(seen).toEqual([1, 2]);
    } finally {
      await rt2.dispose();
    }
  });

  it('switches from the high-noise to the low-noise expert at boundary_ratio × 1000, with CFG passes', async () => {
    const trace: DenoiseStepInfo[] = [];
    const rt2 = new OnnxVideoRuntime({ modelDir: dir, logger: quiet, onDenoiseStep: (s) => trace.push(s), executionProvider: 'cpu' });
    try {
      const steps = 20;
      await rt2.generate(base({ steps, width: 32, height: 32, frames: 1 }));
      const { timesteps } = flowSchedule('unipc', steps, 5);
      expect(trace.map((s) => s.timestep)).toEqual(timesteps);
      expect(trace.map((s) => s.expert)).toEqual(timesteps.map((t) => (t >= 875 ? 'high' : 'low')));
      expect(trace.some((s) => s.expert === 'high') && trace.some((s) => s.expert === 'low')).toBe(true);
      // Manifest guidance: 4 for the high-noise stage, 3 for the low-noise stage; two passes each.
      expect(trace.map((s) => s.guidanceScale)).toEqual(trace.map((s) => (s.expert === 'high' ? 4 : 3)));
      expect(trace.every((s) => s.passes === 2)).toBe(true);

      trace.length = 0;
      await rt2.generate(base({ steps: 4, width: 32, height: 32, frames: 1, guidanceScale: 1 }));
      expect(trace.every((s) => s.passes === 1)).toBe(true);
    } finally {
      await rt2.dispose();
    }
  });

  it('measures a draft job on CPU (320×192, 17 frames, 8 steps, CFG on)', async () => {
    const rt2 = new OnnxVideoRuntime({ modelDir: dir, logger: quiet, executionProvider: 'cpu' });
    try {
      await rt2.load();
      const t0 = performance.now();
      const r = await rt2.generate({ prompt: 'a lantern festival by the river', width: 320, height: 192, frames: 17, fps: 16, seed: 7, mode: 'draft' });
      const ms = performance.now() - t0;
      expect(framesOf(r)).toHaveLength(17);
      console.log(JSON.stringify({ draftJob: '320x192x17, 8 steps, unipc, cfg', cpuMs: Math.round(ms), cores: os.availableParallelism() }));
    } finally {
      await rt2.dispose();
    }
  });
});

describe('OnnxVideoRuntime on other tiny variants', () => {
  it('concat image conditioning (36 input channels) needs an image and uses it', async () => {
    const dir = await ensureTinyWanModel(undefined, { variant: 'i2v' });
    const rt = new OnnxVideoRuntime({ modelDir: dir, logger: quiet, executionProvider: 'cpu' });
    try {
      await expect(rt.generate(base())).rejects.toMatchObject({ code: 'bad_input' });
      const a = await rt.generate(base({ image: gradientImage(64, 64, 0) }));
      const b = await rt.generate(base({ image: gradientImage(64, 64, 200) }));
      expect(framesOf(a)).toHaveLength(5);
      expect(meanAbsDiff(a, b)).toBeGreaterThan(2);
    } finally {
      await rt.dispose();
    }
  });

  it('text-only model refuses images; Euler override runs', async () => {
    const dir = await ensureTinyWanModel(undefined, { variant: 't2v' });
    const trace: DenoiseStepInfo[] = [];
    const rt = new OnnxVideoRuntime({ modelDir: dir, logger: quiet, scheduler: 'euler', onDenoiseStep: (s) => trace.push(s), executionProvider: 'cpu' });
    try {
      await expect(rt.generate(base({ image: gradientImage(64, 64, 0) }))).rejects.toMatchObject({ code: 'bad_input' });
      const r = await rt.generate(base({ steps: 4 }));
      expect(framesOf(r)).toHaveLength(5);
      expect(trace.map((s) => s.timestep)).toEqual(flowSchedule('euler', 4, 5).timesteps);
    } finally {
      await rt.dispose();
    }
  });
});

describe('model directory and errors', () => {
  it('ensureTinyWanModel is idempotent and writes a valid tokenizer', async () => {
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'tiny-wan-'));
    try {
      const dir = path.join(tmp, 'm');
      expect(await ensureTinyWanModel(dir)).toBe(dir);
      const before = await readFile(path.join(dir, 'transformer_high_noise.onnx'));
      await ensureTinyWanModel(dir);
      expect(await readFile(path.join(dir, 'transformer_high_noise.onnx'))).toEqual(before);
      const tok = new Tokenizer(JSON.parse(await readFile(path.join(dir, 'tokenizer.json'), 'utf8')) as object, {});
      const ascii = tok.encode('a cat');
      expect(ascii.tokens).toEqual(['▁', 'a', '▁', 'c', 'a', 't', '</s>']);
      const cjk = tok.encode('猫');
      expect(cjk.tokens).toEqual(['▁', '猫', '</s>']);
      // A character outside the vocabulary falls back to its UTF-8 bytes.
      expect(tok.encode('😀').tokens).toEqual(['▁', '<0xF0>', '<0x9F>', '<0x98>', '<0x80>', '</s>']);

      await writeFile(path.join(dir, 'manifest.json'), JSON.stringify({ format: 'framecast-wan-onnx', version: 1, name: 'broken' }));
      const rt = new OnnxVideoRuntime({ modelDir: dir, logger: quiet });
      await expect(rt.load()).rejects.toThrow(/invalid model manifest/);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });

  it('cleans prompts as diffusers and the official Wan tokenizer do (whitespace runs, HTML entities twice)', () => {
    expect(cleanPrompt('  a cat\n\nin   the\tsnow \u3000')).toBe('a cat in the snow');
    expect(cleanPrompt('fish &amp; chips &amp;amp; &lt;b&gt; &#26085;&#x672C; &quot;x&quot;')).toBe('fish & chips & <b> 日本 "x"');
    expect(cleanPrompt('丽江古城的黄昏，红灯笼在风中摇曳')).toBe('丽江古城的黄昏，红灯笼在风中摇曳');
    expect(cleanPrompt('a\u200bb')).toBe('a\u200bb'); // zero-width space is not whitespace in Python either
  });

  it('maps FRAMECAST_ORT_PROVIDERS to the execution provider choice', () => {
    expect(executionProviderFromList([])).toBe('auto');
    expect(executionProviderFromList(['cuda', 'cpu'])).toBe('auto');
    expect(executionProviderFromList(['cpu', 'cuda'])).toBe('auto');
    expect(executionProviderFromList(['cuda'])).toBe('cuda');
    expect(executionProviderFromList(['cpu'])).toBe('cpu');
  });

  // On a host with onnxruntime-node's CUDA binaries both would pick CUDA; this checks the fallback.
  it.skipIf(cudaProviderInstalled())('without CUDA binaries: "cuda" alone fails to load, "auto" falls back to CPU with a warning', async () => {
    const dir = await ensureTinyWanModel();
    const warnings: string[] = [];
    const rt = new OnnxVideoRuntime({ modelDir: dir, executionProvider: 'cuda', logger: { info: () => {}, warn: (_o, m) => warnings.push(m) } });
    await expect(rt.load()).rejects.toBeInstanceOf(RuntimeError);
    await rt.dispose();
    const auto = new OnnxVideoRuntime({ modelDir: dir, executionProvider: 'auto', logger: { info: () => {}, warn: (_o, m) => warnings.push(m) } });
    try {
      await auto.load();
      expect(auto.executionProvider).toBe('cpu');
      expect(warnings).toContain('CUDA execution provider unavailable, using CPU');
    } finally {
      await auto.dispose();
    }
  });

  it('classifies ORT allocation failures as oom and other failures as transient', () => {
    expect(classifyOrtError(new Error('[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Non-zero status code returned while running Conv node. Failed to allocate memory for requested buffer of size 1073741824'), 'x').code).toBe('oom');
    expect(classifyOrtError(new Error('CUDA failure 2: out of memory ; GPU=0'), 'x').code).toBe('oom');
    expect(classifyOrtError(new Error('std::bad_alloc'), 'x').code).toBe('oom');
    expect(classifyOrtError(new Error('Got invalid dimensions for input'), 'x').code).toBe('transient');
    const cancelled = new RuntimeError('cancelled', 'c');
    expect(classifyOrtError(cancelled, 'x')).toBe(cancelled);
  });
});
