import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeComfyUi } from '../../../../test/fakes/fake-comfyui.ts';
import type { FakeComfyUi } from '../../../../test/fakes/fake-comfyui.ts';
import { RuntimeError } from '../video-runtime.ts';
import type { RuntimeRequest, RuntimeResult, StepProgress } from '../video-runtime.ts';
import { ComfyUiRuntime, classifyExecutionError, classifyPromptRejection, pickVideoOutput } from './comfyui-runtime.ts';
import type { ComfyUiRuntimeOptions } from './comfyui-runtime.ts';
import { DEFAULT_WORKFLOW_DIR } from './workflow-template.ts';

const execFileAsync = promisify(execFile);

async function probe(path: string): Promise<{ codec_name: string; width: number; height: number }> {
  const { stdout } = await execFileAsync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name,width,height', '-of', 'json', path]);
  const stream = (JSON.parse(stdout) as { streams: { codec_name: string; width: number; height: number }[] }).streams[0];
  if (!stream) throw new Error('no video stream');
  return stream;
}

const baseRequest: RuntimeRequest = {
  prompt: 'a paper boat on a rainy street',
  width: 64,
  height: 64,
  frames: 17,
  fps: 16,
  seed: 42,
  mode: 'final',
  steps: 6,
};

function gradient(width: number, height: number): { rgb: Uint8Array; width: number; height: number } {
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    rgb[i * 3] = i % 256;
    rgb[i * 3 + 1] = (i * 7) % 256;
    rgb[i * 3 + 2] = 128;
  }
  return { rgb, width, height };
}

async function expectRuntimeError(promise: Promise<unknown>, code: RuntimeError['code']): Promise<RuntimeError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RuntimeError);
  expect((error as RuntimeError).code).toBe(code);
  return error as RuntimeError;
}

describe('ComfyUiRuntime against a fake ComfyUI', () => {
  let fake: FakeComfyUi;
  let tempDir: string;
  const results: RuntimeResult[] = [];

  beforeAll(async () => {
    fake = await startFakeComfyUi();
    tempDir = await mkdtemp(join(tmpdir(), 'comfy-runtime-test-'));
  });
  afterAll(async () => {
    await fake.close();
    await rm(tempDir, { recursive: true, force: true });
  });
  afterEach(() => {
    Object.assign(fake.behaviour, {
      stepDelayMs: 2,
      failNode: undefined,
      dropSocketsAfterProgress: undefined,
      refuseAfterDropMs: 0,
      refuseSockets: false,
      refuseSocketsUntil: 0,
      paused: false,
      outputStyle: 'save-video',
    });
  });

  const runtime = (options: Partial<ComfyUiRuntimeOptions> = {}) =>
    new ComfyUiRuntime({
      baseUrl: fake.url,
      template: 't2v-a14b',
      tempDir,
      timeouts: { reconnectBaseMs: 20, reconnectMaxMs: 100, pollWhileDisconnectedMs: 20, jobMs: 20_000 },
      ...options,
    });

  it('T2V-A14B: runs the workflow, reports steps across both experts, downloads a playable video', async () => {
    const rt = runtime();
    await rt.load();
    const steps: StepProgress[] = [];
    const result = await rt.generate(baseRequest, { onStep: (p) => steps.push(p) });
    results.push(result);
    expect(result.kind).toBe('file');
    if (result.kind !== 'file') return;
    expect(await probe(result.path)).toMatchObject({ codec_name: 'h264', width: 64, height: 64 });
    expect(steps.map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(steps.every((s) => s.totalSteps === 6)).toBe(true);

    const posted = fake.postedBodies.at(-1) as { client_id: string; prompt: Record<string, { class_type: string; inputs: Record<string, unknown> }> };
    expect(posted.client_id).toBe(rt.clientId);
    const samplers = Object.values(posted.prompt).filter((n) => n.class_type === 'KSamplerAdvanced');
    expect(samplers.map((n) => n.inputs['noise_seed'])).toEqual([42, 42]);
    expect(samplers.map((n) => [n.inputs['start_at_step'], n.inputs['end_at_step']])).toEqual([[0, 3], [3, 10000]]);
    expect(Object.values(posted.prompt).some((n) => n.class_type === 'CLIPTextEncode' && n.inputs['text'] === baseRequest.prompt)).toBe(true);
    await rt.dispose();
  });

  it('I2V-A14B: uploads the start image as a PNG and wires its name into LoadImage', async () => {
    const rt = runtime({ template: 'i2v-a14b' });
    const result = await rt.generate({ ...baseRequest, image: gradient(64, 64) });
    results.push(result);
    if (result.kind !== 'file') throw new Error('expected a file');
    expect((await probe(result.path)).codec_name).toBe('h264');
    const posted = fake.postedBodies.at(-1) as { prompt: Record<string, { class_type: string; inputs: Record<string, unknown> }> };
    const loadImage = Object.values(posted.prompt).find((n) => n.class_type === 'LoadImage');
    const name = String(loadImage?.inputs['image']);
    expect(name).toMatch(/^framecast-[0-9a-f-]+\.png$/);
    const png = fake.uploads.get(name);
    expect(png).toBeDefined();
    const pngPath = join(tempDir, 'uploaded.png');
    await writeFile(pngPath, png ?? Buffer.alloc(0));
    expect(await probe(pngPath)).toMatchObject({ codec_name: 'png', width: 64, height: 64 });
  });

  it('TI2V-5B: text only (LoadImage dropped) and with a start image; reads VHS-style `gifs` outputs', async () => {
    fake.behaviour.outputStyle = 'vhs-gifs';
    const rt = runtime({ template: 'ti2v-5b' });
    const steps: number[] = [];
    const textOnly = await rt.generate({ ...baseRequest, fps: 24 }, { onStep: (p) => steps.push(p.step) });
    results.push(textOnly);
    if (textOnly.kind !== 'file') throw new Error('expected a file');
    expect((await probe(textOnly.path)).width).toBe(64);
    expect(steps).toEqual([1, 2, 3, 4, 5, 6]);
    const posted = fake.postedBodies.at(-1) as { prompt: Record<string, { class_type: string; inputs: Record<string, unknown> }> };
    expect(Object.values(posted.prompt).some((n) => n.class_type === 'LoadImage')).toBe(false);

    const withImage = await rt.generate({ ...baseRequest, image: gradient(64, 64) });
    results.push(withImage);
    if (withImage.kind !== 'file') throw new Error('expected a file');
    expect((await probe(withImage.path)).codec_name).toBe('h264');
  });

  it('steps per mode: drafts run the draft count (half the final one unless configured), finals the template or configured count', async () => {
    const posted = () => {
      const body = fake.postedBodies.at(-1) as { prompt: Record<string, { class_type: string; inputs: Record<string, unknown> }> };
      return Object.values(body.prompt)
        .filter((n) => n.class_type === 'KSamplerAdvanced' || n.class_type === 'KSampler')
        .map((n) => [n.inputs['steps'], n.inputs['start_at_step'], n.inputs['end_at_step']]);
    };
    const { steps: _none, ...noSteps } = baseRequest;
    const run = async (rt: ComfyUiRuntime, request: RuntimeRequest) => {
      const seen: StepProgress[] = [];
      const result = await rt.generate(request, { onStep: (p) => seen.push(p) });
      results.push(result);
      return seen.at(-1)?.totalSteps;
    };

    // T2V-A14B template: 20 steps, experts switching at 10.
    const a14b = runtime();
    expect(await run(a14b, { ...noSteps, mode: 'draft' })).toBe(10);
    expect(posted()).toEqual([[10, 0, 5], [10, 5, 10000]]);
    expect(await run(a14b, { ...noSteps, mode: 'final' })).toBe(20);
    expect(posted()).toEqual([[20, 0, 10], [20, 10, 10000]]);
    // A request's own steps win over both.
    expect(await run(a14b, { ...noSteps, mode: 'draft', steps: 4 })).toBe(4);

    const configured = runtime({ steps: 12, draftSteps: 4 });
    expect(await run(configured, { ...noSteps, mode: 'draft' })).toBe(4);
    expect(await run(configured, { ...noSteps, mode: 'final' })).toBe(12);
    expect(await run(runtime({ steps: 12 }), { ...noSteps, mode: 'draft' })).toBe(6);

    // TI2V-5B template: 20 steps on one sampler.
    const fiveB = runtime({ template: 'ti2v-5b' });
    expect(await run(fiveB, { ...noSteps, fps: 24, mode: 'draft' })).toBe(10);
    expect(posted()).toEqual([[10, undefined, undefined]]);
  });

  it('a graph ComfyUI rejects for a missing model file or an unknown node is misconfigured (the operator\'s fault), with the node error summarised', async () => {
    const missingModel = runtime({ models: { high: 'no-such-model.safetensors' } });
    const error = await expectRuntimeError(missingModel.generate(baseRequest), 'misconfigured');
    expect(error.message).toMatch(/Value not in list/);
    expect(error.message).toMatch(/UNETLoader/);
    expect(error.message).toMatch(/no-such-model/);

    const dir = await mkdtemp(join(tmpdir(), 'comfy-templates-'));
    try {
      await cp(DEFAULT_WORKFLOW_DIR, dir, { recursive: true });
      const file = join(dir, 'wan22-t2v-a14b.json');
      const graph = JSON.parse(await readFile(file, 'utf8')) as Record<string, { class_type: string }>;
      if (!graph['8']) throw new Error('template changed');
      graph['8'].class_type = 'VAEDecodeHunyuan3D';
      await writeFile(file, JSON.stringify(graph));
      const unknownNode = await expectRuntimeError(runtime({ workflowDir: dir }).generate(baseRequest), 'misconfigured');
      expect(unknownNode.message).toMatch(/VAEDecodeHunyuan3D does not exist/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a rejection names the operator only for a missing model file or node class; any other refused value is bad_input', () => {
    const notInList = (input: string) => ({
      error: { type: 'prompt_outputs_failed_validation', message: 'Prompt outputs failed validation' },
      node_errors: { '3': { class_type: 'X', errors: [{ type: 'value_not_in_list', message: 'Value not in list', details: input, extra_info: { input_name: input } }] } },
    });
    expect(classifyPromptRejection(notInList('unet_name'))).toBe('misconfigured');
    expect(classifyPromptRejection(notInList('clip_name'))).toBe('misconfigured');
    expect(classifyPromptRejection(notInList('vae_name'))).toBe('misconfigured');
    expect(classifyPromptRejection(notInList('sampler_name'))).toBe('bad_input');
    expect(classifyPromptRejection(notInList('image'))).toBe('bad_input');
    expect(classifyPromptRejection({ error: { type: 'missing_node_type', message: "Node 'WanFoo' not found. The custom node may not be installed." }, node_errors: {} })).toBe('misconfigured');
    expect(classifyPromptRejection({ error: { type: 'invalid_prompt', message: 'Cannot execute because node WanFoo does not exist.' }, node_errors: {} })).toBe('misconfigured');
    expect(classifyPromptRejection({ error: { type: 'prompt_no_outputs', message: 'Prompt has no outputs' }, node_errors: {} })).toBe('bad_input');
    expect(classifyPromptRejection('not json')).toBe('bad_input');
  });

  it('an out-of-memory execution_error is oom; a ValueError is bad_input', async () => {
    fake.behaviour.failNode = {
      classType: 'KSamplerAdvanced',
      exceptionType: 'torch.OutOfMemoryError',
      message: 'Allocation on device 0 would exceed allowed memory. (out of memory)',
    };
    const oom = await expectRuntimeError(runtime().generate(baseRequest), 'oom');
    expect(oom.message).toMatch(/KSamplerAdvanced/);

    fake.behaviour.failNode = { classType: 'WanImageToVideo', exceptionType: 'ValueError', message: 'image has the wrong shape' };
    await expectRuntimeError(runtime({ template: 'i2v-a14b' }).generate({ ...baseRequest, image: gradient(64, 64) }), 'bad_input');
  });

  it('a dropped websocket is reconnected and the job still completes', async () => {
    // Slow enough that the reconnect (20–60 ms) lands well before the last of 16 steps.
    fake.behaviour.stepDelayMs = 25;
    fake.behaviour.dropSocketsAfterProgress = 2;
    fake.behaviour.refuseAfterDropMs = 30;
    const rt = runtime();
    const steps: number[] = [];
    const result = await rt.generate({ ...baseRequest, steps: 16 }, { onStep: (p) => steps.push(p.step) });
    results.push(result);
    if (result.kind !== 'file') throw new Error('expected a file');
    expect((await probe(result.path)).codec_name).toBe('h264');
    expect(fake.connections.get(rt.clientId)).toBeGreaterThanOrEqual(2);
    expect(steps.at(-1)).toBe(16); // progress resumed after the reconnect
  });

  it('a websocket that stays down: the job completes through /history polling', async () => {
    fake.behaviour.dropSocketsAfterProgress = 1;
    fake.behaviour.refuseAfterDropMs = 60_000;
    const rt = runtime({ timeouts: { reconnectBaseMs: 20, reconnectMaxMs: 50, pollWhileDisconnectedMs: 20, jobMs: 20_000 } });
    const result = await rt.generate(baseRequest);
    results.push(result);
    if (result.kind !== 'file') throw new Error('expected a file');
    expect((await probe(result.path)).codec_name).toBe('h264');
    expect(fake.connections.get(rt.clientId)).toBe(1);
  });

  it('cancelling a running prompt interrupts it (with its prompt_id) and ends with cancelled', async () => {
    fake.behaviour.stepDelayMs = 20;
    const rt = runtime();
    const controller = new AbortController();
    const interruptsBefore = fake.interrupts.length;
    const run = rt.generate({ ...baseRequest, steps: 40 }, {
      signal: controller.signal,
      onStep: (p) => {
        if (p.step === 2) controller.abort();
      },
    });
    await expectRuntimeError(run, 'cancelled');
    const promptId = fake.prompts.at(-1)?.id;
    expect(fake.interrupts.slice(interruptsBefore)).toEqual([{ prompt_id: promptId }]);
    // The fake stops the prompt at its next step.
    await expect.poll(() => fake.history.get(promptId ?? '')?.status.status_str, { timeout: 5_000 }).toBe('error');
    expect(fake.history.get(promptId ?? '')?.status.messages.some(([type]) => type === 'execution_interrupted')).toBe(true);
  });

  it('cancelling a prompt still in the queue deletes it from the queue and interrupts nothing', async () => {
    fake.behaviour.paused = true;
    const rt = runtime();
    const controller = new AbortController();
    const interruptsBefore = fake.interrupts.length;
    const promptsBefore = fake.prompts.length;
    const run = rt.generate(baseRequest, { signal: controller.signal });
    await expect.poll(() => fake.prompts.length, { timeout: 5_000 }).toBe(promptsBefore + 1);
    const promptId = fake.prompts.at(-1)?.id ?? '';
    expect(fake.pendingPromptIds()).toContain(promptId);
    controller.abort();
    await expectRuntimeError(run, 'cancelled');
    expect(fake.queueDeletes).toContain(promptId);
    expect(fake.pendingPromptIds()).not.toContain(promptId);
    expect(fake.interrupts.length).toBe(interruptsBefore);
  });

  it('an unreachable server is transient', async () => {
    const rt = new ComfyUiRuntime({ baseUrl: 'http://127.0.0.1:9', template: 't2v-a14b', clientId: randomUUID() });
    const error = await expectRuntimeError(rt.load(), 'transient');
    expect(error.message).toMatch(/ECONNREFUSED|fetch failed/);
    await expectRuntimeError(rt.generate(baseRequest), 'transient');
  });

  it('cleans up: every produced file is distinct', () => {
    const paths = results.flatMap((r) => (r.kind === 'file' ? [r.path] : []));
    expect(new Set(paths).size).toBe(paths.length);
  });
});

describe('classifyExecutionError / pickVideoOutput', () => {
  it('classifies by exception', () => {
    expect(classifyExecutionError({ exception_type: 'RuntimeError', exception_message: 'CUDA out of memory. Tried to allocate 2.00 GiB' }).code).toBe('oom');
    expect(classifyExecutionError({ exception_type: 'torch.OutOfMemoryError', exception_message: '' }).code).toBe('oom');
    expect(classifyExecutionError({ exception_type: 'builtins.ValueError', exception_message: 'bad' }).code).toBe('bad_input');
    expect(classifyExecutionError({ exception_type: 'RuntimeError', exception_message: 'CUDA error: an illegal memory access' }).code).toBe('transient');
  });

  it('finds SaveVideo, VHS and `videos` shapes and ignores still images', () => {
    const ref = { filename: 'a_00001_.mp4', subfolder: 'video', type: 'output' };
    expect(pickVideoOutput({ '60': { images: [ref], animated: [true] } })).toEqual(ref);
    expect(pickVideoOutput({ '9': { gifs: [{ ...ref, format: 'video/h264-mp4' }] } })).toEqual(ref);
    expect(pickVideoOutput({ '9': { videos: [ref] } })).toEqual(ref);
    expect(pickVideoOutput({ '9': { images: [{ filename: 'still.png', subfolder: '', type: 'output' }] } })).toBeUndefined();
    expect(
      pickVideoOutput({ '1': { images: [{ ...ref, filename: 'other.mp4' }], animated: [true] }, '60': { images: [ref], animated: [true] } }, '60'),
    ).toEqual(ref);
  });
});
