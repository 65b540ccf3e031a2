/**
 * What a video runtime (an ONNX model, a ComfyUI template, a hosted model) can render, and the pure
 * function that fits a GenerationSpec to it at intake, so that an accepted job always renders.
 *
 * Sizes. A runtime declares its sizes as one or more rules, all of which must hold:
 * - `grid`: width and height multiples of `multiple`, each side at least `minSide` and at most
 *   `maxWidth`/`maxHeight`, and at most `maxPixels` in all (ONNX exports: VAE factor × patch, 16 for
 *   the Wan2.1 VAE, 32 for the Wan2.2 VAE; ComfyUI's A14B templates: multiples of 16 up to 720p).
 * - `list`: exactly one of these sizes (ComfyUI's TI2V-5B: 1280×704 or 704×1280; DashScope's fixed
 *   resolutions). Specs live on a 16-pixel grid (GenerationSpec), so a listed side that is not a
 *   multiple of 16 is asked for rounded to it: DashScope's 1920×1080 is the spec 1920×1088, and the
 *   provider renders its own 1920×1080 for it.
 *
 * Render scale. A worker may render at a fraction of the spec's size (`renderScale`, 0.25 for the
 * tiny test model on a CPU): the runtime then sees `renderSizeAt(spec, scale)`, not the spec's size.
 * A runtime declares the sizes it renders itself (its truth: what its validation accepts); the
 * worker publishes `atRenderScale(runtime caps, its renderScale)`, which tags every rule with the
 * scale, and the fit checks a spec's size by mapping it through that scale exactly as the worker
 * will. So published capabilities describe the sizes a spec may ask for, and two workers with
 * different scales can still be combined rule by rule.
 *
 * Several workers. All workers consume one queue, so a job must render on whichever takes it:
 * `mergeCapabilities` keeps every worker's size rules (a size must satisfy all of them), accepts an
 * image only if every worker does, the smallest frame limit, the common durations; what cannot be
 * reconciled (one worker needs an image, another takes none) is listed in `conflicts` and the fit
 * refuses every job with `runtimes_disagree` until the operator fixes the fleet.
 */
import { z } from 'zod';
import { framesFor } from '../grammar/grammar-flags.ts';
import { ASPECTS, GenerationSpecSchema, type Aspect, type GenerationSpec } from './generation-spec.schema.ts';

/** Largest side and smallest side a spec may have (GenerationSpecSchema), and its pixel grid. */
const SPEC_MIN_SIDE = 16;
const SPEC_MAX_SIDE = 4096;
const SPEC_GRID = 16;

export const FrameSizeSchema = z.object({
  width: z.number().int().min(1).max(8192),
  height: z.number().int().min(1).max(8192),
});
export type FrameSize = z.infer<typeof FrameSizeSchema>;

/** The fraction of a spec's size a worker renders at; absent = 1. */
export const RenderScaleSchema = z.number().gt(0).max(1);

export const ListSizeRuleSchema = z.object({
  kind: z.literal('list'),
  sizes: z.array(FrameSizeSchema).min(1).max(64),
  renderScale: RenderScaleSchema.optional(),
});
export type ListSizeRule = z.infer<typeof ListSizeRuleSchema>;

export const GridSizeRuleSchema = z
  .object({
    kind: z.literal('grid'),
    multiple: z.number().int().min(1).max(256),
    minSide: z.number().int().min(1).max(8192),
    maxWidth: z.number().int().min(1).max(8192),
    maxHeight: z.number().int().min(1).max(8192),
    maxPixels: z.number().int().positive().optional(),
    renderScale: RenderScaleSchema.optional(),
  })
  .refine((g) => g.minSide <= g.maxWidth && g.minSide <= g.maxHeight, 'minSide must not exceed maxWidth/maxHeight');
export type GridSizeRule = z.infer<typeof GridSizeRuleSchema>;

export const SizeRuleSchema = z.discriminatedUnion('kind', [ListSizeRuleSchema, GridSizeRuleSchema]);
export type SizeRule = z.infer<typeof SizeRuleSchema>;

export const ImageInputSchema = z.enum(['none', 'optional', 'required']);
export type ImageInput = z.infer<typeof ImageInputSchema>;

export const RuntimeCapabilitiesSchema = z.object({
  version: z.literal(1),
  /** `onnx`, `comfyui`, `dashscope` (merged: the names joined by `+`). */
  runtime: z.string().min(1).max(200),
  /** The ONNX manifest's name, the ComfyUI template, the hosted model. */
  model: z.string().min(1).max(400),
  /** Every rule must hold for a size (see the file comment). */
  sizes: z.array(SizeRuleSchema).min(1).max(32),
  /** Whether a reference image is refused, taken, or needed. */
  imageInput: ImageInputSchema,
  /** Most frames one video may have (a spec asking more is shortened). */
  maxFrames: z.number().int().min(5).max(1025),
  /** The frame rate the model renders at; the spec's fps is set to it (absent: any). */
  fps: z.number().int().min(4).max(60).optional(),
  /** The only clip lengths the runtime makes (hosted Wan2.2: 5 s); absent: any up to maxFrames. */
  durationsSeconds: z.array(z.number().positive().max(30)).min(1).max(16).optional(),
  /** Denoising steps per mode, where the runtime has them (informational: ETAs, logs). */
  steps: z.object({ draft: z.number().int().positive(), final: z.number().int().positive() }).optional(),
  /** Set by mergeCapabilities only: what the live workers disagree on; the fit refuses every job. */
  conflicts: z.array(z.string()).optional(),
});
export type RuntimeCapabilities = z.infer<typeof RuntimeCapabilitiesSchema>;

/** What the fit changed, for the user ("rendered at 1280×704, the size this model makes"). */
export type FitChange = 'size' | 'aspect' | 'duration' | 'fps';

export const FIT_REFUSAL_CODES = ['image_not_supported', 'image_required', 'no_supported_size', 'runtimes_disagree'] as const;
export type FitRefusalCode = (typeof FIT_REFUSAL_CODES)[number];

export type FitResult =
  | { ok: true; spec: GenerationSpec; adjusted: boolean; changes: readonly FitChange[] }
  | { ok: false; code: FitRefusalCode; detail: string };

/**
 * The size a worker renders a spec at, at `scale`: each side scaled, rounded to a multiple of 16,
 * at least 16. Identical to gpu-worker's `renderSize` (a test holds the two together).
 */
export function renderSizeAt(size: FrameSize, scale: number): FrameSize {
  if (!(scale > 0 && scale <= 1)) throw new RangeError(`render scale must be in (0, 1], got ${scale}`);
  const r = (n: number) => Math.max(16, 16 * Math.round((n * scale) / 16));
  return { width: r(size.width), height: r(size.height) };
}

/** Tags every size rule with the worker's render scale (what the worker publishes). */
export function atRenderScale(caps: RuntimeCapabilities, scale: number): RuntimeCapabilities {
  RenderScaleSchema.parse(scale);
  return {
    ...caps,
    sizes: caps.sizes.map((rule) => {
      if (rule.renderScale !== undefined && rule.renderScale !== 1 && rule.renderScale !== scale) {
        throw new RangeError(`size rule already at render scale ${rule.renderScale}`);
      }
      return scale === 1 ? withoutScale(rule) : { ...rule, renderScale: scale };
    }),
  };
}

function withoutScale(rule: SizeRule): SizeRule {
  const { renderScale: _drop, ...rest } = rule;
  return rest;
}

const roundToGrid = (n: number) => Math.max(SPEC_GRID, SPEC_GRID * Math.round(n / SPEC_GRID));

/** Whether one rule accepts a spec size. */
export function ruleAccepts(rule: SizeRule, size: FrameSize): boolean {
  const r = renderSizeAt(size, rule.renderScale ?? 1);
  if (rule.kind === 'list') {
    return rule.sizes.some((s) => roundToGrid(s.width) === r.width && roundToGrid(s.height) === r.height);
  }
  return (
    r.width % rule.multiple === 0 &&
    r.height % rule.multiple === 0 &&
    r.width >= rule.minSide &&
    r.height >= rule.minSide &&
    r.width <= rule.maxWidth &&
    r.height <= rule.maxHeight &&
    (rule.maxPixels === undefined || r.width * r.height <= rule.maxPixels)
  );
}

/** Whether a spec of this size renders under every rule (and is a legal spec size). */
export function sizeSupported(caps: Pick<RuntimeCapabilities, 'sizes'>, size: FrameSize): boolean {
  const legal = (n: number) => Number.isInteger(n) && n % SPEC_GRID === 0 && n >= SPEC_MIN_SIDE && n <= SPEC_MAX_SIDE;
  return legal(size.width) && legal(size.height) && caps.sizes.every((rule) => ruleAccepts(rule, size));
}

export function aspectRatio(aspect: Aspect): number {
  const [w, h] = aspect.split(':').map(Number);
  return (w ?? 1) / (h ?? 1);
}

/** The named aspect nearest a size's ratio; `prefer` wins a tie. */
export function nearestAspect(size: FrameSize, prefer?: Aspect): Aspect {
  const want = Math.log(size.width / size.height);
  let best: Aspect = prefer ?? ASPECTS[0];
  for (const aspect of ASPECTS) {
    if (Math.abs(Math.log(aspectRatio(aspect)) - want) < Math.abs(Math.log(aspectRatio(best)) - want) - 1e-12) best = aspect;
  }
  return best;
}

/** Spec sides (multiples of 16) that render to exactly `n` at `scale`. */
function preimages(n: number, scale: number): number[] {
  if (scale === 1) return n % SPEC_GRID === 0 && n >= SPEC_MIN_SIDE && n <= SPEC_MAX_SIDE ? [n] : [];
  const out: number[] = [];
  for (let m = SPEC_MIN_SIDE; m <= SPEC_MAX_SIDE; m += SPEC_GRID) if (renderSizeAt({ width: m, height: m }, scale).width === n) out.push(m);
  return out;
}

/**
 * Spec sizes worth scoring: each listed size's preimages, and grid sizes near the wanted ratio
 * within a factor of 16 of the wanted area either way.
 */
function candidateSizes(caps: Pick<RuntimeCapabilities, 'sizes'>, ratio: number, area: number): FrameSize[] {
  const seen = new Set<string>();
  const out: FrameSize[] = [];
  const add = (width: number, height: number) => {
    const key = `${width}x${height}`;
    if (seen.has(key) || !sizeSupported(caps, { width, height })) return;
    seen.add(key);
    out.push({ width, height });
  };
  for (const rule of caps.sizes) {
    if (rule.kind !== 'list') continue;
    const scale = rule.renderScale ?? 1;
    for (const s of rule.sizes) {
      for (const w of preimages(roundToGrid(s.width), scale)) for (const h of preimages(roundToGrid(s.height), scale)) add(w, h);
    }
  }
  const grids = caps.sizes.filter((rule): rule is GridSizeRule => rule.kind === 'grid');
  if (grids.length > 0) {
    // Valid sides are about multiple/scale apart: look that far either side of the exact ratio.
    const reach = Math.min(64, Math.max(...grids.map((g) => Math.ceil(g.multiple / (g.renderScale ?? 1) / SPEC_GRID / 2) + 1)));
    const lo = Math.max(SPEC_MIN_SIDE, SPEC_GRID * Math.floor(Math.sqrt(area / 16 / Math.max(ratio, 1 / ratio)) / SPEC_GRID));
    const hi = Math.min(SPEC_MAX_SIDE, SPEC_GRID * Math.ceil(Math.sqrt(area * 16 * Math.max(ratio, 1 / ratio)) / SPEC_GRID));
    for (let a = lo; a <= hi; a += SPEC_GRID) {
      const w0 = SPEC_GRID * Math.floor((a * ratio) / SPEC_GRID);
      const h0 = SPEC_GRID * Math.floor(a / ratio / SPEC_GRID);
      for (let k = -reach + 1; k <= reach; k++) {
        add(w0 + k * SPEC_GRID, a);
        add(a, h0 + k * SPEC_GRID);
      }
    }
  }
  return out;
}

/** Aspect differences under this (2 %) do not show; the grammar's own 848×480 is 0.6 % off 16:9. */
const ASPECT_TOLERANCE = 0.02;

/**
 * How far a size is from the wanted one, as logs: aspect (beyond the tolerance) counts four times
 * as much as area, so the shape is kept first and the size second.
 */
function distance(size: FrameSize, ratio: number, area: number): number {
  const aspectOff = Math.max(0, Math.abs(Math.log(size.width / size.height / ratio)) - ASPECT_TOLERANCE);
  return 4 * aspectOff + Math.abs(Math.log((size.width * size.height) / area));
}

/**
 * The supported spec size nearest `want` for `aspect`: the one with the closest aspect and area,
 * without growing a draft beyond a quarter over the larger of the asked area and the runtime's
 * smallest size (a draft stays cheap and fast). Undefined when the rules admit no size at all.
 */
export function nearestSupportedSize(
  caps: Pick<RuntimeCapabilities, 'sizes'>,
  want: FrameSize,
  aspect: Aspect,
  mode: GenerationSpec['mode'],
): FrameSize | undefined {
  if (sizeSupported(caps, want)) return want;
  // The registry hands out one object for a few seconds: the search runs once per shape and mode.
  let memo = searches.get(caps.sizes);
  if (memo === undefined) searches.set(caps.sizes, (memo = new Map()));
  const key = `${want.width}x${want.height}:${aspect}:${mode}`;
  if (memo.has(key)) return memo.get(key);
  const found = searchNearest(caps, want, aspect, mode);
  memo.set(key, found);
  return found;
}

const searches = new WeakMap<readonly SizeRule[], Map<string, FrameSize | undefined>>();

function searchNearest(
  caps: Pick<RuntimeCapabilities, 'sizes'>,
  want: FrameSize,
  aspect: Aspect,
  mode: GenerationSpec['mode'],
): FrameSize | undefined {
  const ratio = aspectRatio(aspect);
  const area = want.width * want.height;
  let candidates = candidateSizes(caps, ratio, area);
  if (candidates.length === 0) return undefined;
  if (mode === 'draft') {
    const smallest = Math.min(...candidates.map((s) => s.width * s.height));
    const cap = Math.max(area, smallest) * 1.25;
    candidates = candidates.filter((s) => s.width * s.height <= cap);
  }
  const scored = candidates.map((size) => ({ size, d: distance(size, ratio, area) }));
  scored.sort(
    (a, b) =>
      a.d - b.d ||
      a.size.width * a.size.height - b.size.width * b.size.height ||
      b.size.width - a.size.width,
  );
  return scored[0]?.size;
}

/**
 * The image check alone, for intake to run before it fetches and moderates a reference image:
 * undefined when the runtime takes the request as it is (the fit repeats the check).
 */
export function imageInputRefusal(
  caps: RuntimeCapabilities,
  hasImage: boolean,
): { ok: false; code: FitRefusalCode; detail: string } | undefined {
  if (caps.conflicts !== undefined && caps.conflicts.length > 0) {
    return { ok: false, code: 'runtimes_disagree', detail: `live workers disagree on ${caps.conflicts.join(', ')}` };
  }
  if (hasImage && caps.imageInput === 'none') {
    return { ok: false, code: 'image_not_supported', detail: `${caps.runtime} ${caps.model} makes videos from text only` };
  }
  if (!hasImage && caps.imageInput === 'required') {
    return { ok: false, code: 'image_required', detail: `${caps.runtime} ${caps.model} needs a start image` };
  }
  return undefined;
}

/**
 * Fits a spec made by the grammar to what the runtime renders: refuses a reference image the
 * runtime cannot take (or a missing one it needs), moves the size to the nearest supported one,
 * sets the runtime's frame rate and clip length, and shortens a clip beyond its frame limit.
 * Pure; run it at intake before anything is charged (the cost depends on size and duration).
 */
export function fitSpecToCapabilities(spec: GenerationSpec, caps: RuntimeCapabilities): FitResult {
  const refused = imageInputRefusal(caps, spec.referenceImage !== undefined);
  if (refused !== undefined) return refused;

  const changes: FitChange[] = [];
  const size = nearestSupportedSize(caps, { width: spec.width, height: spec.height }, spec.aspect, spec.mode);
  if (size === undefined) {
    return { ok: false, code: 'no_supported_size', detail: `no spec size satisfies ${JSON.stringify(caps.sizes)}` };
  }
  let aspect = spec.aspect;
  if (size.width !== spec.width || size.height !== spec.height) {
    changes.push('size');
    aspect = nearestAspect(size, spec.aspect);
    if (aspect !== spec.aspect) changes.push('aspect');
  }

  let { durationSeconds, fps, frames } = spec;
  if (caps.durationsSeconds !== undefined && !caps.durationsSeconds.includes(durationSeconds)) {
    // The nearest allowed length; between two, the longer (a user rarely minds a longer clip).
    durationSeconds = [...caps.durationsSeconds].sort(
      (a, b) => Math.abs(a - spec.durationSeconds) - Math.abs(b - spec.durationSeconds) || b - a,
    )[0] as number;
    changes.push('duration');
  }
  if (caps.fps !== undefined && caps.fps !== fps) {
    fps = caps.fps;
    changes.push('fps');
  }
  if (durationSeconds !== spec.durationSeconds || fps !== spec.fps) frames = framesFor(durationSeconds, fps);
  if (frames > caps.maxFrames) {
    frames = 4 * Math.floor((caps.maxFrames - 1) / 4) + 1;
    durationSeconds = Math.round(((frames - 1) / fps) * 100) / 100;
    if (!changes.includes('duration')) changes.push('duration');
  }

  if (changes.length === 0) return { ok: true, spec, adjusted: false, changes };
  const fitted = GenerationSpecSchema.parse({ ...spec, width: size.width, height: size.height, aspect, durationSeconds, fps, frames });
  return { ok: true, spec: fitted, adjusted: true, changes };
}

/**
 * The capabilities every live worker shares (all consume one queue, so a job must render on any of
 * them): all size rules together, an image only if every worker takes one, the smallest frame
 * limit, the durations all allow; disagreements that leave no job renderable go to `conflicts`.
 */
export function mergeCapabilities(all: readonly RuntimeCapabilities[]): RuntimeCapabilities | undefined {
  const first = all[0];
  if (first === undefined) return undefined;
  if (all.length === 1) return first;
  const unique = <T>(xs: readonly T[]) => [...new Set(xs)];
  const conflicts: string[] = [];

  const inputs = new Set(all.map((c) => c.imageInput));
  let imageInput: ImageInput;
  if (inputs.has('none') && inputs.has('required')) {
    conflicts.push('image input (one worker needs a start image, another takes none)');
    imageInput = 'none';
  } else imageInput = inputs.has('none') ? 'none' : inputs.has('required') ? 'required' : 'optional';

  const ruleKeys = new Set<string>();
  const sizes: SizeRule[] = [];
  for (const rule of all.flatMap((c) => c.sizes)) {
    const key = JSON.stringify(rule);
    if (ruleKeys.has(key)) continue;
    ruleKeys.add(key);
    sizes.push(rule);
  }

  let durations: number[] | undefined;
  for (const c of all) {
    if (c.durationsSeconds === undefined) continue;
    durations = durations === undefined ? [...c.durationsSeconds] : durations.filter((d) => c.durationsSeconds?.includes(d));
  }
  if (durations !== undefined && durations.length === 0) conflicts.push('clip length');

  const fpsValues = unique(all.map((c) => c.fps));
  const stepValues = unique(all.map((c) => (c.steps === undefined ? '' : `${c.steps.draft}/${c.steps.final}`)));
  const merged: RuntimeCapabilities = {
    version: 1,
    runtime: unique(all.map((c) => c.runtime)).join('+'),
    model: unique(all.map((c) => c.model)).join('+'),
    sizes,
    imageInput,
    maxFrames: Math.min(...all.map((c) => c.maxFrames)),
    ...(fpsValues.length === 1 && first.fps !== undefined ? { fps: first.fps } : {}),
    ...(durations !== undefined && durations.length > 0 ? { durationsSeconds: durations } : {}),
    ...(stepValues.length === 1 && first.steps !== undefined ? { steps: first.steps } : {}),
  };
  const inherited = all.flatMap((c) => c.conflicts ?? []);
  const allConflicts = unique([...inherited, ...conflicts]);
  return allConflicts.length > 0 ? { ...merged, conflicts: allConflicts } : merged;
}
