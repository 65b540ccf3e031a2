import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createCore, type Core } from '../core.ts';
import type { ContentModerator } from '../moderation/content-moderator.ts';
import type { DeliveryJobData, VideoResult } from '../queue/job-payloads.schema.ts';
import { FairQueue } from '../queue/fair-queue.ts';
import { testRedis, testRedisUrl } from '../../../test/support/redis.ts';
import { testConfig } from '../../../test/support/config.ts';

let redis: Redis;
beforeAll(() => {
  redis = testRedis();
});
afterAll(async () => {
  await redis.quit();
});

const allow: ContentModerator = { moderateText: async () => ({ action: 'allow', hits: [], source: 'test' }) };
const VIDEO: VideoResult = { videoRef: 'videos/x.mp4', bytes: 10, width: 832, height: 480, frames: 49, fps: 16, durationSec: 3, needsLink: false, downgraded: false };
const FAILED = { kind: 'failed' as const, code: 'transient', message: { en: 'failed', 'zh-CN': '失败' } };

let seq = 0;
async function withCore<T>(fn: (core: Core, queue: FairQueue) => Promise<T>, env: Record<string, string> = {}): Promise<T> {
  const config = testConfig({ FRAMECAST_FREE_MAX_CONCURRENT: '50', FRAMECAST_FREE_DAILY_CREDITS: '1000', FRAMECAST_ADMINS: 'slack:boss', ...env });
  const core = createCore({ config, redis, moderator: allow, connection: { url: testRedisUrl(), maxRetriesPerRequest: null } });
  const queue = new FairQueue(redis, config.keyPrefix);
  try {
    return await fn(core, queue);
  } finally {
    await queue.queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    await core.close();
  }
}

async function submit(core: Core, user = 'U1'): Promise<string> {
  seq += 1;
  const r = await core.submit({
    version: 1, platform: 'slack', tenantId: 'T', channelId: 'C', userId: user, eventId: `lc-${seq}-${Math.random()}`,
    text: `/video shot ${seq} --draft`, replyTarget: { platform: 'slack', teamId: 'T', channelId: 'C' }, locale: 'en',
  });
  if (r.status !== 'accepted') throw new Error(JSON.stringify(r));
  return r.jobId;
}

/** Hands every delivery of a platform to `handler` until the returned stop is called. */
function adapter(core: Core, handler: (d: DeliveryJobData, attempt: number) => Promise<'ok' | { retryAfterMs?: number; fail?: string; throw?: string }>, opts: { now?: () => number; giveUpAfterMs?: number } = {}) {
  const seen: Array<{ jobId: string; attempt: number; at: number }> = [];
  const consumer = core.deliveries.consume('slack', async (d, ctx) => {
    seen.push({ jobId: d.jobId, attempt: ctx.attempt, at: Date.now() });
    const r = await handler(d, ctx.attempt);
    if (r === 'ok') return { status: 'delivered' };
    if (r.throw !== undefined) throw Object.assign(new Error(r.throw), r.retryAfterMs === undefined ? {} : { retryAfterMs: r.retryAfterMs });
    if (r.fail !== undefined) return { status: 'failed', reason: r.fail };
    return { status: 'retry', ...(r.retryAfterMs === undefined ? {} : { retryAfterMs: r.retryAfterMs }) };
  }, { retry: { baseDelayMs: 20, maxDelayMs: 80, ...(opts.giveUpAfterMs === undefined ? {} : { giveUpAfterMs: opts.giveUpAfterMs }) }, relayEveryMs: 300, ...(opts.now === undefined ? {} : { now: opts.now }) });
  return { seen, stop: () => consumer.close() };
}

async function until<T>(fn: () => Promise<T | undefined>, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('JobLifecycle: concurrent endings of one job', () => {
  it('cancel / finish / review / retry in any interleaving: exactly one final state, one outcome, a balanced ledger', async () => {
    await withCore(async (core, queue) => {
      type Op = 'video' | 'failed' | 'blocked' | 'cancel' | 'requeue' | 'hold' | 'approve' | 'reject' | 'cancelRequest' | 'start';
      const op = fc.constantFrom<Op>('video', 'failed', 'blocked', 'cancel', 'requeue', 'hold', 'approve', 'reject', 'cancelRequest', 'start');
      await fc.assert(
        fc.asyncProperty(fc.array(op, { minLength: 2, maxLength: 7 }), fc.boolean(), async (ops, started) => {
          const user = `p${seq}`;
          const jobId = await submit(core, user);
          const userKey = `slack:${user}`;
          if (started) await core.lifecycle.start(jobId, 1);
          const admin = { userKey: 'slack:boss', isAdmin: true };
          const run = (o: Op): Promise<unknown> => {
            switch (o) {
              case 'video': return core.lifecycle.finish(jobId, { kind: 'video', result: VIDEO });
              case 'failed': return core.lifecycle.finish(jobId, FAILED, { code: 'transient', message: 'x' });
              case 'blocked': return core.lifecycle.finish(jobId, { kind: 'blocked', code: 'output_blocked', message: FAILED.message });
              case 'cancel': return core.cancel(jobId, { userKey, isAdmin: false });
              case 'requeue': return core.lifecycle.requeue(jobId, { code: 'transient', message: 'retry' });
              case 'hold': return core.lifecycle.hold(jobId, VIDEO);
              case 'approve': return core.review(jobId, admin, 'approve');
              case 'reject': return core.review(jobId, admin, 'reject');
              case 'cancelRequest': return core.lifecycle.requestCancel(jobId, userKey);
              case 'start': return core.lifecycle.start(jobId, 2);
            }
          };
          await Promise.all(ops.map(run));
          // Whatever is left running is ended the way a worker would end it.
          await core.lifecycle.finish(jobId, FAILED);
          await core.lifecycle.decide(jobId, 'reject', 'slack:boss');
          const rec = await core.job(jobId);
          const kind = await core.deliveries.outcomeKind(jobId);
          const q = await core.quota.show(userKey);
          expect(['succeeded', 'failed', 'blocked', 'cancelled']).toContain(rec?.state);
          const expected = { succeeded: 'video', failed: 'failed', blocked: 'blocked', cancelled: 'cancelled' }[rec?.state as 'succeeded'];
          expect(kind).toBe(expected);
          expect(q.held).toBe(0);
          expect(q.active).toBe(0);
          expect(q.spent).toBe(rec?.state === 'succeeded' ? rec.cost : 0);
          // One delivery queued for the user, whatever ran how often.
          expect(await core.deliveries.state(jobId)).toBe('enqueued');
          await queue.queue.remove(jobId).catch(() => undefined);
        }),
        { numRuns: 60 },
      );
    });
  });
});

describe('deliveries.consume', () => {
  it('a platform down for 10 simulated minutes still gets the video, once, and the charge stands', async () => {
    await withCore(async (core) => {
      // Simulated time: each attempt moves the clock by a minute.
      const start = Date.now();
      let simulated = start;
      const a = adapter(core, async () => {
        simulated += 60_000;
        return simulated - start <= 10 * 60_000 ? { throw: 'ECONNRESET' } : 'ok';
      }, { now: () => simulated });
      try {
        const jobId = await submit(core);
        await core.lifecycle.start(jobId, 1);
        await core.lifecycle.finish(jobId, { kind: 'video', result: VIDEO });
        await until(async () => ((await core.deliveries.state(jobId)) === 'delivered' ? true : undefined), 20_000, 'delivered');
        const mine = a.seen.filter((s) => s.jobId === jobId);
        expect(mine.length).toBe(11);
        expect(mine.map((s) => s.attempt)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
        await new Promise((r) => setTimeout(r, 400));
        expect(a.seen.filter((s) => s.jobId === jobId).length).toBe(11);
        expect(await core.job(jobId)).toMatchObject({ state: 'succeeded' });
        expect(await core.quota.show('slack:U1')).toMatchObject({ held: 0, spent: 3 });
        expect(await core.deliveries.record(jobId)).toMatchObject({ state: 'delivered', attempts: '11' });
      } finally {
        await a.stop();
      }
    });
  });

  it('a delivery the platform refuses for good is undeliverable, refunded, and the video stays readable', async () => {
    await withCore(async (core) => {
      let refuse = true;
      const a = adapter(core, async () => (refuse ? { fail: 'channel_not_found' } : 'ok'));
      try {
        const jobId = await submit(core);
        await core.lifecycle.start(jobId, 1);
        await core.lifecycle.finish(jobId, { kind: 'video', result: VIDEO });
        await until(async () => ((await core.deliveries.state(jobId)) === 'undeliverable' ? true : undefined), 10_000, 'undeliverable');
        expect(await core.job(jobId)).toMatchObject({ state: 'undeliverable', result: { videoRef: 'videos/x.mp4' } });
        expect(await core.quota.show('slack:U1')).toMatchObject({ held: 0, spent: 0, available: 1000 });
        // Idempotent, and too late for a late success to change it.
        expect(await core.lifecycle.markUndeliverable(jobId, 'again')).toBe('undeliverable');
        expect(await core.lifecycle.markDelivered(jobId)).toBe(false);
        expect(await core.quota.show('slack:U1')).toMatchObject({ spent: 0 });
        // An operator fixes the channel and retries: delivered (on the house), the record says so.
        refuse = false;
        expect(await core.deliveries.retry(jobId)).toBe(true);
        await until(async () => ((await core.deliveries.state(jobId)) === 'delivered' ? true : undefined), 10_000, 'redelivered');
        expect(await core.job(jobId)).toMatchObject({ state: 'succeeded' });
        expect(await core.quota.show('slack:U1')).toMatchObject({ held: 0, spent: 0 });
        expect(await core.deliveries.retry(jobId)).toBe(false);
      } finally {
        await a.stop();
      }
    });
  });

  it('gives up past the retry window (refunded), and honours a Retry-After the handler returns', async () => {
    await withCore(async (core) => {
      const times: number[] = [];
      const a = adapter(core, async (d) => {
        if (d.outcome.kind === 'failed') return { retryAfterMs: 10 };
        times.push(Date.now());
        return times.length < 3 ? { retryAfterMs: 400 } : 'ok';
      }, { giveUpAfterMs: 300 });
      try {
        // A failure notice that never gets through within the window: given up (nothing to refund).
        const failed = await submit(core);
        await core.lifecycle.finish(failed, FAILED);
        // The window is 300 ms, so a 400 ms Retry-After is past it: a video is given up and refunded.
        const video = await submit(core);
        await core.lifecycle.start(video, 1);
        await core.lifecycle.finish(video, { kind: 'video', result: VIDEO });
        await until(async () => ((await core.deliveries.state(video)) === 'undeliverable' ? true : undefined), 10_000, 'video given up');
        await until(async () => ((await core.deliveries.state(failed)) === 'undeliverable' ? true : undefined), 10_000, 'notice given up');
        expect(await core.job(video)).toMatchObject({ state: 'undeliverable' });
        expect(await core.job(failed)).toMatchObject({ state: 'failed' });
        expect(await core.quota.show('slack:U1')).toMatchObject({ held: 0, spent: 0 });
      } finally {
        await a.stop();
      }
    });
    await withCore(async (core) => {
      const times: number[] = [];
      const a = adapter(core, async () => {
        times.push(Date.now());
        return times.length < 3 ? { retryAfterMs: 400 } : 'ok';
      });
      try {
        const jobId = await submit(core);
        await core.lifecycle.start(jobId, 1);
        await core.lifecycle.finish(jobId, { kind: 'video', result: VIDEO });
        await until(async () => ((await core.deliveries.state(jobId)) === 'delivered' ? true : undefined), 10_000, 'delivered');
        expect(times).toHaveLength(3);
        expect((times[1] ?? 0) - (times[0] ?? 0)).toBeGreaterThanOrEqual(390);
        expect((times[2] ?? 0) - (times[1] ?? 0)).toBeGreaterThanOrEqual(390);
      } finally {
        await a.stop();
      }
    });
  });

  it('an outcome whose process died before queueing it is relayed from the outbox', async () => {
    await withCore(async (core) => {
      const jobId = await submit(core);
      await core.lifecycle.start(jobId, 1);
      await core.lifecycle.finish(jobId, { kind: 'video', result: VIDEO });
      // Simulate the crash: the delivery job never reached the queue; the outbox entry is old.
      const prefix = core.config.keyPrefix;
      await redis.zadd(`${prefix}:delivery:outbox`, 0, jobId);
      const { DeliveryQueues } = await import('../queue/delivery-queues.ts');
      const dq = new DeliveryQueues(redis, prefix);
      await dq.queue('slack').remove(`deliver-${jobId}`);
      const a = adapter(core, async () => 'ok');
      try {
        await until(async () => ((await core.deliveries.state(jobId)) === 'delivered' ? true : undefined), 10_000, 'relayed and delivered');
        expect(a.seen.filter((s) => s.jobId === jobId)).toHaveLength(1);
        expect(await redis.zscore(`${prefix}:delivery:outbox`, jobId)).toBeNull();
      } finally {
        await a.stop();
        await dq.close();
      }
    });
  });
});

describe('progress feed', () => {
  it('a cancelled waiting job tells its subscriber at once, in order after queued', async () => {
    await withCore(async (core) => {
      const jobId = await submit(core);
      const t0 = Date.now();
      const done = core.progress.waitFor(jobId, (e): e is typeof e => e.type === 'cancelled', 5000);
      expect(await core.cancel(jobId, { userKey: 'slack:U1', isAdmin: false })).toMatchObject({ status: 'cancelled' });
      const e = await done;
      expect(e).toMatchObject({ type: 'cancelled', jobId, platform: 'slack', userKey: 'slack:U1' });
      expect(Date.now() - t0).toBeLessThan(1000);
      const types: string[] = [];
      await core.progress.waitFor(jobId, (ev): ev is typeof ev => {
        types.push(ev.type);
        return ev.type === 'cancelled';
      }, 2000);
      expect(types).toEqual(['queued', 'cancelled']);
      expect(await core.quota.show('slack:U1')).toMatchObject({ held: 0, spent: 0 });
    });
  });
});
