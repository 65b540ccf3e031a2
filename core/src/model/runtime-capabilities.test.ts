import { describe, expect, it } from 'vitest';
import { FRAME_SIZES } from '../grammar/grammar-flags.ts';
import { parseVideoCommand } from '../grammar/prompt-grammar.ts';
import { ASPECTS, GenerationSpecSchema, type Aspect, type GenerationSpec, type Mode } from './generation-spec.schema.ts';
import {
  atRenderScale,
  fitSpecToCapabilities,
  imageInputRefusal,
  mergeCapabilities,
  nearestAspect,
  renderSizeAt,
  RuntimeCapabilitiesSchema,
  sizeSupported,
  type RuntimeCapabilities,
} from './runtime-capabilities.schema.ts';

// The capabilities each runtime declares (gpu-worker: onnxModelCapabilities, comfyTemplateCapabilities,
// dashScopeCapabilities; gpu-worker's runtime-capabilities.test.ts checks those against the runtimes
// themselves), written out here so that core's fit is tested on its own.
const grid = (multiple: number, maxWidth: number, maxHeight: number, maxPixels?: number) =>
  ({ kind: 'grid', multiple, minSide: multiple, maxWidth, maxHeight, ...(maxPixels === undefined ? {} : { maxPixels }) }) as const;
const list = (sizes: readonly (readonly [number, number])[]) => ({ kind: 'list', sizes: sizes.map(([width, height]) => ({ width, height })) }) as const;
const P480 = [[832, 480], [480, 832], [624, 624]] as const;
const P720 = [[1280, 720], [720, 1280], [960, 960], [1088, 832], [832, 1088]] as const;
const P1080 = [[1920, 1080], [1080, 1920], [1440, 1440], [1632, 1248], [1248, 1632]] as const;

const base = { version: 1 } as const;
const RUNTIMES: Record<string, RuntimeCapabilities> = {
  'onnx tiny-wan-ti2v at render scale 0.25': atRenderScale(
    { ...base, runtime: 'onnx', model: 'tiny-wan-ti2v', sizes: [grid(16, 1280, 1280)], imageInput: 'optional', maxFrames: 81, steps: { draft: 8, final: 12 } },
    0.25,
  ),
  'onnx Wan2.2 A14B export': { ...base, runtime: 'onnx', model: 'wan2.2-t2v-a14b', sizes: [grid(16, 4096, 4096)], imageInput: 'none', maxFrames: 1025 },
  'onnx Wan2.2 TI2V-5B export': { ...base, runtime: 'onnx', model: 'wan2.2-ti2v-5b', sizes: [grid(32, 4096, 4096)], imageInput: 'optional', maxFrames: 1025 },
  'onnx Wan2.2 TI2V-5B export at render scale 0.5': atRenderScale(
    { ...base, runtime: 'onnx', model: 'wan2.2-ti2v-5b', sizes: [grid(32, 4096, 4096)], imageInput: 'optional', maxFrames: 1025 },
    0.5,
  ),
  'comfyui t2v-a14b': { ...base, runtime: 'comfyui', model: 't2v-a14b', sizes: [grid(16, 1280, 1280, 1280 * 720)], imageInput: 'none', maxFrames: 81, fps: 16, steps: { draft: 10, final: 20 } },
  'comfyui i2v-a14b': { ...base, runtime: 'comfyui', model: 'i2v-a14b', sizes: [grid(16, 1280, 1280, 1280 * 720)], imageInput: 'required', maxFrames: 81, fps: 16, steps: { draft: 10, final: 20 } },
  'comfyui ti2v-5b': { ...base, runtime: 'comfyui', model: 'ti2v-5b', sizes: [list([[1280, 704], [704, 1280]])], imageInput: 'optional', maxFrames: 121, fps: 24, steps: { draft: 15, final: 30 } },
  'dashscope wan2.2-t2v-plus': { ...base, runtime: 'dashscope', model: 'wan2.2-t2v-plus', sizes: [list([...P480, ...P1080])], imageInput: 'none', maxFrames: 1025, durationsSeconds: [5] },
  'dashscope wan2.2-i2v-plus': { ...base, runtime: 'dashscope', model: 'wan2.2-i2v-plus', sizes: [list([...P480, ...P1080])], imageInput: 'required', maxFrames: 1025, durationsSeconds: [5] },
  'dashscope wan2.2-i2v-flash': { ...base, runtime: 'dashscope', model: 'wan2.2-i2v-flash', sizes: [list([...P480, ...P720])], imageInput: 'required', maxFrames: 1025, durationsSeconds: [5] },
};

const IMAGE = { ref: 'uploads/ref.png', width: 1024, height: 768, sha256: 'a'.repeat(64) };

function specFor(aspect: Aspect, mode: Mode, extra = '', withImage = false): GenerationSpec {
  const parsed = parseVideoCommand(`a paper boat on a rainy street --ar ${aspect}${mode === 'draft' ? ' --draft' : ''}${extra}`, { random: () => 0.25 });
  if (!parsed.ok) throw new Error(`grammar refused: ${parsed.error.code}`);
  return withImage ? { ...parsed.spec, referenceImage: IMAGE } : parsed.spec;
}

const fitted = (caps: RuntimeCapabilities, aspect: Aspect, mode: Mode, extra = ''): GenerationSpec => {
  const result = fitSpecToCapabilities(specFor(aspect, mode, extra, caps.imageInput === 'required'), caps);
  if (!result.ok) throw new Error(`refused: ${result.code}`);
  return result.spec;
};
const sizeOf = (s: GenerationSpec) => `${s.width}x${s.height}`;

describe('fitSpecToCapabilities: every runtime × aspect × mode', () => {
  for (const [name, caps] of Object.entries(RUNTIMES)) {
    it(`${name}: each grammar spec fits to a supported, valid spec`, () => {
      expect(RuntimeCapabilitiesSchema.parse(caps)).toEqual(caps);
      const smallest = Math.min(...ASPECTS.map((a) => fitted(caps, a, 'draft')).map((s) => s.width * s.height));
      for (const mode of ['draft', 'final'] as const) {
        for (const aspect of ASPECTS) {
          const spec = specFor(aspect, mode, '', caps.imageInput === 'required');
          const result = fitSpecToCapabilities(spec, caps);
          expect(result.ok, `${mode} ${aspect}`).toBe(true);
          if (!result.ok) continue;
          const out = result.spec;
          expect(GenerationSpecSchema.safeParse(out).success).toBe(true);
          expect(sizeSupported(caps, out), `${mode} ${aspect} ${sizeOf(out)}`).toBe(true);
          expect(out.frames).toBeLessThanOrEqual(caps.maxFrames);
          expect(out.frames).toBe(4 * Math.round((out.durationSeconds * out.fps) / 4) + 1);
          expect(out.aspect).toBe(nearestAspect(out, aspect));
          expect(result.adjusted).toBe(result.changes.length > 0);
          if (sizeSupported(caps, spec)) expect(sizeOf(out)).toBe(sizeOf(spec));
          // A draft is never made much bigger than asked (or than the runtime's smallest size).
          if (mode === 'draft') {
            expect(out.width * out.height).toBeLessThanOrEqual(1.25 * Math.max(spec.width * spec.height, smallest));
          }
          // Everything but size, aspect, duration, fps and frames is the grammar's.
          expect({ ...out, width: 0, height: 0, aspect: '1:1', durationSeconds: 0, fps: 0, frames: 0 }).toEqual({
            ...spec, width: 0, height: 0, aspect: '1:1', durationSeconds: 0, fps: 0, frames: 0,
          });
        }
      }
    });
  }

  it('leaves the grammar sizes alone where they render (tiny model, ComfyUI A14B)', () => {
    for (const name of ['onnx tiny-wan-ti2v at render scale 0.25', 'onnx Wan2.2 A14B export', 'comfyui t2v-a14b']) {
      const caps = RUNTIMES[name] as RuntimeCapabilities;
      for (const mode of ['draft', 'final'] as const) {
        for (const aspect of ASPECTS) {
          const result = fitSpecToCapabilities(specFor(aspect, mode), caps);
          expect(result).toMatchObject({ ok: true, adjusted: false, changes: [] });
          if (result.ok) expect(result.spec).toEqual(specFor(aspect, mode));
        }
      }
    }
  });

  it('ComfyUI TI2V-5B: 848×480 and 1280×720 become 1280×704 (and portrait 704×1280) at 24 fps', () => {
    const caps = RUNTIMES['comfyui ti2v-5b'] as RuntimeCapabilities;
    const table = Object.fromEntries(
      (['draft', 'final'] as const).flatMap((mode) => ASPECTS.map((a) => [`${mode} ${a}`, `${sizeOf(fitted(caps, a, mode))} ${fitted(caps, a, mode).aspect}`])),
    );
    expect(table).toEqual({
      'draft 16:9': '1280x704 16:9', 'draft 9:16': '704x1280 9:16', 'draft 1:1': '1280x704 16:9', 'draft 4:3': '1280x704 16:9', 'draft 3:4': '704x1280 9:16',
      'final 16:9': '1280x704 16:9', 'final 9:16': '704x1280 9:16', 'final 1:1': '1280x704 16:9', 'final 4:3': '1280x704 16:9', 'final 3:4': '704x1280 9:16',
    });
    const result = fitSpecToCapabilities(specFor('16:9', 'final'), caps);
    expect(result).toMatchObject({ ok: true, adjusted: true, changes: ['size', 'fps'] });
    if (result.ok) expect(result.spec).toMatchObject({ fps: 24, frames: 121, durationSeconds: 5 });
    expect(fitSpecToCapabilities(specFor('1:1', 'draft'), caps)).toMatchObject({ ok: true, changes: ['size', 'aspect', 'fps'] });
  });

  it('DashScope: the provider sizes, drafts in the 480P tier, 5-second clips', () => {
    const t2v = RUNTIMES['dashscope wan2.2-t2v-plus'] as RuntimeCapabilities;
    const flash = RUNTIMES['dashscope wan2.2-i2v-flash'] as RuntimeCapabilities;
    const sizes = (caps: RuntimeCapabilities, mode: Mode) => ASPECTS.map((a) => sizeOf(fitted(caps, a, mode)));
    // ASPECTS order: 16:9, 9:16, 1:1, 4:3, 3:4. 1920×1080 is asked for on the 16-pixel grid.
    expect(sizes(t2v, 'draft')).toEqual(['832x480', '480x832', '624x624', '832x480', '480x832']);
    expect(sizes(t2v, 'final')).toEqual(['1920x1088', '1088x1920', '624x624', '1632x1248', '1248x1632']);
    expect(sizes(flash, 'draft')).toEqual(['832x480', '480x832', '624x624', '832x480', '480x832']);
    expect(sizes(flash, 'final')).toEqual(['1280x720', '720x1280', '624x624', '1088x832', '832x1088']);
    for (const duration of ['1', '3', '10']) {
      expect(fitted(t2v, '16:9', 'final', ` --duration ${duration}`)).toMatchObject({ durationSeconds: 5, frames: 81, fps: 16 });
    }
    const draft = fitSpecToCapabilities(specFor('16:9', 'draft'), t2v);
    expect(draft).toMatchObject({ ok: true, changes: ['size', 'duration'] });
  });

  it('a real TI2V-5B export (multiples of 32): the nearest multiple, aspect kept', () => {
    const caps = RUNTIMES['onnx Wan2.2 TI2V-5B export'] as RuntimeCapabilities;
    expect(sizeOf(fitted(caps, '16:9', 'draft'))).toBe('864x480');
    expect(sizeOf(fitted(caps, '9:16', 'draft'))).toBe('480x864');
    expect(sizeOf(fitted(caps, '4:3', 'draft'))).toBe('640x480');
    for (const aspect of ASPECTS) expect(fitted(caps, aspect, 'final').aspect).toBe(aspect);
  });

  it('the render scale is applied as the worker applies it', () => {
    const half = RUNTIMES['onnx Wan2.2 TI2V-5B export at render scale 0.5'] as RuntimeCapabilities;
    for (const mode of ['draft', 'final'] as const) {
      for (const aspect of ASPECTS) {
        const r = renderSizeAt(fitted(half, aspect, mode), 0.5);
        expect(r.width % 32 === 0 && r.height % 32 === 0, `${mode} ${aspect} renders ${r.width}x${r.height}`).toBe(true);
      }
    }
    expect(renderSizeAt({ width: 848, height: 480 }, 0.25)).toEqual({ width: 208, height: 128 });
    expect(renderSizeAt({ width: 16, height: 16 }, 0.25)).toEqual({ width: 16, height: 16 });
    expect(() => renderSizeAt({ width: 16, height: 16 }, 0)).toThrow(RangeError);
    expect(atRenderScale(RUNTIMES['comfyui t2v-a14b'] as RuntimeCapabilities, 1)).toEqual(RUNTIMES['comfyui t2v-a14b']);
  });

  it('shortens a clip past the frame limit (tiny model: 81 frames) and says so', () => {
    const caps = RUNTIMES['onnx tiny-wan-ti2v at render scale 0.25'] as RuntimeCapabilities;
    const result = fitSpecToCapabilities(specFor('16:9', 'final', ' --duration 10'), caps);
    expect(result).toMatchObject({ ok: true, adjusted: true, changes: ['duration'], spec: { frames: 81, durationSeconds: 5, fps: 16 } });
    const five = RUNTIMES['comfyui ti2v-5b'] as RuntimeCapabilities;
    expect(fitted(five, '16:9', 'final', ' --duration 10')).toMatchObject({ frames: 121, durationSeconds: 5, fps: 24 });
    expect(fitted(five, '16:9', 'draft', ' --duration 2')).toMatchObject({ frames: 49, durationSeconds: 2, fps: 24 });
  });
});

describe('fitSpecToCapabilities: refusals', () => {
  it('a reference image on a text-only runtime is image_not_supported; none on an i2v runtime is image_required', () => {
    for (const name of ['onnx Wan2.2 A14B export', 'comfyui t2v-a14b', 'dashscope wan2.2-t2v-plus']) {
      const result = fitSpecToCapabilities(specFor('16:9', 'draft', '', true), RUNTIMES[name] as RuntimeCapabilities);
      expect(result).toMatchObject({ ok: false, code: 'image_not_supported' });
    }
    for (const name of ['comfyui i2v-a14b', 'dashscope wan2.2-i2v-plus', 'dashscope wan2.2-i2v-flash']) {
      const result = fitSpecToCapabilities(specFor('16:9', 'draft'), RUNTIMES[name] as RuntimeCapabilities);
      expect(result).toMatchObject({ ok: false, code: 'image_required' });
    }
    for (const name of ['comfyui ti2v-5b', 'onnx tiny-wan-ti2v at render scale 0.25']) {
      for (const withImage of [true, false]) {
        expect(fitSpecToCapabilities(specFor('16:9', 'draft', '', withImage), RUNTIMES[name] as RuntimeCapabilities).ok).toBe(true);
      }
    }
  });

  it('imageInputRefusal: the same answer before the image is fetched', () => {
    for (const caps of Object.values(RUNTIMES)) {
      for (const withImage of [true, false]) {
        const early = imageInputRefusal(caps, withImage);
        const fit = fitSpecToCapabilities(specFor('16:9', 'draft', '', withImage), caps);
        expect(early === undefined ? fit.ok : early).toEqual(early === undefined ? true : { ok: false, code: (fit as { code?: string }).code, detail: (fit as { detail?: string }).detail });
      }
    }
  });

  it('rules with no size in common are no_supported_size', () => {
    const caps: RuntimeCapabilities = {
      ...base, runtime: 'x', model: 'y', imageInput: 'optional', maxFrames: 81,
      sizes: [list([[1280, 704]]), grid(16, 960, 960)],
    };
    expect(fitSpecToCapabilities(specFor('16:9', 'final'), caps)).toMatchObject({ ok: false, code: 'no_supported_size' });
  });
});

describe('mergeCapabilities: every live worker must render the job', () => {
  const c = (name: string) => RUNTIMES[name] as RuntimeCapabilities;

  it('one worker: its own capabilities; none: undefined', () => {
    expect(mergeCapabilities([c('comfyui t2v-a14b')])).toBe(c('comfyui t2v-a14b'));
    expect(mergeCapabilities([])).toBeUndefined();
  });

  it('sizes common to all, the smallest frame limit, an image only if all take one', () => {
    const merged = mergeCapabilities([c('comfyui ti2v-5b'), c('onnx Wan2.2 TI2V-5B export'), c('comfyui ti2v-5b')]);
    expect(merged).toMatchObject({ runtime: 'comfyui+onnx', model: 'ti2v-5b+wan2.2-ti2v-5b', imageInput: 'optional', maxFrames: 121 });
    expect(merged?.sizes).toHaveLength(2);
    expect(merged?.fps).toBeUndefined();
    const spec = fitSpecToCapabilities(specFor('16:9', 'draft'), merged as RuntimeCapabilities);
    expect(spec).toMatchObject({ ok: true, spec: { width: 1280, height: 704 } });

    const tinyAndA14b = mergeCapabilities([c('onnx tiny-wan-ti2v at render scale 0.25'), c('comfyui t2v-a14b')]) as RuntimeCapabilities;
    expect(tinyAndA14b.imageInput).toBe('none');
    expect(fitSpecToCapabilities(specFor('16:9', 'draft', '', true), tinyAndA14b)).toMatchObject({ ok: false, code: 'image_not_supported' });
    // Each rule keeps its own render scale.
    expect(tinyAndA14b.sizes.map((r) => r.renderScale)).toEqual([0.25, undefined]);
  });

  it('durations: the ones all allow', () => {
    const merged = mergeCapabilities([c('dashscope wan2.2-t2v-plus'), c('onnx Wan2.2 A14B export')]) as RuntimeCapabilities;
    expect(merged.durationsSeconds).toEqual([5]);
    expect(fitted(merged, '16:9', 'draft')).toMatchObject({ durationSeconds: 5, width: 832, height: 480 });
  });

  it('workers that cannot agree (one needs an image, another takes none) refuse every job', () => {
    const merged = mergeCapabilities([c('comfyui i2v-a14b'), c('comfyui t2v-a14b')]) as RuntimeCapabilities;
    expect(merged.conflicts).toHaveLength(1);
    for (const withImage of [true, false]) {
      expect(fitSpecToCapabilities(specFor('16:9', 'draft', '', withImage), merged)).toMatchObject({ ok: false, code: 'runtimes_disagree' });
    }
    const lengths = mergeCapabilities([
      c('dashscope wan2.2-t2v-plus'),
      { ...c('onnx Wan2.2 A14B export'), durationsSeconds: [3] },
    ]) as RuntimeCapabilities;
    expect(lengths.conflicts).toEqual(['clip length']);
  });
});

describe('the grammar sizes themselves', () => {
  it('are all multiples of 16 (the spec grid the fit searches)', () => {
    for (const sizes of Object.values(FRAME_SIZES)) for (const s of Object.values(sizes)) expect(s.width % 16 + (s.height % 16)).toBe(0);
  });
});
