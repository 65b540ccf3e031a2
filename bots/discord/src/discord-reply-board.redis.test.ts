import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { EditFence } from '@framecast/core';
import { testRedis } from '../../../test/support/redis.ts';
import { DiscordReplyBoard } from './discord-progress.ts';

let ra: Redis;
let rb: Redis;
beforeAll(() => {
  ra = testRedis();
  rb = testRedis();
});
afterAll(async () => {
  await ra.quit();
  await rb.quit();
});

describe('the deferred reply across replicas (edit fence)', () => {
  it("the delivering replica's video edit waits for the rendering replica's progress edit in flight; a later progress edit is dropped", async () => {
    const prefix = `fence${Math.random().toString(36).slice(2, 8)}`;
    const renderer = new DiscordReplyBoard(10_000, new EditFence(ra, prefix, 'discord-reply', { windowMs: 5000 }));
    const deliverer = new DiscordReplyBoard(10_000, new EditFence(rb, prefix, 'discord-reply', { windowMs: 5000 }));
    expect(renderer.editTimeoutMs).toBe(3000);
    const edits: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    renderer.edit('j', async () => {
      await gate;
      edits.push('Encoding…');
    });
    await new Promise((r) => setTimeout(r, 50));
    const video = deliverer.settle('j').then(() => edits.push('the video'));
    await new Promise((r) => setTimeout(r, 200));
    expect(edits).toEqual([]);
    release();
    await video;
    renderer.edit('j', async () => {
      edits.push('Checking…');
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(edits).toEqual(['Encoding…', 'the video']);
  });
});
