import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createCore } from '@framecast/core';
import { testRedis, testRedisUrl, uniquePrefix } from './support/redis.ts';
import { testConfig } from './support/config.ts';
import { silentLogger, waitFor } from './support/e2e.ts';

const CLI = path.resolve(import.meta.dirname, '..', 'bin', 'framecast.mjs');
const MODEL_DIR = path.resolve(import.meta.dirname, '..', 'models', 'tiny-wan');
let dir: string;
let redis: Redis;
const children: ChildProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'fc-cli-lc-'));
  redis = testRedis();
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await redis.quit();
  await rm(dir, { recursive: true, force: true });
});

function start(args: string[], env: Record<string, string>): { child: ChildProcess; exited: Promise<number>; output: () => string } {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...(process.env as Record<string, string>), ...env }, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? -1)));
  return { child, exited, output: () => out };
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0));
    });
  });
}

describe('the CLI on the lifecycle (real binary, test Redis)', () => {
  it('a queued job cancelled from another terminal: the waiting `framecast generate` returns within a second', { timeout: 120_000 }, async () => {
    const prefix = uniquePrefix();
    const env = { REDIS_URL: testRedisUrl(), FRAMECAST_KEY_PREFIX: prefix, FRAMECAST_DATA_DIR: dir, FRAMECAST_MODEL_DIR: MODEL_DIR, LOG_LEVEL: 'silent', LANG: 'en_US.UTF-8' };
    const config = testConfig(env);
    // No worker may take the job: the queue is paused, so it waits until cancelled.
    const queue = new Queue('generate', { connection: { url: testRedisUrl() }, prefix: `${prefix}:bull` });
    await queue.pause();
    const core = createCore({ config, redis, moderator: { moderateText: async () => ({ action: 'allow', hits: [], source: 't' }) }, logger: silentLogger });
    const gen = start(['generate', 'a boat that never sails --draft', '--out', path.join(dir, 'never.mp4')], env);
    try {
      const userKey = `cli:${os.userInfo().username || 'local'}`;
      const rec = await waitFor(async () => (await core.listJobs(userKey, 5))[0], 60_000, `the job to be queued (${gen.output()})`);
      expect(rec.state).toBe('queued');
      const t0 = Date.now();
      expect(await core.cancel(rec.jobId, { userKey, isAdmin: false })).toMatchObject({ status: 'cancelled' });
      const code = await gen.exited;
      const ms = Date.now() - t0;
      expect(code).toBe(1);
      expect(gen.output()).toContain('cancelled');
      expect(ms).toBeLessThan(1000);
      expect(await core.quota.show(userKey)).toMatchObject({ held: 0, spent: 0 });
    } finally {
      if (gen.child.exitCode === null) gen.child.kill('SIGKILL');
      await queue.obliterate({ force: true });
      await queue.close();
      await core.close();
    }
  });

  it('`framecast start` answers /healthz, /readyz and /metrics on FRAMECAST_HTTP_PORT', { timeout: 120_000 }, async () => {
    const port = await freePort();
    const env = { REDIS_URL: testRedisUrl(), FRAMECAST_KEY_PREFIX: uniquePrefix(), FRAMECAST_DATA_DIR: dir, FRAMECAST_MODEL_DIR: MODEL_DIR, LOG_LEVEL: 'silent', FRAMECAST_HTTP_PORT: String(port) };
    const s = start(['start'], env);
    try {
      const base = `http://127.0.0.1:${port}`;
      const health = await waitFor(async () => fetch(`${base}/healthz`).then((r) => (r.ok ? r : undefined), () => undefined), 60_000, `healthz (${s.output()})`);
      expect(await health.json()).toEqual({ status: 'ok' });
      const ready = await fetch(`${base}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ ok: true, checks: { redis: { ok: true }, queues: { ok: true } } });
      const metrics = await (await fetch(`${base}/metrics`)).text();
      for (const name of ['framecast_intake_duration_seconds', 'framecast_jobs', 'framecast_queue_depth', 'framecast_moderation_verdicts_total', 'framecast_delivery_retries_total']) {
        expect(metrics).toContain(name);
      }
      expect(metrics).toMatch(/framecast_queue_depth\{queue="generate",state="waiting"\} 0/);
      await waitFor(async () => (s.output().includes(`http://127.0.0.1:${port}/healthz`) ? true : undefined), 60_000, `the banner (${s.output()})`);
    } finally {
      s.child.kill('SIGINT');
      await Promise.race([s.exited, new Promise((r) => setTimeout(r, 15_000))]);
      if (s.child.exitCode === null) s.child.kill('SIGKILL');
    }
  });
});
