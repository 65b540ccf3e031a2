import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import type { ChatRequestInput, IntakeResult, ProgressEvent } from '@framecast/core';
import { waitFor } from '../support/e2e.ts';
import { acceptedJobIds, coreAndWorkerAt, recordDeliveries, settleAndTally, startAofRedis, type AofRedis } from '../support/faults.ts';
import { testConfig } from '../support/config.ts';

// SLOW (about 30–60 s on an idle machine): the test's own redis-server (appendonly yes,
// appendfsync always) is killed with SIGKILL while jobs are queued and one has started, and
// started again on the same port and directory. The core, the worker and the delivery consumer
// reconnect by themselves; every accepted job is still there and ends delivered or refunded.

let aof: AofRedis;
let dataDir: string;
beforeAll(async () => {
  aof = await startAofRedis();
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'framecast-fault-aof-'));
});
afterAll(async () => {
  await aof.stop();
  await rm(dataDir, { recursive: true, force: true });
});

let seq = 0;
function request(text: string, userId: string): ChatRequestInput {
  seq += 1;
  return {
    version: 1, platform: 'discord', tenantId: 'g', channelId: 'c', userId, eventId: `fault-aof-${seq}-${Date.now()}`, text,
    replyTarget: { platform: 'discord', applicationId: 'app', channelId: 'c' }, locale: 'en',
  };
}

describe('faults: Redis restarted mid-stream (AOF on)', () => {
  it('killed with SIGKILL while jobs run: no accepted job lost, clients reconnect; accepted = delivered + refunded', { timeout: 400_000 }, async () => {
    const config = testConfig({
      REDIS_URL: aof.url, FRAMECAST_DATA_DIR: dataDir, FRAMECAST_STEPS: '1', FRAMECAST_SCAN_MAX_FRAMES: '2', FRAMECAST_FREE_MAX_CONCURRENT: '20', FRAMECAST_FREE_DAILY_CREDITS: '1000',
      FRAMECAST_LOCK_MS: '5000', FRAMECAST_STALLED_INTERVAL_MS: '2000',
    });
    const redis = new Redis(aof.url, { maxRetriesPerRequest: null });
    // Refused connections while the server is down are expected; ioredis retries by itself.
    redis.on('error', () => undefined);
    const { core, worker } = await coreAndWorkerAt(config, redis, aof.url);
    const recorder = recordDeliveries(core, 'discord');
    try {
      const results: IntakeResult[] = [];
      for (let i = 0; i < 3; i += 1) results.push(await core.submit(request(`/video through the restart ${i} --draft`, `u${i % 2}`)));
      let stepping: ProgressEvent | undefined;
      const unsubscribe = await core.progress.subscribe({ platform: 'discord' }, (e) => {
        if (e.type === 'started') stepping ??= e;
      }, { minStepIntervalMs: 0 });
      void worker.run();
      await waitFor(async () => stepping, 90_000, 'a job to start');
      unsubscribe();
      await aof.kill9();
      await aof.start();
      // Submitted after the restart through the same clients (they reconnect by themselves).
      for (let i = 3; i < 4; i += 1) results.push(await core.submit(request(`/video after the restart ${i} --draft`, `u${i % 2}`)));
      const jobIds = acceptedJobIds(results);
      const tally = await settleAndTally(core, jobIds, { timeoutMs: 240_000, handedOver: () => recorder.times });
      expect(tally.problems).toEqual([]);
      expect(tally.delivered + tally.refunded).toBe(tally.accepted);
    } finally {
      await recorder.close();
      await worker.close();
      await core.close();
      redis.disconnect();
    }
  });
});
