import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createSafeFetcher } from '@framecast/content-safety';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeDashScope } from '../../../../test/fakes/fake-dashscope.ts';
import type { FakeDashScope } from '../../../../test/fakes/fake-dashscope.ts';
import { RuntimeError } from '../video-runtime.ts';
import type { RuntimeRequest } from '../video-runtime.ts';
import {
  DashScopeAuthError,
  DashScopeRuntime,
  mapDashScopeError,
  pickI2vResolution,
  pickT2vSize,
  pollDelayMs,
  safeFetcherDownloader,
} from './dashscope-runtime.ts';
import type { DashScopeRuntimeOptions } from './dashscope-runtime.ts';

const execFileAsync = promisify(execFile);

async function probe(path: string): Promise<{ codec_name: string; width: number; height: number }> {
  const { stdout } = await execFileAsync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name,width,height', '-of', 'json', path]);
  const stream = (JSON.parse(stdout) as { streams: { codec_name: string; width: number; height: number }[] }).streams[0];
  if (!stream) throw new Error('no video stream');
  return stream;
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (e: unknown) => e,
  );
}

async function expectRuntimeError(promise: Promise<unknown>, code: RuntimeError['code']): Promise<RuntimeError> {
  const error = await caught(promise);
  expect(error).toBeInstanceOf(RuntimeError);
  expect((error as RuntimeError).code).toBe(code);
  return error as RuntimeError;
}

const request: RuntimeRequest = {
  prompt: '一只猫在雨中的霓虹街道上行走, cinematic',
  width: 832,
  height: 480,
  frames: 81,
  fps: 16,
  seed: 7,
  mode: 'final',
};
const image = { rgb: new Uint8Array(832 * 480 * 3), width: 832, height: 480 };

describe('DashScopeRuntime against a fake DashScope', () => {
  let fake: FakeDashScope;
  let tempDir: string;
  // The real SSRF-guarded fetcher from content-safety, trusting only the fake's loopback address.
  const downloader = safeFetcherDownloader(
    createSafeFetcher({ maxBytes: 50 * 1024 * 1024, timeoutMs: 10_000, allowPrivateCidrs: ['127.0.0.1/32'], allowedContentTypes: ['video/*'] }),
  );

  beforeAll(async () => {
    fake = await startFakeDashScope();
    tempDir = await mkdtemp(join(tmpdir(), 'dashscope-test-'));
  });
  afterAll(async () => {
    await fake.close();
    await rm(tempDir, { recursive: true, force: true });
  });
  afterEach(() => {
    Object.assign(fake.behaviour, {
      pendingPolls: 1,
      runningPolls: 2,
      throttleCreates: 0,
      retryAfterSeconds: undefined,
      failTaskWith: undefined,
      pollServerErrors: 0,
      taskTtlMs: 24 * 3600_000,
      videoTtlMs: 24 * 3600_000,
    });
  });

  const runtime = (options: Partial<DashScopeRuntimeOptions> = {}) =>
    new DashScopeRuntime({
      baseUrl: fake.url,
      apiKey: fake.behaviour.apiKey,
      model: 'wan2.2-t2v-plus',
      downloader,
      poll: { initialMs: 5, maxMs: 20, factor: 2 },
      throttleWaitMs: 5,
      tempDir,
      ...options,
    });

  it('text-to-video: creates an async task, polls it to SUCCEEDED, downloads the video through the safe fetcher', async () => {
    const steps: number[] = [];
    const result = await runtime().generate({ ...request, negativePrompt: 'blurry' }, { onStep: (p) => steps.push(p.step) });
    expect(result).toMatchObject({ kind: 'file', width: 832, height: 480 });
    if (result.kind !== 'file') return;
    expect(await probe(result.path)).toMatchObject({ codec_name: 'h264', width: 96, height: 64 });
    expect(steps[0]).toBe(0);
    expect(steps.at(-1)).toBe(100);
    expect([...steps].sort((a, b) => a - b)).toEqual(steps);

    const creation = fake.creations.at(-1);
    expect(creation?.asyncHeader).toBe('enable');
    expect(creation?.body).toEqual({
      model: 'wan2.2-t2v-plus',
      input: { prompt: request.prompt, negative_prompt: 'blurry' },
      parameters: { size: '832*480', duration: 5, prompt_extend: false, watermark: false, seed: 7 },
    });
    expect(fake.authHeaders.every((h) => h === `Bearer ${fake.behaviour.apiKey}`)).toBe(true);
  });

  it('image-to-video: publishes the image, sends img_url and a resolution tier the model offers', async () => {
    const published: number[] = [];
    const rt = runtime({
      model: 'wan2.2-i2v-flash',
      publishImage: async (img) => {
        published.push(img.rgb.length);
        return 'https://blobs.example.com/presigned/start.png?X-Amz-Signature=abc';
      },
    });
    const result = await rt.generate({ ...request, image, width: 1280, height: 720 });
    if (result.kind !== 'file') throw new Error('expected a file');
    expect((await probe(result.path)).codec_name).toBe('h264');
    expect(published).toEqual([832 * 480 * 3]);
    expect(fake.creations.at(-1)?.body).toMatchObject({
      model: 'wan2.2-i2v-flash',
      input: { img_url: 'https://blobs.example.com/presigned/start.png?X-Amz-Signature=abc' },
      parameters: { resolution: '720P' },
    });
    // An i2v model refuses a job without an image before calling the provider.
    const before = fake.creations.length;
    await expectRuntimeError(rt.generate(request), 'bad_input');
    expect(fake.creations.length).toBe(before);
  });

  it('DataInspectionFailed on the input (400) or on the output (FAILED task) is moderation', async () => {
    const input = await expectRuntimeError(runtime().generate({ ...request, prompt: `x [[blocked]]:input` }), 'moderation');
    expect(input.message).toMatch(/DataInspectionFailed/);
    const output = await expectRuntimeError(runtime().generate({ ...request, prompt: `x [[blocked]]:output` }), 'moderation');
    expect(output.message).toMatch(/Output data/);
    expect(fake.tasks.get([...fake.tasks.keys()].at(-1) ?? '')?.status).toBe('FAILED');
  });

  it('429 Throttling inside the rate window: waits and retries creation, then succeeds', async () => {
    fake.behaviour.throttleCreates = 2;
    const before = fake.creations.length;
    const result = await runtime().generate(request);
    expect(result.kind).toBe('file');
    expect(fake.creations.slice(before).map((c) => c.status)).toEqual([429, 429, 200]);
  });

  it('429 with a long Retry-After: throttled with retryAfterMs, no waiting in place', async () => {
    fake.behaviour.throttleCreates = 1;
    fake.behaviour.retryAfterSeconds = 30;
    const before = fake.creations.length;
    const error = await expectRuntimeError(runtime().generate(request), 'throttled');
    expect(error.retryAfterMs).toBe(30_000);
    expect(fake.creations.length - before).toBe(1);
  });

  it('InvalidParameter is bad_input; an over-long prompt is refused before any call', async () => {
    const rt = runtime({ model: 'wan2.2-i2v-plus', publishImage: async () => 'ftp://not-a-web-url/x.png' });
    const invalid = await expectRuntimeError(rt.generate({ ...request, image }), 'bad_input');
    expect(invalid.message).toMatch(/InvalidParameter/);

    const before = fake.creations.length;
    const long = await expectRuntimeError(runtime().generate({ ...request, prompt: '长'.repeat(801) }), 'bad_input');
    expect(long.message).toMatch(/800/);
    expect(fake.creations.length).toBe(before);
    // 800 characters of CJK is within the limit (characters, not bytes).
    expect((await runtime().generate({ ...request, prompt: '长'.repeat(800) })).kind).toBe('file');
  });

  it('a wrong API key is a configuration error that never shows the key', async () => {
    const secret = 'sk-wrong-secret-value-42';
    const error = await caught(runtime({ apiKey: secret }).generate(request));
    expect(error).toBeInstanceOf(DashScopeAuthError);
    expect((error as DashScopeAuthError).status).toBe(401);
    expect(String(error)).not.toContain(secret);
    expect(JSON.stringify(error)).not.toContain(secret);
  });

  it('polls with backoff bounded by maxMs, and rides out 5xx answers while polling', async () => {
    fake.behaviour.pendingPolls = 3;
    fake.behaviour.runningPolls = 6;
    fake.behaviour.pollServerErrors = 2;
    const delays: number[] = [];
    const rt = runtime({
      poll: { initialMs: 1, maxMs: 8, factor: 2 },
      sleep: async (ms) => {
        delays.push(ms);
      },
    });
    const result = await rt.generate(request);
    expect(result.kind).toBe('file');
    // 2 failed polls + 3 PENDING + 6 RUNNING + 1 SUCCEEDED.
    expect(delays).toEqual([1, 2, 4, 8, 8, 8, 8, 8, 8, 8, 8, 8]);
    expect(pollDelayMs(10_000, { initialMs: 2_000, maxMs: 15_000, factor: 1.5 })).toBe(15_000);
  });

  it('gives up with transient at the overall timeout and asks the provider to cancel', async () => {
    fake.behaviour.pendingPolls = 1_000_000;
    const before = fake.cancels.length;
    const error = await expectRuntimeError(runtime({ timeoutMs: 150 }).generate(request), 'transient');
    expect(error.message).toMatch(/longer than 150 ms/);
    expect(fake.cancels.length).toBe(before + 1);
    expect(fake.tasks.get(fake.cancels.at(-1) ?? '')?.status).toBe('CANCELED');
  });

  it('an aborted signal cancels the pending task and ends with cancelled', async () => {
    fake.behaviour.pendingPolls = 1_000_000;
    const controller = new AbortController();
    const run = runtime().generate(request, {
      signal: controller.signal,
      onStep: () => controller.abort(),
    });
    await expectRuntimeError(run, 'cancelled');
    expect(fake.tasks.get(fake.cancels.at(-1) ?? '')?.status).toBe('CANCELED');
  });

  it('an expired task (UNKNOWN) and an expired video_url are transient, and leave no partial file', async () => {
    fake.behaviour.taskTtlMs = -1;
    const unknown = await expectRuntimeError(runtime().generate(request), 'transient');
    expect(unknown.message).toMatch(/unknown/);

    fake.behaviour.taskTtlMs = 24 * 3600_000;
    fake.behaviour.videoTtlMs = -1;
    const dir = await mkdtemp(join(tmpdir(), 'dashscope-expired-'));
    try {
      const expired = await expectRuntimeError(runtime({ tempDir: dir }).generate(request), 'transient');
      expect(expired.message).toMatch(/download failed \(http_status\)/);
      expect(await readdir(dir)).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('DashScope mapping helpers', () => {
  it('maps provider codes', () => {
    expect(mapDashScopeError(400, 'DataInspectionFailed', 'x').code).toBe('moderation');
    expect(mapDashScopeError(undefined, 'DataInspectionFailed', 'x').code).toBe('moderation');
    expect(mapDashScopeError(400, 'InvalidParameter', 'x').code).toBe('bad_input');
    expect(mapDashScopeError(429, 'Throttling.AllocationQuota', 'x', 1000)).toMatchObject({ code: 'throttled', retryAfterMs: 1000 });
    expect(mapDashScopeError(undefined, 'Throttling', 'x').code).toBe('throttled');
    expect(mapDashScopeError(500, 'InternalError', 'x').code).toBe('transient');
    expect(mapDashScopeError(503, undefined, undefined).code).toBe('transient');
  });

  it('picks sizes and tiers the models offer', () => {
    expect(pickT2vSize(832, 480, 'final')).toEqual([832, 480]);
    expect(pickT2vSize(480, 848, 'final')).toEqual([480, 832]);
    expect(pickT2vSize(512, 512, 'final')).toEqual([624, 624]);
    expect(pickT2vSize(1920, 1088, 'final')).toEqual([1920, 1080]);
    expect(pickT2vSize(1920, 1088, 'draft')).toEqual([832, 480]);
    expect(pickI2vResolution('wan2.2-i2v-plus', 1280, 720, 'final')).toBe('480P');
    expect(pickI2vResolution('wan2.2-i2v-plus', 1920, 1080, 'final')).toBe('1080P');
    expect(pickI2vResolution('wan2.2-i2v-flash', 1280, 720, 'final')).toBe('720P');
    expect(pickI2vResolution('wan2.2-i2v-flash', 1280, 720, 'draft')).toBe('480P');
    // A size a tier lists picks that tier, even where another tier's short side is nearer.
    expect(pickI2vResolution('wan2.2-i2v-flash', 624, 624, 'final')).toBe('480P');
    expect(pickI2vResolution('wan2.2-i2v-flash', 720, 720, 'final')).toBe('720P');
    expect(pickI2vResolution('wan2.2-i2v-plus', 1088, 1920, 'final')).toBe('1080P');
  });

  it('refuses construction without a key, or an i2v model without publishImage', () => {
    const downloader = async () => undefined;
    expect(() => new DashScopeRuntime({ apiKey: '', model: 'wan2.2-t2v-plus', downloader })).toThrow(DashScopeAuthError);
    expect(() => new DashScopeRuntime({ apiKey: 'k', model: 'wan2.2-i2v-plus', downloader })).toThrow(/publishImage/);
  });
});
