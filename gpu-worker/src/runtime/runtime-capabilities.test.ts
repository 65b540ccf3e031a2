// Each runtime's declared capabilities against the runtime's own validation: every spec the grammar
// makes, fitted to them at intake, is one the runtime accepts (after the worker's render scale).
import { describe, expect, it } from 'vitest';
import {
  ASPECTS,
  atRenderScale,
  fitSpecToCapabilities,
  parseVideoCommand,
  renderSizeAt,
  RuntimeCapabilitiesSchema,
  type GenerationSpec,
  type Mode,
  type RuntimeCapabilities,
} from '@framecast/core';
import { ComfyUiRuntime } from './comfyui/comfyui-runtime.ts';
import { checkRequest, describeTemplate, fillWorkflow, loadWorkflowTemplate, type WorkflowTemplateName } from './comfyui/workflow-template.ts';
import { DashScopeRuntime, pickI2vResolution, pickT2vSize, TIER_SIZES, type DashScopeModel } from './dashscope/dashscope-runtime.ts';
import { onnxModelCapabilities } from './onnx/model-capabilities.ts';
import { OnnxVideoRuntime } from './onnx/onnx-video-runtime.ts';
import { ensureTinyWanModel } from './onnx/tiny-wan-model.ts';
import { readWanManifest, type WanManifest } from './onnx/wan-manifest.schema.ts';
import { latentGeometry } from './onnx/wan-latents.ts';
import { RuntimeError, type RuntimeRequest } from './video-runtime.ts';
import { runtimeRequestOf } from '../worker/generate-worker.ts';

const IMAGE = { ref: 'uploads/ref.png', width: 1024, height: 768, sha256: 'b'.repeat(64) };
const MODES: readonly Mode[] = ['draft', 'final'];

function grammarSpec(aspect: string, mode: Mode, withImage: boolean, extra = ''): GenerationSpec {
  const parsed = parseVideoCommand(`a lantern festival at dusk --ar ${aspect}${mode === 'draft' ? ' --draft' : ''}${extra}`, { random: () => 0.5 });
  if (!parsed.ok) throw new Error(parsed.error.code);
  return withImage ? { ...parsed.spec, referenceImage: IMAGE } : parsed.spec;
}

/** Every grammar spec (aspect × mode × duration, with and without an image) fitted to caps; refusals dropped. */
function fittedSpecs(caps: RuntimeCapabilities): GenerationSpec[] {
  const out: GenerationSpec[] = [];
  for (const mode of MODES) {
    for (const aspect of ASPECTS) {
      for (const extra of ['', ' --duration 1', mode === 'final' ? ' --duration 10' : ' --duration 5']) {
        for (const withImage of [false, true]) {
          const fit = fitSpecToCapabilities(grammarSpec(aspect, mode, withImage, extra), caps);
          if (fit.ok) out.push(fit.spec);
        }
      }
    }
  }
  return out;
}

/** The request the worker builds from a spec (at its render scale). */
function requestOf(spec: GenerationSpec, scale: number): RuntimeRequest {
  const { width, height } = renderSizeAt(spec, scale);
  return runtimeRequestOf(spec, scale, spec.referenceImage === undefined ? {} : { image: { rgb: new Uint8Array(width * height * 3), width, height } });
}

describe('ONNX runtime capabilities (from the manifest)', () => {
  const variants = [
    { variant: 'ti2v', imageInput: 'optional' },
    { variant: 'i2v', imageInput: 'required' },
    { variant: 't2v', imageInput: 'none' },
  ] as const;

  for (const { variant, imageInput } of variants) {
    it(`tiny ${variant}: multiples of 16 up to the manifest's limits; image ${imageInput}; every fitted spec passes the runtime's geometry check at 0.25 and 1`, async () => {
      const dir = await ensureTinyWanModel(undefined, { variant });
      const rt = new OnnxVideoRuntime({ modelDir: dir, executionProvider: 'cpu', logger: { info: () => {}, warn: () => {} } });
      const caps = await rt.capabilities(); // before load(): from the manifest alone
      expect(RuntimeCapabilitiesSchema.parse(caps)).toEqual(caps);
      const m = await readWanManifest(dir);
      expect(caps).toMatchObject({
        runtime: 'onnx',
        model: m.name,
        imageInput,
        maxFrames: 81,
        steps: { draft: m.defaults.draftSteps, final: m.defaults.steps },
        sizes: [{ kind: 'grid', multiple: 16, minSide: 16, maxWidth: 1280, maxHeight: 1280 }],
      });
      for (const scale of [0.25, 1]) {
        const specs = fittedSpecs(atRenderScale(caps, scale));
        expect(specs.length).toBeGreaterThanOrEqual(30);
        for (const spec of specs) {
          const r = requestOf(spec, scale);
          expect(() => latentGeometry({ ...m.vae, patchSize: m.patchSize, limits: m.limits }, r.width, r.height, r.frames)).not.toThrow();
        }
      }
    });
  }

  it('a static-shape export (tools/export-wan-onnx.py) offers its one size and clip length, which every fitted spec gets', async () => {
    const tiny = await readWanManifest(await ensureTinyWanModel());
    for (const fixed of [
      { width: 832, height: 480, frames: 81, fps: 16 },
      { width: 1280, height: 704, frames: 121, fps: 24 },
    ]) {
      const m: WanManifest = { ...tiny, staticShape: fixed, limits: { maxWidth: fixed.width, maxHeight: fixed.height, maxFrames: fixed.frames } };
      const caps = onnxModelCapabilities(m);
      expect(RuntimeCapabilitiesSchema.parse(caps)).toEqual(caps);
      expect(caps).toMatchObject({ sizes: [{ kind: 'list', sizes: [{ width: fixed.width, height: fixed.height }] }], maxFrames: fixed.frames, fps: fixed.fps, durationsSeconds: [5] });
      const specs = fittedSpecs(caps);
      expect(specs.length).toBeGreaterThan(0);
      for (const spec of specs) {
        const r = requestOf(spec, 1);
        expect([r.width, r.height, r.frames, r.fps]).toEqual([fixed.width, fixed.height, fixed.frames, fixed.fps]);
      }
    }
    // Any other size is refused before ONNX Runtime sees it.
    const dir = await ensureTinyWanModel();
    const rt = new OnnxVideoRuntime({ modelDir: dir, executionProvider: 'cpu', logger: { info: () => {}, warn: () => {} } });
    try {
      await rt.load();
      const m = rt.manifest;
      if (m === undefined) throw new Error('not loaded');
      Object.assign(m, { staticShape: { width: 64, height: 64, frames: 5 } });
      await expect(rt.generate({ prompt: 'a kite', width: 128, height: 64, frames: 5, fps: 16, seed: 1, mode: 'draft', steps: 1 })).rejects.toMatchObject({ code: 'bad_input' });
      await expect(rt.generate({ prompt: 'a kite', width: 64, height: 64, frames: 9, fps: 16, seed: 1, mode: 'draft', steps: 1 })).rejects.toMatchObject({ code: 'bad_input' });
      const ok = await rt.generate({ prompt: 'a kite', width: 64, height: 64, frames: 5, fps: 16, seed: 1, mode: 'draft', steps: 1 });
      expect(ok.kind).toBe('frames');
    } finally {
      await rt.dispose();
    }
  });

  it('a Wan2.2-VAE (×16, patch 2) export: multiples of 32, and fitted specs pass at render scales 1 and 0.5', async () => {
    const tiny = await readWanManifest(await ensureTinyWanModel());
    const fiveB: WanManifest = { ...tiny, name: 'wan2.2-ti2v-5b', vae: { ...tiny.vae, spatialFactor: 16 }, limits: undefined };
    const caps = onnxModelCapabilities(fiveB);
    expect(caps.sizes).toEqual([{ kind: 'grid', multiple: 32, minSide: 32, maxWidth: 4096, maxHeight: 4096 }]);
    expect(caps.maxFrames).toBe(1025);
    for (const scale of [1, 0.5]) {
      for (const spec of fittedSpecs(atRenderScale(caps, scale))) {
        const r = requestOf(spec, scale);
        expect(() => latentGeometry({ ...fiveB.vae, patchSize: fiveB.patchSize }, r.width, r.height, r.frames), `${r.width}x${r.height}`).not.toThrow();
      }
    }
  });
});

describe('ComfyUI capabilities (per template)', () => {
  const expected = {
    't2v-a14b': { imageInput: 'none', maxFrames: 81, fps: 16, steps: { draft: 10, final: 20 } },
    'i2v-a14b': { imageInput: 'required', maxFrames: 81, fps: 16, steps: { draft: 10, final: 20 } },
    'ti2v-5b': { imageInput: 'optional', maxFrames: 121, fps: 24, steps: { draft: 10, final: 20 } },
  } as const;

  for (const name of Object.keys(expected) as WorkflowTemplateName[]) {
    it(`${name}: every fitted spec fills the workflow without a size or image refusal`, async () => {
      const rt = new ComfyUiRuntime({ baseUrl: 'http://127.0.0.1:9', template: name });
      const caps = await rt.capabilities(); // reads the template; no server needed
      expect(RuntimeCapabilitiesSchema.parse(caps)).toEqual(caps);
      expect(caps).toMatchObject({ runtime: 'comfyui', model: name, ...expected[name] });
      const template = await loadWorkflowTemplate(name);
      const specs = fittedSpecs(caps);
      expect(specs.length).toBeGreaterThanOrEqual(30);
      for (const spec of specs) {
        const request = requestOf(spec, 1);
        expect(() => fillWorkflow(template, request, request.image ? { startImageName: 'x.png' } : {}), `${request.width}x${request.height}`).not.toThrow();
      }
    });
  }

  it('ti2v-5b: the grammar sizes that failed at the worker (848, 720) now fit to 1280×704 / 704×1280', async () => {
    const template = await loadWorkflowTemplate('ti2v-5b');
    const shape = describeTemplate(template);
    const caps = await new ComfyUiRuntime({ baseUrl: 'http://127.0.0.1:9', template: 'ti2v-5b' }).capabilities();
    for (const [aspect, mode] of [['16:9', 'draft'], ['16:9', 'final'], ['9:16', 'final']] as const) {
      const raw = grammarSpec(aspect, mode, false);
      expect(() => checkRequest(shape, requestOf(raw, 1))).toThrow(RuntimeError);
      const fit = fitSpecToCapabilities(raw, caps);
      if (!fit.ok) throw new Error(fit.code);
      expect([`${fit.spec.width}x${fit.spec.height}`]).toContain(aspect === '9:16' ? '704x1280' : '1280x704');
      expect(() => checkRequest(shape, requestOf(fit.spec, 1))).not.toThrow();
    }
  });

  it('configured steps are declared as configured; draft defaults to half the final steps', async () => {
    const caps = (o: { steps?: number; draftSteps?: number }) =>
      new ComfyUiRuntime({ baseUrl: 'http://127.0.0.1:9', template: 't2v-a14b', ...o }).capabilities();
    expect((await caps({ steps: 40 })).steps).toEqual({ draft: 20, final: 40 });
    expect((await caps({ steps: 40, draftSteps: 8 })).steps).toEqual({ draft: 8, final: 40 });
    expect((await caps({ draftSteps: 6 })).steps).toEqual({ draft: 6, final: 20 });
  });
});

describe('DashScope capabilities (per model)', () => {
  const models: readonly DashScopeModel[] = ['wan2.2-t2v-plus', 'wan2.2-i2v-plus', 'wan2.2-i2v-flash'];
  const runtimeOf = (model: DashScopeModel) =>
    new DashScopeRuntime({ apiKey: 'sk-test-1234', model, downloader: async () => undefined, publishImage: async () => 'https://example.invalid/x.png' });

  for (const model of models) {
    it(`${model}: the provider maps every fitted spec to exactly that size (t2v) or the tier listing it (i2v)`, async () => {
      const caps = await runtimeOf(model).capabilities();
      expect(RuntimeCapabilitiesSchema.parse(caps)).toEqual(caps);
      expect(caps).toMatchObject({ runtime: 'dashscope', model, durationsSeconds: [5], imageInput: model === 'wan2.2-t2v-plus' ? 'none' : 'required' });
      const specs = fittedSpecs(caps);
      expect(specs.length).toBeGreaterThanOrEqual(30);
      const grid = (n: number) => 16 * Math.round(n / 16);
      for (const spec of specs) {
        expect(spec.durationSeconds).toBe(5);
        if (model === 'wan2.2-t2v-plus') {
          const [w, h] = pickT2vSize(spec.width, spec.height, spec.mode);
          expect([grid(w), grid(h)], `${spec.mode} ${spec.width}x${spec.height}`).toEqual([spec.width, spec.height]);
        } else {
          const tier = pickI2vResolution(model, spec.width, spec.height, spec.mode) as keyof typeof TIER_SIZES;
          const listed = TIER_SIZES[tier].some(([w, h]) => grid(w) === spec.width && grid(h) === spec.height);
          expect(listed, `${spec.mode} ${spec.width}x${spec.height} → ${tier}`).toBe(true);
        }
      }
    });
  }
});
