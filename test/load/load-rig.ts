/**
 * TEST AND BENCH SUPPORT: one real HTTP server with the three HTTP entry points of the product
 * mounted on it (Slack HTTP mode at POST /slack/events, Discord HTTP interactions at
 * POST /discord/interactions, the mini program API at /api/mp/*), one real core on a real Redis,
 * and the platforms' fake Web API servers (over real sockets) for the calls the adapters make.
 * No worker: what is measured is the acknowledgement and what intake leaves in Redis.
 *
 * `runLoad` sends slash commands from many users on an open-loop schedule (command i leaves at
 * i × window / n, whatever the answers before it), then checks what a skeptical operator would:
 * every request acknowledged, every accepted job in the queue once, quotas exact to the credit.
 */
import { generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import nodeHttp from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { Middleware } from 'koa';
import pino from 'pino';
import { blobStoreFromConfig, createCore, loadConfig, type Core, type FramecastConfig, type JobRecord } from '@framecast/core';
import { createProductModerator } from '@framecast/content-safety';
import { createHttpApp, listen, type ListeningServer } from '@framecast/http-server';
import { startSlackAdapter, slackSignature, type SlackAdapter } from '@framecast/bot-slack';
import { startDiscordAdapter, type DiscordAdapter } from '@framecast/bot-discord';
import { startMiniProgramApi, type MiniProgramApi } from '@framecast/bot-miniprogram-api';
import { startWebAdapter, type WebAdapter } from '@framecast/bot-web';
import { FakeSlackApi } from '../../bots/slack/src/testing/fake-slack-api.ts';
import { FakeDiscord } from '../../bots/discord/src/testing/fake-discord.ts';
import { videoCommandInteraction } from '../../bots/discord/src/testing/fake-interactions.ts';
import { startFakeWeChatMp, type FakeWeChatMp } from '../../bots/miniprogram-api/src/testing/fake-wechat-mp.ts';

export type LoadPlatform = 'slack' | 'discord' | 'miniprogram';
export const LOAD_PLATFORMS: readonly LoadPlatform[] = ['slack', 'discord', 'miniprogram'];

const SLACK_BOT_TOKEN = 'xoxb-load-bot-token';
const SLACK_SECRET = 'load-signing-secret';
const BASELINE_PATH = '/load/baseline';

/** A request ready to go: the route on the rig's server, its headers (signed) and body. */
export interface LoadRequest {
  route: string;
  headers: Record<string, string>;
  body: string;
}

export interface LoadRigOptions {
  redisUrl: string;
  /** FRAMECAST_FREE_DAILY_CREDITS (small, so that quotas refuse some commands and exactness shows). */
  dailyCredits: number;
  /** More environment. */
  env?: Record<string, string>;
  /** Also mount the web playground (`/`, `/api/web/*`). */
  web?: boolean;
}

export interface LoadRig {
  readonly config: FramecastConfig;
  readonly core: Core;
  readonly redis: Redis;
  readonly base: string;
  /** The platforms' fake Web API servers (what the adapters called). */
  readonly fakes: { slack: FakeSlackApi; discord: FakeDiscord; wechat: FakeWeChatMp };
  /** The user key a load user has on a platform (`slack:U…`, `discord:…`, `miniprogram:…`). */
  userKey(platform: LoadPlatform, n: number): string;
  /** Logs a mini program user in (POST /api/mp/login with a fake WeChat code); its session token. */
  mpLogin(n: number): Promise<string>;
  /** One slash command (or the mini program's create-job call) as a signed request, not sent (signatures are good for minutes). */
  request(platform: LoadPlatform, n: number, prompt: string, mpToken?: string, eventId?: string): LoadRequest;
  /** Sends one slash command (or the mini program's create-job call); resolves with the HTTP status and body. */
  send(platform: LoadPlatform, n: number, prompt: string, mpToken?: string, eventId?: string): Promise<{ status: number; body: string }>;
  /** Headers that sign `raw` as Slack signs a request to /slack/events. */
  slackHeaders(raw: string, contentType?: string): Record<string, string>;
  /** Headers that sign `raw` as Discord signs an interaction. */
  discordHeaders(raw: string): Record<string, string>;
  /** A signed /video interaction from user n (for bodies built from a valid one). */
  discordInteraction(n: number, prompt: string): Record<string, unknown>;
  /** Any POST through the rig's connection pool. */
  postRaw(route: string, headers: Record<string, string>, body: string): Promise<{ status: number; body: string; contentType: string }>;
  /** A web playground session cookie (`web: true` only). */
  webCookie(): Promise<string>;
  /** Jobs in BullMQ's generate queue now (waiting, prioritized, delayed, active). */
  queueDepth(): Promise<number>;
  /** The baseline: a plain koa route on the same server answering 200. */
  baseline(): Promise<{ status: number; body: string }>;
  close(): Promise<void>;
}

/** Starts the server, the core and the three adapters against `redisUrl` with a fresh key prefix. */
export async function startLoadRig(o: LoadRigOptions): Promise<LoadRig> {
  const logger = pino({ level: process.env.FRAMECAST_LOAD_LOG_LEVEL ?? 'silent' });
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'framecast-load-'));
  const slackApi = await new FakeSlackApi({ botToken: SLACK_BOT_TOKEN }).start();
  const discordApi = await new FakeDiscord().start();
  const wechat = await startFakeWeChatMp();
  const pair = generateKeyPairSync('ed25519');
  const discordKey: KeyObject = pair.privateKey;
  const publicHex = pair.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex');
  const config = loadConfig({
    FRAMECAST_KEY_PREFIX: `load-${randomUUID().slice(0, 8)}`, LOG_LEVEL: 'silent', FRAMECAST_TIMEZONE: 'Asia/Shanghai', FRAMECAST_DEFAULT_LOCALE: 'en',
    REDIS_URL: o.redisUrl, FRAMECAST_DATA_DIR: dataDir,
    FRAMECAST_FREE_DAILY_CREDITS: String(o.dailyCredits), FRAMECAST_FREE_MAX_CONCURRENT: '1000', FRAMECAST_TENANT_DAILY_CAP: '100000000',
    SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET: SLACK_SECRET, SLACK_API_BASE_URL: slackApi.apiUrl,
    DISCORD_TOKEN: 'load-discord-token', DISCORD_APPLICATION_ID: discordApi.applicationId, DISCORD_API_BASE_URL: discordApi.apiBaseUrl,
    DISCORD_PUBLIC_KEY: publicHex, DISCORD_GATEWAY: 'off',
    WECHAT_APP_ID: wechat.appId, WECHAT_APP_SECRET: wechat.appSecret, WECHAT_API_BASE_URL: wechat.baseUrl,
    ...o.env,
  }, { dotenvPath: false });
  const redis = new Redis(o.redisUrl, { maxRetriesPerRequest: null });
  const store = blobStoreFromConfig(config);
  const { moderator } = await createProductModerator(config);
  const core = createCore({ config, redis, moderator, logger, connection: { url: o.redisUrl, maxRetriesPerRequest: null } });
  const http = createHttpApp({ metrics: { metrics: async () => '', contentType: 'text/plain' }, readiness: async () => ({ ok: true, checks: {} }) });
  const baselineRoute: Middleware = async (ctx, next) => {
    if (ctx.method === 'POST' && ctx.path === BASELINE_PATH) {
      ctx.body = { ok: true };
      return;
    }
    await next();
  };
  http.mount(baselineRoute);
  const server: ListeningServer = await listen(http, 0, '127.0.0.1');
  server.server.keepAliveTimeout = 120_000;
  const base = `http://127.0.0.1:${server.port}`;
  const slack: SlackAdapter = await startSlackAdapter({ core, store, logger, config, http });
  const discord: DiscordAdapter = await startDiscordAdapter({ core, store, logger, config, http });
  const generous = { max: 1_000_000, windowSeconds: 60 };
  const mp: MiniProgramApi = await startMiniProgramApi({
    core, store, logger, config, http, redis,
    rateLimits: { session: generous, ip: generous, login: generous, jobs: generous, uploads: generous },
  });
  const web: WebAdapter | undefined = o.web === true ? await startWebAdapter({ core, store, redis, logger, config, http }) : undefined;
  const slackHeaders = (raw: string, contentType = 'application/x-www-form-urlencoded') => {
    const ts = Math.floor(Date.now() / 1000);
    return { 'Content-Type': contentType, 'X-Slack-Request-Timestamp': String(ts), 'X-Slack-Signature': slackSignature(SLACK_SECRET, ts, raw) };
  };
  const discordHeaders = (raw: string) => {
    const timestamp = String(Math.floor(Date.now() / 1000));
    return { 'content-type': 'application/json', 'x-signature-ed25519': sign(null, Buffer.from(timestamp + raw), discordKey).toString('hex'), 'x-signature-timestamp': timestamp };
  };
  // The /video command's draft option, not the text flag (both at once are refused as given twice).
  const discordInteraction = (n: number, prompt: string) => videoCommandInteraction({ applicationId: discordApi.applicationId, guildId: '1700000000000000009', userId: discordUser(n), prompt: prompt.replace(/\s*--draft\b/, ''), draft: true });

  // Like a platform's senders: a bounded pool of keep-alive connections (node:http, cheaper than fetch).
  const agent = new nodeHttp.Agent({ keepAlive: true, maxSockets: 64 });
  const post = (route: string, headers: Record<string, string>, body: string) => httpPost(agent, `${base}${route}`, headers, body);
  let seq = 0;
  const request = (platform: LoadPlatform, n: number, prompt: string, mpToken?: string, eventId?: string): LoadRequest => {
    seq += 1;
    if (platform === 'slack') {
      const raw = new URLSearchParams({
        token: 'legacy', team_id: slackApi.teamId, team_domain: 'fake', channel_id: 'C0LOAD', channel_name: 'general', user_id: slackUser(n), user_name: `load${n}`,
        command: '/video', text: prompt, api_app_id: 'A0FAKE', is_enterprise_install: 'false',
        response_url: `${slackApi.origin}/commands/${seq}`, trigger_id: eventId ?? `${Date.now()}.${seq}.${randomUUID().slice(0, 8)}`,
      }).toString();
      return { route: '/slack/events', headers: slackHeaders(raw), body: raw };
    }
    if (platform === 'discord') {
      const interaction = discordInteraction(n, prompt);
      if (eventId !== undefined) interaction.id = eventId;
      const raw = JSON.stringify(interaction);
      return { route: '/discord/interactions', headers: discordHeaders(raw), body: raw };
    }
    if (mpToken === undefined) throw new Error('a mini program command needs a session token');
    return { route: '/api/mp/jobs', headers: { Authorization: `Bearer ${mpToken}`, 'Content-Type': 'application/json', 'Accept-Language': 'en' }, body: JSON.stringify({ prompt, draft: true, requestId: eventId ?? randomUUID() }) };
  };
  return {
    config, core, redis, base, fakes: { slack: slackApi, discord: discordApi, wechat },
    userKey(platform, n) {
      if (platform === 'slack') return `slack:${slackUser(n)}`;
      if (platform === 'discord') return `discord:${discordUser(n)}`;
      return `miniprogram:${mpOpenid(n)}`;
    },
    async mpLogin(n) {
      const res = await fetch(`${base}/api/mp/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ code: wechat.codeFor(mpOpenid(n)) }) });
      const body = (await res.json()) as { token?: string };
      if (res.status !== 200 || typeof body.token !== 'string') throw new Error(`mini program login failed: ${res.status}`);
      return body.token;
    },
    async send(platform, n, prompt, mpToken, eventId) {
      const r = request(platform, n, prompt, mpToken, eventId);
      return post(r.route, r.headers, r.body);
    },
    request,
    slackHeaders, discordHeaders, discordInteraction,
    postRaw: (route, headers, body) => httpPost(agent, `${base}${route}`, headers, body),
    async webCookie() {
      if (web === undefined) throw new Error('the rig was started without the web playground');
      const res = await fetch(`${base}/`);
      await res.text();
      const cookie = res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
      if (cookie === '') throw new Error('the playground set no session cookie');
      return cookie;
    },
    async queueDepth() {
      const work = new Queue(core.workQueue.name, { connection: redis, prefix: core.workQueue.bullPrefix });
      try {
        const c = await work.getJobCounts('waiting', 'prioritized', 'delayed', 'active');
        return (c.waiting ?? 0) + (c.prioritized ?? 0) + (c.delayed ?? 0) + (c.active ?? 0);
      } finally {
        await work.close();
      }
    },
    async baseline() {
      return post(BASELINE_PATH, { 'Content-Type': 'application/json' }, '{"ping":1}');
    },
    async close() {
      agent.destroy();
      await server.close();
      await web?.close();
      await mp.close();
      await discord.close();
      await slack.close();
      await core.close();
      await redis.quit();
      await Promise.all([slackApi.close(), discordApi.close(), wechat.close()]);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** One POST through `agent`; the status and the body as text. */
function httpPost(agent: nodeHttp.Agent, url: string, headers: Record<string, string>, body: string): Promise<{ status: number; body: string; contentType: string }> {
  return new Promise((resolve, reject) => {
    const req = nodeHttp.request(url, { method: 'POST', agent, headers: { ...headers, 'Content-Length': String(Buffer.byteLength(body)) }, timeout: 60_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), contentType: String(res.headers['content-type'] ?? '') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 60 s')));
    req.on('error', reject);
    req.end(body);
  });
}

const slackUser = (n: number) => `U0LOAD${String(n).padStart(5, '0')}`;
const discordUser = (n: number) => String(1_300_000_000_000_100_000n + BigInt(n));
const mpOpenid = (n: number) => `o_load_${n}`;

export interface LoadOptions {
  /** Slash commands in all. */
  commands: number;
  /** Users in all, spread over the platforms in turn (user u is on LOAD_PLATFORMS[u % 3]). */
  users: number;
  /** The commands leave on an even schedule across this window. */
  windowMs: number;
  /** After the window, how long to wait for the deferred intakes (Slack, Discord) to land. */
  settleMs: number;
}

export interface Acked {
  platform: LoadPlatform | 'baseline';
  status: number;
  /** From the moment the request was due to leave to the answer. */
  latencyMs: number;
}

export interface LoadOutcome {
  sent: number;
  acked: Acked[];
  /** Requests that got no HTTP answer (or a 5xx). */
  failures: string[];
  wallMs: number;
  /** Per request, how late it left the sender after it was due (the generator's own delay). */
  lagMs: number[];
}

/**
 * The sender, in a worker thread of its own (plain JS: node:http only): the requests leave on an
 * open-loop schedule (request i at i × window / n after the start, whatever the answers before
 * it) through a pool of keep-alive connections, so the generator's own CPU (building, parsing the
 * answers, its timers) is not spent on the server's event loop and does not delay the answers it
 * times. Latency is measured from the moment a request was due; `lagMs` is how late it left.
 */
const SENDER = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
const { base, requests, windowMs, maxSockets } = workerData;
const agent = new http.Agent({ keepAlive: true, maxSockets });
const out = new Array(requests.length);
let left = requests.length;
const t0 = performance.now() + 20;
function done(i, r) {
  if (out[i] !== undefined) return;
  out[i] = r;
  if (--left === 0) {
    agent.destroy();
    parentPort.postMessage({ out, wallMs: performance.now() - t0 });
  }
}
requests.forEach((q, i) => {
  const due = t0 + (i * windowMs) / requests.length;
  setTimeout(() => {
    const lagMs = performance.now() - due;
    const req = http.request(base + q.route, { method: 'POST', agent, timeout: 60000, headers: { ...q.headers, 'Content-Length': String(Buffer.byteLength(q.body)) } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => done(i, { status: res.statusCode || 0, body: Buffer.concat(chunks).toString('utf8').slice(0, 300), latencyMs: performance.now() - due, lagMs }));
      res.on('error', (e) => done(i, { error: String(e && e.message), lagMs }));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 60 s')));
    req.on('error', (e) => done(i, { error: String(e && e.message), lagMs }));
    req.end(q.body);
  }, Math.max(0, due - performance.now()));
});
`;

type SenderResult = { status: number; body: string; latencyMs: number; lagMs: number } | { error: string; lagMs: number };

/** Sends `requests` from a worker thread on an even schedule over `windowMs` (see SENDER). */
async function sendOffThread(rig: LoadRig, requests: Array<LoadRequest & { platform: Acked['platform'] }>, windowMs: number, ok: (platform: Acked['platform'], status: number) => boolean): Promise<LoadOutcome> {
  const worker = new Worker(SENDER, { eval: true, workerData: { base: rig.base, requests: requests.map(({ route, headers, body }) => ({ route, headers, body })), windowMs, maxSockets: SENDER_SOCKETS } });
  try {
    const { out, wallMs } = await new Promise<{ out: SenderResult[]; wallMs: number }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`the load sender exited (${code})`)));
    });
    const acked: Acked[] = [];
    const failures: string[] = [];
    const lagMs: number[] = [];
    out.forEach((r, i) => {
      const platform = requests[i]?.platform ?? 'baseline';
      lagMs.push(r.lagMs);
      if ('error' in r) failures.push(`${platform}: ${r.error}`);
      else if (!ok(platform, r.status)) failures.push(`${platform} ${r.status} ${r.body.slice(0, 200)}`);
      else acked.push({ platform, status: r.status, latencyMs: r.latencyMs });
    });
    return { sent: requests.length, acked, failures, wallMs, lagMs };
  } finally {
    await worker.terminate();
  }
}

/** Connections the sender may hold open at once (a platform sends from many). */
const SENDER_SOCKETS = 256;

/** Sends `commands` on an open-loop schedule over `windowMs` from a worker thread; each user sends commands/users of them. */
export async function runCommands(rig: LoadRig, o: LoadOptions, prompt: (i: number) => string, tokens: Map<number, string>): Promise<LoadOutcome> {
  // Built and signed here, before the window (signatures are good for minutes).
  const requests = Array.from({ length: o.commands }, (_, i) => {
    const user = i % o.users;
    const platform = LOAD_PLATFORMS[user % LOAD_PLATFORMS.length] ?? 'slack';
    return { platform, ...rig.request(platform, user, prompt(i), tokens.get(user)) };
  });
  return sendOffThread(rig, requests, o.windowMs, (_p, status) => status < 500);
}

/** The same schedule against the plain route (the baseline). */
export async function runBaseline(rig: LoadRig, o: Pick<LoadOptions, 'commands' | 'windowMs'>): Promise<LoadOutcome> {
  const requests = Array.from({ length: o.commands }, () => ({ platform: 'baseline' as const, route: BASELINE_PATH, headers: { 'Content-Type': 'application/json' }, body: '{"ping":1}' }));
  return sendOffThread(rig, requests, o.windowMs, (_p, status) => status === 200);
}

export interface Ledger {
  /** Jobs recorded per user (every state), by user key. */
  jobsByUser: Map<string, JobRecord[]>;
  accepted: number;
  /** Costs seen on the accepted jobs (one value when every command asked the same). */
  costs: number[];
  /** Sum over users of the credits held or spent today. */
  charged: number;
  /** Users whose held + spent exceeds their daily credits. */
  overDrawn: string[];
  /** Users whose held + spent differs from the sum of their jobs' costs. */
  inexact: string[];
  /** BullMQ's counts for the generate queue. */
  queueCounts: Record<string, number>;
  /** Jobs in BullMQ's generate queue (waiting, prioritized, delayed, active). */
  queued: number;
  /** Accepted job ids missing from the queue. */
  missingFromQueue: number;
  /** Job ids that appear under two records (a duplicate job). */
  duplicateEvents: number;
}

/** Reads what intake left: the jobs, each user's credits, and BullMQ's generate queue. */
export async function readLedger(rig: LoadRig, users: number): Promise<Ledger> {
  const jobsByUser = new Map<string, JobRecord[]>();
  let charged = 0;
  const overDrawn: string[] = [];
  const inexact: string[] = [];
  const costs = new Set<number>();
  const eventIds = new Map<string, number>();
  const work = new Queue(rig.core.workQueue.name, { connection: rig.redis, prefix: rig.core.workQueue.bullPrefix });
  let missingFromQueue = 0;
  try {
    for (let u = 0; u < users; u++) {
      const key = rig.userKey(LOAD_PLATFORMS[u % LOAD_PLATFORMS.length] ?? 'slack', u);
      const jobs = await rig.core.listJobs(key, 1000);
      jobsByUser.set(key, jobs);
      const q = await rig.core.quota.show(key);
      const used = q.held + q.spent;
      charged += used;
      if (used > q.dailyCredits) overDrawn.push(key);
      if (used !== jobs.reduce((a, j) => a + j.cost, 0)) inexact.push(key);
      for (const j of jobs) {
        costs.add(j.cost);
        eventIds.set(j.eventId, (eventIds.get(j.eventId) ?? 0) + 1);
        const state = await work.getJobState(j.jobId);
        if (state === 'unknown') missingFromQueue += 1;
      }
    }
    const queueCounts = await work.getJobCounts('waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed');
    const queued = (queueCounts.waiting ?? 0) + (queueCounts.prioritized ?? 0) + (queueCounts.delayed ?? 0) + (queueCounts.active ?? 0);
    const accepted = [...jobsByUser.values()].reduce((a, j) => a + j.length, 0);
    return {
      jobsByUser, accepted, costs: [...costs].sort((a, b) => a - b), charged, overDrawn, inexact, queueCounts, queued, missingFromQueue,
      duplicateEvents: [...eventIds.values()].filter((n) => n > 1).length,
    };
  } finally {
    await work.close();
  }
}

/** Waits until the number of recorded jobs stops changing (the deferred intakes have landed) or the time is up. */
export async function settle(rig: LoadRig, users: number, expectAtLeast: number, timeoutMs: number): Promise<number> {
  const end = Date.now() + timeoutMs;
  let last = -1;
  let stableSince = Date.now();
  for (;;) {
    let n = 0;
    for (let u = 0; u < users; u++) n += (await rig.core.listJobs(rig.userKey(LOAD_PLATFORMS[u % LOAD_PLATFORMS.length] ?? 'slack', u), 1000)).length;
    if (n !== last) {
      last = n;
      stableSince = Date.now();
    }
    if ((n >= expectAtLeast && Date.now() - stableSince > 1000) || Date.now() > end) return n;
    await sleep(250);
  }
}

function sleep(ms: number): Promise<void> {
  return ms <= 0 ? Promise.resolve() : new Promise((r) => setTimeout(r, ms));
}
