import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { JobStore } from './job-record.ts';
import { testRedis, uniquePrefix } from '../../../test/support/redis.ts';

let redis: Redis;
beforeAll(() => {
  redis = testRedis();
});
afterAll(async () => {
  await redis.quit();
});

const spec = { version: 1 as const, prompt: 'x', mode: 'draft' as const, durationSeconds: 3, fps: 16, frames: 49, aspect: '16:9' as const, width: 848, height: 480, seed: 1 };

describe('JobStore', () => {
  it('a final state is never left, even by concurrent updates; a missing record is not created', async () => {
    const store = new JobStore(redis, uniquePrefix());
    await store.create({ version: 1, jobId: 'j1', state: 'active', platform: 'cli', userKey: 'cli:u', tenantKey: 'cli:t', channelId: 'c', eventId: 'e', cost: 3, spec, createdAt: 1 });
    const results = await Promise.all([store.update('j1', { state: 'cancelled' }), store.update('j1', { state: 'succeeded' }), store.update('j1', { state: 'failed' })]);
    const final = await store.get('j1');
    expect(['cancelled', 'succeeded', 'failed']).toContain(final?.state);
    // One of the three won; the others were refused, wrote nothing, and see the winner's state.
    expect(results.filter((r) => r?.state === final?.state)).toHaveLength(3);
    expect(await store.update('j1', { state: 'active' })).toMatchObject({ state: final?.state });
    expect(await store.update('nope', { state: 'active' })).toBeUndefined();
    expect(await store.get('nope')).toBeUndefined();
    // Fields other than the state can still be written to a final record.
    expect(await store.update('j1', { attempts: 2 })).toMatchObject({ attempts: 2 });
    expect((await store.listByUser('cli:u')).map((r) => r.jobId)).toEqual(['j1']);
  });
});
