import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { testRedis } from '../../../test/support/redis.ts';
import { ProgressFeed } from './progress-feed.ts';
import type { ProgressEvent } from './progress-event.schema.ts';
import { RenderLeases } from './render-lease.ts';
import { CollabEvents } from '../collab/collab-events.ts';

let redis: Redis;
beforeAll(() => {
  redis = testRedis();
});
afterAll(async () => {
  await redis.quit();
});

const until = async (ok: () => boolean, ms = 10_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
};

/** A job's event as JobLifecycle's scripts write it to the progress stream. */
async function emit(prefix: string, jobId: string, type: string, data: Record<string, unknown> = {}): Promise<void> {
  await redis.xadd(`${prefix}:progress`, '*', 'jobId', jobId, 'platform', 'discord', 'userKey', 'discord:u', 'type', type, 'data', JSON.stringify(data));
}

describe('exclusive progress subscribers (one renderer per job across processes)', () => {
  it("two processes' renderers split the jobs: each job's events all go to one of them, in order; a plain subscriber still gets everything", async () => {
    const prefix = `lease${Math.random().toString(36).slice(2, 8)}`;
    // Two processes: each its own feed on its own connection.
    const [ca, cb] = [testRedis(), testRedis()];
    const a = new ProgressFeed(ca, prefix);
    const b = new ProgressFeed(cb, prefix);
    const got: Record<'a' | 'b' | 'all', ProgressEvent[]> = { a: [], b: [], all: [] };
    try {
      await a.subscribe({ platform: 'discord' }, (e) => void got.a.push(e), { exclusive: 'discord-progress', minStepIntervalMs: 0 });
      await b.subscribe({ platform: 'discord' }, (e) => void got.b.push(e), { exclusive: 'discord-progress', minStepIntervalMs: 0 });
      await a.subscribe({ platform: 'discord' }, (e) => void got.all.push(e), { minStepIntervalMs: 0 });
      const jobs = Array.from({ length: 12 }, (_, i) => `j${i}`);
      for (const j of jobs) await emit(prefix, j, 'queued', { position: 1, etaSeconds: 60 });
      for (const j of jobs) await emit(prefix, j, 'started', { attempt: 1 });
      for (let s = 1; s <= 3; s++) for (const j of jobs) await emit(prefix, j, 'step', { step: s, totalSteps: 3 });
      for (const j of jobs) await emit(prefix, j, 'delivered');
      await until(() => got.all.length === jobs.length * 6 && got.a.length + got.b.length === jobs.length * 6);
      const types = (es: ProgressEvent[], j: string) => es.filter((e) => e.jobId === j).map((e) => (e.type === 'step' ? `step${e.step}` : e.type));
      for (const j of jobs) {
        const [ofA, ofB] = [types(got.a, j), types(got.b, j)];
        // One renderer per job, every event of it, in order.
        expect(ofA.length === 0 || ofB.length === 0).toBe(true);
        expect([...ofA, ...ofB]).toEqual(['queued', 'started', 'step1', 'step2', 'step3', 'delivered']);
      }
      expect(got.a.length + got.b.length).toBe(got.all.length);
    } finally {
      await a.close();
      await b.close();
      await ca.quit();
      await cb.quit();
    }
  });

  it("a renderer that stops (or crashes) is replaced once its lease lapses: the other takes the job's later events", async () => {
    const prefix = `lease${Math.random().toString(36).slice(2, 8)}`;
    const [ca, cb] = [testRedis(), testRedis()];
    const a = new ProgressFeed(ca, prefix);
    const b = new ProgressFeed(cb, prefix);
    const got: Record<'a' | 'b', string[]> = { a: [], b: [] };
    const opts = { exclusive: 'slack-progress', exclusiveLeaseMs: 400, minStepIntervalMs: 0 };
    try {
      const offA = await a.subscribe({ platform: 'discord' }, (e) => void got.a.push(e.type === 'step' ? `step${e.step}` : e.type), opts);
      await emit(prefix, 'jx', 'queued', { position: 1, etaSeconds: 60 });
      await until(() => got.a.length === 1);
      await b.subscribe({ platform: 'discord' }, (e) => void got.b.push(e.type === 'step' ? `step${e.step}` : e.type), opts);
      // A still holds the job: B skips its events.
      await emit(prefix, 'jx', 'step', { step: 1, totalSteps: 4 });
      await until(() => got.a.length === 2);
      expect(got.b).toEqual([]);
      // A stops without a word (its lease is left to lapse, as after a crash).
      offA();
      await emit(prefix, 'jx', 'step', { step: 2, totalSteps: 4 });
      await new Promise((r) => setTimeout(r, 600));
      await emit(prefix, 'jx', 'step', { step: 3, totalSteps: 4 });
      await emit(prefix, 'jx', 'delivered');
      await until(() => got.b.length === 3);
      expect(got.a).toEqual(['queued', 'step1']);
      // Step 2 came while A's lease still stood: B rendered it once that lapsed, then took the rest.
      expect(got.b).toEqual(['step2', 'step3', 'delivered']);
      await new Promise((r) => setTimeout(r, 600));
      expect(got.b).toEqual(['step2', 'step3', 'delivered']);
    } finally {
      await a.close();
      await b.close();
      await ca.quit();
      await cb.quit();
    }
  });

  it("a renderer that crashes before a job's last event: once its lease lapses, another renders that event, once", async () => {
    const prefix = `lease${Math.random().toString(36).slice(2, 8)}`;
    const [ca, cb, cc] = [testRedis(), testRedis(), testRedis()];
    const [a, b, c] = [new ProgressFeed(ca, prefix), new ProgressFeed(cb, prefix), new ProgressFeed(cc, prefix)];
    const got: Record<'a' | 'b' | 'c', string[]> = { a: [], b: [], c: [] };
    const opts = { exclusive: 'discord-progress', exclusiveLeaseMs: 400, minStepIntervalMs: 0 };
    const name = (e: ProgressEvent) => `${e.jobId}:${e.type === 'step' ? `step${e.step}` : e.type}`;
    try {
      const offA = await a.subscribe({ platform: 'discord' }, (e) => void got.a.push(name(e)), opts);
      await emit(prefix, 'j1', 'queued', { position: 1, etaSeconds: 60 });
      await emit(prefix, 'j2', 'queued', { position: 2, etaSeconds: 60 });
      await until(() => got.a.length === 2);
      await b.subscribe({ platform: 'discord' }, (e) => void got.b.push(name(e)), opts);
      await c.subscribe({ platform: 'discord' }, (e) => void got.c.push(name(e)), opts);
      // A dies; both jobs end while its leases still stand, so B and C skip their last events.
      offA();
      await emit(prefix, 'j1', 'step', { step: 1, totalSteps: 2 });
      await emit(prefix, 'j1', 'delivered');
      await emit(prefix, 'j2', 'failed', { code: 'worker_failed', message: { 'zh-CN': '生成失败', en: 'Generation failed' } });
      await new Promise((r) => setTimeout(r, 200));
      expect([...got.b, ...got.c]).toEqual([]);
      // A lease later, one of B and C renders each job's last event, and nobody renders it twice.
      await until(() => got.b.length + got.c.length === 2);
      await new Promise((r) => setTimeout(r, 1500));
      expect([...got.b, ...got.c].sort()).toEqual(['j1:delivered', 'j2:failed']);
      expect(got.a).toEqual(['j1:queued', 'j2:queued']);
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
      await Promise.all([ca.quit(), cb.quit(), cc.quit()]);
    }
  });

  it('an owner that is alive keeps its jobs: an event it rendered is not rendered again by another when its lease lapses', async () => {
    const prefix = `lease${Math.random().toString(36).slice(2, 8)}`;
    const [ca, cb] = [testRedis(), testRedis()];
    const [a, b] = [new ProgressFeed(ca, prefix), new ProgressFeed(cb, prefix)];
    const got: Record<'a' | 'b', string[]> = { a: [], b: [] };
    const opts = { exclusive: 'slack-progress', exclusiveLeaseMs: 300, minStepIntervalMs: 0 };
    try {
      await a.subscribe({ platform: 'discord' }, (e) => void got.a.push(e.type), opts);
      await emit(prefix, 'jy', 'queued', { position: 1, etaSeconds: 60 });
      await until(() => got.a.length === 1);
      await b.subscribe({ platform: 'discord' }, (e) => void got.b.push(e.type), opts);
      // A long wait in the queue: no event for three leases. B skipped 'started' and must not
      // render it again once A's lease lapses.
      await emit(prefix, 'jy', 'started', { attempt: 1 });
      await until(() => got.a.length === 2);
      await new Promise((r) => setTimeout(r, 1000));
      expect(got.b).toEqual([]);
      await emit(prefix, 'jy', 'delivered');
      await until(() => got.a.length + got.b.length === 3);
      await new Promise((r) => setTimeout(r, 700));
      // The last event went to one of them (whoever claimed the lapsed lease first), once.
      expect([...got.a, ...got.b].filter((t) => t === 'delivered')).toHaveLength(1);
      expect(got.a.slice(0, 2)).toEqual(['queued', 'started']);
    } finally {
      await Promise.all([a.close(), b.close()]);
      await Promise.all([ca.quit(), cb.quit()]);
    }
  });

  it("storyboard messages: a board's render event skipped under a crashed owner's lease is rendered by another once it lapses", async () => {
    const prefix = `lease${Math.random().toString(36).slice(2, 8)}`;
    const [ca, cb] = [testRedis(), testRedis()];
    const [a, b] = [new CollabEvents(ca, prefix), new CollabEvents(cb, prefix)];
    const got: Record<'a' | 'b', string[]> = { a: [], b: [] };
    const opts = { exclusive: 'discord-collab', exclusiveLeaseMs: 300 };
    try {
      const offA = await a.subscribe((e) => void got.a.push(e.type), { platform: 'discord' }, opts);
      await a.publish({ boardKey: 'discord:c1', type: 'segment', jobId: 'j', index: 0, count: 2, phase: 'started' });
      await until(() => got.a.length === 1);
      await b.subscribe((e) => void got.b.push(e.type), { platform: 'discord' }, opts);
      // A crashes while it holds the board; the render ends under its lease, so B skips that event.
      offA();
      await b.publish({ boardKey: 'discord:c1', type: 'rendered', jobId: 'j' });
      await new Promise((r) => setTimeout(r, 100));
      expect(got.b).toEqual([]);
      await until(() => got.b.length === 1);
      await new Promise((r) => setTimeout(r, 700));
      expect(got.b).toEqual(['rendered']);
      expect(got.a).toEqual(['segment']);
    } finally {
      await Promise.all([a.close(), b.close()]);
      await Promise.all([ca.quit(), cb.quit()]);
    }
  });

  it('renews its lease while the events keep coming (a long job stays with one renderer), and renders when Redis cannot be asked', async () => {
    const prefix = `lease${Math.random().toString(36).slice(2, 8)}`;
    let now = 1_000_000;
    const one = new RenderLeases(redis, prefix, 'r', { leaseMs: 60_000, now: () => now });
    const two = new RenderLeases(redis, prefix, 'r', { leaseMs: 60_000, now: () => now });
    expect(await one.mine('job')).toBe(true);
    expect(await two.mine('job')).toBe(false);
    // Past half the lease, the owner's next event renews it in Redis.
    now += 40_000;
    expect(await one.mine('job')).toBe(true);
    expect(await redis.pttl(`${prefix}:render:r:job`)).toBeGreaterThan(50_000);
    const broken = { eval: () => Promise.reject(new Error('connection closed')) } as unknown as Redis;
    expect(await new RenderLeases(broken, prefix, 'r').mine('job')).toBe(true);
  });
});
