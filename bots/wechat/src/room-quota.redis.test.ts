import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { testRedis, uniquePrefix } from '../../../test/support/redis.ts';
import { dayInZone, RoomQuota } from './room-quota.ts';

let redis: Redis;
beforeAll(() => {
  redis = testRedis();
});
afterAll(async () => {
  await redis.quit();
});

function quota(dailyCredits: number, now?: () => number): RoomQuota {
  return new RoomQuota({ redis, keyPrefix: uniquePrefix(), dailyCredits, timeZone: 'Asia/Shanghai', ...(now === undefined ? {} : { now }) });
}

describe('RoomQuota (Lua on a real Redis)', () => {
  it('charges up to the limit, a repeated event once, and refuses past it', async () => {
    const q = quota(10);
    expect(await q.charge('r1', 'e1', 6)).toMatchObject({ ok: true, spent: 6 });
    expect(await q.charge('r1', 'e1', 6)).toMatchObject({ ok: true, spent: 6 });
    expect(await q.charge('r1', 'e2', 6)).toMatchObject({ ok: false, spent: 6, left: 4 });
    expect(await q.charge('r1', 'e3', 4)).toMatchObject({ ok: true, spent: 10 });
    expect(await q.left('r1')).toBe(0);
    // Another room has its own credits.
    expect(await q.charge('r2', 'e2', 6)).toMatchObject({ ok: true, spent: 6 });
  });

  it('a refused request is released; an accepted one settles to its real cost and is refunded exactly once', async () => {
    const q = quota(10);
    const a = await q.charge('r', 'ea', 4);
    expect(await q.release('r', 'ea', a.day)).toBe(true);
    expect(await q.release('r', 'ea', a.day)).toBe(false);
    expect(await q.left('r')).toBe(10);
    const b = await q.charge('r', 'eb', 4);
    expect(await q.settle('r', 'eb', b.day, 'job-b', 3)).toBe('settled');
    expect(await q.left('r')).toBe(7);
    const refunds = await Promise.all([q.refund('job-b'), q.refund('job-b'), q.refund('job-b')]);
    expect(refunds.sort()).toEqual([0, 0, 3]);
    expect(await q.left('r')).toBe(10);
    // A settle repeated after the refund changes nothing.
    expect(await q.settle('r', 'eb', b.day, 'job-b', 3)).toBe('none');
    expect(await q.left('r')).toBe(10);
  });

  it('a refund that comes before the settle (the job failed at once) still gives the credits back, once', async () => {
    const q = quota(10);
    const c = await q.charge('r', 'ec', 5);
    expect(await q.refund('job-c')).toBe(0);
    expect(await q.settle('r', 'ec', c.day, 'job-c', 5)).toBe('refunded');
    expect(await q.left('r')).toBe(10);
    expect(await q.refund('job-c')).toBe(0);
    expect(await q.left('r')).toBe(10);
  });

  it('rolls over at midnight in the configured zone; a refund the next day goes to the day charged', async () => {
    // 2026-11-28 23:59:30 in Shanghai is 15:59:30 UTC.
    let now = Date.UTC(2026, 10, 28, 15, 59, 30);
    const q = quota(5, () => now);
    const d = await q.charge('r', 'ed', 5);
    expect(d.day).toBe('2026-11-28');
    expect(await q.settle('r', 'ed', d.day, 'job-d', 5)).toBe('settled');
    expect((await q.charge('r', 'ee', 1)).ok).toBe(false);
    now += 60_000;
    expect(dayInZone('Asia/Shanghai', now)).toBe('2026-11-29');
    expect(await q.left('r')).toBe(5);
    expect(await q.charge('r', 'ef', 5)).toMatchObject({ ok: true, day: '2026-11-29' });
    expect(await q.refund('job-d')).toBe(5);
    expect(await q.left('r')).toBe(0);
  });

  it('with no cap (0) it charges nothing and never refuses', async () => {
    const q = quota(0);
    expect(q.enabled).toBe(false);
    expect((await q.charge('r', 'e', 1_000_000)).ok).toBe(true);
    expect(await q.left('r')).toBe(Number.POSITIVE_INFINITY);
  });
});
