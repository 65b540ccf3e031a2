import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { JobLifecycle } from './job-lifecycle.ts';
import { JobStore, type JobRecordInput } from './job-record.ts';
import { DeliveryQueues } from '../queue/delivery-queues.ts';
import type { DeliveryOutcome } from '../queue/job-payloads.schema.ts';
import { Keys } from '../redis/keys.ts';
import { testRedis, uniquePrefix } from '../../../test/support/redis.ts';

let redis: Redis;
beforeAll(() => {
  redis = testRedis();
});
afterAll(async () => {
  await redis.quit();
});

const spec = { version: 1 as const, prompt: 'x', mode: 'draft' as const, durationSeconds: 3, fps: 16, frames: 49, aspect: '16:9' as const, width: 848, height: 480, seed: 1 };
const video = { videoRef: 'videos/j1.mp4', bytes: 1000, width: 848, height: 480, frames: 49, fps: 16, durationSec: 3, needsLink: false, downgraded: false };
const message = { en: 'no', 'zh-CN': '否' };

function record(jobId: string, overrides: Partial<JobRecordInput> = {}): JobRecordInput {
  return {
    version: 2, jobId, state: 'queued', platform: 'cli', userKey: 'cli:u', tenantKey: 'cli:t', channelId: 'c', eventId: `e-${jobId}`, cost: 3, spec, createdAt: 1,
    replyTarget: { platform: 'cli', out: `/tmp/${jobId}.mp4` }, locale: 'en', ...overrides,
  };
}

function setup() {
  const prefix = uniquePrefix();
  const deliveryQueues = new DeliveryQueues(redis, prefix);
  const lifecycle = new JobLifecycle({ redis, keyPrefix: prefix, deliveryQueues });
  const store = new JobStore(redis, prefix);
  const keys = new Keys(prefix);
  /** A held reservation for the job, as the intake's QuotaService.reserve leaves it. */
  const reserve = async (jobId: string, cost = 3) => {
    await redis.hset(keys.quotaReservation(jobId), { state: 'held', jobId, cost, daily: cost, bonus: 0, day: '2026-01-01', user: 'cli:u', tenant: 'cli:t', heldAt: Date.now() });
    await redis.hincrby(keys.quotaUserDay('cli:u', '2026-01-01'), 'held', cost);
    await redis.sadd(keys.quotaActive('cli:u'), jobId);
  };
  const cleanup = async () => {
    await deliveryQueues.queue('cli').obliterate({ force: true });
    await deliveryQueues.close();
  };
  return { lifecycle, deliveryQueues, store, keys, reserve, cleanup };
}

describe('JobLifecycle: the only writer of job records', () => {
  it('create writes a record once: a second create (a takeover of a crashed intake) changes nothing', async () => {
    const { lifecycle, store, keys, cleanup } = setup();
    expect(await lifecycle.create(record('j1'))).toBe(true);
    expect(await lifecycle.create(record('j1', { cost: 99, eventId: 'other', createdAt: 2 }))).toBe(false);
    const rec = await store.get('j1');
    expect(rec).toMatchObject({ jobId: 'j1', state: 'queued', cost: 3, eventId: 'e-j1', createdAt: 1 });
    // A create of a job whose input says otherwise still starts it queued.
    expect(await lifecycle.create(record('j2', { state: 'succeeded', createdAt: 2 }))).toBe(true);
    expect((await store.get('j2'))?.state).toBe('queued');
    expect((await store.listByUser('cli:u')).map((r) => r.jobId)).toEqual(['j2', 'j1']);
    expect(await lifecycle.countsByState()).toMatchObject({ queued: 2 });
    expect(await redis.ttl(keys.job('j1'))).toBeGreaterThan(0);
    await cleanup();
  });

  it('a final job is never left: finish, start, requeue, progress and a second finish change nothing', async () => {
    const { lifecycle, store, keys, reserve, cleanup } = setup();
    await lifecycle.create(record('j1'));
    await reserve('j1');
    expect(await lifecycle.start('j1', 1)).toBe(true);
    const first = await lifecycle.finish('j1', { kind: 'failed', code: 'boom', message }, { code: 'boom', message: 'it broke' });
    expect(first).toEqual({ status: 'ok', kind: 'failed', promised: false });
    const before = await store.get('j1');
    expect(before).toMatchObject({ state: 'failed', error: { code: 'boom' } });
    const counts = await lifecycle.countsByState();

    const again = await lifecycle.finish('j1', { kind: 'video', result: video });
    expect(again).toMatchObject({ status: 'final', kind: 'failed' });
    expect(await lifecycle.hold('j1', video)).toMatchObject({ status: 'final', kind: 'failed' });
    expect(await lifecycle.cancelNow('j1')).toMatchObject({ status: 'final', kind: 'failed' });
    expect(await lifecycle.start('j1', 2)).toBe(false);
    expect(await lifecycle.requeue('j1')).toBe(false);
    expect(await lifecycle.downgrade('j1', { ...spec, prompt: 'y' })).toBe(false);
    expect(await lifecycle.setProviderTask('j1', 'task-1')).toBe(false);
    await lifecycle.progress('j1', { type: 'step', step: 1, totalSteps: 8 });
    await lifecycle.abandon('j1', 'late');
    expect(await store.get('j1')).toEqual(before);
    expect(await lifecycle.countsByState()).toEqual(counts);
    // Refunded once by the failure; nothing settled it again (a video must not have committed it).
    expect(await redis.hget(keys.quotaReservation('j1'), 'state')).toBe('refunded');
    await cleanup();
  });

  it('transitions on a missing record return false and create nothing', async () => {
    const { lifecycle, store, keys, cleanup } = setup();
    expect(await lifecycle.start('nope', 1)).toBe(false);
    expect(await lifecycle.requeue('nope', { code: 'x', message: 'y' })).toBe(false);
    expect(await lifecycle.downgrade('nope', spec)).toBe(false);
    expect(await lifecycle.setProviderTask('nope', 't')).toBe(false);
    await lifecycle.progress('nope', { type: 'encoding', phase: 'encoding' });
    expect(await lifecycle.finish('nope', { kind: 'failed', code: 'x', message })).toMatchObject({ status: 'missing' });
    expect(await lifecycle.hold('nope', video)).toMatchObject({ status: 'missing' });
    expect(await lifecycle.decide('nope', 'approve', 'admin')).toMatchObject({ status: 'missing' });
    expect(await lifecycle.cancelNow('nope')).toMatchObject({ status: 'missing' });
    expect(await store.get('nope')).toBeUndefined();
    expect(await redis.exists(keys.job('nope'), keys.delivery('nope'))).toBe(0);
    expect(await lifecycle.countsByState()).toEqual({});
    await cleanup();
  });

  it('running transitions: queued ⇄ active with fields patched; review is left only by a decision', async () => {
    const { lifecycle, store, reserve, cleanup } = setup();
    await lifecycle.create(record('j1'));
    await reserve('j1');
    expect(await lifecycle.start('j1', 1)).toBe(true);
    expect(await store.get('j1')).toMatchObject({ state: 'active', attempts: 1 });
    expect(await lifecycle.requeue('j1', { code: 'oom', message: 'out of memory' })).toBe(true);
    expect(await store.get('j1')).toMatchObject({ state: 'queued', error: { code: 'oom', retryable: true } });
    expect(await lifecycle.start('j1', 2)).toBe(true);
    expect(await lifecycle.hold('j1', video)).toMatchObject({ status: 'ok', kind: 'review' });
    expect(await store.get('j1')).toMatchObject({ state: 'review', result: { videoRef: 'videos/j1.mp4' } });
    // A worker's retry of a held job cannot take it back or end it.
    expect(await lifecycle.start('j1', 3)).toBe(false);
    expect(await lifecycle.finish('j1', { kind: 'failed', code: 'x', message })).toMatchObject({ status: 'conflict', kind: 'review' });
    expect(await lifecycle.decide('j1', 'approve', 'admin')).toMatchObject({ status: 'ok', kind: 'video' });
    expect(await store.get('j1')).toMatchObject({ state: 'succeeded' });
    expect(await lifecycle.countsByState()).toMatchObject({ queued: 0, active: 0, review: 0, succeeded: 1 });
    await cleanup();
  });

  it('concurrent finishes with different outcomes end with exactly one final state, one settlement, one delivery', async () => {
    const outcomes: DeliveryOutcome[] = [
      { kind: 'video', result: video },
      { kind: 'failed', code: 'f', message },
      { kind: 'blocked', code: 'b', message },
      { kind: 'cancelled', message },
    ];
    // Each finish from its own connection (as from different worker processes), so none is
    // ordered behind another on one socket; the first issued changes with each round (each of the
    // four outcomes wins some rounds).
    const conns = outcomes.map(() => redis.duplicate());
    try {
      for (let round = 0; round < 12; round++) {
        const { lifecycle, deliveryQueues, store, keys, reserve, cleanup } = setup();
        const racers = conns.map((c) => new JobLifecycle({ redis: c, keyPrefix: keys.prefix, deliveryQueues }));
        await lifecycle.create(record('j1'));
        await reserve('j1');
        await lifecycle.start('j1', 1);
        const order = outcomes.map((_, i) => (i + round) % outcomes.length);
        const results = await Promise.all(order.map((i) => (racers[i] as JobLifecycle).finish('j1', outcomes[i] as DeliveryOutcome)));
        const ok = results.filter((r) => r.status === 'ok');
        expect(ok).toHaveLength(1);
        const winner = ok[0]?.kind ?? '';
        const state = winner === 'video' ? 'succeeded' : winner;
        expect((await store.get('j1'))?.state).toBe(state);
        // The losers were refused, wrote nothing, and saw the winner's state.
        for (const r of results.filter((x) => x.status !== 'ok')) expect(r).toEqual({ status: 'final', kind: state, promised: false });
        // The credits were settled once, as the winner says: a video commits, anything else refunds.
        expect(await redis.hget(keys.quotaReservation('j1'), 'state')).toBe(winner === 'video' ? 'committed' : 'refunded');
        const day = await redis.hgetall(keys.quotaUserDay('cli:u', '2026-01-01'));
        expect(Number(day.held)).toBe(0);
        expect(Number(day.spent ?? 0)).toBe(winner === 'video' ? 3 : 0);
        expect(await redis.scard(keys.quotaActive('cli:u'))).toBe(0);
        // One outcome promised, queued once.
        expect(await redis.hget(keys.delivery('j1'), 'kind')).toBe(winner);
        expect((await deliveryQueues.queue('cli').getJobCounts('waiting')).waiting).toBe(1);
        expect(await lifecycle.countsByState()).toEqual({ queued: 0, active: 0, [state]: 1 });
        await cleanup();
      }
    } finally {
      await Promise.all(conns.map((c) => c.quit()));
    }
  });
});
