/**
 * A fake Alibaba Model Studio (DashScope) video-synthesis API for tests (node:http on 127.0.0.1,
 * a free port), following the documented behaviour:
 *
 * - POST /api/v1/services/aigc/video-generation/video-synthesis with `Authorization: Bearer KEY`
 *   and `X-DashScope-Async: enable` → `{ output: { task_id, task_status: 'PENDING' }, request_id }`.
 *   Errors are `{ code, message, request_id }`: 401 InvalidApiKey, 400 InvalidParameter (unknown
 *   model, size or resolution not offered by the model, missing img_url, prompt over 800
 *   characters, missing async header), 400 DataInspectionFailed (input moderation), 429 Throttling
 *   inside a rate window.
 * - GET /api/v1/tasks/{id} → PENDING → RUNNING → SUCCEEDED with output.video_url, or FAILED with
 *   output.code/message (e.g. DataInspectionFailed on the output); UNKNOWN once the task expired.
 * - POST /api/v1/tasks/{id}/cancel cancels a PENDING task only.
 * - The video_url points at the fake itself (a real small mp4 made by ffmpeg) and expires.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface FakeDashScopeBehaviour {
  apiKey: string;
  /** Polls answered PENDING, then RUNNING, before the task settles. */
  pendingPolls: number;
  runningPolls: number;
  /** The next this-many task creations get 429 Throttling.RateQuota. */
  throttleCreates: number;
  /** Retry-After (seconds) sent with a 429; absent when undefined. */
  retryAfterSeconds: number | undefined;
  /** Refuse prompts containing this marker: 'input' at creation (400), 'output' as a FAILED task. */
  moderationMarker: string;
  /** Make the task fail with this code once it has run. */
  failTaskWith: { code: string; message: string } | undefined;
  /** The next this-many polls get a 500. */
  pollServerErrors: number;
  /** Tasks older than this read UNKNOWN (the real API: 24 h). */
  taskTtlMs: number;
  /** video_url stops working after this long (the real API: 24 h). */
  videoTtlMs: number;
}

interface Task {
  id: string;
  createdAt: number;
  status: 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELED';
  polls: number;
  body: { model: string; input: Record<string, unknown>; parameters: Record<string, unknown> };
  outputModeration: boolean;
  failWith: { code: string; message: string } | undefined;
}

export interface FakeDashScope {
  readonly url: string;
  readonly behaviour: FakeDashScopeBehaviour;
  readonly tasks: Map<string, Task>;
  /** Every creation request as received (the Authorization header is not kept). */
  readonly creations: { status: number; body: unknown; asyncHeader: string | undefined }[];
  readonly polls: { taskId: string; at: number }[];
  readonly cancels: string[];
  readonly videoDownloads: number;
  /** Every Authorization header value seen (to check what was sent, never printed). */
  readonly authHeaders: string[];
  close(): Promise<void>;
}

const T2V_SIZES = new Set(['832*480', '480*832', '624*624', '1920*1080', '1080*1920', '1440*1440', '1632*1248', '1248*1632']);
const I2V_RESOLUTIONS: Record<string, string[]> = { 'wan2.2-i2v-plus': ['480P', '1080P'], 'wan2.2-i2v-flash': ['480P', '720P'] };

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? (JSON.parse(text) as unknown) : {};
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export async function startFakeDashScope(overrides: Partial<FakeDashScopeBehaviour> = {}): Promise<FakeDashScope> {
  const behaviour: FakeDashScopeBehaviour = {
    apiKey: 'sk-test-0123456789',
    pendingPolls: 1,
    runningPolls: 2,
    throttleCreates: 0,
    retryAfterSeconds: undefined,
    moderationMarker: '[[blocked]]',
    failTaskWith: undefined,
    pollServerErrors: 0,
    taskTtlMs: 24 * 3600_000,
    videoTtlMs: 24 * 3600_000,
    ...overrides,
  };
  const workDir = await mkdtemp(join(tmpdir(), 'fake-dashscope-'));
  const videoPath = join(workDir, 'sample.mp4');
  await run('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc=size=96x64:rate=16', '-frames:v', '16', '-pix_fmt', 'yuv420p', '-c:v', 'libx264', '-y', videoPath]);
  const video = await readFile(videoPath);

  const tasks = new Map<string, Task>();
  const creations: FakeDashScope['creations'] = [];
  const polls: FakeDashScope['polls'] = [];
  const cancels: string[] = [];
  const authHeaders: string[] = [];
  let videoDownloads = 0;
  let origin = '';

  const requestId = () => randomUUID();
  const authorised = (req: IncomingMessage, res: ServerResponse): boolean => {
    const header = req.headers.authorization ?? '';
    authHeaders.push(header);
    if (header !== `Bearer ${behaviour.apiKey}`) {
      send(res, 401, { code: 'InvalidApiKey', message: 'Invalid API-key provided.', request_id: requestId() });
      return false;
    }
    return true;
  };
  const invalid = (res: ServerResponse, message: string) =>
    send(res, 400, { code: 'InvalidParameter', message, request_id: requestId() });

  const create = async (req: IncomingMessage, res: ServerResponse) => {
    const asyncHeader = req.headers['x-dashscope-async'] as string | undefined;
    let body: unknown;
    try {
      body = await readJson(req);
    } catch {
      creations.push({ status: 400, body: undefined, asyncHeader });
      return invalid(res, 'Request body is not valid JSON');
    }
    const record = (status: number) => creations.push({ status, body, asyncHeader });
    if (!authorised(req, res)) return record(401);
    if (asyncHeader !== 'enable') {
      record(403);
      return send(res, 403, { code: 'AccessDenied', message: 'current user api does not support synchronous calls', request_id: requestId() });
    }
    if (behaviour.throttleCreates > 0) {
      behaviour.throttleCreates -= 1;
      record(429);
      const headers: Record<string, string> = behaviour.retryAfterSeconds !== undefined ? { 'retry-after': String(behaviour.retryAfterSeconds) } : {};
      return send(res, 429, { code: 'Throttling.RateQuota', message: 'Requests rate limit exceeded, please try again later.', request_id: requestId() }, headers);
    }
    const b = (body ?? {}) as { model?: unknown; input?: Record<string, unknown>; parameters?: Record<string, unknown> };
    const model = String(b.model ?? '');
    const input = b.input ?? {};
    const parameters = b.parameters ?? {};
    const prompt = typeof input['prompt'] === 'string' ? input['prompt'] : '';
    const problems: string[] = [];
    if (model !== 'wan2.2-t2v-plus' && !(model in I2V_RESOLUTIONS)) problems.push(`Model not exist: ${model}`);
    if ([...prompt].length > 800) problems.push('Range of input length should be [1, 800]');
    if (model === 'wan2.2-t2v-plus' && parameters['size'] !== undefined && !T2V_SIZES.has(String(parameters['size']))) {
      problems.push(`The size is not match the allowed size ${String(parameters['size'])}`);
    }
    if (model in I2V_RESOLUTIONS) {
      if (typeof input['img_url'] !== 'string' || !/^https?:\/\//.test(input['img_url'])) problems.push('img_url is required and must be a URL');
      const resolution = parameters['resolution'];
      if (resolution !== undefined && !(I2V_RESOLUTIONS[model] ?? []).includes(String(resolution))) {
        problems.push(`The resolution ${String(resolution)} is not supported by ${model}`);
      }
    }
    const seed = parameters['seed'];
    if (seed !== undefined && !(Number.isInteger(seed) && (seed as number) >= 0 && (seed as number) <= 2147483647)) problems.push('seed out of range');
    if (problems.length > 0) {
      record(400);
      return invalid(res, problems.join('; '));
    }
    if (prompt.includes(`${behaviour.moderationMarker}:input`)) {
      record(400);
      return send(res, 400, { code: 'DataInspectionFailed', message: 'Input data may contain inappropriate content.', request_id: requestId() });
    }
    const task: Task = {
      id: randomUUID(),
      createdAt: Date.now(),
      status: 'PENDING',
      polls: 0,
      body: { model, input, parameters },
      outputModeration: prompt.includes(`${behaviour.moderationMarker}:output`),
      failWith: behaviour.failTaskWith,
    };
    tasks.set(task.id, task);
    record(200);
    send(res, 200, { output: { task_status: 'PENDING', task_id: task.id }, request_id: requestId() });
  };

  const poll = (req: IncomingMessage, res: ServerResponse, id: string) => {
    if (!authorised(req, res)) return;
    polls.push({ taskId: id, at: Date.now() });
    if (behaviour.pollServerErrors > 0) {
      behaviour.pollServerErrors -= 1;
      return send(res, 500, { code: 'InternalError', message: 'An internal error has occured, please try again later.', request_id: requestId() });
    }
    const task = tasks.get(id);
    if (!task || Date.now() - task.createdAt > behaviour.taskTtlMs) {
      return send(res, 200, { request_id: requestId(), output: { task_id: id, task_status: 'UNKNOWN' } });
    }
    task.polls += 1;
    if (task.status === 'PENDING' && task.polls > behaviour.pendingPolls) task.status = 'RUNNING';
    if (task.status === 'RUNNING' && task.polls > behaviour.pendingPolls + behaviour.runningPolls) {
      task.status = task.outputModeration || task.failWith ? 'FAILED' : 'SUCCEEDED';
    }
    const output: Record<string, unknown> = { task_id: task.id, task_status: task.status, submit_time: new Date(task.createdAt).toISOString() };
    if (task.status === 'SUCCEEDED') {
      output['video_url'] = `${origin}/videos/${task.id}.mp4?Expires=${task.createdAt + behaviour.videoTtlMs}`;
      output['end_time'] = new Date().toISOString();
    }
    if (task.status === 'FAILED') {
      const failure = task.outputModeration
        ? { code: 'DataInspectionFailed', message: 'Output data may contain inappropriate content.' }
        : (task.failWith ?? { code: 'InternalError', message: 'failed' });
      Object.assign(output, failure);
    }
    const body: Record<string, unknown> = { request_id: requestId(), output };
    if (task.status === 'SUCCEEDED') body['usage'] = { video_duration: 5, video_count: 1, video_ratio: task.body.parameters['size'] ?? task.body.parameters['resolution'] };
    send(res, 200, body);
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const taskMatch = /^\/api\/v1\/tasks\/([^/]+)(\/cancel)?$/.exec(url.pathname);
    const videoMatch = /^\/videos\/([^/]+)\.mp4$/.exec(url.pathname);
    void (async () => {
      if (req.method === 'POST' && url.pathname === '/api/v1/services/aigc/video-generation/video-synthesis') return create(req, res);
      if (req.method === 'GET' && taskMatch && !taskMatch[2]) return poll(req, res, decodeURIComponent(taskMatch[1] ?? ''));
      if (req.method === 'POST' && taskMatch?.[2]) {
        if (!authorised(req, res)) return;
        const id = decodeURIComponent(taskMatch[1] ?? '');
        cancels.push(id);
        const task = tasks.get(id);
        if (task?.status !== 'PENDING') {
          return send(res, 400, { code: 'UnsupportedOperation', message: 'Failed to cancel the task, please confirm if the task is in PENDING status.', request_id: requestId() });
        }
        task.status = 'CANCELED';
        return send(res, 200, { request_id: requestId() });
      }
      if (req.method === 'GET' && videoMatch) {
        const task = tasks.get(videoMatch[1] ?? '');
        const expires = Number(url.searchParams.get('Expires'));
        if (!task || task.status !== 'SUCCEEDED') {
          res.writeHead(404, { 'content-type': 'application/xml' }).end('<Error><Code>NoSuchKey</Code></Error>');
          return;
        }
        if (!(Date.now() <= expires)) {
          res.writeHead(403, { 'content-type': 'application/xml' }).end('<Error><Code>AccessDenied</Code><Message>Request has expired.</Message></Error>');
          return;
        }
        videoDownloads += 1;
        res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': video.length });
        res.end(video);
        return;
      }
      send(res, 404, { code: 'NotFound', message: 'not found', request_id: requestId() });
    })().catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, { code: 'InternalError', message: String(error) });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url: origin,
    behaviour,
    tasks,
    creations,
    polls,
    cancels,
    get videoDownloads() {
      return videoDownloads;
    },
    authHeaders,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(workDir, { recursive: true, force: true });
    },
  };
}
