import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { testRedis } from '../../../test/support/redis.ts';
import { TickBatcher } from './tick-batcher.ts';

let redis: Redis;
beforeAll(() => {
  redis = testRedis();
  redis.defineCommand('tbEcho', { numberOfKeys: 0, lua: "return 'echo:' .. ARGV[1]" });
});
afterAll(async () => {
  await redis.quit();
});

type WithEcho = { tbEcho(arg: string): unknown };

describe('TickBatcher', () => {
  it("sends one turn's commands together, each caller getting its own answer or error", async () => {
    const batch = new TickBatcher(redis);
    const key = `tb:${Math.random()}`;
    const [a, b, c, d] = await Promise.allSettled([
      batch.run<string>((p) => p.set(key, 'v')),
      batch.run<string | null>((p) => p.get(key)),
      batch.run<number>((p) => p.hincrby(key, 'f', 1)),
      batch.run<string>((p) => (p as unknown as WithEcho).tbEcho('x')),
    ]);
    expect(a).toEqual({ status: 'fulfilled', value: 'OK' });
    expect(b).toEqual({ status: 'fulfilled', value: 'v' });
    expect(c.status).toBe('rejected');
    expect(d).toEqual({ status: 'fulfilled', value: 'echo:x' });
    await redis.del(key);
  });

  it('sends a script Redis forgot (restarted, scripts flushed) again on its own', async () => {
    const batch = new TickBatcher(redis);
    expect(await batch.run<string>((p) => (p as unknown as WithEcho).tbEcho('1'))).toBe('echo:1');
    await redis.script('FLUSH');
    const answers = await Promise.all(['2', '3'].map((n) => batch.run<string>((p) => (p as unknown as WithEcho).tbEcho(n))));
    expect(answers).toEqual(['echo:2', 'echo:3']);
  });

  it('sends a pipeline as soon as it holds maxBatch commands, in order, each caller getting its own answer', async () => {
    let pipelines = 0;
    const counting = new Proxy(redis, {
      get: (target, prop, receiver) => (prop === 'pipeline' ? () => ((pipelines += 1), target.pipeline()) : (Reflect.get(target, prop, receiver) as unknown)),
    });
    const batch = new TickBatcher(counting, 8);
    const key = `tb:${Math.random()}`;
    const answers = await Promise.all(Array.from({ length: 20 }, () => batch.run<number>((p) => p.incr(key))));
    expect(answers).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(pipelines).toBe(3);
    await redis.del(key);
  });
});
