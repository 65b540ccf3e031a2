import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

/** One Web API call as the fake received it. */
export interface FakeCall {
  method: string;
  args: Record<string, unknown>;
  token: string | undefined;
  at: number;
}

export interface FakeMessage {
  channel: string;
  ts: string;
  text: string;
  blocks?: unknown;
  thread_ts?: string;
  user?: string;
  deleted?: boolean;
  history: string[];
}

export interface FakeFile {
  id: string;
  name: string;
  mimetype: string;
  bytes: Buffer;
  title?: string;
  /** Set by files.completeUploadExternal. */
  shares: Array<{ channel: string; thread_ts?: string; initial_comment?: string }>;
  uploaded: boolean;
  deleted?: boolean;
}

export interface FakeSlackApiOptions {
  botToken: string;
  appToken?: string;
  teamId?: string;
  botUserId?: string;
}

type Failure = ({ kind: 'ratelimit'; retryAfter: number } | { kind: 'error'; error: string } | { kind: 'status'; status: number } | { kind: 'lost' }) & { when?: (args: Record<string, unknown>) => boolean };

/** How a call answers while Slack is down: HTTP 503, `{ ok: false, error: 'service_unavailable' }`, or a dropped connection. */
export type OutageKind = 'http_503' | 'service_unavailable' | 'drop';

export interface Outage {
  /** Web API methods (and `upload` for the upload URL) that are down. */
  methods: string[];
  /** Asked at each call of those methods: whether Slack is still down (for that method). */
  down: (method: string) => boolean;
  /** Answers cycle through these, call after call. Default all three. */
  kinds?: OutageKind[];
}

/**
 * A local stand-in for Slack's Web API, file hosts and Socket Mode, following Slack's documented
 * behaviour closely enough for the real @slack/web-api, @slack/bolt and @slack/socket-mode to talk
 * to it over real sockets: `POST /api/<method>` (form or JSON bodies, `Authorization: Bearer`),
 * `{ ok: false, error }` answers with HTTP 200, `429` with `Retry-After` (seconds), the external
 * upload flow (files.getUploadURLExternal → POST bytes to the upload URL →
 * files.completeUploadExternal), private file downloads with the bot token, and Socket Mode
 * (apps.connections.open with the app token → a WebSocket that says hello, sends envelopes and
 * takes acks by envelope_id).
 */
export class FakeSlackApi {
  readonly calls: FakeCall[] = [];
  readonly messages = new Map<string, FakeMessage>();
  readonly ephemerals: Array<{ channel: string; user: string; text: string; thread_ts?: string }> = [];
  readonly files = new Map<string, FakeFile>();
  readonly views = new Map<string, unknown>();
  readonly userLocales = new Map<string, string>();
  /** users.info's profile of a user: display name, real name, admin or owner of the workspace. */
  readonly userProfiles = new Map<string, { displayName?: string; realName?: string; isAdmin?: boolean; isOwner?: boolean }>();
  readonly uploadAttempts: string[] = [];
  /** Calls answered with an outage failure, in order. */
  readonly outageHits: Array<{ method: string; kind: OutageKind; at: number }> = [];
  /** Image URLs of blocks Slack fetched (as it does to show an image block), with the status it got. */
  readonly fetchedImages: Array<{ url: string; status: number; contentType: string | null }> = [];
  private outageNow: Outage | undefined;
  readonly teamId: string;
  readonly botUserId: string;
  private readonly failures = new Map<string, Failure[]>();
  private readonly server: Server;
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly sockets = new Set<WebSocket>();
  private readonly acks = new Map<string, (payload: unknown) => void>();
  private tsCounter = 0;
  private idCounter = 0;
  private port = 0;

  constructor(private readonly opts: FakeSlackApiOptions) {
    this.teamId = opts.teamId ?? 'T0FAKE';
    this.botUserId = opts.botUserId ?? 'UBOT';
    this.server = createServer((req, res) => {
      this.route(req, res).catch((err: unknown) => {
        res.statusCode = 500;
        res.end(String(err));
      });
    });
    this.server.on('upgrade', (req, socket, head) => {
      if (!(req.url ?? '').startsWith('/socket')) {
        socket.destroy();
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onSocket(ws));
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** The Web API base, as SLACK_API_BASE_URL. */
  get apiUrl(): string {
    return `http://127.0.0.1:${this.port}/api/`;
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The next `times` calls of `method` (or `upload` for the upload URL) answer 429 with Retry-After. */
  rateLimit(method: string, times: number, retryAfterSeconds = 1): void {
    this.queueFailure(method, times, { kind: 'ratelimit', retryAfter: retryAfterSeconds });
  }

  /**
   * The next `times` calls of `method` take effect but their answer is lost (the connection drops
   * after Slack did the work): what a client cannot tell from a call that never arrived.
   */
  loseAnswer(method: string, times = 1): void {
    this.queueFailure(method, times, { kind: 'lost' });
  }

  /** The next `times` uploads to an upload URL answer this HTTP status (413: the file is too large). */
  failUpload(status: number, times = 1): void {
    this.queueFailure('upload', times, { kind: 'status', status });
  }

  /** The next `times` calls of `method` (those `when` accepts) answer `{ ok: false, error }`. */
  failWith(method: string, error: string, times = 1, when?: (args: Record<string, unknown>) => boolean): void {
    this.queueFailure(method, times, { kind: 'error', error, ...(when === undefined ? {} : { when }) });
  }

  /** Slack is down for `methods` while `down()` says so: each call fails with the next of `kinds`. */
  outage(o: Outage | undefined): void {
    this.outageNow = o;
  }

  /** The outage failure for this call, if the method is down now. */
  private outageFor(method: string): OutageKind | undefined {
    const o = this.outageNow;
    if (o === undefined || !o.methods.includes(method) || !o.down(method)) return undefined;
    const kinds = o.kinds ?? ['http_503', 'service_unavailable', 'drop'];
    const kind = kinds[this.outageHits.length % kinds.length] as OutageKind;
    this.outageHits.push({ method, kind, at: Date.now() });
    return kind;
  }

  /** Answers an outage failure; true when it did. */
  private answerOutage(method: string, req: IncomingMessage, res: ServerResponse): boolean {
    const kind = this.outageFor(method);
    if (kind === undefined) return false;
    if (kind === 'drop') req.socket.destroy();
    else if (kind === 'http_503') send(res, 503, '<html><body>Service Unavailable</body></html>', { 'Content-Type': 'text/html' });
    else if (method === 'upload') send(res, 500, 'service_unavailable', { 'Content-Type': 'text/plain' });
    else json(res, { ok: false, error: 'service_unavailable' });
    return true;
  }

  /**
   * Slack downloads the image of an image block when a message carries one, and refuses the
   * message (`invalid_blocks`) when it cannot: so does the fake, for http(s) URLs.
   */
  private async imagesReachable(blocks: unknown): Promise<boolean> {
    const list = (typeof blocks === 'string' ? (JSON.parse(blocks) as unknown) : blocks) as Array<{ type?: string; image_url?: string }> | undefined;
    if (!Array.isArray(list)) return true;
    for (const b of list) {
      if (b.type !== 'image' || typeof b.image_url !== 'string') continue;
      if (!/^https?:\/\//.test(b.image_url)) return false;
      try {
        const r = await fetch(b.image_url, { signal: AbortSignal.timeout(5000) });
        await r.arrayBuffer();
        this.fetchedImages.push({ url: b.image_url, status: r.status, contentType: r.headers.get('content-type') });
        if (!r.ok || !(r.headers.get('content-type') ?? '').startsWith('image/')) return false;
      } catch {
        this.fetchedImages.push({ url: b.image_url, status: 0, contentType: null });
        return false;
      }
    }
    return true;
  }

  private takeFailure(method: string, args: Record<string, unknown>): Failure | undefined {
    const list = this.failures.get(method);
    const i = list?.findIndex((f) => f.when === undefined || f.when(args)) ?? -1;
    if (list === undefined || i < 0) return undefined;
    return list.splice(i, 1)[0];
  }

  private queueFailure(method: string, times: number, f: Failure): void {
    const list = this.failures.get(method) ?? [];
    for (let i = 0; i < times; i++) list.push(f);
    this.failures.set(method, list);
  }

  callsOf(method: string): FakeCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  /** A file a user shared (a reference image): downloadable with the bot token at url_private_download. */
  addUserFile(bytes: Buffer, mimetype: string, name: string): { id: string; name: string; mimetype: string; size: number; url_private: string; url_private_download: string; permalink: string } {
    const id = this.newId('F');
    this.files.set(id, { id, name, mimetype, bytes, shares: [], uploaded: true });
    return { ...this.fileJson(id), size: bytes.length };
  }

  private fileJson(id: string): { id: string; name: string; mimetype: string; size: number; url_private: string; url_private_download: string; permalink: string } {
    const f = this.files.get(id);
    if (f === undefined) throw new Error(`no file ${id}`);
    const url = `${this.origin}/files-pri/${this.teamId}-${id}/${encodeURIComponent(f.name)}`;
    return { id, name: f.name, mimetype: f.mimetype, size: f.bytes.length, url_private: url, url_private_download: `${url}?download=1`, permalink: `https://fake.slack.com/files/${this.botUserId}/${id}/${encodeURIComponent(f.name)}` };
  }

  /** Messages of a channel (with the thread they are in), not deleted. */
  channelMessages(channel: string): FakeMessage[] {
    return [...this.messages.values()].filter((m) => m.channel === channel && m.deleted !== true);
  }

  /** Files shared into a channel by files.completeUploadExternal. */
  sharedFiles(channel?: string): FakeFile[] {
    return [...this.files.values()].filter((f) => f.shares.some((s) => channel === undefined || s.channel === channel));
  }

  // --- Socket Mode -----------------------------------------------------------------------------

  private onSocket(ws: WebSocket): void {
    this.sockets.add(ws);
    ws.on('close', () => this.sockets.delete(ws));
    ws.on('message', (data) => {
      let msg: { envelope_id?: string; payload?: unknown };
      try {
        msg = JSON.parse(String(data)) as { envelope_id?: string; payload?: unknown };
      } catch {
        return;
      }
      if (typeof msg.envelope_id === 'string') {
        this.acks.get(msg.envelope_id)?.(msg.payload);
        this.acks.delete(msg.envelope_id);
      }
    });
    ws.send(JSON.stringify({ type: 'hello', num_connections: this.sockets.size, debug_info: { host: 'fake', approximate_connection_time: 3600 }, connection_info: { app_id: 'A0FAKE' } }));
  }

  /** Whether a Socket Mode client is connected. */
  get socketConnected(): boolean {
    return this.sockets.size > 0;
  }

  /**
   * Sends one envelope (`slash_commands`, `interactive`, `events_api`) to a connected Socket Mode
   * client and resolves with the payload of its ack.
   */
  async sendEnvelope(type: 'slash_commands' | 'interactive' | 'events_api', payload: Record<string, unknown>, opts: { retryAttempt?: number; timeoutMs?: number } = {}): Promise<unknown> {
    const ws = [...this.sockets][0];
    if (ws === undefined) throw new Error('no socket mode client connected');
    const envelopeId = `env-${randomBytes(6).toString('hex')}`;
    const acked = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`envelope ${envelopeId} not acknowledged`)), opts.timeoutMs ?? 5000);
      this.acks.set(envelopeId, (p) => {
        clearTimeout(timer);
        resolve(p);
      });
    });
    ws.send(JSON.stringify({
      envelope_id: envelopeId, type, payload, accepts_response_payload: type !== 'events_api',
      ...(type === 'events_api' ? { retry_attempt: opts.retryAttempt ?? 0, retry_reason: opts.retryAttempt ? 'timeout' : '' } : {}),
    }));
    return acked;
  }

  // --- HTTP ------------------------------------------------------------------------------------

  private newTs(): string {
    this.tsCounter += 1;
    return `${Math.floor(Date.now() / 1000)}.${String(this.tsCounter).padStart(6, '0')}`;
  }

  private newId(prefix: string): string {
    this.idCounter += 1;
    return `${prefix}${String(this.idCounter).padStart(8, '0')}`;
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.origin);
    const body = await readBody(req);
    const auth = req.headers.authorization;
    const bearer = typeof auth === 'string' && auth.startsWith('Bearer ') ? auth.slice(7) : undefined;

    if (url.pathname.startsWith('/upload/') && req.method === 'POST') {
      const id = url.pathname.slice('/upload/'.length);
      this.uploadAttempts.push(id);
      if (this.answerOutage('upload', req, res)) return;
      const fail = this.takeFailure('upload', {});
      if (fail?.kind === 'ratelimit') return send(res, 429, 'rate limited', { 'Retry-After': String(fail.retryAfter) });
      if (fail?.kind === 'status') return send(res, fail.status, fail.status === 413 ? 'Request Entity Too Large' : 'error', { 'Content-Type': 'text/plain' });
      const file = this.files.get(id);
      if (file === undefined) return send(res, 404, 'no such upload');
      file.bytes = body;
      file.uploaded = true;
      return send(res, 200, `OK - ${body.length}`, { 'Content-Type': 'text/plain' });
    }
    if (url.pathname.startsWith('/files-pri/') && req.method === 'GET') {
      if (bearer !== this.opts.botToken) return send(res, 302, '', { Location: `${this.origin}/login` });
      const id = url.pathname.split('/')[2]?.split('-')[1] ?? '';
      const file = this.files.get(id);
      if (file === undefined) return send(res, 404, 'not found');
      return send(res, 200, file.bytes, { 'Content-Type': file.mimetype, 'Content-Length': String(file.bytes.length) });
    }
    if (!url.pathname.startsWith('/api/')) return send(res, 404, 'not found');

    const method = url.pathname.slice('/api/'.length);
    const args = parseArgs(body, String(req.headers['content-type'] ?? ''));
    const token = bearer ?? (typeof args.token === 'string' ? args.token : undefined);
    this.calls.push({ method, args, token, at: Date.now() });
    const fail = this.takeFailure(method, args);
    if (fail?.kind === 'ratelimit') return json(res, { ok: false, error: 'ratelimited' }, 429, { 'Retry-After': String(fail.retryAfter) });
    if (fail?.kind === 'error') return json(res, { ok: false, error: fail.error });
    if (fail?.kind === 'lost') {
      this.call(method, args);
      req.socket.destroy();
      return;
    }
    if (this.answerOutage(method, req, res)) return;

    const wantApp = method === 'apps.connections.open';
    if (token === undefined) return json(res, { ok: false, error: 'not_authed' });
    if (wantApp ? token !== this.opts.appToken : token !== this.opts.botToken) return json(res, { ok: false, error: 'invalid_auth' });
    if ((method === 'chat.update' || method === 'chat.postMessage') && !(await this.imagesReachable(args.blocks))) {
      return json(res, { ok: false, error: 'invalid_blocks', errors: ['downloading image failed'] });
    }
    return json(res, this.call(method, args));
  }

  private call(method: string, a: Record<string, unknown>): Record<string, unknown> {
    const s = (k: string): string | undefined => (typeof a[k] === 'string' ? (a[k] as string) : undefined);
    switch (method) {
      case 'auth.test':
        return { ok: true, url: 'https://fake.slack.com/', team: 'Fake', user: 'framecast', team_id: this.teamId, user_id: this.botUserId, bot_id: 'B0FAKE', is_enterprise_install: false };
      case 'apps.connections.open':
        return { ok: true, url: `ws://127.0.0.1:${this.port}/socket?ticket=${randomBytes(4).toString('hex')}` };
      case 'chat.postMessage': {
        const channel = s('channel');
        if (channel === undefined) return { ok: false, error: 'channel_not_found' };
        if (s('text') === undefined && a.blocks === undefined) return { ok: false, error: 'no_text' };
        const ts = this.newTs();
        const m: FakeMessage = { channel, ts, text: s('text') ?? '', blocks: a.blocks, user: this.botUserId, history: [s('text') ?? ''], ...(s('thread_ts') === undefined ? {} : { thread_ts: s('thread_ts') as string }) };
        this.messages.set(`${channel}:${ts}`, m);
        return { ok: true, channel, ts, message: { type: 'message', text: m.text, ts, user: this.botUserId } };
      }
      case 'chat.update': {
        const m = this.messages.get(`${s('channel')}:${s('ts')}`);
        if (m === undefined || m.deleted === true) return { ok: false, error: 'message_not_found' };
        m.text = s('text') ?? m.text;
        m.blocks = a.blocks ?? m.blocks;
        m.history.push(m.text);
        return { ok: true, channel: m.channel, ts: m.ts, text: m.text };
      }
      case 'chat.delete': {
        const m = this.messages.get(`${s('channel')}:${s('ts')}`);
        if (m === undefined || m.deleted === true) return { ok: false, error: 'message_not_found' };
        m.deleted = true;
        return { ok: true, channel: m.channel, ts: m.ts };
      }
      case 'chat.postEphemeral': {
        const channel = s('channel');
        const user = s('user');
        if (channel === undefined || user === undefined) return { ok: false, error: 'channel_not_found' };
        this.ephemerals.push({ channel, user, text: s('text') ?? '', ...(s('thread_ts') === undefined ? {} : { thread_ts: s('thread_ts') as string }) });
        return { ok: true, message_ts: this.newTs() };
      }
      case 'files.getUploadURLExternal': {
        const filename = s('filename');
        const length = Number(a.length);
        if (filename === undefined || !Number.isInteger(length) || length <= 0) return { ok: false, error: 'invalid_arguments' };
        const id = this.newId('F');
        this.files.set(id, { id, name: filename, mimetype: 'video/mp4', bytes: Buffer.alloc(0), shares: [], uploaded: false });
        return { ok: true, upload_url: `${this.origin}/upload/${id}`, file_id: id };
      }
      case 'files.completeUploadExternal': {
        const list = (typeof a.files === 'string' ? JSON.parse(a.files) : a.files) as Array<{ id: string; title?: string }> | undefined;
        if (!Array.isArray(list) || list.length === 0) return { ok: false, error: 'invalid_arguments' };
        for (const f of list) if (this.files.get(f.id)?.uploaded !== true) return { ok: false, error: 'file_not_found' };
        const channel = s('channel_id');
        const out = [];
        for (const f of list) {
          const file = this.files.get(f.id) as FakeFile;
          if (f.title !== undefined) file.title = f.title;
          if (channel !== undefined) file.shares.push({ channel, ...(s('thread_ts') === undefined ? {} : { thread_ts: s('thread_ts') as string }), ...(s('initial_comment') === undefined ? {} : { initial_comment: s('initial_comment') as string }) });
          out.push({ id: file.id, title: file.title ?? file.name });
        }
        return { ok: true, files: out };
      }
      case 'files.list': {
        // Newest first, the files shared into `channel` (or all), not deleted; `count` per page.
        const channel = s('channel');
        const count = Math.min(1000, Math.max(1, Number(a.count ?? 100) || 100));
        const list = [...this.files.values()]
          .filter((f) => f.deleted !== true && f.uploaded && f.shares.length > 0 && (channel === undefined || f.shares.some((sh) => sh.channel === channel)))
          .reverse()
          .slice(0, count)
          .map((f) => ({ ...this.fileJson(f.id), channels: f.shares.map((sh) => sh.channel) }));
        return { ok: true, files: list, paging: { count, total: list.length, page: 1, pages: 1 } };
      }
      case 'files.info': {
        const id = s('file') ?? '';
        if (!this.files.has(id) || this.files.get(id)?.deleted === true) return { ok: false, error: 'file_not_found' };
        return { ok: true, file: this.fileJson(id) };
      }
      case 'files.delete': {
        const f = this.files.get(s('file') ?? '');
        if (f === undefined || f.deleted === true) return { ok: false, error: 'file_not_found' };
        f.deleted = true;
        return { ok: true };
      }
      case 'views.publish': {
        const user = s('user_id');
        if (user === undefined) return { ok: false, error: 'invalid_arguments' };
        this.views.set(user, typeof a.view === 'string' ? JSON.parse(a.view) : a.view);
        return { ok: true, view: { id: this.newId('V') } };
      }
      case 'users.info': {
        const user = s('user') ?? '';
        const p = this.userProfiles.get(user) ?? {};
        return {
          ok: true,
          user: {
            id: user, team_id: this.teamId, name: user.toLowerCase(), real_name: p.realName ?? '', locale: this.userLocales.get(user) ?? 'en-US',
            is_admin: p.isAdmin === true, is_owner: p.isOwner === true, profile: { display_name: p.displayName ?? '', real_name: p.realName ?? '' },
          },
        };
      }
      default:
        return { ok: false, error: 'unknown_method' };
    }
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A form (values that look like JSON parsed, as the SDK sends arrays and objects) or a JSON body. */
function parseArgs(body: Buffer, contentType: string): Record<string, unknown> {
  const text = body.toString('utf8');
  if (text === '') return {};
  if (contentType.includes('application/json')) return JSON.parse(text) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of new URLSearchParams(text)) {
    if (/^[[{]/.test(v)) {
      try {
        out[k] = JSON.parse(v);
        continue;
      } catch {
        // a plain string that starts with a bracket
      }
    }
    out[k] = v;
  }
  return out;
}

function send(res: ServerResponse, status: number, body: string | Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(status, headers);
  res.end(body);
}

function json(res: ServerResponse, body: unknown, status = 200, headers: Record<string, string> = {}): void {
  send(res, status, JSON.stringify(body), { 'Content-Type': 'application/json; charset=utf-8', ...headers });
}
