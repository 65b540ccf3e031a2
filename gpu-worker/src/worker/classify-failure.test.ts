import { describe, expect, it } from 'vitest';
import { ConfigError, FramecastError } from '@framecast/core';
import { DashScopeAuthError } from '../runtime/dashscope/dashscope-runtime.ts';
import { WorkflowTemplateError } from '../runtime/comfyui/workflow-template.ts';
import { RuntimeError } from '../runtime/video-runtime.ts';
import { VideoError } from '../video/video-error.ts';
import { classifyFailure } from './generate-worker.ts';

describe('classifyFailure: the worker decides by error code, never by message', () => {
  it('sends the operator\'s faults (missing node or model, refused key, bad template or config) to misconfigured', () => {
    expect(classifyFailure(new RuntimeError('misconfigured', 'node WanFoo does not exist'))).toBe('misconfigured');
    expect(classifyFailure(new DashScopeAuthError(401, 'InvalidApiKey'))).toBe('misconfigured');
    expect(classifyFailure(new WorkflowTemplateError('no KSampler'))).toBe('misconfigured');
    expect(classifyFailure(new ConfigError(['x']))).toBe('misconfigured');
    expect(classifyFailure(new VideoError('ffmpeg_missing', 'no ffmpeg'))).toBe('misconfigured');
  });

  it('keeps the runtime\'s own classes, and treats what is not coded as transient', () => {
    for (const code of ['bad_input', 'moderation', 'oom', 'throttled', 'cancelled', 'transient'] as const) {
      expect(classifyFailure(new RuntimeError(code, 'x'))).toBe(code);
    }
    expect(classifyFailure(new VideoError('bad_input', 'corrupt'))).toBe('bad_input');
    expect(classifyFailure(new VideoError('encode_failed', 'x'))).toBe('transient');
    // A message that merely mentions configuration is not a code.
    expect(classifyFailure(new Error('unauthorized config'))).toBe('transient');
    expect(classifyFailure(new FramecastError('network', 'reset'))).toBe('transient');
    expect(classifyFailure('thrown string')).toBe('transient');
  });

  it('says what the user is told: a misconfigured runtime maps to the catalogue\'s unavailable message', () => {
    expect(new RuntimeError('misconfigured', 'x').messageId).toBe('outcome.unavailable');
    expect(new RuntimeError('oom', 'x').messageId).toBe('outcome.out_of_memory');
    expect(new DashScopeAuthError(401, undefined).messageId).toBe('outcome.unavailable');
  });
});
