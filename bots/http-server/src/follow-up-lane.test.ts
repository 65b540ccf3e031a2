import { describe, expect, it } from 'vitest';
import { createFollowUpLane } from './follow-up-lane.ts';

function gate(): { open: () => void; opened: Promise<void> } {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((r) => {
    open = r;
  });
  return { open, opened };
}

describe('createFollowUpLane', () => {
  it('runs at most `concurrency` at once, the rest in order; a failure frees its place', async () => {
    const lane = createFollowUpLane({ concurrency: 2 });
    const gates = [gate(), gate(), gate(), gate()];
    const started: number[] = [];
    const runs = gates.map((g, i) => lane.run(async () => {
      started.push(i);
      await g.opened;
      if (i === 0) throw new Error('boom');
      return i;
    }));
    await Promise.resolve();
    expect(started).toEqual([0, 1]);
    expect(lane.load).toEqual({ running: 2, waiting: 2 });
    gates[0]?.open();
    await expect(runs[0]).rejects.toThrow('boom');
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1, 2]);
    for (const g of gates) g.open();
    expect(await Promise.all(runs.slice(1))).toEqual([1, 2, 3]);
    expect(lane.load).toEqual({ running: 0, waiting: 0 });
  });

  it('past maxWaiting a follow-up starts at once: nothing is dropped', async () => {
    const lane = createFollowUpLane({ concurrency: 1, maxWaiting: 1 });
    const g = gate();
    const started: number[] = [];
    const runs = [0, 1, 2].map((i) => lane.run(async () => {
      started.push(i);
      await g.opened;
      return i;
    }));
    await Promise.resolve();
    expect(started).toEqual([0, 2]);
    g.open();
    expect(await Promise.all(runs)).toEqual([0, 1, 2]);
  });
});
