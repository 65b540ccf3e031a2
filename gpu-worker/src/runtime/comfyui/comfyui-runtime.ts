/**
 * VideoRuntime backed by a ComfyUI server running the Wan2.2 workflows.
 *
 * One job: (upload the start image) → POST /prompt → follow /ws progress for our prompt_id →
 * GET /history/{id} → GET /view the saved video into a temp file. The websocket is a convenience,
 * not the source of truth: if it drops, the runtime reconnects with backoff and polls
 * /history/{id} until the prompt has finished, so a lost connection never loses a job.
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { z } from 'zod';
import type { RuntimeCapabilities } from '@framecast/core';
import { RuntimeError } from '../video-runtime.ts';
import type { RuntimeHooks, RuntimeRequest, RuntimeResult, VideoRuntime } from '../video-runtime.ts';
import { ComfySocket } from './comfyui-socket.ts';
import type { ComfyWsMessage } from './comfyui-socket.ts';
import { encodePngRgb } from './png-encode.ts';
import { comfyTemplateCapabilities } from './template-capabilities.ts';
import { DEFAULT_WORKFLOW_DIR, defaultDraftSteps, describeTemplate, fillWorkflow, loadWorkflowTemplate, templateSteps } from './workflow-template.ts';
import type { ComfyGraph, ComfyModelFiles, TemplateShape, WorkflowTemplateName } from './workflow-template.ts';

export interface ComfyUiTimeouts {
  /** One HTTP request (not the video download). Default 30 s. */
  requestMs?: number;
  /** The video download. Default 5 min. */
  downloadMs?: number;
  /** A whole job, from POST /prompt to the file on disk. Default 60 min (A14B 720p is slow). */
  jobMs?: number;
  /** First websocket reconnect delay; doubles up to reconnectMaxMs. Defaults 250 ms / 10 s. */
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  /** /history polling while the websocket is down. Default 2 s. */
  pollWhileDisconnectedMs?: number;
  /** /history polling while the websocket is up (belt and braces). Default 30 s. */
  pollWhileConnectedMs?: number;
}

export interface ComfyUiRuntimeOptions {
  /** e.g. http://127.0.0.1:8188 */
  baseUrl: string;
  /** Websocket client id (a UUID); one per runtime. Default: a fresh UUID. */
  clientId?: string;
  template: WorkflowTemplateName;
  /** Folder of the workflow JSON files. Default gpu-worker/workflows. */
  workflowDir?: string;
  models?: ComfyModelFiles;
  /** Steps for final-mode requests that name none. Default: the template's. */
  steps?: number;
  /** Steps for draft-mode requests that name none. Default: half the final steps. */
  draftSteps?: number;
  shift?: number;
  cfg?: number;
  timeouts?: ComfyUiTimeouts;
  /** Where downloaded videos go. Default os.tmpdir(). */
  tempDir?: string;
  /** Largest video accepted from /view. Default 1 GiB. */
  maxVideoBytes?: number;
}

const QueueItemSchema = z.array(z.unknown());
const QueueSchema = z.object({
  queue_running: z.array(QueueItemSchema).default([]),
  queue_pending: z.array(QueueItemSchema).default([]),
});

const FileRefSchema = z.object({
  filename: z.string().min(1),
  subfolder: z.string().default(''),
  type: z.string().default('output'),
});
type FileRef = z.infer<typeof FileRefSchema>;

const HistoryEntrySchema = z.object({
  outputs: z.record(z.string(), z.record(z.string(), z.unknown())).default({}),
  status: z
    .object({
      status_str: z.string().optional(),
      completed: z.boolean().optional(),
      messages: z.array(z.tuple([z.string(), z.unknown()])).default([]),
    })
    .partial()
    .optional(),
});
type HistoryEntry = z.infer<typeof HistoryEntrySchema>;

const NodeErrorSchema = z.object({
  errors: z
    .array(
      z
        .object({ type: z.string().optional(), message: z.string().optional(), details: z.unknown().optional(), extra_info: z.record(z.string(), z.unknown()).optional() })
        .passthrough(),
    )
    .default([]),
  class_type: z.string().optional(),
});
const PromptRejectionSchema = z.object({
  error: z.union([z.string(), z.object({ type: z.string().optional(), message: z.string().optional(), details: z.unknown().optional() }).passthrough()]).optional(),
  node_errors: z.union([z.record(z.string(), NodeErrorSchema), z.array(z.unknown())]).optional(),
});

const VIDEO_EXTENSIONS = new Set(['.mp4', '.webm', '.mov', '.mkv', '.gif', '.webp', '.avi']);
const OOM_PATTERN = /out of memory|allocation on device|OutOfMemoryError|CUBLAS_STATUS_ALLOC_FAILED|failed to allocate/i;

/** Turns a 400 from POST /prompt into one line: the error and each node's first problems. */
export function summarisePromptRejection(body: unknown): string {
  const parsed = PromptRejectionSchema.safeParse(body);
  if (!parsed.success) return 'ComfyUI rejected the workflow';
  const parts: string[] = [];
  const { error, node_errors: nodeErrors } = parsed.data;
  if (typeof error === 'string') parts.push(error);
  else if (error) {
    const details = typeof error.details === 'string' && error.details.length > 0 ? `: ${error.details}` : '';
    parts.push(`${error.message ?? 'invalid prompt'}${details}`);
  }
  if (nodeErrors && !Array.isArray(nodeErrors)) {
    for (const [id, node] of Object.entries(nodeErrors)) {
      const reasons = node.errors
        .slice(0, 3)
        .map((e) => `${e.message ?? 'error'}${typeof e.details === 'string' && e.details ? ` (${e.details})` : ''}`);
      parts.push(`node #${id} ${node.class_type ?? ''}: ${reasons.join(', ')}`);
    }
  }
  const text = parts.join('; ');
  return text.length > 600 ? `${text.slice(0, 597)}...` : text;
}

/**
 * Whose fault a 400 from POST /prompt is. A node class the server does not know (a custom node not
 * installed) or a model file missing from its models folder (a loader's `*_name` input not in its
 * list) is the operator's: 'misconfigured', so the job fails at once with a refund and no retries.
 * Anything else is this job's graph (a size or value the nodes refuse): 'bad_input'.
 */
export function classifyPromptRejection(body: unknown): 'misconfigured' | 'bad_input' {
  const parsed = PromptRejectionSchema.safeParse(body);
  if (!parsed.success) return 'bad_input';
  const { error, node_errors: nodeErrors } = parsed.data;
  if (typeof error === 'object') {
    // ComfyUI < 0.3.4x: invalid_prompt "Cannot execute because node X does not exist."; later: missing_node_type.
    if (error.type === 'missing_node_type') return 'misconfigured';
    if (error.type === 'invalid_prompt' && /does not exist|not found|missing the class_type/i.test(error.message ?? '')) return 'misconfigured';
  }
  if (nodeErrors !== undefined && !Array.isArray(nodeErrors)) {
    for (const node of Object.values(nodeErrors)) {
      for (const e of node.errors) {
        const input = e.extra_info?.['input_name'];
        if (e.type === 'value_not_in_list' && typeof input === 'string' && MODEL_INPUT.test(input)) return 'misconfigured';
      }
    }
  }
  return 'bad_input';
}

/** The loader inputs that name a model file: unet_name, clip_name, vae_name, ckpt_name, lora_name, … */
const MODEL_INPUT = /^(unet|clip|vae|ckpt|lora|model|clip_vision|control_net|upscale_model)_name$/;

/** Classifies an execution_error message from the websocket or /history. */
export function classifyExecutionError(data: Record<string, unknown>): RuntimeError {
  const message = typeof data['exception_message'] === 'string' ? data['exception_message'] : '';
  const type = typeof data['exception_type'] === 'string' ? data['exception_type'] : '';
  const node = typeof data['node_type'] === 'string' ? data['node_type'] : '?';
  const summary = `ComfyUI ${node} failed: ${type ? `${type}: ` : ''}${message.split('\n')[0]?.slice(0, 300) ?? ''}`;
  if (OOM_PATTERN.test(message) || OOM_PATTERN.test(type)) return new RuntimeError('oom', summary);
  // A ValueError from a node means it refused its inputs (bad size, unreadable image): retrying
  // the same request cannot help. Anything else (a crashed node, a missing file) may pass on retry
  // or on another worker.
  if (/(^|\.)ValueError$/.test(type)) return new RuntimeError('bad_input', summary);
  return new RuntimeError('transient', summary);
}

/** The video file among a prompt's outputs (SaveVideo: images+animated; VHS: gifs; others: videos). */
export function pickVideoOutput(outputs: HistoryEntry['outputs'], preferNodeId?: string): FileRef | undefined {
  const nodeIds = Object.keys(outputs);
  if (preferNodeId !== undefined && nodeIds.includes(preferNodeId)) {
    nodeIds.splice(nodeIds.indexOf(preferNodeId), 1);
    nodeIds.unshift(preferNodeId);
  }
  for (const nodeId of nodeIds) {
    const output = outputs[nodeId] ?? {};
    const animated = Array.isArray(output['animated']) && output['animated'].some((a) => a === true);
    for (const key of ['videos', 'video', 'gifs', 'images']) {
      const list = output[key];
      if (!Array.isArray(list)) continue;
      for (const item of list) {
        const ref = FileRefSchema.safeParse(item);
        if (!ref.success) continue;
        const ext = extname(ref.data.filename).toLowerCase();
        if (VIDEO_EXTENSIONS.has(ext) && (key !== 'images' || animated || ext !== '.webp')) return ref.data;
      }
    }
  }
  return undefined;
}

function isAbortError(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError');
}

type Outcome =
  | { kind: 'success'; outputs?: HistoryEntry['outputs'] }
  | { kind: 'error'; data: Record<string, unknown> }
  | { kind: 'interrupted' };

export class ComfyUiRuntime implements VideoRuntime {
  readonly name: string;
  readonly clientId: string;
  private readonly baseUrl: string;
  private template: ComfyGraph | undefined;
  private shape: TemplateShape | undefined;
  private readonly timeouts: Required<ComfyUiTimeouts>;

  constructor(private readonly options: ComfyUiRuntimeOptions) {
    this.name = `comfyui:${options.template}`;
    this.clientId = options.clientId ?? randomUUID();
    this.baseUrl = options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`;
    const t = options.timeouts ?? {};
    this.timeouts = {
      requestMs: t.requestMs ?? 30_000,
      downloadMs: t.downloadMs ?? 300_000,
      jobMs: t.jobMs ?? 3_600_000,
      reconnectBaseMs: t.reconnectBaseMs ?? 250,
      reconnectMaxMs: t.reconnectMaxMs ?? 10_000,
      pollWhileDisconnectedMs: t.pollWhileDisconnectedMs ?? 2_000,
      pollWhileConnectedMs: t.pollWhileConnectedMs ?? 30_000,
    };
  }

  async load(): Promise<void> {
    await this.ensureTemplate();
    const res = await this.http('GET', 'system_stats');
    await res.body?.cancel();
    if (!res.ok) throw new RuntimeError('transient', `ComfyUI /system_stats answered ${res.status}`);
  }

  async dispose(): Promise<void> {
    this.template = undefined;
    this.shape = undefined;
  }

  async generate(request: RuntimeRequest, hooks: RuntimeHooks = {}): Promise<RuntimeResult> {
    const signal = hooks.signal;
    if (signal?.aborted) throw new RuntimeError('cancelled', 'cancelled before start');
    const { template, shape } = await this.ensureTemplate();
    const jobId = randomUUID();
    const steps = request.steps ?? this.stepsFor(template)[request.mode];

    // Fill once without the image to reject a bad request before uploading anything.
    const fillOverrides = {
      ...(this.options.models ? { models: this.options.models } : {}),
      ...(this.options.shift !== undefined ? { shift: this.options.shift } : {}),
      ...(this.options.cfg !== undefined ? { cfg: this.options.cfg } : {}),
      filenamePrefix: `framecast/${jobId}`,
    };
    const filledRequest: RuntimeRequest = { ...request, steps };
    const probe = fillWorkflow(template, filledRequest, {
      ...fillOverrides,
      ...(request.image ? { startImageName: 'pending.png' } : {}),
    });

    let startImageName: string | undefined;
    if (request.image && shape.startImage !== 'none') {
      startImageName = await this.uploadImage(request.image, `framecast-${jobId}.png`);
    }
    const { graph, totalSteps, samplerOffsets } =
      startImageName === undefined ? probe : fillWorkflow(template, filledRequest, { ...fillOverrides, startImageName });

    if (signal?.aborted) throw new RuntimeError('cancelled', 'cancelled before submitting');
    const deadline = AbortSignal.timeout(this.timeouts.jobMs);
    const outcome = await this.run(graph, { totalSteps, samplerOffsets, hooks, deadline });
    if (outcome.kind === 'error') throw classifyExecutionError(outcome.data);
    if (outcome.kind === 'interrupted') {
      throw new RuntimeError('transient', 'ComfyUI interrupted the prompt (another client called /interrupt?)');
    }
    const ref = pickVideoOutput(outcome.outputs ?? {}, shape.saveNodeId);
    if (!ref) throw new RuntimeError('transient', 'ComfyUI finished but saved no video');
    const path = join(this.options.tempDir ?? tmpdir(), `framecast-comfy-${jobId}${extname(ref.filename) || '.mp4'}`);
    await this.download(ref, path, signal);
    return { kind: 'file', path, width: request.width, height: request.height, fps: request.fps };
  }

  /** Per template (see comfyTemplateCapabilities); reads the workflow file, does not call the server. */
  async capabilities(): Promise<RuntimeCapabilities> {
    const { template, shape } = await this.ensureTemplate();
    return comfyTemplateCapabilities(this.options.template, shape, this.stepsFor(template));
  }

  /** Steps per mode when a request names none: configured, else the template's and half of it. */
  private stepsFor(template: ComfyGraph): { draft: number; final: number } {
    const final = this.options.steps ?? templateSteps(template);
    return { final, draft: this.options.draftSteps ?? defaultDraftSteps(final) };
  }

  private async ensureTemplate(): Promise<{ template: ComfyGraph; shape: TemplateShape }> {
    if (!this.template || !this.shape) {
      const template = await loadWorkflowTemplate(this.options.template, this.options.workflowDir ?? DEFAULT_WORKFLOW_DIR);
      this.shape = describeTemplate(template);
      this.template = template;
    }
    return { template: this.template, shape: this.shape };
  }

  private url(path: string, query?: Record<string, string>): string {
    const url = new URL(path, this.baseUrl);
    for (const [k, v] of Object.entries(query ?? {})) url.searchParams.set(k, v);
    return url.toString();
  }

  /** One HTTP call; a connection failure or timeout becomes RuntimeError 'transient'. */
  private async http(
    method: string,
    path: string,
    init: { json?: unknown; body?: FormData; query?: Record<string, string>; timeoutMs?: number } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = {};
    let body: string | FormData | undefined;
    if (init.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(init.json);
    } else if (init.body) body = init.body;
    try {
      return await fetch(this.url(path, init.query), {
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
        signal: AbortSignal.timeout(init.timeoutMs ?? this.timeouts.requestMs),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code;
      const why = isAbortError(error) ? 'timed out' : (cause ?? (error as Error).message);
      throw new RuntimeError('transient', `ComfyUI ${method} /${path}: ${why}`, { cause: error });
    }
  }

  private async jsonOf(res: Response, what: string): Promise<unknown> {
    try {
      return await res.json();
    } catch (error) {
      throw new RuntimeError('transient', `ComfyUI ${what}: unreadable answer (${res.status})`, { cause: error });
    }
  }

  private async uploadImage(image: NonNullable<RuntimeRequest['image']>, name: string): Promise<string> {
    let png: Buffer;
    try {
      png = encodePngRgb(image.rgb, image.width, image.height);
    } catch (error) {
      throw new RuntimeError('bad_input', `start image: ${(error as Error).message}`, { cause: error });
    }
    const form = new FormData();
    form.append('image', new Blob([new Uint8Array(png)], { type: 'image/png' }), name);
    form.append('overwrite', 'true');
    form.append('type', 'input');
    const res = await this.http('POST', 'upload/image', { body: form });
    if (!res.ok) {
      await res.body?.cancel();
      throw new RuntimeError(res.status === 413 ? 'bad_input' : 'transient', `ComfyUI /upload/image answered ${res.status}`);
    }
    const parsed = z.object({ name: z.string().min(1), subfolder: z.string().default('') }).safeParse(
      await this.jsonOf(res, '/upload/image'),
    );
    if (!parsed.success) throw new RuntimeError('transient', 'ComfyUI /upload/image: unexpected answer');
    return parsed.data.subfolder ? `${parsed.data.subfolder}/${parsed.data.name}` : parsed.data.name;
  }

  private async submit(graph: ComfyGraph): Promise<string> {
    const res = await this.http('POST', 'prompt', { json: { prompt: graph, client_id: this.clientId } });
    const body = await this.jsonOf(res, '/prompt').catch((error: unknown) => {
      if (res.ok) throw error;
      return undefined;
    });
    if (res.status === 400) throw new RuntimeError(classifyPromptRejection(body), summarisePromptRejection(body));
    if (!res.ok) throw new RuntimeError('transient', `ComfyUI /prompt answered ${res.status}`);
    const parsed = z.object({ prompt_id: z.string().min(1) }).safeParse(body);
    if (!parsed.success) throw new RuntimeError('transient', 'ComfyUI /prompt: no prompt_id in the answer');
    return parsed.data.prompt_id;
  }

  private async history(promptId: string): Promise<HistoryEntry | undefined> {
    const res = await this.http('GET', `history/${encodeURIComponent(promptId)}`);
    if (!res.ok) {
      await res.body?.cancel();
      throw new RuntimeError('transient', `ComfyUI /history answered ${res.status}`);
    }
    const body = await this.jsonOf(res, '/history');
    if (typeof body !== 'object' || body === null || !(promptId in body)) return undefined;
    const parsed = HistoryEntrySchema.safeParse((body as Record<string, unknown>)[promptId]);
    if (!parsed.success) throw new RuntimeError('transient', 'ComfyUI /history: unexpected entry');
    return parsed.data;
  }

  /** A finished history entry as an outcome; undefined while the prompt still runs. */
  private outcomeOf(entry: HistoryEntry | undefined): Outcome | undefined {
    if (!entry) return undefined;
    const status = entry.status;
    const messages = status?.messages ?? [];
    const errorMessage = messages.find(([name]) => name === 'execution_error');
    if (errorMessage) return { kind: 'error', data: (errorMessage[1] ?? {}) as Record<string, unknown> };
    if (messages.some(([name]) => name === 'execution_interrupted')) return { kind: 'interrupted' };
    if (status?.status_str === 'error') return { kind: 'error', data: { exception_message: 'execution failed' } };
    if (status?.completed === false) return undefined;
    return { kind: 'success', outputs: entry.outputs };
  }

  /** Removes our prompt from ComfyUI: interrupt it if it is the one running, else delete it from the queue. */
  private async withdraw(promptId: string): Promise<void> {
    try {
      const res = await this.http('GET', 'queue');
      const queue = QueueSchema.safeParse(await this.jsonOf(res, '/queue'));
      const has = (items: unknown[][]) => items.some((item) => item[1] === promptId);
      if (queue.success && has(queue.data.queue_running)) {
        // /interrupt is global; newer ComfyUI also honours a prompt_id and ignores it otherwise.
        const r = await this.http('POST', 'interrupt', { json: { prompt_id: promptId } });
        await r.body?.cancel();
      } else if (!queue.success || has(queue.data.queue_pending)) {
        const r = await this.http('POST', 'queue', { json: { delete: [promptId] } });
        await r.body?.cancel();
      }
    } catch {
      // Best effort: the job is over for us either way.
    }
  }

  private run(
    graph: ComfyGraph,
    ctx: { totalSteps: number; samplerOffsets: Record<string, number>; hooks: RuntimeHooks; deadline: AbortSignal },
  ): Promise<Outcome> {
    const { hooks, deadline } = ctx;
    return new Promise<Outcome>((resolve, reject) => {
      let promptId: string | undefined;
      let finished = false;
      let pollTimer: NodeJS.Timeout | undefined;
      let polling = false;
      let lastStep = -1;
      /** Set once the websocket says our prompt is done; history may lag a moment behind. */
      let doneSeen = false;
      let doneChecks = 0;
      const early: ComfyWsMessage[] = [];

      const cleanup = () => {
        finished = true;
        if (pollTimer) clearTimeout(pollTimer);
        socket.close();
        hooks.signal?.removeEventListener('abort', onAbort);
        deadline.removeEventListener('abort', onDeadline);
      };
      const settle = (outcome: Outcome) => {
        if (finished) return;
        cleanup();
        resolve(outcome);
      };
      const fail = (error: unknown) => {
        if (finished) return;
        cleanup();
        reject(error);
      };
      const withdrawAndFail = (error: RuntimeError) => {
        if (finished) return;
        cleanup();
        const id = promptId;
        void (id === undefined ? Promise.resolve() : this.withdraw(id)).then(() => reject(error));
      };
      const onAbort = () => withdrawAndFail(new RuntimeError('cancelled', 'cancelled'));
      const onDeadline = () =>
        withdrawAndFail(new RuntimeError('transient', `ComfyUI job took longer than ${this.timeouts.jobMs} ms`));

      const schedulePoll = (delayMs?: number) => {
        if (finished || promptId === undefined) return;
        if (pollTimer) clearTimeout(pollTimer);
        const delay =
          delayMs ??
          (doneSeen
            ? Math.min(50 * 2 ** doneChecks, 1000)
            : socket.connected
              ? this.timeouts.pollWhileConnectedMs
              : this.timeouts.pollWhileDisconnectedMs);
        pollTimer = setTimeout(() => void poll(), delay);
      };
      const poll = async () => {
        if (finished || promptId === undefined || polling) return;
        polling = true;
        try {
          const outcome = this.outcomeOf(await this.history(promptId));
          if (outcome) return settle(outcome);
          if (doneSeen && ++doneChecks > 20) {
            return fail(new RuntimeError('transient', 'ComfyUI reported the prompt done but has no history for it'));
          }
        } catch (error) {
          // The server may be restarting; keep trying until the deadline.
          if (!(error instanceof RuntimeError && error.code === 'transient')) return fail(error);
        } finally {
          polling = false;
        }
        schedulePoll();
      };

      const handle = (message: ComfyWsMessage) => {
        if (promptId === undefined) {
          early.push(message);
          return;
        }
        const data = message.data;
        if (data['prompt_id'] !== undefined && data['prompt_id'] !== promptId) return;
        switch (message.type) {
          case 'progress': {
            const node = typeof data['node'] === 'string' ? data['node'] : undefined;
            const value = typeof data['value'] === 'number' ? data['value'] : undefined;
            if (node === undefined || value === undefined) return;
            const offset = ctx.samplerOffsets[node];
            if (offset === undefined) return;
            const step = Math.min(ctx.totalSteps, offset + value);
            if (step === lastStep) return;
            lastStep = step;
            try {
              hooks.onStep?.({ step, totalSteps: ctx.totalSteps });
            } catch {
              // A progress consumer's failure is not the job's.
            }
            return;
          }
          case 'executing':
            if (data['node'] === null && data['prompt_id'] === promptId) {
              doneSeen = true;
              schedulePoll(0);
            }
            return;
          case 'execution_success':
            if (data['prompt_id'] === promptId) {
              doneSeen = true;
              schedulePoll(0);
            }
            return;
          case 'execution_error':
            if (data['prompt_id'] === promptId) settle({ kind: 'error', data });
            return;
          case 'execution_interrupted':
            if (data['prompt_id'] === promptId) settle({ kind: 'interrupted' });
            return;
          default:
            return;
        }
      };

      const socket = new ComfySocket({
        baseUrl: this.baseUrl,
        clientId: this.clientId,
        reconnectBaseMs: this.timeouts.reconnectBaseMs,
        reconnectMaxMs: this.timeouts.reconnectMaxMs,
        connectTimeoutMs: Math.min(this.timeouts.requestMs, 10_000),
        onMessage: handle,
        onStateChange: (connected) => {
          // Back from a gap: whatever happened meanwhile is only in /history.
          schedulePoll(connected ? 0 : undefined);
        },
      });

      hooks.signal?.addEventListener('abort', onAbort, { once: true });
      deadline.addEventListener('abort', onDeadline, { once: true });

      void (async () => {
        // Connect before submitting so no message about our prompt can be missed.
        await socket.open();
        if (finished) return;
        const id = await this.submit(graph);
        promptId = id;
        if (finished) {
          // Cancelled while submitting.
          await this.withdraw(id);
          return;
        }
        for (const message of early.splice(0)) handle(message);
        schedulePoll();
      })().catch(fail);
    });
  }

  private async download(ref: FileRef, path: string, signal?: AbortSignal): Promise<void> {
    const max = this.options.maxVideoBytes ?? 1024 ** 3;
    let res: Response;
    try {
      res = await fetch(this.url('view', { filename: ref.filename, subfolder: ref.subfolder, type: ref.type }), {
        signal: signal
          ? AbortSignal.any([signal, AbortSignal.timeout(this.timeouts.downloadMs)])
          : AbortSignal.timeout(this.timeouts.downloadMs),
      });
    } catch (error) {
      if (signal?.aborted) throw new RuntimeError('cancelled', 'cancelled during download', { cause: error });
      throw new RuntimeError('transient', `ComfyUI /view: ${(error as Error).message}`, { cause: error });
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel();
      throw new RuntimeError('transient', `ComfyUI /view answered ${res.status}`);
    }
    let bytes = 0;
    const limit = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        bytes += chunk.length;
        if (bytes > max) callback(new Error(`video larger than ${max} bytes`));
        else callback(null, chunk);
      },
    });
    try {
      await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), limit, createWriteStream(path));
    } catch (error) {
      await rm(path, { force: true });
      if (signal?.aborted) throw new RuntimeError('cancelled', 'cancelled during download', { cause: error });
      throw new RuntimeError('transient', `ComfyUI /view download failed: ${(error as Error).message}`, { cause: error });
    }
    if (bytes === 0) {
      await rm(path, { force: true });
      throw new RuntimeError('transient', 'ComfyUI /view returned an empty file');
    }
  }
}
