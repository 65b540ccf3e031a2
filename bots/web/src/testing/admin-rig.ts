import { cp, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { blobStoreFromConfig, createCore, createFramecastMetrics, type BlobStore, type Core, type FramecastConfig } from '@framecast/core';
import { createKeywordModerator, defaultKeywordListDir, KeywordFilter } from '@framecast/content-safety';
import { createHttpApp, listen, type HttpApp, type ListeningServer } from '@framecast/http-server';
import type { GenerateWorker } from '@framecast/gpu-worker';
import { productCoreAndWorker, silentLogger } from '../../../../test/support/e2e.ts';
import { testConfig } from '../../../../test/support/config.ts';
import { startWebAdapter, type WebAdapter } from '../web-adapter.ts';
import { createAdminConsole, type AdminConsole } from '../admin/admin-console.ts';
import type { LoginLimit } from '../admin/admin-session.ts';

export const ADMIN_PASSWORD = 'correct horse battery staple';

export interface AdminRig {
  config: FramecastConfig;
  core: Core;
  store: BlobStore;
  worker?: GenerateWorker;
  http: HttpApp;
  server: ListeningServer;
  admin: AdminConsole;
  base: string;
  /** A copy of the product's keyword lists, which the console reloads. */
  listDir: string;
  keywords: KeywordFilter;
  /** The playground on the same server (when asked for). */
  playground?: WebAdapter;
  close(): Promise<void>;
}

export interface AdminRigOptions {
  /** A real worker on the tiny model, with the product's moderation (default: no worker, allow-all moderation). */
  worker?: boolean;
  loginLimit?: LoginLimit;
  env?: Record<string, string>;
  /** Also mount the playground (platform web) and consume its deliveries. */
  playground?: boolean;
}

/** A real HTTP server with the admin console mounted over a real core (and, if asked, a real worker). */
export async function adminRig(redis: Redis, o: AdminRigOptions = {}): Promise<AdminRig> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'framecast-admin-'));
  const listDir = path.join(dataDir, 'keyword-lists');
  await cp(defaultKeywordListDir(), listDir, { recursive: true });
  const config = testConfig({
    FRAMECAST_DATA_DIR: dataDir, FRAMECAST_STEPS: '4', FRAMECAST_FREE_MAX_CONCURRENT: '5', FRAMECAST_FREE_DAILY_CREDITS: '1000',
    FRAMECAST_DEFAULT_LOCALE: 'en', FRAMECAST_ADMIN_PASSWORD: ADMIN_PASSWORD, FRAMECAST_KEYWORD_LISTS: listDir, ...o.env,
  });
  const metrics = createFramecastMetrics();
  // The filter the console reloads is the one that moderates (without a worker; the worker's rig
  // uses the product's whole moderation, with its own filter over the same lists).
  const keywords = await KeywordFilter.fromDirectory(listDir);
  let core: Core;
  let worker: GenerateWorker | undefined;
  if (o.worker === true) {
    ({ core, worker } = await productCoreAndWorker(config, redis));
  } else {
    core = createCore({ config, redis, moderator: createKeywordModerator(keywords), logger: silentLogger, metrics });
  }
  metrics.setSources({ jobsByState: async () => (await core.stats()).jobsByState, queueDepths: async () => (await core.stats()).queues });
  const store = blobStoreFromConfig(config);
  const http = createHttpApp({ metrics, readiness: async () => ({ ok: true, checks: {} }) });
  const admin = createAdminConsole({
    core, redis, store, metrics, logger: silentLogger,
    keywords: { dir: listDir, entries: () => keywords.size, lastError: () => keywords.lastError, reload: () => keywords.reload() },
    ...(o.loginLimit === undefined ? {} : { loginLimit: o.loginLimit }),
  });
  http.mount(admin.middleware);
  const playground = o.playground === true ? await startWebAdapter({ core, store, redis, logger: silentLogger, config, http, consume: { relayEveryMs: 500 } }) : undefined;
  const server = await listen(http, 0, '127.0.0.1');
  if (worker !== undefined) void worker.run();
  return {
    config, core, store, http, server, admin, listDir, keywords, base: `http://127.0.0.1:${server.port}`, ...(worker === undefined ? {} : { worker }),
    ...(playground === undefined ? {} : { playground }),
    async close() {
      await playground?.close();
      await worker?.close();
      await admin.close();
      await server.close();
      await core.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A browser-like HTTP client: keeps cookies, never follows redirects. */
export class AdminClient {
  readonly cookies = new Map<string, string>();
  constructor(readonly base: string) {}

  async request(pathname: string, init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<Response> {
    const headers: Record<string, string> = { ...init.headers };
    if (this.cookies.size > 0) headers.Cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    if (init.form !== undefined) headers['Content-Type'] = 'application/x-www-form-urlencoded';
    const res = await fetch(`${this.base}${pathname}`, {
      method: init.method ?? (init.form === undefined ? 'GET' : 'POST'), headers, redirect: 'manual',
      ...(init.form === undefined ? {} : { body: new URLSearchParams(init.form).toString() }),
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair = ''] = c.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i);
      const value = pair.slice(i + 1);
      if (value === '' || /Max-Age=0/i.test(c)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }

  /** The CSRF token in a page's forms. */
  static csrfOf(htmlText: string): string {
    const m = /name="_csrf" value="([^"]+)"/.exec(htmlText);
    if (m?.[1] === undefined) throw new Error('no CSRF token in the page');
    return m[1];
  }

  /** Signs in; returns the session's CSRF token. */
  async login(password = ADMIN_PASSWORD, who = 'alice'): Promise<string> {
    const form = await this.request('/admin/login');
    const res = await this.request('/admin/login', { form: { _csrf: AdminClient.csrfOf(await form.text()), who, password } });
    if (res.status !== 303) throw new Error(`login answered ${res.status}`);
    return AdminClient.csrfOf(await (await this.request('/admin')).text());
  }
}
