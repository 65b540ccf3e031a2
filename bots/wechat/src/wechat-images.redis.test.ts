import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { LocalBlobStore } from '@framecast/core';
import { testRedis, uniquePrefix } from '../../../test/support/redis.ts';
import { ImageMemory } from './wechat-images.ts';
import { solidPng } from '../../slack/src/testing/tiny-png.ts';

let redis: Redis;
let dir: string;
beforeAll(async () => {
  redis = testRedis();
  dir = await mkdtemp(path.join(os.tmpdir(), 'framecast-wechat-images-'));
});
afterAll(async () => {
  await redis.quit();
  await rm(dir, { recursive: true, force: true });
});

describe('pictures kept for the next prompt', () => {
  it('a picture waits the window for its sender in that chat, once; the last one stays for "用上一张图"', async () => {
    let now = 1_800_000_000_000;
    const store = new LocalBlobStore({ dir });
    const images = new ImageMemory({ redis, store, keyPrefix: uniquePrefix(), windowSeconds: 180, now: () => now });
    const png = solidPng(8, 8, [200, 10, 10]);
    const kept = await images.remember('room1', 'alice', 'msg1', png, 'image/png');
    expect((await store.get(kept.ref)).equals(png)).toBe(true);
    expect(ImageMemory.attachmentOf(kept)).toEqual({ kind: 'image', storageRef: kept.ref, contentType: 'image/png', size: png.length });
    // Only its sender, only in that chat.
    expect(await images.pending('room1', 'bob')).toBeUndefined();
    expect(await images.pending('alice', 'alice')).toBeUndefined();
    now += 179_000;
    expect((await images.pending('room1', 'alice'))?.ref).toBe(kept.ref);
    // Used by a prompt: not picked up again by itself, still there when asked for.
    await images.markUsed('room1', 'alice', kept.ref, 'job-1');
    expect(await images.pending('room1', 'alice')).toBeUndefined();
    expect((await images.last('room1', 'alice'))?.ref).toBe(kept.ref);
    // A newer picture replaces it; past the window it waits no more but stays the last one.
    const newer = await images.remember('room1', 'alice', 'msg2', solidPng(8, 8, [10, 200, 10]), 'image/png');
    expect(newer.ref).not.toBe(kept.ref);
    await images.markUsed('room1', 'alice', kept.ref, 'job-late');
    expect((await images.pending('room1', 'alice'))?.ref).toBe(newer.ref);
    now += 181_000;
    expect(await images.pending('room1', 'alice')).toBeUndefined();
    expect((await images.last('room1', 'alice'))?.ref).toBe(newer.ref);
  });
});
