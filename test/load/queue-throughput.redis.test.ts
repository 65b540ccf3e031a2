import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testRedisUrl, uniquePrefix } from '../support/redis.ts';
import { jainIndex, runQueueBurst, unevenBurst, userFairness, type JobOutcome, type QueueRun } from './queue-rig.ts';

// The CI-sized variant of `npm run bench -- queue`: correctness only, never timing.
const BURST = unevenBurst(4, 3, 1);
const JOBS = 7;

let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'fc-queue-throughput-'));
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

/** Every job rendered once, succeeded, and queued for delivery once. */
function expectEachDoneOnce(run: QueueRun): void {
  expect(run.submitted).toHaveLength(JOBS);
  expect(run.notSucceeded).toEqual([]);
  for (const s of run.submitted) {
    expect(run.renders.get(s.jobId), `renders of ${s.jobId}`).toBe(1);
    expect(run.deliveries.get(s.jobId), `deliveries of ${s.jobId}`).toBe(1);
  }
  expect(new Set(run.outcomes.map((o) => o.jobId)).size).toBe(JOBS);
  for (const o of run.outcomes) expect([o.dequeuedMs, o.queueWaitMs, o.completedMs].every(Number.isFinite)).toBe(true);
}

/** When each job of the users `user` picks was taken by a worker, from the burst's start. */
const dequeued = (run: QueueRun, user: (id: string) => boolean) => run.outcomes.filter((o) => user(o.userId)).map((o) => o.dequeuedMs);

describe("Jain's fairness index", () => {
  it('is 1 for equal shares, 1/n when one user has everything, and (Σx)²/(n·Σx²) between', () => {
    expect(jainIndex([3, 3, 3, 3])).toBe(1);
    expect(jainIndex([5, 0, 0, 0])).toBe(0.25);
    expect(jainIndex([1, 2, 3])).toBeCloseTo(36 / 42, 12);
    expect(jainIndex([0, 0])).toBe(1);
    expect(jainIndex([])).toBeNaN();
    expect(() => jainIndex([1, -1])).toThrow(RangeError);
    expect(() => jainIndex([1, Number.NaN])).toThrow(RangeError);
  });

  it('over users: mean completion divided by job count, and time to the first video', () => {
    const o = (userId: string, completedMs: number): JobOutcome => ({ jobId: `${userId}-${completedMs}`, userId, dequeuedMs: 0, queueWaitMs: 0, completedMs });
    // a: two jobs done at 2 and 4 (mean 3, per job 1.5); b: one at 3 (3); c: one at 6 (6).
    const f = userFairness([o('a', 2), o('a', 4), o('b', 3), o('c', 6)]);
    expect(f.users).toBe(3);
    expect(f.jainMeanCompletionPerJob).toBeCloseTo(jainIndex([1.5, 3, 6]), 12);
    expect(f.jainMeanCompletionPerJob).toBeCloseTo(10.5 ** 2 / (3 * (2.25 + 9 + 36)), 12);
    expect(f.jainFirstVideo).toBeCloseTo(jainIndex([2, 3, 6]), 12);
    expect(f.firstVideoMaxMs).toBe(6);
    expect(f.firstVideoP50Ms).toBe(3);
  });
});

describe('queue throughput: a burst from one heavy and three light users, two real workers (tiny ONNX model, ffmpeg)', () => {
  it('fair queue, pipelined: every job done once, and every light user is served before the heavy user’s second job', { timeout: 240_000 }, async () => {
    const run = await runQueueBurst({
      redisUrl: testRedisUrl(), dataDir, prefix: uniquePrefix(), workers: 2, pipelined: true, queue: 'fair', burst: BURST, steps: 1, scan: 'none', timeoutMs: 200_000,
    });
    expectEachDoneOnce(run);
    // The heavy user's jobs were queued first; the fair queue still takes each light user's job
    // before the heavy user's second (the 4 worker slots take rank 0 of all four users first).
    const heavyLater = dequeued(run, (u) => u === 'heavy').sort((a, b) => a - b).slice(1);
    expect(Math.max(...dequeued(run, (u) => u !== 'heavy'))).toBeLessThanOrEqual(Math.min(...heavyLater));
  });

  it('FIFO baseline, not pipelined: the same burst taken in arrival order, every job done once', { timeout: 240_000 }, async () => {
    const run = await runQueueBurst({
      redisUrl: testRedisUrl(), dataDir, prefix: uniquePrefix(), workers: 2, pipelined: false, queue: 'fifo', burst: BURST, steps: 1, scan: 'none', timeoutMs: 200_000,
    });
    expectEachDoneOnce(run);
    // Arrival order: the heavy user's 4 jobs before any light user's.
    expect(Math.max(...dequeued(run, (u) => u === 'heavy'))).toBeLessThanOrEqual(Math.min(...dequeued(run, (u) => u !== 'heavy')));
  });
});
