import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

/** One request the fake REST API received. */
export interface FakeCall {
  method: string;
  /** Path under /api/v10 (query removed), e.g. `/webhooks/app/token/messages/@original`. */
  path: string;
  query: string;
  /** The JSON body, or multipart's payload_json. */
  json: Record<string, unknown> | undefined;
  files: Array<{ field: string; filename: string; contentType: string; size: number; data: Buffer }>;
  authorization: string | undefined;
  at: number;
  /** Refused by an outage (a 5xx or a dropped connection). */
  refused?: boolean;
  /** Answered with an injected status (a 429 of rateLimit, an error of fail) instead of being handled. */
  injected?: number;
}

interface Injected {
  match: RegExp;
  left: number;
  answer: () => { status: number; headers?: Record<string, string>; body: unknown };
}

/** An outage (see FakeDiscord.outage). */
export interface FakeOutage {
  /** Requests refused so far. */
  readonly refused: number;
  /** Discord is back: matching requests are answered normally again. */
  end(): void;
}

interface Outage {
  match: RegExp;
  mode: 'error' | 'drop';
  status: number;
  refused: number;
  on: boolean;
}

export interface FakeDiscordOptions {
  applicationId?: string;
  botUserId?: string;
  /** The heartbeat interval HELLO asks for. Default 41250 ms, as Discord sends. */
  heartbeatIntervalMs?: number;
}

let messageSeq = 1_300_000_000_000_000_000n;

/**
 * Discord's REST API and gateway, faked on one local port for discord.js and @discordjs/rest to
 * talk to over real sockets: GET /gateway/bot (pointing at the fake gateway), interaction callbacks,
 * webhook message edits (multipart files), follow-ups, channel messages, guild roles, command
 * registration, a CDN for attachments; 429s and errors injected on demand. The gateway speaks
 * HELLO / IDENTIFY / READY, acknowledges heartbeats and dispatches what a test sends.
 */
export class FakeDiscord {
  readonly applicationId: string;
  readonly botUserId: string;
  readonly calls: FakeCall[] = [];
  readonly identifies: unknown[] = [];
  /** Heartbeats (op 1) received, each answered with a HEARTBEAT_ACK (op 11). */
  heartbeats = 0;
  /** Gateway connections opened (a client that missed its acks would reconnect). */
  connections = 0;
  /** RESUMEs received (each answered with RESUMED). */
  resumes = 0;
  private readonly heartbeatIntervalMs: number;
  /** Interaction tokens Discord no longer accepts (older than 15 minutes). */
  readonly expiredTokens = new Set<string>();
  roles: Array<{ id: string; name: string }> = [];
  /**
   * Channels the bot can post in (guild text channels, threads, DMs) by id, with their type. When
   * `strictChannels` is on, a message posted anywhere else is refused as Discord does (404,
   * Unknown Channel).
   */
  readonly channels = new Map<string, { type: number; parentId?: string }>();
  strictChannels = false;
  private readonly cdn = new Map<string, { data: Buffer; contentType: string }>();
  private readonly injected: Injected[] = [];
  private readonly outages: Outage[] = [];
  private readonly sockets = new Set<WebSocket>();
  /** Connections with a session (after READY or RESUMED): dispatches go to these. */
  private readonly live = new Set<WebSocket>();
  private readonly sent: Array<{ s: number; frame: string }> = [];
  private readonly readyWaiters: Array<() => void> = [];
  private readyCount = 0;
  private seq = 0;
  private server: Server | undefined;
  private wss: WebSocketServer | undefined;
  private port = 0;

  constructor(o: FakeDiscordOptions = {}) {
    this.applicationId = o.applicationId ?? '1100000000000000001';
    this.botUserId = o.botUserId ?? '1100000000000000002';
    this.heartbeatIntervalMs = o.heartbeatIntervalMs ?? 41_250;
  }

  get apiBaseUrl(): string {
    return `http://127.0.0.1:${this.port}/api`;
  }

  get gatewayUrl(): string {
    return `ws://127.0.0.1:${this.port}/gateway`;
  }

  async start(): Promise<this> {
    this.wss = new WebSocketServer({ noServer: true });
    this.wss.on('connection', (ws) => this.onSocket(ws));
    this.server = createServer((req, res) => {
      void this.onRequest(req, res).catch((err: unknown) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: String(err), code: 0 }));
      });
    });
    this.server.on('upgrade', (req, socket, head) => {
      if (!(req.url ?? '').startsWith('/gateway')) {
        socket.destroy();
        return;
      }
      this.wss?.handleUpgrade(req, socket, head, (ws) => this.wss?.emit('connection', ws, req));
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    this.wss?.close();
    await new Promise<void>((resolve) => {
      if (this.server === undefined) return resolve();
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }

  /** A file served at a CDN URL (an attachment's `url`). */
  cdnFile(name: string, data: Buffer, contentType: string): string {
    this.cdn.set(name, { data, contentType });
    return `http://127.0.0.1:${this.port}/cdn/${name}`;
  }

  /** The next `count` requests whose `METHOD path` matches get a 429 with retry_after (JSON and headers). */
  rateLimit(match: RegExp, count: number, retryAfterSeconds: number): void {
    this.injected.push({
      match, left: count,
      answer: () => ({
        status: 429,
        headers: {
          'retry-after': String(retryAfterSeconds),
          'x-ratelimit-limit': '5', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset-after': String(retryAfterSeconds),
          'x-ratelimit-bucket': 'fakebucket', 'x-ratelimit-scope': 'user',
        },
        body: { message: 'You are being rate limited.', retry_after: retryAfterSeconds, global: false },
      }),
    });
  }

  /** The next `count` requests matching get this Discord error. */
  fail(match: RegExp, count: number, status: number, code: number, message = 'error'): void {
    this.injected.push({ match, left: count, answer: () => ({ status, body: { message, code } }) });
  }

  /**
   * Discord down for requests whose `METHOD path` matches, until `end()`: each gets a 5xx
   * (`mode: 'error'`) or has its connection dropped without an answer (`mode: 'drop'`).
   */
  outage(match: RegExp, o: { mode: 'error' | 'drop'; status?: number }): FakeOutage {
    const outage: Outage = { match, mode: o.mode, status: o.status ?? 502, refused: 0, on: true };
    this.outages.push(outage);
    return {
      get refused() {
        return outage.refused;
      },
      end: () => {
        outage.on = false;
      },
    };
  }

  /** Calls whose `METHOD path` matches. */
  callsTo(match: RegExp): FakeCall[] {
    return this.calls.filter((c) => match.test(`${c.method} ${c.path}`));
  }

  /** Resolves when a client has identified and been sent READY (`n` in all). */
  async waitForReady(n = 1): Promise<void> {
    if (this.readyCount >= n) return;
    await new Promise<void>((resolve) => this.readyWaiters.push(() => {
      if (this.readyCount >= n) resolve();
    }));
  }

  /** Sends a dispatch (e.g. INTERACTION_CREATE) to every connected client. */
  dispatch(t: string, d: unknown): void {
    this.seq += 1;
    const frame = JSON.stringify({ op: 0, t, s: this.seq, d });
    // Kept for a RESUME: a client that reconnects gets what it missed, as Discord replays it.
    this.sent.push({ s: this.seq, frame });
    if (this.sent.length > 1000) this.sent.shift();
    for (const ws of this.sockets) if (this.live.has(ws)) ws.send(frame);
  }

  private onSocket(ws: WebSocket): void {
    this.sockets.add(ws);
    this.connections += 1;
    ws.on('close', () => {
      this.sockets.delete(ws);
      this.live.delete(ws);
    });
    ws.send(JSON.stringify({ op: 10, d: { heartbeat_interval: this.heartbeatIntervalMs }, s: null, t: null }));
    ws.on('message', (raw) => {
      const msg = JSON.parse(String(raw)) as { op: number; d: unknown };
      if (msg.op === 1) {
        this.heartbeats += 1;
        ws.send(JSON.stringify({ op: 11, d: null, s: null, t: null }));
      }
      // RESUME (a client that reconnects, e.g. after a missed ACK): the session goes on.
      if (msg.op === 6) {
        this.resumes += 1;
        // The old connection is over for this session; the events after the client's last seq come again.
        for (const other of this.live) if (other !== ws) this.live.delete(other);
        const after = Number((msg.d as { seq?: number } | null)?.seq ?? 0);
        for (const f of this.sent) if (f.s > after) ws.send(f.frame);
        this.seq += 1;
        ws.send(JSON.stringify({ op: 0, t: 'RESUMED', s: this.seq, d: {} }));
        this.live.add(ws);
      }
      if (msg.op === 2) {
        this.identifies.push(msg.d);
        this.seq += 1;
        ws.send(JSON.stringify({
          op: 0, t: 'READY', s: this.seq,
          d: {
            v: 10, user: { id: this.botUserId, username: 'framecast', discriminator: '0', global_name: null, avatar: null, bot: true },
            guilds: [], session_id: 'fake-session', resume_gateway_url: this.gatewayUrl, shard: [0, 1],
            application: { id: this.applicationId, flags: 0 },
          },
        }));
        this.live.add(ws);
        this.readyCount += 1;
        for (const w of [...this.readyWaiters]) w();
      }
    });
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    if (url.pathname.startsWith('/cdn/')) {
      const f = this.cdn.get(url.pathname.slice('/cdn/'.length));
      if (f === undefined) return this.send(res, 404, { message: 'no such file' });
      res.writeHead(200, { 'content-type': f.contentType, 'content-length': String(f.data.length) });
      res.end(f.data);
      return;
    }
    const path = decodeURIComponent(url.pathname).replace(/^\/api\/v10/, '');
    const call: FakeCall = { method: req.method ?? 'GET', path, query: url.search, json: undefined, files: [], authorization: req.headers.authorization, at: Date.now() };
    const type = req.headers['content-type'] ?? '';
    if (type.startsWith('multipart/form-data')) {
      const form = await new Request('http://x/', { method: 'POST', headers: { 'content-type': type }, body: raw }).formData();
      for (const [field, value] of form.entries()) {
        if (typeof value === 'string') {
          if (field === 'payload_json') call.json = JSON.parse(value) as Record<string, unknown>;
        } else {
          const data = Buffer.from(await value.arrayBuffer());
          call.files.push({ field, filename: value.name, contentType: value.type, size: data.length, data });
        }
      }
    } else if (raw.length > 0) {
      call.json = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
    }
    this.calls.push(call);
    const key = `${call.method} ${path}`;
    const down = this.outages.find((o) => o.on && o.match.test(key));
    if (down !== undefined) {
      down.refused += 1;
      call.refused = true;
      if (down.mode === 'drop') {
        req.socket.destroy();
        return;
      }
      return this.send(res, down.status, { message: 'Bad Gateway', code: 0 });
    }
    const inj = this.injected.find((i) => i.left > 0 && i.match.test(key));
    if (inj !== undefined) {
      inj.left -= 1;
      const a = inj.answer();
      call.injected = a.status;
      return this.send(res, a.status, a.body, a.headers);
    }
    return this.route(call, res);
  }

  private message(channelId: string, call: FakeCall, id?: string): Record<string, unknown> {
    messageSeq += 1n;
    return {
      id: id ?? String(messageSeq), channel_id: channelId, type: 0, content: call.json?.content ?? '', author: { id: this.botUserId, username: 'framecast', discriminator: '0', avatar: null, bot: true },
      attachments: call.files.map((f, n) => ({ id: String(n), filename: f.filename, size: f.size, url: `http://127.0.0.1:${this.port}/cdn/x`, proxy_url: '' })),
      embeds: [], mentions: [], mention_roles: [], pinned: false, mention_everyone: false, tts: false, timestamp: new Date().toISOString(), edited_timestamp: null, flags: 0, components: [],
    };
  }

  /** The message id of a token's original response (stable per token). */
  originalMessageId(token: string): string {
    let h = 0n;
    for (const ch of token) h = (h * 131n + BigInt(ch.charCodeAt(0))) % 1_000_000_000_000n;
    return String(1_200_000_000_000_000_000n + h);
  }

  private route(call: FakeCall, res: ServerResponse): void {
    const p = call.path;
    const m = (re: RegExp) => re.exec(p);
    let g: RegExpExecArray | null;
    if (call.method === 'GET' && p === '/gateway/bot') {
      return this.send(res, 200, { url: this.gatewayUrl, shards: 1, session_start_limit: { total: 1000, remaining: 1000, reset_after: 0, max_concurrency: 1 } });
    }
    if (call.method === 'POST' && m(/^\/interactions\/[^/]+\/[^/]+\/callback$/)) return this.send(res, 204, undefined);
    if ((g = m(/^\/webhooks\/([^/]+)\/([^/]+)(\/messages\/(@original|\d+))?$/)) !== null) {
      const token = g[2] ?? '';
      if (this.expiredTokens.has(token)) return this.send(res, 401, { message: 'Invalid Webhook Token', code: 50027 });
      if (call.method === 'DELETE') return this.send(res, 204, undefined);
      if (call.method === 'PATCH') return this.send(res, 200, this.message('channel', call, this.originalMessageId(token)));
      if (call.method === 'POST') return this.send(res, 200, this.message('channel', call));
    }
    if ((g = m(/^\/channels\/([^/]+)\/messages(\/[^/]+)?$/)) !== null) {
      if (this.strictChannels && !this.channels.has(g[1] ?? '')) return this.send(res, 404, { message: 'Unknown Channel', code: 10003 });
      if (call.method === 'POST') return this.send(res, 200, this.message(g[1] ?? '', call));
      if (call.method === 'PATCH' && g[2] !== undefined) return this.send(res, 200, this.message(g[1] ?? '', call, g[2].slice(1)));
      if (call.method === 'DELETE') return this.send(res, 204, undefined);
    }
    // A thread without a starter message (POST /channels/{id}/threads): a new channel the bot can post in.
    if (call.method === 'POST' && (g = m(/^\/channels\/([^/]+)\/threads$/)) !== null) {
      const parentId = g[1] ?? '';
      if (this.strictChannels && !this.channels.has(parentId)) return this.send(res, 404, { message: 'Unknown Channel', code: 10003 });
      messageSeq += 1n;
      const id = String(messageSeq);
      const type = Number(call.json?.type ?? 11);
      this.channels.set(id, { type, parentId });
      return this.send(res, 201, { id, type, parent_id: parentId, name: call.json?.name ?? '', owner_id: this.botUserId, flags: 0, thread_metadata: { archived: false, auto_archive_duration: call.json?.auto_archive_duration ?? 1440, archive_timestamp: new Date().toISOString(), locked: false } });
    }
    if (call.method === 'DELETE' && (g = m(/^\/channels\/([^/]+)$/)) !== null) {
      const id = g[1] ?? '';
      const ch = this.channels.get(id);
      if (ch === undefined && this.strictChannels) return this.send(res, 404, { message: 'Unknown Channel', code: 10003 });
      this.channels.delete(id);
      return this.send(res, 200, { id, type: ch?.type ?? 11, ...(ch?.parentId === undefined ? {} : { parent_id: ch.parentId }) });
    }
    if (call.method === 'GET' && m(/^\/guilds\/[^/]+\/roles$/)) return this.send(res, 200, this.roles.map((r, n) => ({ ...r, color: 0, hoist: false, position: n, permissions: '0', managed: false, mentionable: false, flags: 0 })));
    if (call.method === 'PUT' && m(/^\/applications\/[^/]+(\/guilds\/[^/]+)?\/commands$/)) {
      const body = (call.json as unknown as Array<Record<string, unknown>>) ?? [];
      return this.send(res, 200, body.map((c, n) => ({ ...c, id: String(1_000 + n), application_id: this.applicationId, version: '1' })));
    }
    return this.send(res, 404, { message: `fake discord: no route ${call.method} ${p}`, code: 0 });
  }

  private send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    if (body === undefined) {
      res.writeHead(status, headers);
      res.end();
      return;
    }
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers });
    res.end(text);
  }
}
