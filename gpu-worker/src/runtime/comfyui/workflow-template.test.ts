import { describe, expect, it } from 'vitest';
import { RuntimeError } from '../video-runtime.ts';
import type { RuntimeRequest } from '../video-runtime.ts';
import { encodePngRgb } from './png-encode.ts';
import {
  WorkflowTemplateError,
  describeTemplate,
  fillWorkflow,
  findNode,
  loadWorkflowTemplate,
  validateGraph,
} from './workflow-template.ts';
import type { ComfyGraph } from './workflow-template.ts';

const request: RuntimeRequest = {
  prompt: 'a red fox running through snow',
  width: 832,
  height: 480,
  frames: 81,
  fps: 16,
  seed: 1234,
  mode: 'final',
};

const image = { rgb: new Uint8Array(832 * 480 * 3), width: 832, height: 480 };

describe('workflow templates', () => {
  it('sampler settings follow the official ComfyUI Wan2.2 example workflows (Comfy-Org/workflow_templates)', async () => {
    // video_wan2_2_14B_t2v / _i2v: ModelSamplingSD3 shift 8 (T2V) / 5 (I2V) on both experts, two
    // KSamplerAdvanced at 20 steps, cfg 3.5, euler/simple, high noise 0→10 with leftover noise, low
    // noise 10→end. video_wan2_2_5B_ti2v: shift 8, one KSampler at 20 steps, cfg 5, uni_pc/simple.
    const expected = {
      't2v-a14b': { shift: 8, steps: 20, cfg: 3.5, sampler: 'euler', split: 10 },
      'i2v-a14b': { shift: 5, steps: 20, cfg: 3.5, sampler: 'euler', split: 10 },
      'ti2v-5b': { shift: 8, steps: 20, cfg: 5, sampler: 'uni_pc', split: undefined },
    } as const;
    for (const [name, want] of Object.entries(expected)) {
      const graph = await loadWorkflowTemplate(name as keyof typeof expected);
      if (want.split === undefined) {
        expect(findNode(graph, 'shift', ['ModelSamplingSD3'])[1].inputs).toMatchObject({ shift: want.shift });
        expect(findNode(graph, 'sampler', ['KSampler'])[1].inputs).toMatchObject({ steps: want.steps, cfg: want.cfg, sampler_name: want.sampler, scheduler: 'simple', denoise: 1 });
        continue;
      }
      for (const role of ['shift_high', 'shift_low']) expect(findNode(graph, role, ['ModelSamplingSD3'])[1].inputs, `${name} ${role}`).toMatchObject({ shift: want.shift });
      const common = { steps: want.steps, cfg: want.cfg, sampler_name: want.sampler, scheduler: 'simple' };
      expect(findNode(graph, 'sampler_high', ['KSamplerAdvanced'])[1].inputs).toMatchObject({ ...common, add_noise: 'enable', start_at_step: 0, end_at_step: want.split, return_with_leftover_noise: 'enable' });
      expect(findNode(graph, 'sampler_low', ['KSamplerAdvanced'])[1].inputs).toMatchObject({ ...common, add_noise: 'disable', start_at_step: want.split, end_at_step: 10000, return_with_leftover_noise: 'disable' });
    }
  });

  it('describes the three Wan2.2 templates', async () => {
    expect(describeTemplate(await loadWorkflowTemplate('t2v-a14b'))).toMatchObject({ experts: 'two', startImage: 'none', sizeMultiple: 16 });
    expect(describeTemplate(await loadWorkflowTemplate('i2v-a14b'))).toMatchObject({ experts: 'two', startImage: 'required', sizeMultiple: 16 });
    expect(describeTemplate(await loadWorkflowTemplate('ti2v-5b'))).toMatchObject({ experts: 'one', startImage: 'optional', sizeMultiple: 32 });
  });

  it('fills prompt, seed, size, length, fps and splits steps between the experts', async () => {
    const template = await loadWorkflowTemplate('t2v-a14b');
    const { graph, totalSteps, samplerOffsets } = fillWorkflow(template, { ...request, negativePrompt: 'blurry', steps: 30 }, {
      filenamePrefix: 'framecast/job-1',
      shift: 5,
      cfg: 4,
      models: { high: 'h.safetensors', low: 'l.safetensors' },
    });
    const [, pos] = findNode(graph, 'positive', ['CLIPTextEncode']);
    const [, neg] = findNode(graph, 'negative', ['CLIPTextEncode']);
    const [highId, high] = findNode(graph, 'sampler_high', ['KSamplerAdvanced']);
    const [lowId, low] = findNode(graph, 'sampler_low', ['KSamplerAdvanced']);
    const [, latent] = findNode(graph, 'latent', ['EmptyHunyuanLatentVideo']);
    expect(pos.inputs['text']).toBe(request.prompt);
    expect(neg.inputs['text']).toBe('blurry');
    expect(high.inputs).toMatchObject({ noise_seed: 1234, steps: 30, start_at_step: 0, end_at_step: 15, cfg: 4, add_noise: 'enable' });
    expect(low.inputs).toMatchObject({ noise_seed: 1234, steps: 30, start_at_step: 15, cfg: 4, add_noise: 'disable' });
    expect(latent.inputs).toMatchObject({ width: 832, height: 480, length: 81, batch_size: 1 });
    expect(findNode(graph, 'video', ['CreateVideo'])[1].inputs['fps']).toBe(16);
    expect(findNode(graph, 'save', ['SaveVideo'])[1].inputs['filename_prefix']).toBe('framecast/job-1');
    expect(findNode(graph, 'shift_low', ['ModelSamplingSD3'])[1].inputs['shift']).toBe(5);
    expect(findNode(graph, 'model_high', ['UNETLoader'])[1].inputs['unet_name']).toBe('h.safetensors');
    expect(totalSteps).toBe(30);
    expect(samplerOffsets).toEqual({ [highId]: 0, [lowId]: 15 });
    // The template itself is untouched.
    expect(findNode(template, 'positive', ['CLIPTextEncode'])[1].inputs['text']).toBe('');
  });

  it('puts the uploaded image into LoadImage (I2V) and drops it for TI2V without an image', async () => {
    const i2v = fillWorkflow(await loadWorkflowTemplate('i2v-a14b'), { ...request, image }, { startImageName: 'framecast-x.png' });
    expect(findNode(i2v.graph, 'start_image', ['LoadImage'])[1].inputs['image']).toBe('framecast-x.png');

    const ti2v = await loadWorkflowTemplate('ti2v-5b');
    const t2v = fillWorkflow(ti2v, { ...request, width: 1280, height: 704, frames: 121, fps: 24 });
    expect(Object.values(t2v.graph).some((n) => n.class_type === 'LoadImage')).toBe(false);
    expect(findNode(t2v.graph, 'latent', ['Wan22ImageToVideoLatent'])[1].inputs['start_image']).toBeUndefined();
    expect(validateGraph(t2v.graph)).toEqual([]);
    expect(findNode(t2v.graph, 'sampler', ['KSampler'])[1].inputs['seed']).toBe(1234);
  });

  it('refuses requests the template cannot serve with bad_input', async () => {
    const t2v = await loadWorkflowTemplate('t2v-a14b');
    const badInput = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        expect(error).toBeInstanceOf(RuntimeError);
        return (error as RuntimeError).code;
      }
      return 'no error';
    };
    expect(badInput(() => fillWorkflow(t2v, { ...request, frames: 80 }))).toBe('bad_input');
    expect(badInput(() => fillWorkflow(t2v, { ...request, width: 840 }))).toBe('bad_input');
    expect(badInput(() => fillWorkflow(t2v, { ...request, image }))).toBe('bad_input');
    expect(badInput(() => fillWorkflow(t2v, { ...request, prompt: '  ' }))).toBe('bad_input');
    const i2v = await loadWorkflowTemplate('i2v-a14b');
    expect(badInput(() => fillWorkflow(i2v, request))).toBe('bad_input');
    // 5B needs multiples of 32.
    const ti2v = await loadWorkflowTemplate('ti2v-5b');
    expect(badInput(() => fillWorkflow(ti2v, { ...request, width: 848 }))).toBe('bad_input');
  });

  it('fails loudly when a template lacks a node it needs, and finds dangling links', async () => {
    const t2v = await loadWorkflowTemplate('t2v-a14b');
    const noNegative: ComfyGraph = structuredClone(t2v);
    delete noNegative['7'];
    expect(() => describeTemplate(noNegative)).toThrow(WorkflowTemplateError);

    const untagged: ComfyGraph = structuredClone(t2v);
    for (const node of Object.values(untagged)) if (node.class_type === 'CLIPTextEncode') node._meta = { title: 'CLIP Text Encode' };
    expect(() => fillWorkflow(untagged, request)).toThrow(/2 CLIPTextEncode nodes and none tagged/);

    // A single untagged node of the right class is found by class_type.
    const untaggedVae: ComfyGraph = structuredClone(t2v);
    untaggedVae['39'] = { class_type: 'VAELoader', inputs: { vae_name: 'wan_2.1_vae.safetensors' } };
    expect(findNode(untaggedVae, 'vae', ['VAELoader'])[0]).toBe('39');

    const dangling: ComfyGraph = structuredClone(t2v);
    dangling['8'] = { class_type: 'VAEDecode', inputs: { samples: ['58', 0], vae: ['99', 0] } };
    expect(validateGraph(dangling)).toEqual(['node 8.vae: links to missing node 99']);
  });
});

describe('encodePngRgb', () => {
  it('writes a PNG with the right header and refuses a wrong buffer size', () => {
    const png = encodePngRgb(new Uint8Array(4 * 2 * 3).fill(200), 4, 2);
    expect(png.subarray(1, 4).toString('ascii')).toBe('PNG');
    expect(png.readUInt32BE(16)).toBe(4);
    expect(png.readUInt32BE(20)).toBe(2);
    expect(() => encodePngRgb(new Uint8Array(5), 4, 2)).toThrow(RangeError);
  });
});
