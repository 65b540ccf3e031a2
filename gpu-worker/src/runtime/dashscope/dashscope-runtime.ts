/**
 * VideoRuntime backed by Alibaba Model Studio (DashScope) hosted Wan2.2 video models.
 *
 * One job: POST …/video-generation/video-synthesis (async) → task_id; poll GET /api/v1/tasks/{id}
 * with capped exponential backoff until SUCCEEDED / FAILED / CANCELED / UNKNOWN; download
 * output.video_url (it expires, so at once) through the caller's SSRF-guarded downloader.
 *
 * Decisions:
 * - A prompt over 800 characters (negative prompt over 500) is refused with 'bad_input' rather than
 *   truncated: the text was moderated and charged as written, and a silently cut prompt renders
 *   something the user did not ask for.
 * - wan2.2 clips are 5 s at the provider's frame rate; `frames`/`fps` of the request are not sent.
 *   The size is mapped to the nearest size (t2v) or resolution tier (i2v) the model supports; the
 *   capabilities declare those sizes, so intake asks for one of them and the mapping is exact.
 * - The API key goes in the Authorization header only; it never appears in an error or a log.
 */
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { FramecastError, type RuntimeCapabilities } from '@framecast/core';
import { RuntimeError } from '../video-runtime.ts';
import type { RuntimeHooks, RuntimeRequest, RuntimeResult, VideoRuntime } from '../video-runtime.ts';

export type DashScopeModel = 'wan2.2-t2v-plus' | 'wan2.2-i2v-plus' | 'wan2.2-i2v-flash';

export const DASHSCOPE_MAX_PROMPT_CHARS = 800;
export const DASHSCOPE_MAX_NEGATIVE_PROMPT_CHARS = 500;
export const DASHSCOPE_MAX_SEED = 2_147_483_647;

/** Output sizes wan2.2-t2v-plus accepts, by tier. */
export const T2V_SIZES: Readonly<Record<'480P' | '1080P', readonly (readonly [number, number])[]>> = {
  '480P': [
    [832, 480],
    [480, 832],
    [624, 624],
  ],
  '1080P': [
    [1920, 1080],
    [1080, 1920],
    [1440, 1440],
    [1632, 1248],
    [1248, 1632],
  ],
};
/**
 * Output sizes by resolution tier. 480P and 1080P are the t2v sizes; 720P is the provider's Wan
 * 720P size set. Image-to-video keeps the start image's shape at its tier's size, and the worker
 * sizes the start image to the spec, so a spec of one of these sizes comes back at that size.
 */
export const TIER_SIZES: Readonly<Record<'480P' | '720P' | '1080P', readonly (readonly [number, number])[]>> = {
  '480P': T2V_SIZES['480P'],
  '720P': [
    [1280, 720],
    [720, 1280],
    [960, 960],
    [1088, 832],
    [832, 1088],
  ],
  '1080P': T2V_SIZES['1080P'],
};

/** Resolution tiers of the image-to-video models. */
export const I2V_RESOLUTIONS: Readonly<Record<'wan2.2-i2v-plus' | 'wan2.2-i2v-flash', readonly string[]>> = {
  'wan2.2-i2v-plus': ['480P', '1080P'],
  'wan2.2-i2v-flash': ['480P', '720P'],
};

export interface DashScopePolling {
  /** First wait after creating the task. Default 2 s. */
  initialMs?: number;
  /** Largest wait between polls. Default 15 s. */
  maxMs?: number;
  /** Growth per poll. Default 1.5. */
  factor?: number;
}

export interface DashScopeRuntimeOptions {
  /** Default https://dashscope.aliyuncs.com (mainland); https://dashscope-intl.aliyuncs.com outside. */
  baseUrl?: string;
  apiKey: string;
  model: DashScopeModel;
  /** Fetches the finished video to `destPath`; pass the SSRF-guarded fetcher (see safeFetcherDownloader). */
  downloader: (url: string, destPath: string) => Promise<void>;
  /** Makes the start image reachable by the provider (a presigned blob-store URL). Required for i2v models. */
  publishImage?: (image: { rgb: Uint8Array; width: number; height: number }) => Promise<string>;
  poll?: DashScopePolling;
  /** Whole job, creation to file. Default 20 min. */
  timeoutMs?: number;
  /** One HTTP request. Default 30 s. */
  requestTimeoutMs?: number;
  /** Task creations retried in place after a 429 whose wait is short. Default 2. */
  createRetries?: number;
  /** Longest 429 wait taken in place; longer ones end the job as 'throttled'. Default 10 s. */
  maxInPlaceWaitMs?: number;
  /** Wait after a 429 without Retry-After. Default 5 s. */
  throttleWaitMs?: number;
  /** Consecutive failed polls (5xx, network) tolerated before giving up. Default 6. */
  maxPollFailures?: number;
  /** For the coarse progress estimate while RUNNING. Default 120 s. */
  expectedRunMs?: number;
  tempDir?: string;
  /** Injectable wait (tests record the schedule). Rejects when the signal aborts. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** A DashScope call refused our credentials: a deployment problem, not the job's. */
export class DashScopeAuthError extends FramecastError {
  declare readonly code: 'dashscope_unauthorized';
  readonly status: number;
  constructor(status: number, providerCode: string | undefined) {
    super(
      'dashscope_unauthorized',
      `DashScope refused the API key (HTTP ${status}${providerCode ? ` ${providerCode}` : ''}): check DASHSCOPE_API_KEY and the region of the base URL`,
      { messageId: 'outcome.unavailable' },
    );
    this.name = 'DashScopeAuthError';
    this.status = status;
  }
}

/**
 * What a hosted model renders: its tiers' sizes (intake picks the one nearest the spec, so the
 * provider's own mapping leaves it as it is), 5-second clips, a start image for i2v models and none
 * for t2v. The provider sets the frame rate; the worker takes the file as it comes.
 */
export function dashScopeCapabilities(model: DashScopeModel): RuntimeCapabilities {
  const tiers: readonly (keyof typeof TIER_SIZES)[] = model === 'wan2.2-t2v-plus' ? ['480P', '1080P'] : (I2V_RESOLUTIONS[model] as (keyof typeof TIER_SIZES)[]);
  return {
    version: 1,
    runtime: 'dashscope',
    model,
    sizes: [{ kind: 'list', sizes: tiers.flatMap((tier) => TIER_SIZES[tier].map(([width, height]) => ({ width, height }))) }],
    imageInput: model === 'wan2.2-t2v-plus' ? 'none' : 'required',
    maxFrames: 1025,
    durationsSeconds: [5],
  };
}

/** Adapts a content-safety SafeFetcher (or anything with fetchToFile) to the downloader option. */
export function safeFetcherDownloader(fetcher: {
  fetchToFile(url: string, path: string): Promise<unknown>;
}): (url: string, destPath: string) => Promise<void> {
  return async (url, destPath) => {
    await fetcher.fetchToFile(url, destPath);
  };
}

/** The wait before poll number `attempt` (0-based): initial·factor^attempt, never above max. */
export function pollDelayMs(attempt: number, polling: Required<DashScopePolling>): number {
  const raw = polling.initialMs * polling.factor ** Math.max(0, attempt);
  return Math.round(Math.min(polling.maxMs, Number.isFinite(raw) ? raw : polling.maxMs));
}

/** The t2v size nearest the request: tier by the short side, then the closest aspect ratio. */
export function pickT2vSize(width: number, height: number, mode: RuntimeRequest['mode']): [number, number] {
  const short = Math.min(width, height);
  const tier = mode === 'draft' || short <= 720 ? '480P' : '1080P';
  const want = Math.log(width / height);
  let best = T2V_SIZES[tier][0] ?? [832, 480];
  for (const size of T2V_SIZES[tier]) {
    if (Math.abs(Math.log(size[0] / size[1]) - want) < Math.abs(Math.log(best[0] / best[1]) - want)) best = size;
  }
  return [best[0], best[1]];
}

/** Sides as specs carry them: a multiple of 16 (1080 → 1088). */
const onSpecGrid = (n: number) => 16 * Math.round(n / 16);

/**
 * The i2v tier for a request: the smallest in draft mode; a tier that lists the size (on the
 * 16-pixel grid specs use); else the one nearest the request's short side.
 */
export function pickI2vResolution(model: keyof typeof I2V_RESOLUTIONS, width: number, height: number, mode: RuntimeRequest['mode']): string {
  const tiers = I2V_RESOLUTIONS[model];
  if (mode === 'draft') return tiers[0] ?? '480P';
  const listed = tiers.find((tier) =>
    (TIER_SIZES[tier as keyof typeof TIER_SIZES] ?? []).some(([w, h]) => onSpecGrid(w) === width && onSpecGrid(h) === height),
  );
  if (listed !== undefined) return listed;
  const short = Math.min(width, height);
  let best = tiers[0] ?? '480P';
  for (const tier of tiers) {
    if (Math.abs(Number.parseInt(tier, 10) - short) < Math.abs(Number.parseInt(best, 10) - short)) best = tier;
  }
  return best;
}

const ErrorBodySchema = z.object({ code: z.string().optional(), message: z.string().optional(), request_id: z.string().optional() }).passthrough();
const CreateResponseSchema = z.object({
  output: z.object({ task_id: z.string().min(1), task_status: z.string().optional() }),
  request_id: z.string().optional(),
});
const TaskResponseSchema = z.object({
  output: z
    .object({
      task_id: z.string().optional(),
      task_status: z.string(),
      video_url: z.string().optional(),
      code: z.string().optional(),
      message: z.string().optional(),
    })
    .passthrough(),
  request_id: z.string().optional(),
});

/** Maps a provider error code (HTTP error body or a FAILED task's output.code) to a RuntimeError. */
export function mapDashScopeError(status: number | undefined, code: string | undefined, message: string | undefined, retryAfterMs?: number): RuntimeError {
  const text = `DashScope ${status !== undefined ? `HTTP ${status} ` : ''}${code ?? 'error'}${message ? `: ${message.slice(0, 300)}` : ''}`;
  const c = code ?? '';
  if (c === 'DataInspectionFailed' || c.startsWith('DataInspection') || c === 'IPInfringementSuspect' || c === 'InappropriateContent') {
    return new RuntimeError('moderation', text);
  }
  if (status === 429 || c.startsWith('Throttling')) {
    return new RuntimeError('throttled', text, retryAfterMs !== undefined ? { retryAfterMs } : undefined);
  }
  if (c === 'InvalidParameter' || c.startsWith('InvalidParameter') || c === 'InvalidURL' || c === 'InvalidFile' || c.startsWith('InvalidFile')) {
    return new RuntimeError('bad_input', text);
  }
  if (status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 409) return new RuntimeError('bad_input', text);
  return new RuntimeError('transient', text);
}

function retryAfterOf(res: Response): number | undefined {
  const header = res.headers.get('retry-after');
  if (header === null) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

const codePoints = (text: string) => [...text].length;

export class DashScopeRuntime implements VideoRuntime {
  readonly name: string;
  private readonly base: string;
  private readonly polling: Required<DashScopePolling>;

  constructor(private readonly options: DashScopeRuntimeOptions) {
    if (!options.apiKey) throw new DashScopeAuthError(401, 'missing API key');
    if (options.model !== 'wan2.2-t2v-plus' && !options.publishImage) {
      throw new Error(`${options.model} needs a publishImage option: the provider only takes image URLs`);
    }
    this.name = `dashscope:${options.model}`;
    this.base = (options.baseUrl ?? 'https://dashscope.aliyuncs.com').replace(/\/+$/, '');
    this.polling = {
      initialMs: options.poll?.initialMs ?? 2_000,
      maxMs: options.poll?.maxMs ?? 15_000,
      factor: options.poll?.factor ?? 1.5,
    };
  }

  /** Nothing to load; the provider is checked by the first job (a task costs money, a probe would too). */
  async load(): Promise<void> {}

  async capabilities(): Promise<RuntimeCapabilities> {
    return dashScopeCapabilities(this.options.model);
  }

  async dispose(): Promise<void> {}

  async generate(request: RuntimeRequest, hooks: RuntimeHooks = {}): Promise<RuntimeResult> {
    const deadline = AbortSignal.timeout(this.options.timeoutMs ?? 20 * 60_000);
    const signal = hooks.signal ? AbortSignal.any([hooks.signal, deadline]) : deadline;
    const interrupted = (error?: unknown): RuntimeError =>
      hooks.signal?.aborted
        ? new RuntimeError('cancelled', 'cancelled', error === undefined ? undefined : { cause: error })
        : new RuntimeError('transient', `DashScope job took longer than ${this.options.timeoutMs ?? 1_200_000} ms`);
    if (signal.aborted) throw interrupted();

    const isI2v = this.options.model !== 'wan2.2-t2v-plus';
    this.check(request, isI2v);
    const body = await this.buildBody(request, isI2v);
    let progress = -1;
    const report = (step: number) => {
      if (step <= progress) return;
      progress = step;
      try {
        hooks.onStep?.({ step, totalSteps: 100 });
      } catch {
        // A progress consumer's failure is not the job's.
      }
    };

    const create = async (): Promise<string> => {
      const id = await this.createTask(body, signal).catch((error: unknown) => {
        throw signal.aborted ? interrupted(error) : error;
      });
      try {
        hooks.providerTask?.onCreated?.(id);
      } catch {
        // Recording the id is best effort; the task runs either way.
      }
      return id;
    };
    let taskId = hooks.providerTask?.resumeId ?? (await create());
    report(0);
    let videoUrl: string;
    try {
      try {
        videoUrl = await this.waitForTask(taskId, signal, report);
      } catch (error) {
        // A resumed task that expired or failed on the provider's side: start a fresh one.
        if (hooks.providerTask?.resumeId !== taskId || signal.aborted || !(error instanceof RuntimeError) || error.code !== 'transient') throw error;
        taskId = await create();
        videoUrl = await this.waitForTask(taskId, signal, report);
      }
    } catch (error) {
      if (signal.aborted) {
        await this.cancelTask(taskId);
        throw interrupted(error);
      }
      throw error;
    }
    const path = join(this.options.tempDir ?? tmpdir(), `framecast-dashscope-${randomUUID()}.mp4`);
    try {
      await this.options.downloader(videoUrl, path);
    } catch (error) {
      await rm(path, { force: true });
      const code = (error as { code?: unknown }).code;
      throw new RuntimeError('transient', `DashScope video download failed${typeof code === 'string' ? ` (${code})` : ''}`, { cause: error });
    }
    if (hooks.signal?.aborted) {
      await rm(path, { force: true });
      throw interrupted();
    }
    report(100);
    const size = body.parameters['size'];
    if (typeof size === 'string') {
      const [w, h] = size.split('*').map(Number);
      if (w && h) return { kind: 'file', path, width: w, height: h };
    }
    return { kind: 'file', path };
  }

  private check(request: RuntimeRequest, isI2v: boolean): void {
    if (request.prompt.trim().length === 0) throw new RuntimeError('bad_input', 'prompt is empty');
    if (codePoints(request.prompt) > DASHSCOPE_MAX_PROMPT_CHARS) {
      throw new RuntimeError('bad_input', `prompt is longer than ${DASHSCOPE_MAX_PROMPT_CHARS} characters`);
    }
    if (request.negativePrompt !== undefined && codePoints(request.negativePrompt) > DASHSCOPE_MAX_NEGATIVE_PROMPT_CHARS) {
      throw new RuntimeError('bad_input', `negative prompt is longer than ${DASHSCOPE_MAX_NEGATIVE_PROMPT_CHARS} characters`);
    }
    if (isI2v && !request.image) throw new RuntimeError('bad_input', `${this.options.model} needs a start image`);
    if (!isI2v && request.image) throw new RuntimeError('bad_input', `${this.options.model} takes no start image`);
  }

  private async buildBody(
    request: RuntimeRequest,
    isI2v: boolean,
  ): Promise<{ model: string; input: Record<string, string>; parameters: Record<string, unknown> }> {
    const input: Record<string, string> = { prompt: request.prompt };
    if (request.negativePrompt) input['negative_prompt'] = request.negativePrompt;
    const parameters: Record<string, unknown> = {
      duration: 5,
      prompt_extend: false,
      watermark: false,
      seed: Math.abs(Math.trunc(request.seed)) % (DASHSCOPE_MAX_SEED + 1),
    };
    if (isI2v && request.image && this.options.publishImage) {
      try {
        input['img_url'] = await this.options.publishImage(request.image);
      } catch (error) {
        throw new RuntimeError('transient', 'could not publish the start image for DashScope', { cause: error });
      }
      parameters['resolution'] = pickI2vResolution(
        this.options.model as keyof typeof I2V_RESOLUTIONS,
        request.width,
        request.height,
        request.mode,
      );
    } else {
      const [w, h] = pickT2vSize(request.width, request.height, request.mode);
      parameters['size'] = `${w}*${h}`;
    }
    return { model: this.options.model, input, parameters };
  }

  private sleep(ms: number, signal: AbortSignal): Promise<void> {
    return (this.options.sleep ?? abortableSleep)(ms, signal);
  }

  private async call(method: 'GET' | 'POST', path: string, signal: AbortSignal, json?: unknown, async = false): Promise<Response> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.options.apiKey}` };
    if (json !== undefined) headers['content-type'] = 'application/json';
    if (async) headers['x-dashscope-async'] = 'enable';
    try {
      return await fetch(`${this.base}${path}`, {
        method,
        headers,
        ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
        signal: AbortSignal.any([signal, AbortSignal.timeout(this.options.requestTimeoutMs ?? 30_000)]),
      });
    } catch (error) {
      if (signal.aborted) throw error;
      const cause = (error as { cause?: { code?: string } }).cause?.code;
      const name = (error as Error).name;
      throw new RuntimeError('transient', `DashScope ${method} ${path.split('?')[0] ?? ''}: ${name === 'TimeoutError' ? 'timed out' : (cause ?? 'network error')}`, { cause: error });
    }
  }

  /** Reads an error answer and maps it; 401/403 become DashScopeAuthError. */
  private async failure(res: Response): Promise<Error> {
    let parsed: z.infer<typeof ErrorBodySchema> = {};
    try {
      parsed = ErrorBodySchema.parse(await res.json());
    } catch {
      // An HTML error page from a proxy, say: the status decides.
    }
    if (res.status === 401 || res.status === 403 || parsed.code === 'InvalidApiKey') return new DashScopeAuthError(res.status, parsed.code);
    return mapDashScopeError(res.status, parsed.code, parsed.message, res.status === 429 ? (retryAfterOf(res) ?? this.options.throttleWaitMs ?? 5_000) : undefined);
  }

  private async createTask(body: unknown, signal: AbortSignal): Promise<string> {
    const retries = this.options.createRetries ?? 2;
    const maxWait = this.options.maxInPlaceWaitMs ?? 10_000;
    for (let attempt = 0; ; attempt++) {
      const res = await this.call('POST', '/api/v1/services/aigc/video-generation/video-synthesis', signal, body, true);
      if (res.ok) {
        const parsed = CreateResponseSchema.safeParse(await res.json().catch(() => undefined));
        if (!parsed.success) throw new RuntimeError('transient', 'DashScope: no task_id in the answer');
        return parsed.data.output.task_id;
      }
      const error = await this.failure(res);
      if (error instanceof RuntimeError && error.code === 'throttled' && attempt < retries && (error.retryAfterMs ?? 0) <= maxWait) {
        await this.sleep(error.retryAfterMs ?? 0, signal);
        continue;
      }
      throw error;
    }
  }

  private async waitForTask(taskId: string, signal: AbortSignal, report: (step: number) => void): Promise<string> {
    const started = Date.now();
    const expected = this.options.expectedRunMs ?? 120_000;
    const maxFailures = this.options.maxPollFailures ?? 6;
    let failures = 0;
    let runningSince: number | undefined;
    for (let attempt = 0; ; attempt++) {
      await this.sleep(pollDelayMs(attempt, this.polling), signal);
      let res: Response;
      try {
        res = await this.call('GET', `/api/v1/tasks/${encodeURIComponent(taskId)}`, signal);
      } catch (error) {
        if (signal.aborted || !(error instanceof RuntimeError) || ++failures > maxFailures) throw error;
        continue;
      }
      if (!res.ok) {
        const error = await this.failure(res);
        if (error instanceof RuntimeError && (error.code === 'transient' || error.code === 'throttled')) {
          if (++failures > maxFailures) throw error;
          if (error.code === 'throttled') await this.sleep(Math.min(error.retryAfterMs ?? 0, this.polling.maxMs), signal);
          continue;
        }
        throw error;
      }
      failures = 0;
      const parsed = TaskResponseSchema.safeParse(await res.json().catch(() => undefined));
      if (!parsed.success) {
        if (++failures > maxFailures) throw new RuntimeError('transient', 'DashScope: unreadable task status');
        continue;
      }
      const output = parsed.data.output;
      switch (output.task_status) {
        case 'PENDING':
          continue;
        case 'RUNNING': {
          runningSince ??= Date.now();
          // Coarse: the provider reports no steps. Grows toward 95 over the expected run time.
          report(Math.min(95, 5 + Math.floor((90 * (Date.now() - runningSince)) / Math.max(1, expected))));
          continue;
        }
        case 'SUCCEEDED':
          if (!output.video_url) throw new RuntimeError('transient', 'DashScope task succeeded without a video_url');
          return output.video_url;
        case 'FAILED':
          throw mapDashScopeError(undefined, output.code, output.message);
        case 'CANCELED':
          throw new RuntimeError('transient', 'DashScope task was canceled by the provider');
        case 'UNKNOWN':
          throw new RuntimeError('transient', `DashScope task unknown (expired or never created) after ${Date.now() - started} ms`);
        default:
          throw new RuntimeError('transient', `DashScope task in an unexpected state ${output.task_status.slice(0, 40)}`);
      }
    }
  }

  /** Best effort: DashScope cancels only PENDING tasks. */
  private async cancelTask(taskId: string): Promise<void> {
    try {
      const res = await this.call('POST', `/api/v1/tasks/${encodeURIComponent(taskId)}/cancel`, AbortSignal.timeout(5_000));
      await res.body?.cancel();
    } catch {
      // The job is over for us either way.
    }
  }
}
