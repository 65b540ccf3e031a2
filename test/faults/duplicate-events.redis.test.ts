import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import type { ChatRequestInput, IntakeResult } from '@framecast/core';
import { productCoreAndWorker } from '../support/e2e.ts';
import { acceptedJobIds, recordDeliveries, settleAndTally } from '../support/faults.ts';
import { mulberry32 } from '../support/prng.ts';
import { testRedis, testRedisUrl } from '../support/redis.ts';
import { testConfig } from '../support/config.ts';

// About 10–20 s on an idle machine (three tiny-model jobs); minutes on a machine loaded far past its cores.

let redis: Redis;
let dataDir: string;
beforeAll(async () => {
  redis = testRedis();
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'framecast-fault-dup-'));
});
afterAll(async () => {
  await redis.quit();
  await rm(dataDir, { recursive: true, force: true });
});

function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j] as T, a[i] as T];
  }
  return a;
}

describe('faults: every event delivered twice, out of order', () => {
  it('duplicates submitted concurrently in shuffled order, and again after the jobs ended: one job and one charge per event; accepted = delivered + refunded', { timeout: 300_000 }, async () => {
    const config = testConfig({ REDIS_URL: testRedisUrl(), FRAMECAST_DATA_DIR: dataDir, FRAMECAST_STEPS: '1', FRAMECAST_SCAN_MAX_FRAMES: '2', FRAMECAST_FREE_MAX_CONCURRENT: '20', FRAMECAST_FREE_DAILY_CREDITS: '1000' });
    const { core, worker } = await productCoreAndWorker(config, redis);
    const recorder = recordDeliveries(core, 'discord');
    const stamp = Date.now();
    const events: ChatRequestInput[] = [0, 1, 2].map((i) => ({
      version: 1, platform: 'discord', tenantId: 'g', channelId: 'c', userId: `u${i % 2}`, eventId: `fault-dup-${stamp}-${i}`, text: `/video twice told ${i} --draft`,
      replyTarget: { platform: 'discord', applicationId: 'app', channelId: 'c' }, locale: 'en',
    }));
    try {
      const random = mulberry32(13);
      // Each event twice, the copies shuffled and all in flight at once (a platform retrying).
      const first = await Promise.all(shuffled([...events, ...events], random).map(async (e) => ({ eventId: e.eventId, r: await core.submit(e) })));
      void worker.run();
      const jobIds = acceptedJobIds(first.map((x) => x.r));
      const jobOf = new Map<string, Set<string>>();
      const note = (eventId: string, r: IntakeResult) => {
        const set = jobOf.get(eventId) ?? new Set<string>();
        set.add(r.status === 'accepted' ? r.jobId : `refused:${r.reason}`);
        jobOf.set(eventId, set);
      };
      for (const x of first) note(x.eventId, x.r);
      const tally = await settleAndTally(core, jobIds, { timeoutMs: 220_000, handedOver: () => recorder.times });
      // Late copies, after the jobs ended, again shuffled: the same answers, nothing new.
      const late = await Promise.all(shuffled([...events, ...events], random).map(async (e) => ({ eventId: e.eventId, r: await core.submit(e) })));
      for (const x of late) note(x.eventId, x.r);
      expect([...jobOf.values()].map((s) => s.size)).toEqual([1, 1, 1]);
      expect(acceptedJobIds([...first, ...late].map((x) => x.r))).toHaveLength(events.length);
      expect((await settleAndTally(core, jobIds, { timeoutMs: 10_000, handedOver: () => recorder.times })).problems).toEqual(tally.problems);
      expect(tally.problems).toEqual([]);
      expect(tally.delivered + tally.refunded).toBe(tally.accepted);
    } finally {
      await recorder.close();
      await worker.close();
      await core.close();
    }
  });
});
