import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An in-memory stand-in for the Framecast mini program API (`/api/mp/*`, bots/miniprogram-api, as
 * its README section states the contract) on a real HTTP socket: login by wx.login code →
 * `{token, expiresAt}`, Bearer tokens, `GET /me` with the quota, multipart uploads in the field
 * `file`, jobs with `requestId`, progress as server-sent events, signed media links, the gallery
 * with cursors, and `{code, message}` errors localised by Accept-Language. Tests drive job states
 * with `update()`, which also feeds the open event streams.
 */

export type FakeJobState = 'queued' | 'running' | 'held' | 'succeeded' | 'failed' | 'cancelled';

export interface FakeJob {
  id: string;
  owner: string;
  state: FakeJobState;
  prompt: string;
  position: number;
  etaSeconds: number;
  cost: number;
  createdAt: number;
  progress?: { step: number; total: number };
  error?: { code: string; message: string };
  published: boolean;
  body: Record<string, unknown>;
}

export interface RecordedRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: unknown;
}

interface GalleryEntry {
  id: string;
  owner?: string;
  jobId: string;
  prompt: string;
  likedBy: Set<string>;
  createdAt: number;
  reports: { user: string; reason: string }[];
}

const BLOCKED_WORDS = ['blockedword', '违禁词'];
export const VIDEO_BYTES = Buffer.from('\u0000\u0000\u0000\u0018ftypmp42fake-video-bytes');
export const POSTER_BYTES = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00]);

const MESSAGES: Record<string, { 'zh-CN': string; en: string }> = {
  unauthorized: { 'zh-CN': '请先登录', en: 'Please log in' },
  bad_code: { 'zh-CN': '登录凭证无效', en: 'Invalid login code' },
  invalid_body: { 'zh-CN': '请求内容不正确', en: 'Invalid request' },
  moderation_blocked: { 'zh-CN': '描述中有不允许的内容，请修改后再试', en: 'The description contains something not allowed: please change it' },
  quota_credits: { 'zh-CN': '今日额度不足：需要 {cost} 点，剩余 {available} 点', en: 'Not enough credits today: {cost} needed, {available} left' },
  bad_image: { 'zh-CN': '无法识别这张图片', en: 'That file is not an image we can read' },
  too_large: { 'zh-CN': '图片太大了', en: 'The image is too large' },
  image_not_found: { 'zh-CN': '找不到这张照片，请重新上传', en: 'That photo was not found: please upload it again' },
  not_found: { 'zh-CN': '找不到这个视频', en: 'Video not found' },
  job_not_found: { 'zh-CN': '找不到这个视频', en: 'Video not found' },
  not_finished: { 'zh-CN': '视频还没有生成好', en: 'The video is not ready yet' },
  already_finished: { 'zh-CN': '这个任务已经结束，不能取消', en: 'That job has finished and cannot be cancelled' },
  already_published: { 'zh-CN': '已经发布过了', en: 'Already published' },
  bad_signature: { 'zh-CN': '链接无效', en: 'Invalid link' },
  cancelled: { 'zh-CN': '已取消，点数已退回', en: 'Cancelled, credits refunded' },
  not_owner: { 'zh-CN': '只有作者可以撤下', en: 'Only the author can unpublish it' },
  board_not_found: { 'zh-CN': '找不到该分镜板', en: 'No such storyboard' },
  not_starter: { 'zh-CN': '只有发起人可以这样做', en: 'Only the starter can do that' },
  not_author: { 'zh-CN': '只有作者可以修改', en: 'Only the author can change it' },
};

class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, readonly params: Record<string, string | number> = {}) {
    super(code);
  }
}

function costOf(duration: number, draft: boolean): number {
  const REF = 848 * 480;
  const pixels = draft ? REF : 1280 * 720;
  return Math.max(1, Math.ceil((duration * pixels) / REF * (draft ? 1 : 2) - 1e-9));
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new HttpError(413, 'too_large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The file of a multipart body's field, parsed by hand (enough for one file part). */
function multipartFile(body: Buffer, contentType: string, field: string): Buffer | undefined {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/.exec(contentType);
  const b = boundary?.[1] ?? boundary?.[2];
  if (!b) return undefined;
  const delimiter = Buffer.from(`--${b}`);
  let start = body.indexOf(delimiter);
  while (start !== -1) {
    const next = body.indexOf(delimiter, start + delimiter.length);
    if (next === -1) break;
    const part = body.subarray(start + delimiter.length + 2, next - 2);
    const headerEnd = part.indexOf('\r\n\r\n');
    if (headerEnd !== -1) {
      const headers = part.subarray(0, headerEnd).toString('utf8');
      if (new RegExp(`name="${field}"`).test(headers) && /filename=/.test(headers)) return part.subarray(headerEnd + 4);
    }
    start = next;
  }
  return undefined;
}

function isImage(bytes: Buffer): boolean {
  const png = bytes.length > 8 && bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  const jpeg = bytes.length > 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
  return png || jpeg;
}

export class FakeMpApi {
  readonly requests: RecordedRequest[] = [];
  /** Storyboards (`/api/mp/boards…`); tests push render events with `boards.push()`. */
  readonly boards = new FakeBoards();
  readonly jobs = new Map<string, FakeJob>();
  readonly gallery = new Map<string, GalleryEntry>();
  /** Daily credits per user (default 100). */
  readonly credits = new Map<string, number>();
  readonly dailyCredits = 100;
  readonly maxUploadBytes = 64 * 1024;
  /** Whether GET /api/mp/me answers (false: 503, as when Redis is down). */
  meRoute = true;
  /** Whether GET …/events streams (false: 404, as an older server or a proxy that buffers). */
  eventsRoute = true;
  /** The next job submission is made but its answer lost (the connection drops), as on a bad network. */
  dropNextJobAnswer = false;
  /** Whether open event streams go silent (as behind a proxy that buffers): they stay open, nothing is written. */
  streamsStalled = false;
  /** Gallery page size (the server's default is 20). */
  galleryPageSize = 20;
  private readonly streams = new Map<string, Set<ServerResponse>>();
  private readonly tokens = new Map<string, { user: string; expiresAt: number }>();
  private readonly uploads = new Map<string, string>();
  private readonly idempotency = new Map<string, string>();
  private server: Server | undefined;
  private clock = Date.now();
  baseUrl = '';

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    this.baseUrl = `http://127.0.0.1:${port}`;
    return this.baseUrl;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    for (const set of this.streams.values()) for (const res of set) res.end();
    this.boards.endStreams();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Every token stops working (as after their expiry): the next call gets 401. */
  revokeAllTokens(): void {
    this.tokens.clear();
  }

  logins(): number {
    return this.requests.filter((r) => r.path === '/api/mp/login').length;
  }

  calls(method: string, pathPrefix: string): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && r.path.startsWith(pathPrefix));
  }

  /** Moves a job on, as the worker would. */
  update(id: string, change: Partial<Omit<FakeJob, 'id' | 'owner'>>): void {
    const job = this.jobs.get(id);
    if (!job) throw new Error(`no job ${id}`);
    Object.assign(job, change);
    if (change.state && change.state !== 'queued') job.position = 0;
    if (job.state !== 'running') delete job.progress;
    this.emit(job);
  }

  /** Open event streams of a job. */
  openStreams(id: string): number {
    return this.streams.get(id)?.size ?? 0;
  }

  /** The progress event a change makes, as the server maps the core's events. */
  private emit(job: FakeJob): void {
    const streams = this.streams.get(job.id);
    if (!streams || streams.size === 0 || this.streamsStalled) return;
    const base = { jobId: job.id, at: Date.now(), state: job.state };
    let event: string;
    let data: Record<string, unknown>;
    switch (job.state) {
      case 'queued': event = 'queued'; data = { ...base, type: event, position: job.position, etaSeconds: job.etaSeconds }; break;
      case 'running':
        event = job.progress ? 'step' : 'started';
        data = job.progress ? { ...base, type: event, step: job.progress.step, totalSteps: job.progress.total } : { ...base, type: event };
        break;
      case 'held': event = 'review'; data = { ...base, type: event }; break;
      case 'succeeded': event = 'delivered'; data = { ...base, type: event, job: this.jobJson(job) }; break;
      case 'failed': event = 'failed'; data = { ...base, type: event, code: job.error?.code ?? 'failed', message: job.error?.message ?? '', job: this.jobJson(job) }; break;
      case 'cancelled': event = 'cancelled'; data = { ...base, type: event, job: this.jobJson(job) }; break;
    }
    for (const res of streams) {
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      if (['succeeded', 'failed', 'cancelled'].includes(job.state)) res.end();
    }
  }

  /** Adds a published video of another user straight into the gallery. */
  seedGallery(prompt: string, likes: number, createdAt: number): string {
    const id = `g-${randomUUID().slice(0, 8)}`;
    const likedBy = new Set<string>();
    for (let i = 0; i < likes; i++) likedBy.add(`fan-${i}`);
    this.gallery.set(id, { id, jobId: id, prompt, likedBy, createdAt, reports: [] });
    return id;
  }

  available(user: string): number {
    const spent = [...this.jobs.values()].filter((j) => j.owner === user && j.state !== 'failed' && j.state !== 'cancelled').reduce((s, j) => s + j.cost, 0);
    return Math.max(0, (this.credits.get(user) ?? this.dailyCredits) - spent);
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(body));
  }

  private fail(res: ServerResponse, req: IncomingMessage, error: HttpError): void {
    const lang = String(req.headers['accept-language'] ?? '').startsWith('en') ? 'en' : 'zh-CN';
    const template = MESSAGES[error.code]?.[lang] ?? error.code;
    const message = template.replace(/\{(\w+)\}/g, (_w, k: string) => String(error.params[k] ?? ''));
    this.send(res, error.status, { code: error.code, message, requestId: randomUUID() });
  }

  private user(req: IncomingMessage): string {
    const auth = req.headers.authorization;
    const token = auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
    const session = token ? this.tokens.get(token) : undefined;
    if (!session || session.expiresAt <= Date.now()) throw new HttpError(401, 'unauthorized');
    return session.user;
  }

  private jobJson(job: FakeJob): Record<string, unknown> {
    const out: Record<string, unknown> = {
      id: job.id,
      state: job.state,
      prompt: job.prompt,
      position: job.position,
      etaSeconds: job.etaSeconds,
      cost: job.cost,
      createdAt: new Date(job.createdAt).toISOString(),
      published: job.published,
    };
    // Like the real server: no step count in the job (the events carry it); the video once done.
    if (job.error) out.error = job.error;
    if (job.state === 'succeeded') out.video = { width: 848, height: 480, durationSec: 3, bytes: VIDEO_BYTES.length, url: `/api/mp/jobs/${job.id}/video`, posterUrl: `/api/mp/jobs/${job.id}/poster` };
    return out;
  }

  private ownJob(user: string, id: string): FakeJob {
    const job = this.jobs.get(id);
    if (!job || job.owner !== user) throw new HttpError(404, 'job_not_found');
    return job;
  }

  private galleryJson(entry: GalleryEntry, user: string): Record<string, unknown> {
    const exp = Date.now() + 600_000;
    return {
      id: entry.id, caption: entry.prompt, likes: entry.likedBy.size, liked: entry.likedBy.has(user), mine: entry.owner === user, publishedAt: entry.createdAt,
      width: 848, height: 480, durationSec: 3,
      videoUrl: `/api/mp/jobs/${entry.jobId}/video?exp=${exp}&sig=ok`,
      posterUrl: `/api/mp/jobs/${entry.jobId}/poster?exp=${exp}&sig=ok`,
      expiresAt: exp,
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = req.method ?? 'GET';
    const contentType = req.headers['content-type'];
    const record: RecordedRequest = {
      method,
      path: url.pathname + url.search,
      authorization: req.headers.authorization,
      contentType,
      body: undefined,
    };
    this.requests.push(record);
    try {
      const raw = await readBody(req, this.maxUploadBytes + 4096);
      let json: Record<string, unknown> = {};
      if (contentType?.startsWith('application/json') && raw.length > 0) {
        const parsed: unknown = JSON.parse(raw.toString('utf8'));
        if (typeof parsed !== 'object' || parsed === null) throw new HttpError(400, 'invalid_body');
        json = parsed as Record<string, unknown>;
        record.body = json;
      }
      await this.route(method, url, req, res, json, raw);
    } catch (error) {
      if (error instanceof HttpError) this.fail(res, req, error);
      else if (error instanceof SyntaxError) this.fail(res, req, new HttpError(400, 'invalid_body'));
      else this.send(res, 500, { code: 'internal', message: 'internal error' });
    }
  }

  private async route(method: string, url: URL, req: IncomingMessage, res: ServerResponse, json: Record<string, unknown>, raw: Buffer): Promise<void> {
    const path = url.pathname;
    let m: RegExpExecArray | null = null;
    if (method === 'POST' && path === '/api/mp/login') {
      const code = json.code;
      if (typeof code !== 'string' || !code.startsWith('code:')) throw new HttpError(400, 'bad_code');
      const token = randomUUID();
      const expiresAt = Date.now() + 2 * 3600_000;
      this.tokens.set(token, { user: code.slice(5), expiresAt });
      return this.send(res, 200, { token, expiresAt: new Date(expiresAt).toISOString() });
    }
    if (method === 'GET' && (m = /^\/api\/mp\/jobs\/([\w-]+)\/(video|poster)$/.exec(path)) && url.searchParams.has('sig')) {
      const exp = Number(url.searchParams.get('exp'));
      if (url.searchParams.get('sig') !== 'ok') throw new HttpError(403, 'bad_signature');
      if (!(exp > Date.now())) throw new HttpError(410, 'link_expired');
      const video = m[2] === 'video';
      res.writeHead(200, { 'content-type': video ? 'video/mp4' : 'image/jpeg', 'accept-ranges': 'bytes' });
      res.end(video ? VIDEO_BYTES : POSTER_BYTES);
      return;
    }
    const user = this.user(req);
    if (path.startsWith('/api/mp/boards') || path === '/api/mp/me/nickname') return this.boards.route(method, path, user, json, res, (status, body) => this.send(res, status, body));
    if (method === 'POST' && path === '/api/mp/uploads') {
      if (raw.length > this.maxUploadBytes) throw new HttpError(413, 'too_large');
      const file = multipartFile(raw, String(req.headers['content-type'] ?? ''), 'file');
      if (!file || !isImage(file)) throw new HttpError(422, 'bad_image');
      const imageId = `img-${randomUUID().slice(0, 8)}`;
      this.uploads.set(imageId, user);
      return this.send(res, 201, { imageId, width: 1, height: 1 });
    }
    if (method === 'GET' && path === '/api/mp/me') {
      if (!this.meRoute) return this.send(res, 503, { code: 'internal', message: 'internal error' });
      const held = [...this.jobs.values()].filter((j) => j.owner === user && ['queued', 'running', 'held'].includes(j.state)).reduce((s, j) => s + j.cost, 0);
      const spent = [...this.jobs.values()].filter((j) => j.owner === user && j.state === 'succeeded').reduce((s, j) => s + j.cost, 0);
      const quota = { day: '2026-11-28', timeZone: 'Asia/Shanghai', dailyCredits: this.credits.get(user) ?? this.dailyCredits, spent, held, bonus: 0, available: this.available(user), active: 0, maxConcurrent: 2 };
      return this.send(res, 200, { user: `u-${user}`, tier: 'free', admin: false, quota });
    }
    if (method === 'POST' && path === '/api/mp/jobs') return this.createJob(req, res, user, json);
    if (method === 'GET' && path === '/api/mp/jobs') {
      const jobs = [...this.jobs.values()].filter((j) => j.owner === user).sort((a, b) => b.createdAt - a.createdAt);
      return this.send(res, 200, { jobs: jobs.map((j) => this.jobJson(j)) });
    }
    if ((m = /^\/api\/mp\/jobs\/([\w-]+)$/.exec(path)) && method === 'GET') return this.send(res, 200, this.jobJson(this.ownJob(user, m[1] ?? '')));
    if ((m = /^\/api\/mp\/jobs\/([\w-]+)\/events$/.exec(path)) && method === 'GET' && this.eventsRoute) {
      const job = this.ownJob(user, m[1] ?? '');
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
      if (this.streamsStalled) {
        // Headers, then nothing at all (a proxy that buffers the body).
        res.flushHeaders();
        const set = this.streams.get(job.id) ?? new Set<ServerResponse>();
        this.streams.set(job.id, set);
        set.add(res);
        res.on('close', () => set.delete(res));
        return;
      }
      res.write(`event: job\ndata: ${JSON.stringify(this.jobJson(job))}\n\n`);
      if (['succeeded', 'failed', 'cancelled'].includes(job.state)) return void res.end();
      const set = this.streams.get(job.id) ?? new Set<ServerResponse>();
      this.streams.set(job.id, set);
      set.add(res);
      res.on('close', () => set.delete(res));
      if (job.state === 'running' && job.progress) res.write(`event: step\ndata: ${JSON.stringify({ type: 'step', jobId: job.id, at: Date.now(), state: 'running', step: job.progress.step, totalSteps: job.progress.total })}\n\n`);
      return;
    }
    if ((m = /^\/api\/mp\/jobs\/([\w-]+)\/media$/.exec(path)) && method === 'GET') {
      const job = this.ownJob(user, m[1] ?? '');
      if (job.state !== 'succeeded') throw new HttpError(404, 'not_finished');
      const exp = Date.now() + 600_000;
      return this.send(res, 200, { videoUrl: `/api/mp/jobs/${job.id}/video?exp=${exp}&sig=ok`, posterUrl: `/api/mp/jobs/${job.id}/poster?exp=${exp}&sig=ok`, expiresAt: exp });
    }
    if ((m = /^\/api\/mp\/jobs\/([\w-]+)\/cancel$/.exec(path)) && method === 'POST') {
      const job = this.ownJob(user, m[1] ?? '');
      if (job.state !== 'queued' && job.state !== 'running') throw new HttpError(409, 'already_finished');
      this.update(job.id, { state: 'cancelled' });
      return this.send(res, 200, { ...this.jobJson(job), cancel: 'cancelled', message: MESSAGES.cancelled?.['zh-CN'] });
    }
    if ((m = /^\/api\/mp\/jobs\/([\w-]+)\/(video|poster)$/.exec(path)) && method === 'GET') {
      const job = this.ownJob(user, m[1] ?? '');
      if (job.state !== 'succeeded') throw new HttpError(404, 'not_finished');
      const video = m[2] === 'video';
      res.writeHead(200, { 'content-type': video ? 'video/mp4' : 'image/jpeg', 'accept-ranges': 'bytes' });
      res.end(video ? VIDEO_BYTES : POSTER_BYTES);
      return;
    }
    if ((m = /^\/api\/mp\/jobs\/([\w-]+)\/publish$/.exec(path)) && method === 'POST') {
      const job = this.ownJob(user, m[1] ?? '');
      if (job.state !== 'succeeded') throw new HttpError(409, 'not_finished');
      if (job.published) throw new HttpError(409, 'already_published');
      job.published = true;
      const entry: GalleryEntry = { id: job.id, owner: user, jobId: job.id, prompt: typeof json.caption === 'string' ? json.caption : job.prompt, likedBy: new Set(), createdAt: ++this.clock, reports: [] };
      this.gallery.set(job.id, entry);
      return this.send(res, 201, this.galleryJson(entry, user));
    }
    if ((m = /^\/api\/mp\/jobs\/([\w-]+)\/unpublish$/.exec(path)) && method === 'POST') {
      const entry = this.gallery.get(m[1] ?? '');
      if (!entry) throw new HttpError(404, 'not_found');
      if (entry.owner !== user) throw new HttpError(403, 'not_owner');
      this.gallery.delete(entry.id);
      const job = this.jobs.get(entry.jobId);
      if (job) job.published = false;
      return this.send(res, 200, { id: entry.id, published: false });
    }
    if (method === 'GET' && path === '/api/mp/gallery') {
      const sort = url.searchParams.get('sort') === 'liked' ? 'liked' : 'newest';
      const entries = [...this.gallery.values()].sort((a, b) => (sort === 'liked' ? b.likedBy.size - a.likedBy.size : 0) || b.createdAt - a.createdAt);
      const from = Number(url.searchParams.get('cursor') ?? 0);
      const page = entries.slice(from, from + this.galleryPageSize);
      const next = from + this.galleryPageSize < entries.length ? { nextCursor: String(from + this.galleryPageSize) } : {};
      return this.send(res, 200, { items: page.map((e) => this.galleryJson(e, user)), ...next });
    }
    if ((m = /^\/api\/mp\/gallery\/([\w-]+)\/(like|report)$/.exec(path)) && method === 'POST') {
      const entry = this.gallery.get(m[1] ?? '');
      if (!entry) throw new HttpError(404, 'not_found');
      if (m[2] === 'like') {
        if (json.like === false) entry.likedBy.delete(user);
        else entry.likedBy.add(user);
        return this.send(res, 200, { id: entry.id, likes: entry.likedBy.size, liked: entry.likedBy.has(user) });
      }
      const reason = json.reason;
      if (reason !== undefined && !['sexual', 'violence', 'politics', 'illegal', 'ads', 'copyright', 'other'].includes(String(reason))) throw new HttpError(400, 'invalid_body');
      entry.reports.push({ user, reason: String(reason ?? 'other') });
      return this.send(res, 200, { id: entry.id, reported: true });
    }
    throw new HttpError(404, 'not_found');
  }

  private createJob(req: IncomingMessage, res: ServerResponse, user: string, json: Record<string, unknown>): void {
    const { prompt, imageId, aspect, duration, style, draft, seed, requestId, subscribe } = json;
    if (requestId !== undefined && (typeof requestId !== 'string' || !/^[A-Za-z0-9_-]{8,64}$/.test(requestId))) throw new HttpError(400, 'invalid_body');
    const key = requestId;
    if (typeof key === 'string') {
      const existing = this.idempotency.get(`${user}:${key}`);
      const job = existing ? this.jobs.get(existing) : undefined;
      if (job) return this.send(res, 200, this.jobJson(job));
    }
    if (subscribe !== undefined && typeof subscribe !== 'boolean') throw new HttpError(400, 'invalid_body');
    const valid = typeof prompt === 'string' && prompt.trim().length > 0 && prompt.length <= 1500
      && (imageId === undefined || typeof imageId === 'string')
      && (aspect === undefined || ['16:9', '9:16', '1:1', '4:3', '3:4'].includes(String(aspect)))
      && (duration === undefined || (typeof duration === 'number' && duration >= 1 && duration <= (draft === false ? 10 : 5)))
      && (style === undefined || (typeof style === 'string' && style.length <= 64))
      && (draft === undefined || typeof draft === 'boolean')
      && (seed === undefined || (typeof seed === 'number' && Number.isInteger(seed) && seed >= 0));
    if (!valid) throw new HttpError(400, 'invalid_body');
    if (BLOCKED_WORDS.some((w) => prompt.toLowerCase().includes(w))) throw new HttpError(403, 'moderation_blocked');
    if (imageId !== undefined && this.uploads.get(imageId) !== user) throw new HttpError(404, 'image_not_found');
    const isDraft = draft !== false;
    const cost = costOf(typeof duration === 'number' ? duration : isDraft ? 3 : 5, isDraft);
    const available = this.available(user);
    if (cost > available) throw new HttpError(402, 'quota_credits', { cost, available });
    const id = `job-${randomUUID().slice(0, 8)}`;
    const queued = [...this.jobs.values()].filter((j) => j.state === 'queued').length;
    const job: FakeJob = {
      id, owner: user, state: 'queued', prompt, position: queued + 1, etaSeconds: 30 * (queued + 1), cost,
      createdAt: ++this.clock, published: false, body: json,
    };
    this.jobs.set(id, job);
    if (typeof key === 'string') this.idempotency.set(`${user}:${key}`, id);
    if (this.dropNextJobAnswer) {
      this.dropNextJobAnswer = false;
      res.socket?.destroy();
      return;
    }
    this.send(res, 201, { ...this.jobJson(job), creditsLeft: this.available(user), message: `queued #${job.position}` });
  }
}

interface FakeShot {
  author: string;
  authorName: string;
  text: string;
  voters: Set<string>;
  hasImage: boolean;
}

export interface FakeBoard {
  id: string;
  theme: string;
  starter: string;
  state: 'collecting' | 'locked' | 'rendering' | 'done' | 'cancelled';
  shots: FakeShot[];
  /** What POST /api/mp/boards was sent. */
  body: Record<string, unknown>;
  jobId?: string;
}

/**
 * The storyboard routes of the fake API, as the README states them: a board per unguessable id,
 * shots (blocked words refused), votes, the starter's actions, the board's event stream (the board,
 * then what a test pushes) and the video's signed links once `finish()` is called. No cut by votes
 * and no cost model: the real API's tests cover those.
 */
export class FakeBoards {
  readonly boards = new Map<string, FakeBoard>();
  readonly nicknames = new Map<string, string>();
  private readonly created = new Map<string, string>();
  private readonly streams = new Map<string, Set<ServerResponse>>();

  private nameOf(user: string): string {
    return this.nicknames.get(user) ?? `mp-${user.slice(0, 4)}`;
  }

  json(b: FakeBoard, user: string): Record<string, unknown> {
    return {
      id: b.id, theme: b.theme, state: b.state, starterName: this.nameOf(b.starter), seed: 1, aspect: b.body.aspect ?? '9:16', mode: b.body.draft === false ? 'final' : 'draft',
      shots: b.shots.map((s, i) => ({ n: i + 1, authorName: s.authorName, text: s.text, votes: s.voters.size, voted: s.voters.has(user), mine: s.author === user, hasImage: s.hasImage, inCut: true })),
      maxShots: 6, cost: b.shots.length, policy: 'starter', yourCost: b.starter === user ? b.shots.length : 0, etaSeconds: 30 * b.shots.length,
      ...(b.jobId === undefined ? {} : { jobId: b.jobId, render: { state: b.state === 'done' ? 'succeeded' : 'running', videoReady: b.state === 'done' } }),
      you: { name: this.nameOf(user), starter: b.starter === user, contributor: b.starter === user || b.shots.some((s) => s.author === user) },
      sharePath: `pages/board/board?id=${b.id}`, text: b.theme,
    };
  }

  /** Sends an event to the board's open streams (a `board` event when none is given: the board as it is). */
  push(id: string, event: string, data?: Record<string, unknown>): void {
    const b = this.boards.get(id);
    for (const res of this.streams.get(id) ?? []) {
      const body = data ?? (b === undefined ? {} : this.json(b, String((res as ServerResponse & { user?: string }).user)));
      res.write(`event: ${event}\ndata: ${JSON.stringify(body)}\n\n`);
    }
  }

  /** The render finished: the board is done, its streams get the board and end. */
  finish(id: string): void {
    const b = this.boards.get(id);
    if (b === undefined) return;
    b.state = 'done';
    this.push(id, 'rendered', { type: 'rendered', jobId: b.jobId });
    this.push(id, 'board');
    for (const res of this.streams.get(id) ?? []) res.end();
  }

  streamCount(id: string): number {
    return this.streams.get(id)?.size ?? 0;
  }

  endStreams(): void {
    for (const set of this.streams.values()) for (const res of set) res.end();
  }

  route(method: string, path: string, user: string, json: Record<string, unknown>, res: ServerResponse, send: (status: number, body: unknown) => void): void {
    if (path === '/api/mp/me/nickname' && method === 'PUT') {
      if (typeof json.nickname !== 'string' || json.nickname.trim() === '') throw new HttpError(400, 'invalid_body');
      this.nicknames.set(user, json.nickname.trim());
      return send(200, { nickname: json.nickname.trim() });
    }
    const answer = (b: FakeBoard, status = 200, extra: Record<string, unknown> = {}): void => send(status, { ok: true, code: 'ok', boardId: b.id, board: this.json(b, user), ...extra });
    if (path === '/api/mp/boards' && method === 'POST') {
      if (typeof json.theme !== 'string' || json.theme.trim() === '') throw new HttpError(400, 'invalid_body');
      const key = `${user}:${String(json.requestId)}`;
      const prior = this.created.get(key);
      const existing = prior === undefined ? undefined : this.boards.get(prior);
      if (existing) return answer(existing);
      const b: FakeBoard = { id: `b_${randomUUID().replace(/-/g, '').slice(0, 22)}`, theme: json.theme, starter: user, state: 'collecting', shots: [], body: json };
      this.boards.set(b.id, b);
      this.created.set(key, b.id);
      return answer(b, 201, { message: 'started' });
    }
    const m = /^\/api\/mp\/boards\/([\w-]+)(?:\/(shots|votes|render|lock|unlock|cancel|events|media)(?:\/(\d+))?)?$/.exec(path);
    const b = m === null ? undefined : this.boards.get(m[1] ?? '');
    if (m === null || b === undefined) throw new HttpError(404, 'board_not_found');
    const what = m[2];
    const n = Number(m[3] ?? json.n);
    const shot = b.shots[n - 1];
    if (what === undefined && method === 'GET') return send(200, this.json(b, user));
    if (what === 'events' && method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
      res.write(`event: board\ndata: ${JSON.stringify(this.json(b, user))}\n\n`);
      if (b.state === 'done' || b.state === 'cancelled') return void res.end();
      const set = this.streams.get(b.id) ?? new Set<ServerResponse>();
      this.streams.set(b.id, set);
      Object.assign(res, { user });
      set.add(res);
      res.on('close', () => set.delete(res));
      return;
    }
    if (what === 'media' && method === 'GET') {
      if (b.state !== 'done' || b.jobId === undefined) throw new HttpError(404, 'not_finished');
      const exp = Date.now() + 600_000;
      return send(200, { jobId: b.jobId, videoUrl: `/api/mp/jobs/${b.jobId}/video?exp=${exp}&sig=ok`, expiresAt: exp });
    }
    if (what === 'shots' && method === 'POST' && m[3] === undefined) {
      const text = typeof json.text === 'string' ? json.text : '';
      if (text.trim() === '') throw new HttpError(400, 'invalid_body');
      if (BLOCKED_WORDS.some((w) => text.includes(w))) throw new HttpError(403, 'moderation_blocked');
      b.shots.push({ author: user, authorName: this.nameOf(user), text, voters: new Set(), hasImage: typeof json.imageId === 'string' });
      return answer(b, 201, { message: `shot ${b.shots.length} added` });
    }
    if (what === 'shots' && shot !== undefined && (method === 'POST' || method === 'DELETE')) {
      if (shot.author !== user && !(method === 'DELETE' && b.starter === user)) throw new HttpError(403, 'not_author');
      if (method === 'DELETE') b.shots.splice(n - 1, 1);
      else shot.text = String(json.text);
      return answer(b);
    }
    if (what === 'votes' && method === 'POST' && shot !== undefined) {
      shot.voters.add(user);
      return answer(b);
    }
    if (what === 'votes' && method === 'DELETE' && shot !== undefined) {
      if (!shot.voters.delete(user)) throw new HttpError(409, 'not_voted');
      return answer(b);
    }
    if ((what === 'render' || what === 'lock' || what === 'unlock' || what === 'cancel') && method === 'POST') {
      if (b.starter !== user) throw new HttpError(403, 'not_starter');
      b.state = what === 'render' ? 'rendering' : what === 'lock' ? 'locked' : what === 'unlock' ? 'collecting' : 'cancelled';
      if (what === 'render') b.jobId = `c${b.id}`;
      return answer(b, 200, what === 'render' ? { jobId: b.jobId } : {});
    }
    throw new HttpError(404, 'board_not_found');
  }
}
