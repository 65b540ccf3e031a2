import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createCore, tAll, type ChatRequestInput } from '@framecast/core';
import { silentLogger, waitFor } from '../support/e2e.ts';
import { acceptedJobIds, recordDeliveries, REPO_ROOT, settleAndTally, spawnNode, type FaultChild } from '../support/faults.ts';
import { testRedis, testRedisUrl } from '../support/redis.ts';
import { testConfig } from '../support/config.ts';

// SLOW (about 35–65 s on an idle machine): a delivering process is killed with SIGKILL while it
// holds outcomes that are not yet delivered. Its deliveries are taken over by a restarted
// consumer once their BullMQ locks lapse — the delivery consumers use BullMQ's defaults (lock
// 30 s, stalled check every 30 s), which core does not let a caller shorten.

let redis: Redis;
let dir: string;
beforeAll(async () => {
  redis = testRedis();
  dir = await mkdtemp(path.join(os.tmpdir(), 'framecast-fault-delivery-'));
});
afterAll(async () => {
  await redis.quit();
  await rm(dir, { recursive: true, force: true });
});

let seq = 0;
function request(text: string, userId: string): ChatRequestInput {
  seq += 1;
  return {
    version: 1, platform: 'discord', tenantId: 'g', channelId: 'c', userId, eventId: `fault-delivery-${seq}-${Date.now()}`, text,
    replyTarget: { platform: 'discord', applicationId: 'app', channelId: 'c' }, locale: 'en',
  };
}

describe('faults: a delivering process killed with SIGKILL', () => {
  it('with deliveries pending: a restarted consumer delivers each exactly once; accepted = delivered + refunded', { timeout: 240_000 }, async () => {
    const env = { REDIS_URL: testRedisUrl(), FRAMECAST_DATA_DIR: dir, FRAMECAST_FREE_MAX_CONCURRENT: '20', FRAMECAST_FREE_DAILY_CREDITS: '1000', LOG_LEVEL: 'silent' };
    const config = testConfig(env);
    const core = createCore({ config, redis, moderator: { moderateText: async () => ({ action: 'allow', hits: [], source: 't' }) }, logger: silentLogger, connection: { url: testRedisUrl(), maxRetriesPerRequest: null } });
    const log = path.join(dir, `${config.keyPrefix}.log`);
    let child: FaultChild | undefined;
    let recorder: ReturnType<typeof recordDeliveries> | undefined;
    try {
      const results = [];
      for (let i = 0; i < 6; i += 1) results.push(await core.submit(request(`/video delivery fault ${i} --draft`, `u${i % 3}`)));
      const jobIds = acceptedJobIds(results);
      // No generate worker: the outcomes are written as a worker writes them (video: charged;
      // failed: refunded), so that six deliveries are pending at once.
      for (const [i, jobId] of jobIds.entries()) {
        if (i % 2 === 0) {
          await core.lifecycle.finish(jobId, { kind: 'video', result: { videoRef: `videos/${jobId}.mp4`, bytes: 1, width: 128, height: 208, frames: 49, fps: 16, durationSec: 3, needsLink: false, downgraded: false } });
        } else {
          await core.lifecycle.finish(jobId, { kind: 'failed', code: 'failed', message: tAll('outcome.failed') }, { code: 'failed', message: 'fault test' });
        }
      }
      child = spawnNode([path.join(REPO_ROOT, 'bin', 'run-ts.mjs'), path.join(REPO_ROOT, 'test', 'support', 'fault-delivery-consumer.ts')], {
        ...env, FRAMECAST_KEY_PREFIX: config.keyPrefix, FAULT_DELIVERY_LOG: log, FAULT_DELIVERY_PLATFORM: 'discord',
      });
      const c = child;
      // Killed while it holds deliveries (its default concurrency is 4): begun, never finished.
      const begun = await waitFor(async () => {
        const n = (await readFile(log, 'utf8').catch(() => '')).split('\n').filter((l) => l.startsWith('begin ')).length;
        return n >= 4 ? n : undefined;
      }, 90_000, `the delivering process to take deliveries (${c.output()})`);
      expect(begun).toBeGreaterThanOrEqual(4);
      await child.kill9();
      recorder = recordDeliveries(core, 'discord');
      const r = recorder;
      const tally = await settleAndTally(core, jobIds, { timeoutMs: 200_000, handedOver: () => r.times });
      expect(tally.problems).toEqual([]);
      expect(tally.delivered + tally.refunded).toBe(tally.accepted);
    } finally {
      await child?.kill9();
      await recorder?.close();
      await core.close();
    }
  });
});
