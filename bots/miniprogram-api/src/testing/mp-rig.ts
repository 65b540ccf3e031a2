import type { Redis } from 'ioredis';
import { expect } from 'vitest';
import { blobStoreFromConfig, createCore, mediaSecret, type BlobStore, type Core, type FramecastConfig, type JobRecord } from '@framecast/core';
import { createProductImageIntake, createProductModerator } from '@framecast/content-safety';
import { createHttpApp, listen, mediaRouter, type ListeningServer } from '@framecast/http-server';
import { createWorkerFromConfig, type GenerateWorker } from '@framecast/gpu-worker';
import { productCoreAndWorker, silentLogger, waitFor } from '../../../../test/support/e2e.ts';
import { testRedisUrl } from '../../../../test/support/redis.ts';
import { testConfig } from '../../../../test/support/config.ts';
import { startMiniProgramApi, type MiniProgramApi } from '../miniprogram-api.ts';
import type { RateLimits } from '../mp-rate-limit.ts';
import { startFakeWeChatMp, type FakeWeChatMp } from './fake-wechat-mp.ts';

/**
 * The API tests' rig (miniprogram-api.redis.test.ts, mp-boards.redis.test.ts): the mini program
 * API on the one HTTP server, a real core, Redis and worker (the tiny model), WeChat's server a
 * fake on a socket; and the calls a client makes to it.
 */

export const PUSH_TOKEN = 'framecastPushToken1';

export interface Rig {
  fake: FakeWeChatMp;
  config: FramecastConfig;
  core: Core;
  worker: GenerateWorker;
  store: BlobStore;
  api: MiniProgramApi;
  server: ListeningServer;
  base: string;
  /** Moves the API's clock (signed links) forward. */
  advance(ms: number): void;
  close(): Promise<void>;
}

export const GENEROUS: RateLimits = {
  session: { max: 1000, windowSeconds: 60 }, ip: { max: 10_000, windowSeconds: 60 }, login: { max: 1000, windowSeconds: 60 },
  jobs: { max: 1000, windowSeconds: 60 }, uploads: { max: 1000, windowSeconds: 60 }, boards: { max: 1000, windowSeconds: 60 },
};

export interface RigOptions {
  /** The test's own Redis connection and data directory. */
  redis: Redis;
  dataDir: string;
  env?: Record<string, string>;
  rateLimits?: Partial<RateLimits>;
  runWorker?: boolean;
  /** WeChat's image checks: FRAMECAST_PUBLIC_URL is this server, /media/ mounted, the moderator given the store (as `framecast bot` does). */
  mediaChecks?: { timeoutMs?: number; confirmPass?: (rec: JobRecord) => Promise<boolean> };
}

/** The API on the one HTTP server with a real core and worker, and a fake of WeChat's server over a socket. */
export async function rig(o: RigOptions): Promise<Rig> {
  const { redis, dataDir } = o;
  const fake = await startFakeWeChatMp();
  // The server's own limits (1 MiB bodies, 10 MiB on the upload routes), as `framecast start` runs it.
  const http = createHttpApp({ metrics: { metrics: async () => '', contentType: 'text/plain' }, readiness: async () => ({ ok: true, checks: {} }) });
  const server = await listen(http, 0, '127.0.0.1');
  // The client, the server and the worker share one event loop here: while the worker holds it, an
  // idle keep-alive socket can pass the server's 5 s timeout just as fetch reuses it (ECONNRESET).
  server.server.keepAliveTimeout = 120_000;
  const base = `http://127.0.0.1:${server.port}`;
  const config = testConfig({
    REDIS_URL: testRedisUrl(), FRAMECAST_DATA_DIR: dataDir, FRAMECAST_STEPS: '4', FRAMECAST_FREE_MAX_CONCURRENT: '5', FRAMECAST_FREE_DAILY_CREDITS: '1000',
    WECHAT_APP_ID: fake.appId, WECHAT_APP_SECRET: fake.appSecret, WECHAT_API_BASE_URL: fake.baseUrl, FRAMECAST_MP_TEMPLATE_ID: 'tmpl-done',
    FRAMECAST_ADMINS: 'miniprogram:o_admin',
    ...(o.mediaChecks === undefined ? {} : { FRAMECAST_WECHAT_CHECKS: 'on', FRAMECAST_PUBLIC_URL: base, WECHAT_PUSH_TOKEN: PUSH_TOKEN }),
    ...o.env,
  });
  const store = blobStoreFromConfig(config);
  let core: Core;
  let worker: GenerateWorker;
  if (o.mediaChecks === undefined) ({ core, worker } = await productCoreAndWorker(config, redis));
  else {
    const { moderator } = await createProductModerator(config, { store });
    core = createCore({ config, redis, moderator, imageIntake: createProductImageIntake(store), logger: silentLogger, connection: { url: testRedisUrl(), maxRetriesPerRequest: null } });
    worker = await createWorkerFromConfig({ core, store, logger: silentLogger, overrides: { store } });
    http.mount(mediaRouter({ store, secret: mediaSecret(config) }));
    fake.setPushUrl(`${base}/api/mp/wechat/push`);
    fake.setPush({ token: PUSH_TOKEN });
  }
  let offset = 0;
  const api = await startMiniProgramApi({
    core, store, logger: silentLogger, config, http, redis, consume: { relayEveryMs: 500 },
    rateLimits: { ...GENEROUS, ...o.rateLimits }, now: () => Date.now() + offset,
    ...(o.mediaChecks === undefined ? {} : {
      mediaCheckSweepMs: 200,
      ...(o.mediaChecks.timeoutMs === undefined ? {} : { mediaCheckTimeoutMs: o.mediaChecks.timeoutMs }),
      ...(o.mediaChecks.confirmPass === undefined ? {} : { confirmMediaPass: o.mediaChecks.confirmPass }),
    }),
  });
  if (o.runWorker !== false) void worker.run();
  return {
    fake, config, core, worker, store, api, server, base,
    advance(ms) {
      offset += ms;
    },
    async close() {
      await api.close();
      await worker.close();
      await core.close();
      await server.close();
      await fake.close();
    },
  };
}

export type Json = Record<string, unknown>;

export async function call(r: Rig, method: string, route: string, o: { token?: string; body?: unknown; lang?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; body: Json; headers: Headers }> {
  const send = (): Promise<Response> => fetch(`${r.base}${route}`, {
    method,
    headers: {
      ...(o.token === undefined ? {} : { Authorization: `Bearer ${o.token}` }),
      ...(o.body === undefined ? {} : { 'Content-Type': 'application/json' }),
      ...(o.lang === undefined ? {} : { 'Accept-Language': o.lang }),
      ...o.headers,
    },
    ...(o.body === undefined ? {} : { body: typeof o.body === 'string' ? o.body : JSON.stringify(o.body) }),
  });
  // A GET is safe to send again when a reused keep-alive socket was reset under it.
  const res = await send().catch((err: unknown) => {
    if (method === 'GET' && (err as { cause?: { code?: string } }).cause?.code === 'ECONNRESET') return send();
    throw err;
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Json), headers: res.headers };
}

export async function login(r: Rig, openid: string): Promise<string> {
  const res = await call(r, 'POST', '/api/mp/login', { body: { code: r.fake.codeFor(openid) } });
  expect(res.status).toBe(200);
  return res.body.token as string;
}

export async function upload(r: Rig, token: string, bytes: Buffer, o: { field?: string; filename?: string; type?: string; lang?: string } = {}): Promise<{ status: number; body: Json }> {
  const form = new FormData();
  form.append(o.field ?? 'file', new Blob([new Uint8Array(bytes)], { type: o.type ?? 'image/png' }), o.filename ?? 'photo.png');
  const res = await fetch(`${r.base}/api/mp/uploads`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, ...(o.lang === undefined ? {} : { 'Accept-Language': o.lang }) }, body: form });
  return { status: res.status, body: (await res.json()) as Json };
}

export interface SseEvent {
  event: string;
  id?: string;
  data: Json;
}

/** Reads a server-sent event stream until the server ends it (or the time runs out). */
export async function readSse(res: Response, timeoutMs: number): Promise<SseEvent[]> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const out: SseEvent[] = [];
  let buf = '';
  const timer = setTimeout(() => void reader.cancel(), timeoutMs);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const e: Partial<SseEvent> = {};
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) e.event = line.slice(7);
          else if (line.startsWith('id: ')) e.id = line.slice(4);
          else if (line.startsWith('data: ')) e.data = JSON.parse(line.slice(6)) as Json;
        }
        if (e.event !== undefined && e.data !== undefined) out.push(e as SseEvent);
      }
    }
  } finally {
    clearTimeout(timer);
  }
  return out;
}

export async function jobToSucceed(r: Rig, token: string, id: string): Promise<Json> {
  return waitFor(async () => {
    const res = await call(r, 'GET', `/api/mp/jobs/${id}`, { token });
    if (res.body.state === 'failed' || res.body.state === 'cancelled') throw new Error(`job ${id} ended ${String(res.body.state)}: ${JSON.stringify(res.body.error)}`);
    return res.body.state === 'succeeded' ? res.body : undefined;
  }, 100_000, `job ${id} to succeed`);
}

