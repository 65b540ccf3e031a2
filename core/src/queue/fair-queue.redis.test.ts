import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { FairQueue, fairPriority } from './fair-queue.ts';
import { Deliveries } from './delivery.ts';
import { DeliveryQueues } from './delivery-queues.ts';
import { GENERATE_QUEUE, type GenerateJobDataInput } from './job-payloads.schema.ts';
import { JobLifecycle } from '../jobs/job-lifecycle.ts';
import { Keys } from '../redis/keys.ts';
import { testRedis, uniquePrefix } from '../../../test/support/redis.ts';

let redis: Redis;
beforeAll(() => {
  redis = testRedis();
});
afterAll(async () => {
  await redis.quit();
});

/** A job's queue payload (a pointer to its record) and its mode, as FairQueue.add takes them. */
function job(jobId: string, userKey: string, mode: 'draft' | 'final' = 'draft'): [GenerateJobDataInput, 'draft' | 'final'] {
  return [{ version: 2, jobId, userKey, enqueuedAt: Date.now() }, mode];
}

describe('fairPriority', () => {
  it('interleaves users by rank and puts drafts before finals of the same rank', () => {
    expect(fairPriority(0, 'draft')).toBeLessThan(fairPriority(0, 'final'));
    expect(fairPriority(0, 'final')).toBeLessThan(fairPriority(1, 'draft'));
    expect(fairPriority(5_000_000, 'final')).toBeLessThanOrEqual(2 ** 21);
  });
});

describe('FairQueue on a real Redis', () => {
  it("user B's first job is taken before user A's second, with A's 20 jobs waiting", async () => {
    const prefix = uniquePrefix();
    const fq = new FairQueue(redis, prefix);
    for (let i = 0; i < 20; i++) await fq.add(...job(`a${i}`, 'discord:A'));
    await fq.add(...job('b0', 'discord:B'));
    await fq.add(...job('c0', 'discord:C', 'final'));
    expect((await fq.position('a0')).position).toBe(1);
    expect((await fq.position('b0')).position).toBe(2);
    expect((await fq.position('c0')).position).toBe(3);
    expect((await fq.position('a1')).position).toBe(4);

    const order: string[] = [];
    const done = new Promise<void>((resolve) => {
      const worker = new Worker(
        GENERATE_QUEUE,
        async (j) => {
          order.push(j.id ?? '');
          await fq.taken(String(j.data.userKey), j.id ?? '');
          if (order.length === 22) setImmediate(() => void worker.close().then(resolve));
        },
        { connection: redis.duplicate(), prefix: new Keys(prefix).bullPrefix, concurrency: 1 },
      );
    });
    await done;
    expect(order.indexOf('b0')).toBeLessThan(order.indexOf('a1'));
    expect(order.indexOf('c0')).toBeLessThan(order.indexOf('a1'));
    expect(order.slice(0, 3)).toEqual(['a0', 'b0', 'c0']);
    // A's own jobs keep their order.
    const aOrder = order.filter((id) => id.startsWith('a'));
    expect(aOrder).toEqual(Array.from({ length: 20 }, (_, i) => `a${i}`));
    await fq.queue.obliterate({ force: true });
    await fq.close();
  });

  it('retries a failed job 4 times with the configured first backoff (FRAMECAST_RETRY_BACKOFF_MS), doubling', async () => {
    const prefix = uniquePrefix();
    const fq = new FairQueue(redis, prefix, redis, 1234);
    await fq.add(...job('r0', 'cli:R'));
    const j = await fq.queue.getJob('r0');
    expect(j?.opts.attempts).toBe(4);
    expect(j?.opts.backoff).toEqual({ type: 'exponential', delay: 1234 });
    const byDefault = new FairQueue(redis, uniquePrefix());
    await byDefault.add(...job('r1', 'cli:R'));
    expect((await byDefault.queue.getJob('r1'))?.opts.backoff).toEqual({ type: 'exponential', delay: 5000 });
    for (const q of [fq, byDefault]) {
      await q.queue.obliterate({ force: true });
      await q.close();
    }
  });

  it("a user's own jobs keep their order after some were taken; a newcomer still goes first", async () => {
    const prefix = uniquePrefix();
    const fq = new FairQueue(redis, prefix);
    for (let i = 0; i < 4; i++) await fq.add(...job(`a${i}`, 'cli:A'));
    // A worker takes a0 and a1 (what BullMQ's worker does: move them to active).
    const taken: string[] = [];
    await new Promise<void>((resolve) => {
      const w = new Worker(GENERATE_QUEUE, async (j) => {
        taken.push(j.id ?? '');
        await fq.taken('cli:A', j.id ?? '');
        if (taken.length === 2) {
          void w.close().then(resolve);
          await new Promise((r) => setTimeout(r, 50));
        }
      }, { connection: redis.duplicate(), prefix: new Keys(prefix).bullPrefix, concurrency: 1, autorun: true });
    });
    expect(taken).toEqual(['a0', 'a1']);
    const a4 = await fq.add(...job('a4', 'cli:A'));
    expect(a4.rank).toBe(4); // behind a2 (rank 2) and a3 (rank 3), never between them
    const b0 = await fq.add(...job('b0', 'cli:B'));
    expect(b0.rank).toBe(0);
    const order = await Promise.all(['b0', 'a2', 'a3', 'a4'].map(async (id) => (await fq.position(id)).position));
    expect(order).toEqual([1, 2, 3, 4]);
    await fq.queue.obliterate({ force: true });
    await fq.close();
  });

  it("a newcomer's first job goes ahead of a returning user's queued ones", async () => {
    const prefix = uniquePrefix();
    const fq = new FairQueue(redis, prefix);
    await fq.add(...job('a0', 'cli:A'));
    await fq.add(...job('a1', 'cli:A'));
    await fq.taken('cli:A', 'a0'); // a0 started
    const r = await fq.add(...job('a2', 'cli:A'));
    expect(r.rank).toBe(2); // one more than a1's, so it stays behind it
    const b = await fq.add(...job('b0', 'cli:B'));
    expect(b.rank).toBe(0);
    expect((await fq.position('b0')).position).toBeLessThan((await fq.position('a1')).position + 1);
    await fq.queue.obliterate({ force: true });
    await fq.close();
  });

  it('removes a waiting job and reports ETA from recorded durations', async () => {
    const prefix = uniquePrefix();
    const fq = new FairQueue(redis, prefix);
    await fq.recordDuration('draft', 10_000);
    await fq.recordDuration('draft', 20_000);
    expect(await fq.averageSeconds('draft')).toBe(15);
    await fq.add(...job('x0', 'cli:X'));
    await fq.add(...job('x1', 'cli:Y'));
    const p = await fq.position('x1');
    expect(p.position).toBe(2);
    expect(p.etaSeconds).toBe(30); // one job ahead (15 s) + its own run (15 s), one worker assumed
    expect(await fq.removeWaiting('x0', 'cli:X')).toBe(true);
    expect((await fq.position('x1')).position).toBe(1);
    expect(await fq.removeWaiting('nope', 'cli:X')).toBe(false);
    await fq.queue.obliterate({ force: true });
    await fq.close();
  });
});

describe('Deliveries', () => {
  it('enqueues an outcome once and records one delivery', async () => {
    const prefix = uniquePrefix();
    const queues = new DeliveryQueues(redis, prefix);
    const lifecycle = new JobLifecycle({ redis, keyPrefix: prefix, deliveryQueues: queues });
    const d = new Deliveries(redis, prefix, lifecycle, queues, redis);
    const spec = { version: 1 as const, prompt: 'a cat', mode: 'draft' as const, durationSeconds: 3, fps: 16, frames: 49, aspect: '16:9' as const, width: 848, height: 480, seed: 1 };
    await lifecycle.create({
      version: 2, jobId: 'j1', state: 'queued', platform: 'slack', userKey: 'slack:u', tenantKey: 'slack:T', channelId: 'C1', eventId: 'e1', cost: 3, spec, createdAt: Date.now(),
      replyTarget: { platform: 'slack', teamId: 'T', channelId: 'C1' }, locale: 'en',
    });
    expect(await d.state('j1')).toBeUndefined();
    // The outcome is written (and queued) by whichever of ten concurrent finishes wins.
    const outcome = { kind: 'failed' as const, code: 'x', message: { 'zh-CN': '失败', en: 'failed' } };
    const results = await Promise.all(Array.from({ length: 10 }, () => lifecycle.finish('j1', outcome)));
    expect(results.filter((r) => r.status === 'ok')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'final')).toHaveLength(9);
    expect((await queues.queue('slack').getJobCounts('waiting')).waiting).toBe(1);
    expect(await d.state('j1')).toBe('enqueued');
    expect(await d.outcomeKind('j1')).toBe('failed');
    // Relaying again (what the outbox relay does after a crash) adds nothing.
    await lifecycle.relay(['j1']);
    expect((await queues.queue('slack').getJobCounts('waiting')).waiting).toBe(1);
    const marks = await Promise.all([lifecycle.markDelivered('j1'), lifecycle.markDelivered('j1')]);
    expect(marks.filter(Boolean)).toHaveLength(1);
    expect(await d.state('j1')).toBe('delivered');
    await queues.queue('slack').obliterate({ force: true });
    await d.close();
    await queues.close();
  });
});
