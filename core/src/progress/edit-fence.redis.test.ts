import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { testRedis } from '../../../test/support/redis.ts';
import { EditFence } from './edit-fence.ts';

let ca: Redis;
let cb: Redis;
beforeAll(() => {
  ca = testRedis();
  cb = testRedis();
});
afterAll(async () => {
  await ca.quit();
  await cb.quit();
});

const prefixOf = () => `fence${Math.random().toString(36).slice(2, 8)}`;

describe('EditFence: a job\'s progress edits never land after its final edit, across processes', () => {
  it('the final edit (another process) waits for a progress edit in flight; a progress edit after it is skipped', async () => {
    const prefix = prefixOf();
    // Two processes: the one rendering the job's progress, the one delivering it.
    const renderer = new EditFence(ca, prefix, 'slack-status', { windowMs: 5000 });
    const deliverer = new EditFence(cb, prefix, 'slack-status', { windowMs: 5000 });
    const order: string[] = [];
    let release!: () => void;
    const slow = renderer.progress('j1', async () => {
      order.push('step edit sent');
      await new Promise<void>((r) => { release = r; });
      order.push('step edit landed');
    });
    await new Promise((r) => setTimeout(r, 50));
    const final = deliverer.settle('j1').then(() => order.push('final edit'));
    await new Promise((r) => setTimeout(r, 200));
    expect(order).toEqual(['step edit sent']); // the final edit waits
    release();
    expect(await slow).toBe(true);
    await final;
    // A late progress event (a lagging renderer) finds the final edit begun: nothing is written.
    let wrote = false;
    expect(await renderer.progress('j1', async () => { wrote = true; })).toBe(false);
    expect(wrote).toBe(false);
    expect(order).toEqual(['step edit sent', 'step edit landed', 'final edit']);
    // Other jobs are not fenced; a repeated final edit (a retried delivery) goes at once.
    expect(await renderer.progress('j2', async () => undefined)).toBe(true);
    const t0 = Date.now();
    await deliverer.settle('j1');
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('a progress edit that hangs holds the final edit back for the window at most', async () => {
    const prefix = prefixOf();
    const renderer = new EditFence(ca, prefix, 'discord-reply', { windowMs: 300 });
    const deliverer = new EditFence(cb, prefix, 'discord-reply', { windowMs: 300 });
    void renderer.progress('j', () => new Promise<void>(() => undefined)); // never answers
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    await deliverer.settle('j');
    const waited = Date.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(150);
    expect(waited).toBeLessThan(3000);
  });

  it('with Redis unreachable, progress edits go and the final edit does not wait', async () => {
    const broken = { eval: () => Promise.reject(new Error('connection closed')), pttl: () => Promise.reject(new Error('connection closed')) } as unknown as Redis;
    const fence = new EditFence(broken, 'x', 'slack-status');
    let wrote = false;
    expect(await fence.progress('j', async () => { wrote = true; })).toBe(true);
    expect(wrote).toBe(true);
    await fence.settle('j');
  });
});
