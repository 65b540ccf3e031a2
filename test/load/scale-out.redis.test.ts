import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createCore, type Core, type JobRecord } from '@framecast/core';
import { slackSignature } from '@framecast/bot-slack';
import { FakeSlackApi } from '../../bots/slack/src/testing/fake-slack-api.ts';
import { freePort } from '../support/redis-server.ts';
import { testRedis, testRedisUrl, uniquePrefix } from '../support/redis.ts';
import { testConfig } from '../support/config.ts';
import { silentLogger, waitFor } from '../support/e2e.ts';

// Scale-out: two `framecast bot slack` processes (two stateless HTTP replicas, Slack HTTP mode)
// and two `framecast worker` processes on one Redis, as behind a load balancer.
const CLI = path.resolve(import.meta.dirname, '..', '..', 'bin', 'framecast.mjs');
const MODEL_DIR = path.resolve(import.meta.dirname, '..', '..', 'models', 'tiny-wan');
const BOT_TOKEN = 'xoxb-scale-out-token';
const SECRET = 'scale-out-signing-secret';

let dir: string;
let redis: Redis;
let fake: FakeSlackApi;
const children: ChildProcess[] = [];
const outputs: Array<() => string> = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'fc-scale-out-'));
  redis = testRedis();
  fake = await new FakeSlackApi({ botToken: BOT_TOKEN }).start();
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await fake?.close();
  await redis?.quit();
  await rm(dir, { recursive: true, force: true });
});

function start(args: string[], env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...(process.env as Record<string, string>), ...env }, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout?.on('data', (b: Buffer) => (out = (out + b.toString()).slice(-4000)));
  child.stderr?.on('data', (b: Buffer) => (out = (out + b.toString()).slice(-4000)));
  outputs.push(() => out);
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

let seq = 0;
/** A /video slash command signed as Slack signs it, to one replica; `triggerId` is the event's identity. */
async function command(port: number, user: string, text: string, triggerId: string): Promise<{ status: number; body: string }> {
  seq += 1;
  const raw = new URLSearchParams({
    token: 'legacy', team_id: fake.teamId, team_domain: 'fake', channel_id: 'C0SCALE', channel_name: 'general', user_id: user, user_name: user.toLowerCase(),
    command: '/video', text, api_app_id: 'A0FAKE', is_enterprise_install: 'false', response_url: `${fake.origin}/commands/${seq}`, trigger_id: triggerId,
  }).toString();
  const ts = Math.floor(Date.now() / 1000);
  const res = await fetch(`http://127.0.0.1:${port}/slack/events`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Slack-Request-Timestamp': String(ts), 'X-Slack-Signature': slackSignature(SECRET, ts, raw) },
    body: raw,
  });
  return { status: res.status, body: await res.text() };
}

describe('scale-out: two HTTP replicas and two workers on one Redis (real processes)', () => {
  it('requests spread over both replicas (the same event to both): no duplicate job, fairness held, every job done and delivered once, its progress rendered by one replica', { timeout: 240_000 }, async () => {
    const [p1, p2] = [await freePort(), await freePort()];
    const env = {
      REDIS_URL: testRedisUrl(), FRAMECAST_KEY_PREFIX: uniquePrefix(), FRAMECAST_DATA_DIR: dir, FRAMECAST_MODEL_DIR: MODEL_DIR, LOG_LEVEL: 'silent', LANG: 'en_US.UTF-8',
      FRAMECAST_STEPS: '4', FRAMECAST_RENDER_SCALE: '0.25', FRAMECAST_FREE_MAX_CONCURRENT: '5', FRAMECAST_DEFAULT_LOCALE: 'en', FRAMECAST_WEB: 'off',
      SLACK_BOT_TOKEN: BOT_TOKEN, SLACK_SIGNING_SECRET: SECRET, SLACK_API_BASE_URL: fake.apiUrl,
    };
    const core: Core = createCore({ config: testConfig(env), redis, moderator: { moderateText: async () => ({ action: 'allow', hits: [], source: 't' }) }, logger: silentLogger });
    try {
      const bots = [start(['bot', 'slack'], { ...env, FRAMECAST_HTTP_PORT: String(p1) }), start(['bot', 'slack'], { ...env, FRAMECAST_HTTP_PORT: String(p2) })];
      for (const port of [p1, p2]) {
        // The server listens before the adapter mounts its route: ready when an unsigned POST is refused (401), not unknown (404).
        const status = () => fetch(`http://127.0.0.1:${port}/slack/events`, { method: 'POST', body: '' }).then((r) => r.status).catch(() => 0);
        await waitFor(async () => ((await status()) === 401 ? true : undefined), 90_000, `replica on ${port} to be ready (${outputs.map((o) => o()).join('\n')})`);
      }

      // Before any worker runs: alice asks twice (her second command delivered to both replicas at
      // once, as a retry through the load balancer would), then bob and carol once each (carol's to both).
      const t = (name: string) => `${Date.now()}.${name}.${Math.random().toString(36).slice(2, 8)}`;
      const a1 = await command(p1, 'UALICE', 'a paper boat on a rainy street --draft --duration 1', t('a1'));
      const a2id = t('a2');
      const a2 = await Promise.all([command(p1, 'UALICE', 'a red kite over the sea --draft --duration 1', a2id), command(p2, 'UALICE', 'a red kite over the sea --draft --duration 1', a2id)]);
      const b1 = await command(p2, 'UBOB', 'a lighthouse at dusk --draft --duration 1', t('b1'));
      const c1id = t('c1');
      const c1 = await Promise.all([command(p2, 'UCAROL', 'snow on a quiet street --draft --duration 1', c1id), command(p1, 'UCAROL', 'snow on a quiet street --draft --duration 1', c1id)]);
      for (const r of [a1, ...a2, b1, ...c1]) expect(r.status).toBe(200);

      const jobsOf = async (user: string): Promise<JobRecord[]> => core.listJobs(`slack:${user}`, 10);
      await waitFor(async () => ((await jobsOf('UALICE')).length === 2 && (await jobsOf('UBOB')).length === 1 && (await jobsOf('UCAROL')).length === 1 ? true : undefined), 30_000, 'the four jobs');
      await new Promise((r) => setTimeout(r, 1000));
      const alice = (await jobsOf('UALICE')).sort((x, y) => x.createdAt - y.createdAt);
      expect(alice).toHaveLength(2);
      expect(await jobsOf('UCAROL')).toHaveLength(1);
      expect(await jobsOf('UBOB')).toHaveLength(1);
      const ids = [...alice, ...(await jobsOf('UBOB')), ...(await jobsOf('UCAROL'))].map((j) => j.jobId);
      expect(new Set(ids).size).toBe(4);

      // Fair order in the queue: alice's second job (her rank 1) behind bob's and carol's firsts (rank 0).
      const queue = new Queue('generate', { connection: redis.duplicate(), prefix: `${env.FRAMECAST_KEY_PREFIX}:bull` });
      const priority = async (id: string) => (await queue.getJob(id))?.opts.priority ?? -1;
      const [pA1, pA2, pB1, pC1] = await Promise.all(ids.map(priority));
      expect(pB1).toBeLessThan(pA2 ?? 0);
      expect(pC1).toBeLessThan(pA2 ?? 0);
      expect(pA1).toBeLessThan(pA2 ?? 0);

      const workers = [start(['worker'], { ...env, FRAMECAST_HTTP_PORT: '0' }), start(['worker'], { ...env, FRAMECAST_HTTP_PORT: '0' })];
      const done = await waitFor(async () => {
        const recs = await Promise.all(ids.map((id) => core.job(id)));
        return recs.every((r) => r?.state === 'succeeded') ? (recs as JobRecord[]) : undefined;
      }, 180_000, `every job to succeed (${outputs.map((o) => o()).join('\n')})`);
      // Fairness held by the two workers: the order they took the jobs in (BullMQ's processedOn)
      // puts bob's and carol's first jobs no later than alice's second.
      const taken = await Promise.all(ids.map(async (id) => (await queue.getJob(id))?.processedOn ?? Infinity));
      const [tA1, tA2, tB1, tC1] = taken;
      const why = JSON.stringify({ taken, started: done.map((r) => r.startedAt) });
      expect(tB1, why).toBeLessThanOrEqual(tA2 ?? 0);
      expect(tC1, why).toBeLessThanOrEqual(tA2 ?? 0);
      expect(tA1, why).toBeLessThanOrEqual(tA2 ?? 0);
      await queue.close();
      for (const r of done) expect(r.attempts).toBeLessThanOrEqual(1);
      // Every job delivered once, by one of the two replicas: one upload completed per job.
      await waitFor(async () => (fake.calls.filter((c) => c.method === 'files.completeUploadExternal').length >= 4 ? true : undefined), 60_000, 'four uploads');
      await new Promise((r) => setTimeout(r, 2000));
      expect(fake.calls.filter((c) => c.method === 'files.completeUploadExternal')).toHaveLength(4);
      for (const id of ids) expect((await core.job(id))?.state).toBe('succeeded');
      // Each job's status message was rendered by one replica (a render lease per job), not by both
      // in turn: its texts never repeat back to back, and each job got one status message.
      const histories = [...fake.messages.values()].map((m) => m.history);
      expect(histories.length).toBeGreaterThanOrEqual(4);
      for (const h of histories) expect(h.filter((text, i) => i > 0 && text === h[i - 1]), JSON.stringify(h)).toEqual([]);
      for (const c of [...workers, ...bots]) await stop(c);
    } finally {
      await core.close();
    }
  });
});
