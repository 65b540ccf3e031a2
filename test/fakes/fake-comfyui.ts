/**
 * A fake ComfyUI server for tests: node:http + a `ws` websocket server on 127.0.0.1, a free port.
 *
 * It behaves like ComfyUI's server.py / execution.py where our client can tell: it validates the
 * posted API-format graph against a catalogue of the node classes the Wan2.2 workflows use
 * (unknown class → 400 invalid_prompt; missing input, wrong link type, value not in list →
 * node_errors), queues prompts and runs them one at a time, sends status / execution_start /
 * execution_cached / executing / progress / executed / execution_success / execution_error /
 * execution_interrupted to the prompt's client id, serves /history, /view (a real small mp4 made by
 * ffmpeg), /upload/image, /queue, /interrupt and /system_stats. Test knobs: per-step delay, failing
 * a node class with an exception, dropping websockets mid-run (and refusing reconnects for a while),
 * pausing the queue, and the VHS-style `gifs` output shape.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { promisify } from 'node:util';
import { WebSocketServer } from 'ws';
import type WebSocket from 'ws';

const run = promisify(execFile);

type InputType = string | readonly string[];
interface NodeClass {
  required: Record<string, InputType>;
  optional?: Record<string, InputType>;
  outputs: readonly string[];
  outputNode?: boolean;
}

export interface FakeComfyBehaviour {
  /** Delay per sampler step (ms). */
  stepDelayMs: number;
  /** Delay per other node (ms). */
  nodeDelayMs: number;
  /** Delay between execution_success and the history entry appearing (ComfyUI writes it after). */
  historyLagMs: number;
  /** Make every node of this class raise. */
  failNode: { classType: string; exceptionType: string; message: string } | undefined;
  /** Terminate every websocket after this many progress messages (once; then cleared). */
  dropSocketsAfterProgress: number | undefined;
  /** After such a drop, refuse websocket upgrades for this long (forces /history polling). */
  refuseAfterDropMs: number;
  /** Refuse websocket upgrades (503) while true. */
  refuseSockets: boolean;
  /** Refuse websocket upgrades until this time (ms since epoch); set by a drop. */
  refuseSocketsUntil: number;
  /** While true, queued prompts wait. */
  paused: boolean;
  /** How the saved video is reported: SaveVideo's `images`+`animated`, or VHS's `gifs`. */
  outputStyle: 'save-video' | 'vhs-gifs';
  /** Send a binary preview frame with each progress message. */
  sendPreviews: boolean;
  /** Model files this server lacks (not in models/…): a graph naming one fails validation. */
  missingModels: readonly string[];
  /** Node classes this server lacks (a custom node not installed). */
  missingNodes: readonly string[];
}

interface QueueItem {
  number: number;
  id: string;
  graph: Record<string, { class_type: string; inputs: Record<string, unknown> }>;
  clientId: string | undefined;
  outputs: string[];
}

interface HistoryEntry {
  prompt: unknown[];
  outputs: Record<string, Record<string, unknown>>;
  status: { status_str: 'success' | 'error'; completed: boolean; messages: [string, unknown][] };
  meta: Record<string, unknown>;
}

export interface FakeComfyUi {
  readonly url: string;
  readonly behaviour: FakeComfyBehaviour;
  /** Every accepted prompt, in order. */
  readonly prompts: QueueItem[];
  /** Every POST /prompt body, accepted or not. */
  readonly postedBodies: unknown[];
  readonly uploads: Map<string, Buffer>;
  readonly interrupts: unknown[];
  readonly queueDeletes: string[];
  /** Websocket connections accepted, per client id. */
  readonly connections: Map<string, number>;
  readonly history: Map<string, HistoryEntry>;
  runningPromptId(): string | undefined;
  pendingPromptIds(): string[];
  /** Resolves when a prompt with this id (or the next one) starts executing. */
  whenRunning(promptId?: string): Promise<string>;
  close(): Promise<void>;
}

const SAMPLERS = ['euler', 'euler_ancestral', 'uni_pc', 'uni_pc_bh2', 'dpmpp_2m', 'lcm'] as const;
const SCHEDULERS = ['simple', 'normal', 'karras', 'exponential', 'sgm_uniform', 'beta'] as const;
export const FAKE_MODELS = {
  diffusion_models: [
    'wan2.2_t2v_high_noise_14B_fp8_scaled.safetensors',
    'wan2.2_t2v_low_noise_14B_fp8_scaled.safetensors',
    'wan2.2_i2v_high_noise_14B_fp8_scaled.safetensors',
    'wan2.2_i2v_low_noise_14B_fp8_scaled.safetensors',
    'wan2.2_ti2v_5B_fp16.safetensors',
  ],
  text_encoders: ['umt5_xxl_fp8_e4m3fn_scaled.safetensors', 'umt5_xxl_fp16.safetensors'],
  vae: ['wan_2.1_vae.safetensors', 'wan2.2_vae.safetensors'],
} as const;

/** The node catalogue of a server that lacks some model files and node classes. */
function catalogueWithout(uploads: Map<string, Buffer>, missingModels: readonly string[], missingNodes: readonly string[]): Record<string, NodeClass> {
  const all = catalogue(uploads);
  const drop = (type: InputType): InputType => (typeof type === 'string' ? type : type.filter((v) => !missingModels.includes(v)));
  const classes: Record<string, NodeClass> = {};
  for (const [name, cls] of Object.entries(all)) {
    if (missingNodes.includes(name)) continue;
    classes[name] = {
      ...cls,
      required: Object.fromEntries(Object.entries(cls.required).map(([k, v]) => [k, drop(v)])),
      ...(cls.optional === undefined ? {} : { optional: Object.fromEntries(Object.entries(cls.optional).map(([k, v]) => [k, drop(v)])) }),
    };
  }
  return classes;
}

function catalogue(uploads: Map<string, Buffer>): Record<string, NodeClass> {
  const size = { width: 'INT', height: 'INT', length: 'INT', batch_size: 'INT' } as const;
  return {
    UNETLoader: {
      required: { unet_name: FAKE_MODELS.diffusion_models, weight_dtype: ['default', 'fp8_e4m3fn', 'fp8_e4m3fn_fast', 'fp8_e5m2'] },
      outputs: ['MODEL'],
    },
    CLIPLoader: {
      required: { clip_name: FAKE_MODELS.text_encoders, type: ['stable_diffusion', 'sd3', 'wan', 'hunyuan_video', 'ltxv'] },
      optional: { device: ['default', 'cpu'] },
      outputs: ['CLIP'],
    },
    VAELoader: { required: { vae_name: FAKE_MODELS.vae }, outputs: ['VAE'] },
    ModelSamplingSD3: { required: { model: 'MODEL', shift: 'FLOAT' }, outputs: ['MODEL'] },
    CLIPTextEncode: { required: { text: 'STRING', clip: 'CLIP' }, outputs: ['CONDITIONING'] },
    EmptyHunyuanLatentVideo: { required: size, outputs: ['LATENT'] },
    WanImageToVideo: {
      required: { positive: 'CONDITIONING', negative: 'CONDITIONING', vae: 'VAE', ...size },
      optional: { clip_vision_output: 'CLIP_VISION_OUTPUT', start_image: 'IMAGE' },
      outputs: ['CONDITIONING', 'CONDITIONING', 'LATENT'],
    },
    Wan22ImageToVideoLatent: { required: { vae: 'VAE', ...size }, optional: { start_image: 'IMAGE' }, outputs: ['LATENT'] },
    KSamplerAdvanced: {
      required: {
        model: 'MODEL',
        add_noise: ['enable', 'disable'],
        noise_seed: 'INT',
        steps: 'INT',
        cfg: 'FLOAT',
        sampler_name: SAMPLERS,
        scheduler: SCHEDULERS,
        positive: 'CONDITIONING',
        negative: 'CONDITIONING',
        latent_image: 'LATENT',
        start_at_step: 'INT',
        end_at_step: 'INT',
        return_with_leftover_noise: ['disable', 'enable'],
      },
      outputs: ['LATENT'],
    },
    KSampler: {
      required: {
        model: 'MODEL',
        seed: 'INT',
        steps: 'INT',
        cfg: 'FLOAT',
        sampler_name: SAMPLERS,
        scheduler: SCHEDULERS,
        positive: 'CONDITIONING',
        negative: 'CONDITIONING',
        latent_image: 'LATENT',
        denoise: 'FLOAT',
      },
      outputs: ['LATENT'],
    },
    VAEDecode: { required: { samples: 'LATENT', vae: 'VAE' }, outputs: ['IMAGE'] },
    CreateVideo: { required: { images: 'IMAGE', fps: 'FLOAT' }, optional: { audio: 'AUDIO' }, outputs: ['VIDEO'] },
    SaveVideo: {
      required: { video: 'VIDEO', filename_prefix: 'STRING', format: ['auto', 'mp4'], codec: ['auto', 'h264'] },
      outputs: [],
      outputNode: true,
    },
    // The list of files in ComfyUI's input folder: what was uploaded.
    LoadImage: { required: { image: [...uploads.keys()] }, outputs: ['IMAGE', 'MASK'] },
  };
}

interface ValidationError {
  type: string;
  message: string;
  details: string;
  extra_info: Record<string, unknown>;
}

function isLinkValue(value: unknown): value is unknown[] {
  return Array.isArray(value);
}

/** ComfyUI's validate_prompt, reduced to what the catalogue knows. */
function validatePrompt(
  graph: Record<string, { class_type?: unknown; inputs?: unknown }>,
  classes: Record<string, NodeClass>,
): { ok: true; outputs: string[] } | { ok: false; error: ValidationError; nodeErrors: Record<string, unknown> } {
  const outputs: string[] = [];
  for (const [id, node] of Object.entries(graph)) {
    if (typeof node?.class_type !== 'string') {
      return {
        ok: false,
        error: { type: 'invalid_prompt', message: 'Cannot execute because a node is missing the class_type property.', details: `Node ID '#${id}'`, extra_info: {} },
        nodeErrors: {},
      };
    }
    const cls = classes[node.class_type];
    if (!cls) {
      return {
        ok: false,
        error: { type: 'invalid_prompt', message: `Cannot execute because node ${node.class_type} does not exist.`, details: `Node ID '#${id}'`, extra_info: {} },
        nodeErrors: {},
      };
    }
    if (cls.outputNode) outputs.push(id);
  }
  if (outputs.length === 0) {
    return { ok: false, error: { type: 'prompt_no_outputs', message: 'Prompt has no outputs', details: '', extra_info: {} }, nodeErrors: {} };
  }
  const nodeErrors: Record<string, { errors: ValidationError[]; dependent_outputs: string[]; class_type: string }> = {};
  const seen = new Set<string>();
  const visit = (id: string) => {
    if (seen.has(id)) return;
    seen.add(id);
    const node = graph[id];
    if (!node) return;
    const cls = classes[node.class_type as string];
    if (!cls) return;
    const inputs = (typeof node.inputs === 'object' && node.inputs !== null ? node.inputs : {}) as Record<string, unknown>;
    const errors: ValidationError[] = [];
    const check = (name: string, type: InputType, required: boolean) => {
      if (!(name in inputs)) {
        if (required) {
          errors.push({ type: 'required_input_missing', message: 'Required input is missing', details: name, extra_info: { input_name: name } });
        }
        return;
      }
      const value = inputs[name];
      if (isLinkValue(value)) {
        if (value.length !== 2) {
          errors.push({ type: 'bad_linked_input', message: 'Bad linked input, must be a length-2 list of [node_id, slot_index]', details: name, extra_info: { input_name: name } });
          return;
        }
        const source = graph[String(value[0])];
        const sourceClass = source ? classes[source.class_type as string] : undefined;
        if (!sourceClass) {
          errors.push({ type: 'exception_during_inner_validation', message: 'Exception when validating inner node', details: `'${String(value[0])}'`, extra_info: { input_name: name } });
          return;
        }
        const received = sourceClass.outputs[Number(value[1])];
        if (typeof type !== 'string' || received !== type) {
          errors.push({ type: 'return_type_mismatch', message: 'Return type mismatch between linked nodes', details: `${name}, received_type(${String(received)}) mismatch input_type(${String(type)})`, extra_info: { input_name: name } });
          return;
        }
        visit(String(value[0]));
        return;
      }
      if (typeof type !== 'string') {
        if (!type.includes(String(value))) {
          errors.push({ type: 'value_not_in_list', message: 'Value not in list', details: `${name}: '${String(value)}' not in ${JSON.stringify(type)}`, extra_info: { input_name: name, received_value: value } });
        }
        return;
      }
      if ((type === 'INT' && !Number.isInteger(Number(value))) || (type === 'FLOAT' && !Number.isFinite(Number(value)))) {
        errors.push({ type: 'invalid_input_type', message: `Failed to convert an input value to a ${type} value`, details: `${name}, ${String(value)}`, extra_info: { input_name: name } });
        return;
      }
      if (type === 'STRING' && typeof value !== 'string') {
        errors.push({ type: 'invalid_input_type', message: 'Failed to convert an input value to a STRING value', details: name, extra_info: { input_name: name } });
        return;
      }
      if (type !== 'INT' && type !== 'FLOAT' && type !== 'STRING') {
        errors.push({ type: 'return_type_mismatch', message: `Input ${name} needs a link to a ${type} output`, details: name, extra_info: { input_name: name } });
      }
    };
    for (const [name, type] of Object.entries(cls.required)) check(name, type, true);
    for (const [name, type] of Object.entries(cls.optional ?? {})) check(name, type, false);
    if (errors.length > 0) nodeErrors[id] = { errors, dependent_outputs: [...outputs], class_type: node.class_type as string };
  };
  for (const o of outputs) visit(o);
  if (Object.keys(nodeErrors).length > 0) {
    const details = Object.values(nodeErrors)
      .flatMap((n) => n.errors.map((e) => `${e.message}: ${e.details}`))
      .join('\n');
    return {
      ok: false,
      error: { type: 'prompt_outputs_failed_validation', message: 'Prompt outputs failed validation', details, extra_info: {} },
      nodeErrors,
    };
  }
  return { ok: true, outputs };
}

/** Nodes in execution order: every node after the nodes it links from. */
function executionOrder(graph: QueueItem['graph'], outputs: string[]): string[] {
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (id: string) => {
    if (seen.has(id)) return;
    seen.add(id);
    for (const value of Object.values(graph[id]?.inputs ?? {})) {
      if (Array.isArray(value)) visit(String(value[0]));
    }
    order.push(id);
  };
  for (const o of outputs) visit(o);
  return order;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export async function startFakeComfyUi(overrides: Partial<FakeComfyBehaviour> = {}): Promise<FakeComfyUi> {
  const behaviour: FakeComfyBehaviour = {
    stepDelayMs: 2,
    nodeDelayMs: 1,
    historyLagMs: 5,
    failNode: undefined,
    dropSocketsAfterProgress: undefined,
    refuseAfterDropMs: 0,
    refuseSockets: false,
    refuseSocketsUntil: 0,
    paused: false,
    outputStyle: 'save-video',
    sendPreviews: true,
    missingModels: [],
    missingNodes: [],
    ...overrides,
  };
  const workDir = await mkdtemp(join(tmpdir(), 'fake-comfyui-'));
  const sampleVideo = join(workDir, 'sample.mp4');
  await run('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc=size=64x64:rate=16', '-frames:v', '17', '-pix_fmt', 'yuv420p', '-c:v', 'libx264', '-y', sampleVideo]);
  const videoBytes = await readFile(sampleVideo);

  const uploads = new Map<string, Buffer>();
  const files = new Map<string, Buffer>(); // `${type}/${subfolder}/${filename}`
  const prompts: QueueItem[] = [];
  const postedBodies: unknown[] = [];
  const interrupts: unknown[] = [];
  const queueDeletes: string[] = [];
  const connections = new Map<string, number>();
  const history = new Map<string, HistoryEntry>();
  const sockets = new Map<string, WebSocket>();
  const pending: QueueItem[] = [];
  let running: QueueItem | undefined;
  let lastNodeId: string | undefined;
  let interruptFlag = false;
  let progressCount = 0;
  let counter = 0;
  let closed = false;
  const runningWaiters: { id: string | undefined; resolve: (id: string) => void }[] = [];

  const sendTo = (clientId: string | undefined, type: string, data: Record<string, unknown>) => {
    if (clientId === undefined) return;
    const socket = sockets.get(clientId);
    if (socket && socket.readyState === socket.OPEN) socket.send(JSON.stringify({ type, data }));
  };
  const broadcastStatus = () => {
    const remaining = pending.length + (running ? 1 : 0);
    for (const socket of sockets.values()) {
      if (socket.readyState === socket.OPEN) socket.send(JSON.stringify({ type: 'status', data: { status: { exec_info: { queue_remaining: remaining } } } }));
    }
  };

  const execute = async (item: QueueItem) => {
    const { id, clientId, graph } = item;
    const messages: [string, unknown][] = [];
    const note = (type: string, data: Record<string, unknown>) => {
      messages.push([type, data]);
      sendTo(clientId, type, data);
    };
    interruptFlag = false;
    note('execution_start', { prompt_id: id, timestamp: Date.now() });
    note('execution_cached', { nodes: [], prompt_id: id, timestamp: Date.now() });
    const executed: string[] = [];
    const outputs: Record<string, Record<string, unknown>> = {};
    let failure: 'error' | 'interrupted' | undefined;
    for (const nodeId of executionOrder(graph, item.outputs)) {
      const node = graph[nodeId];
      if (!node) continue;
      const interrupted = () => {
        if (!interruptFlag) return false;
        note('execution_interrupted', { prompt_id: id, node_id: nodeId, node_type: node.class_type, executed: [...executed], timestamp: Date.now() });
        failure = 'interrupted';
        return true;
      };
      if (interrupted()) break;
      lastNodeId = nodeId;
      sendTo(clientId, 'executing', { node: nodeId, display_node: nodeId, prompt_id: id });
      if (behaviour.failNode && behaviour.failNode.classType === node.class_type) {
        note('execution_error', {
          prompt_id: id,
          node_id: nodeId,
          node_type: node.class_type,
          executed: [...executed],
          exception_message: behaviour.failNode.message,
          exception_type: behaviour.failNode.exceptionType,
          traceback: ['  File "execution.py", line 1, in execute\n'],
          current_inputs: {},
          current_outputs: {},
          timestamp: Date.now(),
        });
        failure = 'error';
        break;
      }
      if (node.class_type === 'KSampler' || node.class_type === 'KSamplerAdvanced') {
        const total = Number(node.inputs['steps']);
        const start = node.class_type === 'KSamplerAdvanced' ? Number(node.inputs['start_at_step']) : 0;
        const end = node.class_type === 'KSamplerAdvanced' ? Math.min(total, Number(node.inputs['end_at_step'])) : total;
        const count = Math.max(0, end - start);
        for (let value = 1; value <= count; value++) {
          await sleep(behaviour.stepDelayMs);
          if (interrupted()) break;
          sendTo(clientId, 'progress', { value, max: count, prompt_id: id, node: nodeId });
          if (behaviour.sendPreviews && clientId !== undefined) {
            const frame = Buffer.alloc(8);
            frame.writeUInt32BE(1, 0); // PREVIEW_IMAGE
            frame.writeUInt32BE(1, 4); // JPEG
            const socket = sockets.get(clientId);
            if (socket?.readyState === socket?.OPEN) socket?.send(Buffer.concat([frame, Buffer.from('not-really-a-jpeg')]));
          }
          progressCount += 1;
          if (behaviour.dropSocketsAfterProgress !== undefined && progressCount >= behaviour.dropSocketsAfterProgress) {
            behaviour.dropSocketsAfterProgress = undefined;
            behaviour.refuseSocketsUntil = Date.now() + behaviour.refuseAfterDropMs;
            for (const socket of sockets.values()) socket.terminate();
          }
        }
        if (failure) break;
      } else {
        await sleep(behaviour.nodeDelayMs);
      }
      if (node.class_type === 'SaveVideo') {
        const prefix = String(node.inputs['filename_prefix']);
        const slash = prefix.lastIndexOf('/');
        const subfolder = slash >= 0 ? prefix.slice(0, slash) : '';
        const filename = `${slash >= 0 ? prefix.slice(slash + 1) : prefix}_00001_.mp4`;
        files.set(`output/${subfolder}/${filename}`, videoBytes);
        const ref = { filename, subfolder, type: 'output' };
        const ui =
          behaviour.outputStyle === 'save-video'
            ? { images: [ref], animated: [true] }
            : { gifs: [{ ...ref, format: 'video/h264-mp4', frame_rate: 16, fullpath: `/comfy/output/${subfolder}/${filename}` }] };
        outputs[nodeId] = ui;
        sendTo(clientId, 'executed', { node: nodeId, display_node: nodeId, output: ui, prompt_id: id });
      }
      executed.push(nodeId);
    }
    lastNodeId = undefined;
    if (!failure) note('execution_success', { prompt_id: id, timestamp: Date.now() });
    await sleep(behaviour.historyLagMs);
    history.set(id, {
      prompt: [item.number, id, graph, { client_id: clientId }, item.outputs],
      outputs,
      status: { status_str: failure ? 'error' : 'success', completed: !failure, messages },
      meta: {},
    });
    sendTo(clientId, 'executing', { node: null, prompt_id: id });
  };

  const pump = async () => {
    while (!closed) {
      if (!running && !behaviour.paused && pending.length > 0) {
        running = pending.shift();
        if (running) {
          for (const waiter of runningWaiters.splice(0)) {
            if (waiter.id === undefined || waiter.id === running.id) waiter.resolve(running.id);
            else runningWaiters.push(waiter);
          }
          broadcastStatus();
          await execute(running);
          running = undefined;
          broadcastStatus();
        }
      }
      await sleep(2);
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = url.pathname.replace(/^\/api\//, '/');
    if (req.method === 'GET' && path === '/system_stats') {
      return sendJson(res, 200, { system: { os: 'posix', comfyui_version: 'fake', python_version: '3.12', argv: [] }, devices: [] });
    }
    if (req.method === 'POST' && path === '/prompt') {
      let body: unknown;
      try {
        body = JSON.parse((await readBody(req)).toString('utf8'));
      } catch {
        return sendJson(res, 400, { error: { type: 'invalid_json', message: 'invalid JSON', details: '', extra_info: {} }, node_errors: {} });
      }
      postedBodies.push(body);
      const json = (body ?? {}) as { prompt?: unknown; client_id?: unknown };
      if (typeof json.prompt !== 'object' || json.prompt === null) {
        return sendJson(res, 400, { error: { type: 'no_prompt', message: 'No prompt provided', details: '', extra_info: {} }, node_errors: {} });
      }
      const graph = json.prompt as QueueItem['graph'];
      const verdict = validatePrompt(graph, catalogueWithout(uploads, behaviour.missingModels, behaviour.missingNodes));
      if (!verdict.ok) return sendJson(res, 400, { error: verdict.error, node_errors: verdict.nodeErrors });
      const item: QueueItem = {
        number: counter++,
        id: randomUUID(),
        graph,
        clientId: typeof json.client_id === 'string' ? json.client_id : undefined,
        outputs: verdict.outputs,
      };
      prompts.push(item);
      pending.push(item);
      broadcastStatus();
      return sendJson(res, 200, { prompt_id: item.id, number: item.number, node_errors: {} });
    }
    if (req.method === 'GET' && path === '/prompt') {
      return sendJson(res, 200, { exec_info: { queue_remaining: pending.length + (running ? 1 : 0) } });
    }
    if (req.method === 'GET' && path.startsWith('/history/')) {
      const id = decodeURIComponent(path.slice('/history/'.length));
      const entry = history.get(id);
      return sendJson(res, 200, entry ? { [id]: entry } : {});
    }
    if (req.method === 'GET' && path === '/queue') {
      const row = (q: QueueItem) => [q.number, q.id, q.graph, { client_id: q.clientId }, q.outputs];
      return sendJson(res, 200, { queue_running: running ? [row(running)] : [], queue_pending: pending.map(row) });
    }
    if (req.method === 'POST' && path === '/queue') {
      const body = JSON.parse((await readBody(req)).toString('utf8') || '{}') as { delete?: unknown; clear?: unknown };
      if (body.clear === true) pending.splice(0);
      if (Array.isArray(body.delete)) {
        for (const id of body.delete) {
          queueDeletes.push(String(id));
          const index = pending.findIndex((q) => q.id === id);
          if (index >= 0) pending.splice(index, 1);
        }
      }
      broadcastStatus();
      res.writeHead(200).end();
      return;
    }
    if (req.method === 'POST' && path === '/interrupt') {
      const raw = (await readBody(req)).toString('utf8');
      const body = raw ? (JSON.parse(raw) as { prompt_id?: unknown }) : {};
      interrupts.push(body);
      // Newer ComfyUI: a prompt_id interrupts only that prompt; without one, whatever runs.
      if (running && (body.prompt_id === undefined || body.prompt_id === running.id)) interruptFlag = true;
      res.writeHead(200).end();
      return;
    }
    if (req.method === 'POST' && path === '/upload/image') {
      const raw = await readBody(req);
      const form = await new Response(raw, { headers: { 'content-type': req.headers['content-type'] ?? '' } }).formData();
      const image = form.get('image');
      if (!(image instanceof Blob) || !('name' in image) || !image.name) {
        res.writeHead(400).end();
        return;
      }
      let name = String(image.name);
      const overwrite = form.get('overwrite');
      if (!(overwrite === 'true' || overwrite === '1')) {
        for (let i = 1; uploads.has(name); i++) name = `${String(image.name).replace(/(\.[^.]*)?$/, ` (${i})$1`)}`;
      }
      const subfolder = String(form.get('subfolder') ?? '');
      uploads.set(subfolder ? `${subfolder}/${name}` : name, Buffer.from(await image.arrayBuffer()));
      return sendJson(res, 200, { name, subfolder, type: String(form.get('type') ?? 'input') });
    }
    if (req.method === 'GET' && path === '/view') {
      const filename = url.searchParams.get('filename') ?? '';
      if (!filename || filename.startsWith('/') || filename.includes('..')) {
        res.writeHead(400).end();
        return;
      }
      const key = `${url.searchParams.get('type') ?? 'output'}/${url.searchParams.get('subfolder') ?? ''}/${filename}`;
      const file = files.get(key);
      if (!file) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': file.length, 'content-disposition': `filename="${filename}"` });
      res.end(file);
      return;
    }
    res.writeHead(404).end();
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: String(error) });
      else res.destroy();
    });
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/ws' || behaviour.refuseSockets || Date.now() < behaviour.refuseSocketsUntil) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const sid = url.searchParams.get('clientId') || randomUUID().replaceAll('-', '');
      sockets.set(sid, ws); // ComfyUI replaces an older socket with the same client id
      connections.set(sid, (connections.get(sid) ?? 0) + 1);
      ws.on('close', () => {
        if (sockets.get(sid) === ws) sockets.delete(sid);
      });
      ws.send(JSON.stringify({ type: 'status', data: { status: { exec_info: { queue_remaining: pending.length + (running ? 1 : 0) } }, sid } }));
      if (running && running.clientId === sid && lastNodeId !== undefined) {
        ws.send(JSON.stringify({ type: 'executing', data: { node: lastNodeId, display_node: lastNodeId, prompt_id: running.id } }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const pumping = pump();

  return {
    url: `http://127.0.0.1:${port}`,
    behaviour,
    prompts,
    postedBodies,
    uploads,
    interrupts,
    queueDeletes,
    connections,
    history,
    runningPromptId: () => running?.id,
    pendingPromptIds: () => pending.map((q) => q.id),
    whenRunning(promptId?: string) {
      if (running && (promptId === undefined || running.id === promptId)) return Promise.resolve(running.id);
      return new Promise<string>((resolve) => runningWaiters.push({ id: promptId, resolve }));
    },
    async close() {
      closed = true;
      interruptFlag = true;
      for (const socket of sockets.values()) socket.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await pumping.catch(() => undefined);
      await rm(workDir, { recursive: true, force: true });
    },
  };
}
