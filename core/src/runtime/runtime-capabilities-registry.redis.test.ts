import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { testRedis, uniquePrefix } from '../../../test/support/redis.ts';
import type { RuntimeCapabilities } from '../model/runtime-capabilities.schema.ts';
import { RuntimeCapabilitiesRegistry } from './runtime-capabilities-registry.ts';

const T2V_A14B: RuntimeCapabilities = {
  version: 1,
  runtime: 'comfyui',
  model: 't2v-a14b',
  sizes: [{ kind: 'grid', multiple: 16, minSide: 16, maxWidth: 1280, maxHeight: 1280, maxPixels: 1280 * 720 }],
  imageInput: 'none',
  maxFrames: 81,
  fps: 16,
  steps: { draft: 10, final: 20 },
};
const TI2V_5B: RuntimeCapabilities = {
  version: 1,
  runtime: 'comfyui',
  model: 'ti2v-5b',
  sizes: [{ kind: 'list', sizes: [{ width: 1280, height: 704 }, { width: 704, height: 1280 }] }],
  imageInput: 'optional',
  maxFrames: 121,
  fps: 24,
};

let redis: Redis;
beforeAll(() => {
  redis = testRedis();
});
afterAll(async () => {
  await redis.quit();
});

describe('RuntimeCapabilitiesRegistry on a real Redis', () => {
  it('undefined until a worker publishes; then that worker’s capabilities', async () => {
    const registry = new RuntimeCapabilitiesRegistry(redis, { prefix: uniquePrefix(), cacheMs: 0 });
    expect(await registry.current()).toBeUndefined();
    await registry.publish('gpu-1', T2V_A14B, 30);
    expect(await registry.current()).toEqual(T2V_A14B);
    expect((await registry.live()).map((p) => p.workerId)).toEqual(['gpu-1']);
  });

  it('several workers: what they all render (merged), and a withdrawn worker no longer counts', async () => {
    const registry = new RuntimeCapabilitiesRegistry(redis, { prefix: uniquePrefix(), cacheMs: 0 });
    await registry.publish('gpu-a', TI2V_5B, 30);
    await registry.publish('gpu-b', T2V_A14B, 30);
    const merged = await registry.current();
    expect(merged).toMatchObject({ runtime: 'comfyui', model: 'ti2v-5b+t2v-a14b', imageInput: 'none', maxFrames: 81 });
    expect(merged?.sizes).toHaveLength(2);
    await registry.withdraw('gpu-a');
    expect(await registry.current()).toEqual(T2V_A14B);
  });

  it('a worker that stops refreshing expires with its TTL and its index entry is pruned', async () => {
    let now = Date.now();
    const prefix = uniquePrefix();
    const registry = new RuntimeCapabilitiesRegistry(redis, { prefix, cacheMs: 0, pruneAfterMs: 1000, now: () => now });
    await registry.publish('gpu-dead', T2V_A14B, 1);
    await registry.publish('gpu-live', TI2V_5B, 30);
    expect((await registry.live()).map((p) => p.workerId)).toEqual(['gpu-dead', 'gpu-live']);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await registry.current()).toEqual(TI2V_5B);
    expect(await redis.zrange(`${prefix}:runtime:workers`, 0, -1)).toEqual(['gpu-dead', 'gpu-live']);
    now += 5000;
    await registry.live();
    expect(await redis.zrange(`${prefix}:runtime:workers`, 0, -1)).toEqual(['gpu-live']);
  });

  it('caches current() for cacheMs and reads once for concurrent callers', async () => {
    const prefix = uniquePrefix();
    let now = 1_000_000;
    const reader = new RuntimeCapabilitiesRegistry(redis, { prefix, cacheMs: 3000, now: () => now });
    const worker = new RuntimeCapabilitiesRegistry(redis, { prefix });
    expect(await reader.current()).toBeUndefined();
    await worker.publish('gpu-1', TI2V_5B, 30);
    expect(await reader.current()).toBeUndefined(); // cached
    now += 3000;
    const [a, b] = await Promise.all([reader.current(), reader.current()]);
    expect(a).toEqual(TI2V_5B);
    expect(b).toBe(a);
    await worker.publish('gpu-2', T2V_A14B, 30);
    expect(await reader.current()).toBe(a);
    reader.invalidate();
    expect((await reader.current())?.model).toBe('ti2v-5b+t2v-a14b');
  });

  it('startPublishing writes at once, refreshes before the TTL runs out, and stop() withdraws', async () => {
    const prefix = uniquePrefix();
    const registry = new RuntimeCapabilitiesRegistry(redis, { prefix, cacheMs: 0 });
    const publication = await registry.startPublishing('gpu-1', T2V_A14B, { ttlSec: 1, everyMs: 200 });
    expect(await registry.current()).toEqual(T2V_A14B);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await registry.current()).toEqual(T2V_A14B);
    expect(await redis.pttl(`${prefix}:runtime:caps:gpu-1`)).toBeGreaterThan(0);
    await publication.stop();
    expect(await registry.current()).toBeUndefined();
    expect(await redis.exists(`${prefix}:runtime:caps:gpu-1`, `${prefix}:runtime:workers`)).toBe(0);
  });

  it('skips what it cannot read (another code version, a corrupt value) and refuses to publish junk', async () => {
    const prefix = uniquePrefix();
    const registry = new RuntimeCapabilitiesRegistry(redis, { prefix, cacheMs: 0 });
    await registry.publish('gpu-ok', T2V_A14B, 30);
    await redis.set(`${prefix}:runtime:caps:gpu-v2`, JSON.stringify({ version: 2, workerId: 'gpu-v2', publishedAt: 1, capabilities: {} }), 'EX', 30);
    await redis.set(`${prefix}:runtime:caps:gpu-junk`, '{not json', 'EX', 30);
    await redis.zadd(`${prefix}:runtime:workers`, Date.now() + 30_000, 'gpu-v2', Date.now() + 30_000, 'gpu-junk');
    expect(await registry.current()).toEqual(T2V_A14B);
    await expect(registry.publish('gpu ok', T2V_A14B, 30)).rejects.toThrow();
    await expect(registry.publish('gpu-x', { ...T2V_A14B, maxFrames: 0 }, 30)).rejects.toThrow();
    await expect(registry.publish('gpu-x', T2V_A14B, 0)).rejects.toThrow(RangeError);
  });
});
