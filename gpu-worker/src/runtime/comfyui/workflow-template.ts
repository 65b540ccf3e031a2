/**
 * ComfyUI workflow templates (API format) and the typed filler that turns a template plus a
 * RuntimeRequest into the graph we POST to /prompt.
 *
 * API format: `{ [nodeId: string]: { class_type, inputs, _meta?: { title } } }`; an input is either
 * a literal or a link `[sourceNodeId, outputIndex]`. Nodes the filler must touch carry a role tag in
 * their title, `[role=positive]`; where a template has no tag the filler falls back to the one node
 * of the expected class_type, and fails loudly when that is missing or ambiguous.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { RuntimeError } from '../video-runtime.ts';
import type { RuntimeRequest } from '../video-runtime.ts';
import { FramecastError } from '@framecast/core';

export const ComfyNodeSchema = z.object({
  class_type: z.string().min(1),
  inputs: z.record(z.string(), z.unknown()),
  _meta: z.object({ title: z.string() }).partial().passthrough().optional(),
});
export type ComfyNode = z.infer<typeof ComfyNodeSchema>;

export const ComfyGraphSchema = z.record(z.string().min(1), ComfyNodeSchema);
export type ComfyGraph = z.infer<typeof ComfyGraphSchema>;

export type WorkflowTemplateName = 't2v-a14b' | 'i2v-a14b' | 'ti2v-5b';

export const WORKFLOW_TEMPLATE_FILES: Readonly<Record<WorkflowTemplateName, string>> = {
  't2v-a14b': 'wan22-t2v-a14b.json',
  'i2v-a14b': 'wan22-i2v-a14b.json',
  'ti2v-5b': 'wan22-ti2v-5b.json',
};

/** gpu-worker/workflows, next to src/. */
export const DEFAULT_WORKFLOW_DIR = fileURLToPath(new URL('../../../workflows/', import.meta.url));

/** Model file names a deployment may rename (ComfyUI looks them up in its models/ folders). */
export interface ComfyModelFiles {
  /** A14B high-noise expert, or the single TI2V-5B model. */
  high?: string;
  low?: string;
  /** TI2V-5B (same slot as `high` for single-model templates; either name works). */
  model?: string;
  clip?: string;
  vae?: string;
}

export interface FillOverrides {
  models?: ComfyModelFiles;
  /** Total denoising steps (A14B: the high/low switch keeps the template's ratio). */
  steps?: number;
  shift?: number;
  cfg?: number;
  /** Name ComfyUI knows the uploaded start image by (from POST /upload/image). */
  startImageName?: string;
  /** SaveVideo filename_prefix; unique per job so outputs never collide. */
  filenamePrefix?: string;
}

export class WorkflowTemplateError extends FramecastError {
  declare readonly code: 'workflow_template_invalid';
  constructor(message: string) {
    super('workflow_template_invalid', message, { messageId: 'outcome.unavailable' });
    this.name = 'WorkflowTemplateError';
  }
}

/** The original Wan code's default negative prompt (abridged). */
export const DEFAULT_NEGATIVE_PROMPT =
  '色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，最差质量，低质量，JPEG压缩残留，丑陋的，残缺的，多余的手指，画得不好的手部，画得不好的脸部，畸形的，毁容的，形态畸形的肢体，手指融合，静止不动的画面，杂乱的背景，三条腿，背景人很多，倒着走';

export async function loadWorkflowTemplate(
  name: WorkflowTemplateName,
  dir: string = DEFAULT_WORKFLOW_DIR,
): Promise<ComfyGraph> {
  const file = new URL(WORKFLOW_TEMPLATE_FILES[name], `file://${dir.endsWith('/') ? dir : `${dir}/`}`);
  const text = await readFile(file, 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new WorkflowTemplateError(`template ${name}: not JSON (${(error as Error).message})`);
  }
  const parsed = ComfyGraphSchema.safeParse(json);
  if (!parsed.success) {
    throw new WorkflowTemplateError(`template ${name}: not an API-format graph: ${parsed.error.issues[0]?.message ?? ''}`);
  }
  const problems = validateGraph(parsed.data);
  if (problems.length > 0) throw new WorkflowTemplateError(`template ${name}: ${problems.join('; ')}`);
  return parsed.data;
}

/** A link input: `[nodeId, outputIndex]`. */
export function isLink(value: unknown): value is [string, number] {
  return (
    Array.isArray(value) &&
    value.length === 2 &&
    (typeof value[0] === 'string' || typeof value[0] === 'number') &&
    typeof value[1] === 'number' &&
    Number.isInteger(value[1]) &&
    value[1] >= 0
  );
}

/** Structural checks: every link points at an existing node; ids are strings. Returns the problems. */
export function validateGraph(graph: ComfyGraph): string[] {
  const problems: string[] = [];
  if (Object.keys(graph).length === 0) problems.push('graph is empty');
  for (const [id, node] of Object.entries(graph)) {
    for (const [input, value] of Object.entries(node.inputs)) {
      if (!isLink(value)) continue;
      const target = String(value[0]);
      if (typeof value[0] !== 'string') problems.push(`node ${id}.${input}: link node id must be a string`);
      if (!(target in graph)) problems.push(`node ${id}.${input}: links to missing node ${target}`);
    }
  }
  return problems;
}

const ROLE_PATTERN = /\[role=([a-z0-9_-]+)\]/i;

export function nodeRole(node: ComfyNode): string | undefined {
  const title = node._meta?.title;
  if (typeof title !== 'string') return undefined;
  return ROLE_PATTERN.exec(title)?.[1]?.toLowerCase();
}

/**
 * The node playing `role`: the one tagged with it, else the only node
 * of `classTypes` that carries no role tag. Throws WorkflowTemplateError when absent, ambiguous or
 * of an unexpected class.
 */
export function findNode(graph: ComfyGraph, role: string, classTypes: readonly string[]): [string, ComfyNode] {
  const tagged = Object.entries(graph).filter(([, node]) => nodeRole(node) === role);
  if (tagged.length > 1) throw new WorkflowTemplateError(`more than one node tagged [role=${role}]`);
  const found = tagged[0];
  if (found) {
    if (!classTypes.includes(found[1].class_type)) {
      throw new WorkflowTemplateError(
        `node ${found[0]} tagged [role=${role}] is ${found[1].class_type}, expected ${classTypes.join(' | ')}`,
      );
    }
    return found;
  }
  // Fallback by class: only nodes not tagged for another role (the positive prompt must never be
  // taken for a missing negative one).
  const byClass = Object.entries(graph).filter(
    ([, node]) => classTypes.includes(node.class_type) && nodeRole(node) === undefined,
  );
  if (byClass.length === 1 && byClass[0]) return byClass[0];
  throw new WorkflowTemplateError(
    byClass.length === 0
      ? `template has no node for role ${role} (${classTypes.join(' | ')})`
      : `template has ${byClass.length} ${classTypes.join(' | ')} nodes and none tagged [role=${role}]`,
  );
}

function findOptional(graph: ComfyGraph, role: string, classTypes: readonly string[]): [string, ComfyNode] | undefined {
  try {
    return findNode(graph, role, classTypes);
  } catch (error) {
    if (error instanceof WorkflowTemplateError && /has no node/.test(error.message)) return undefined;
    throw error;
  }
}

const LATENT_CLASSES = ['EmptyHunyuanLatentVideo', 'WanImageToVideo', 'Wan22ImageToVideoLatent'] as const;

/** What kind of graph a template is, read from its nodes. */
export interface TemplateShape {
  /** Two KSamplerAdvanced (A14B) or one KSampler (5B). */
  experts: 'two' | 'one';
  /** 'required' (I2V-A14B), 'optional' (TI2V-5B), 'none' (T2V). */
  startImage: 'required' | 'optional' | 'none';
  /** Width/height multiple: 16 for the Wan2.1 VAE (A14B), 32 for the Wan2.2 VAE (5B). */
  sizeMultiple: number;
  /** Node id of the output (SaveVideo or compatible). */
  saveNodeId: string;
}

export function describeTemplate(graph: ComfyGraph): TemplateShape {
  const high = findOptional(graph, 'sampler_high', ['KSamplerAdvanced']);
  const experts = high ? 'two' : 'one';
  if (experts === 'two') findNode(graph, 'sampler_low', ['KSamplerAdvanced']);
  else findNode(graph, 'sampler', ['KSampler', 'KSamplerAdvanced']);
  const [, latent] = findNode(graph, 'latent', LATENT_CLASSES);
  const startImage =
    latent.class_type === 'WanImageToVideo'
      ? 'required'
      : latent.class_type === 'Wan22ImageToVideoLatent'
        ? 'optional'
        : 'none';
  if (startImage !== 'none') findNode(graph, 'start_image', ['LoadImage']);
  const sizeMultiple = latent.class_type === 'Wan22ImageToVideoLatent' ? 32 : 16;
  const [saveNodeId] = findNode(graph, 'save', ['SaveVideo', 'VHS_VideoCombine', 'SaveAnimatedWEBP']);
  findNode(graph, 'positive', ['CLIPTextEncode']);
  findNode(graph, 'negative', ['CLIPTextEncode']);
  return { experts, startImage, sizeMultiple, saveNodeId };
}

function setInput(node: ComfyNode, id: string, input: string, value: unknown): void {
  if (!(input in node.inputs)) {
    throw new WorkflowTemplateError(`node ${id} (${node.class_type}) has no input ${input}`);
  }
  node.inputs[input] = value;
}

function numberInput(node: ComfyNode, id: string, input: string): number {
  const value = node.inputs[input];
  if (typeof value !== 'number') throw new WorkflowTemplateError(`node ${id}.${input} is not a number`);
  return value;
}

/** The total denoising steps the template itself sets (the high-noise sampler's on A14B). */
export function templateSteps(graph: ComfyGraph): number {
  const shape = describeTemplate(graph);
  const [id, node] =
    shape.experts === 'two' ? findNode(graph, 'sampler_high', ['KSamplerAdvanced']) : findNode(graph, 'sampler', ['KSampler', 'KSamplerAdvanced']);
  return numberInput(node, id, 'steps');
}

/** Draft steps when none are configured: half the final count (A14B 20 → 10, TI2V-5B 20 → 10). */
export function defaultDraftSteps(finalSteps: number): number {
  return Math.max(1, Math.round(finalSteps / 2));
}

/** Checks a request against what the template can do; throws RuntimeError 'bad_input'. */
export function checkRequest(shape: TemplateShape, request: RuntimeRequest): void {
  const bad = (message: string): never => {
    throw new RuntimeError('bad_input', message);
  };
  if (request.prompt.trim().length === 0) bad('prompt is empty');
  if (!Number.isInteger(request.frames) || request.frames < 1 || (request.frames - 1) % 4 !== 0) {
    bad(`frames must be 4k+1, got ${request.frames}`);
  }
  for (const [name, value] of [
    ['width', request.width],
    ['height', request.height],
  ] as const) {
    if (!Number.isInteger(value) || value < shape.sizeMultiple || value % shape.sizeMultiple !== 0) {
      bad(`${name} must be a positive multiple of ${shape.sizeMultiple}, got ${value}`);
    }
  }
  if (!(request.fps > 0 && request.fps <= 120)) bad(`fps out of range: ${request.fps}`);
  if (!Number.isSafeInteger(request.seed) || request.seed < 0) bad(`seed must be a non-negative integer`);
  if (request.steps !== undefined && !(Number.isInteger(request.steps) && request.steps >= 1 && request.steps <= 200)) {
    bad(`steps out of range: ${request.steps}`);
  }
  if (shape.startImage === 'required' && !request.image) bad('this workflow needs a start image');
  if (shape.startImage === 'none' && request.image) bad('this workflow takes no start image');
}

/**
 * Fills a copy of `template` from `request`. The caller uploads the start image first and passes
 * its ComfyUI name as `overrides.startImageName`. Returns the graph and the step plan (which
 * sampler node covers which global steps) for progress reporting.
 */
export function fillWorkflow(
  template: ComfyGraph,
  request: RuntimeRequest,
  overrides: FillOverrides = {},
): { graph: ComfyGraph; totalSteps: number; samplerOffsets: Record<string, number> } {
  const graph = structuredClone(template);
  const shape = describeTemplate(graph);
  checkRequest(shape, request);

  const [posId, pos] = findNode(graph, 'positive', ['CLIPTextEncode']);
  setInput(pos, posId, 'text', request.prompt);
  const [negId, neg] = findNode(graph, 'negative', ['CLIPTextEncode']);
  setInput(neg, negId, 'text', request.negativePrompt ?? DEFAULT_NEGATIVE_PROMPT);

  const [latentId, latent] = findNode(graph, 'latent', LATENT_CLASSES);
  setInput(latent, latentId, 'width', request.width);
  setInput(latent, latentId, 'height', request.height);
  setInput(latent, latentId, 'length', request.frames);
  setInput(latent, latentId, 'batch_size', 1);

  const [videoId, video] = findNode(graph, 'video', ['CreateVideo', 'VHS_VideoCombine']);
  setInput(video, videoId, video.class_type === 'CreateVideo' ? 'fps' : 'frame_rate', request.fps);

  const [saveId, save] = findNode(graph, 'save', ['SaveVideo', 'VHS_VideoCombine', 'SaveAnimatedWEBP']);
  if (overrides.filenamePrefix !== undefined) setInput(save, saveId, 'filename_prefix', overrides.filenamePrefix);

  if (overrides.models?.clip !== undefined) {
    const [id, node] = findNode(graph, 'clip', ['CLIPLoader']);
    setInput(node, id, 'clip_name', overrides.models.clip);
  }
  if (overrides.models?.vae !== undefined) {
    const [id, node] = findNode(graph, 'vae', ['VAELoader']);
    setInput(node, id, 'vae_name', overrides.models.vae);
  }

  const samplerOffsets: Record<string, number> = {};
  let totalSteps: number;
  const cfg = request.guidanceScale ?? overrides.cfg;
  if (shape.experts === 'two') {
    const [highId, high] = findNode(graph, 'sampler_high', ['KSamplerAdvanced']);
    const [lowId, low] = findNode(graph, 'sampler_low', ['KSamplerAdvanced']);
    const templateSteps = numberInput(high, highId, 'steps');
    const templateSwitch = numberInput(high, highId, 'end_at_step');
    const steps = request.steps ?? overrides.steps ?? templateSteps;
    // Keep the template's high/low split (Wan2.2 switches experts at a noise boundary, which the
    // official ComfyUI example approximates as half the steps).
    const switchAt = Math.min(steps - 1, Math.max(1, Math.round((templateSwitch / templateSteps) * steps)));
    for (const [id, node] of [
      [highId, high],
      [lowId, low],
    ] as const) {
      setInput(node, id, 'noise_seed', request.seed);
      setInput(node, id, 'steps', steps);
      if (cfg !== undefined) setInput(node, id, 'cfg', cfg);
    }
    setInput(high, highId, 'start_at_step', 0);
    setInput(high, highId, 'end_at_step', switchAt);
    setInput(low, lowId, 'start_at_step', switchAt);
    setInput(low, lowId, 'end_at_step', 10000);
    samplerOffsets[highId] = 0;
    samplerOffsets[lowId] = switchAt;
    totalSteps = steps;
    const [mhId, mh] = findNode(graph, 'model_high', ['UNETLoader']);
    const [mlId, ml] = findNode(graph, 'model_low', ['UNETLoader']);
    const highName = overrides.models?.high ?? overrides.models?.model;
    if (highName !== undefined) setInput(mh, mhId, 'unet_name', highName);
    if (overrides.models?.low !== undefined) setInput(ml, mlId, 'unet_name', overrides.models.low);
    if (overrides.shift !== undefined) {
      for (const role of ['shift_high', 'shift_low']) {
        const [id, node] = findNode(graph, role, ['ModelSamplingSD3']);
        setInput(node, id, 'shift', overrides.shift);
      }
    }
  } else {
    const [sid, sampler] = findNode(graph, 'sampler', ['KSampler', 'KSamplerAdvanced']);
    const steps = request.steps ?? overrides.steps ?? numberInput(sampler, sid, 'steps');
    setInput(sampler, sid, sampler.class_type === 'KSampler' ? 'seed' : 'noise_seed', request.seed);
    setInput(sampler, sid, 'steps', steps);
    if (cfg !== undefined) setInput(sampler, sid, 'cfg', cfg);
    samplerOffsets[sid] = 0;
    totalSteps = steps;
    const modelName = overrides.models?.model ?? overrides.models?.high;
    if (modelName !== undefined) {
      const [id, node] = findNode(graph, 'model', ['UNETLoader']);
      setInput(node, id, 'unet_name', modelName);
    }
    if (overrides.shift !== undefined) {
      const [id, node] = findNode(graph, 'shift', ['ModelSamplingSD3']);
      setInput(node, id, 'shift', overrides.shift);
    }
  }

  if (shape.startImage !== 'none') {
    const [imageId, image] = findNode(graph, 'start_image', ['LoadImage']);
    if (request.image) {
      if (overrides.startImageName === undefined) {
        throw new WorkflowTemplateError('a start image was given but not uploaded (no startImageName)');
      }
      setInput(image, imageId, 'image', overrides.startImageName);
    } else {
      // TI2V-5B without an image is text-to-video: unplug and drop the LoadImage node.
      for (const node of Object.values(graph)) {
        for (const [input, value] of Object.entries(node.inputs)) {
          if (isLink(value) && String(value[0]) === imageId) delete node.inputs[input];
        }
      }
      delete graph[imageId];
    }
  }

  const problems = validateGraph(graph);
  if (problems.length > 0) throw new WorkflowTemplateError(`filled graph is invalid: ${problems.join('; ')}`);
  return { graph, totalSteps, samplerOffsets };
}
