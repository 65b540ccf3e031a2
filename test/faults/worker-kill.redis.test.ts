import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import type { ChatRequestInput, Core, ProgressEvent } from '@framecast/core';
import { productCoreAndWorker, waitFor } from '../support/e2e.ts';
import { acceptedJobIds, fakeFfmpeg, recordDeliveries, settleAndTally, spawnWorker, type FaultChild } from '../support/faults.ts';
import { testRedis, testRedisUrl } from '../support/redis.ts';
import { testConfig } from '../support/config.ts';

// SLOW (about 20–40 s each on an idle machine, minutes on a loaded one): a real `framecast worker` process is killed with
// SIGKILL while it denoises, then while ffmpeg encodes; a new worker takes the job over through
// BullMQ's stalled-job recovery (lock 2.5 s, checked every second). Each ends with the books:
// every accepted job delivered once and charged once, or refunded.

let redis: Redis;
let dataDir: string;
beforeAll(async () => {
  redis = testRedis();
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'framecast-fault-kill-'));
});
afterAll(async () => {
  await redis.quit();
  await rm(dataDir, { recursive: true, force: true });
});

function env(extra: Record<string, string> = {}): Record<string, string> {
  return {
    REDIS_URL: testRedisUrl(), FRAMECAST_DATA_DIR: dataDir, FRAMECAST_STEPS: '4', FRAMECAST_FREE_MAX_CONCURRENT: '20', FRAMECAST_FREE_DAILY_CREDITS: '1000',
    FRAMECAST_LOCK_MS: '2500', FRAMECAST_STALLED_INTERVAL_MS: '1000', ...extra,
  };
}

let seq = 0;
function request(text: string, userId: string): ChatRequestInput {
  seq += 1;
  return {
    version: 1, platform: 'discord', tenantId: 'g', channelId: 'c', userId, eventId: `fault-kill-${seq}-${Date.now()}`, text,
    replyTarget: { platform: 'discord', applicationId: 'app', channelId: 'c' }, locale: 'en',
  };
}

/** Resolves with the first event of any of `jobIds` that `until` accepts. */
async function firstEvent(core: Core, child: FaultChild, jobIds: readonly string[], until: (e: ProgressEvent) => boolean, timeoutMs: number, what: string): Promise<ProgressEvent> {
  let hit: ProgressEvent | undefined;
  const unsubscribe = await core.progress.subscribe({ platform: 'discord' }, (e) => {
    if (hit === undefined && jobIds.includes(e.jobId) && until(e)) hit = e;
  }, { minStepIntervalMs: 0 });
  try {
    return await waitFor(async () => {
      if (hit === undefined && (child.child.exitCode !== null || child.child.signalCode !== null)) throw new Error(`the first worker exited before ${what}: ${child.output()}`);
      return hit;
    }, timeoutMs, what);
  } catch (err) {
    throw new Error(`${(err as Error).message} (worker output: ${child.output().slice(-2000)})`, { cause: err });
  } finally {
    unsubscribe();
  }
}

describe('faults: a worker process killed with SIGKILL', () => {
  for (const phase of ['denoise', 'encode'] as const) {
    it(`mid-${phase}: a new worker finishes every job; accepted = delivered + refunded`, { timeout: 450_000 }, async () => {
      // Mid-denoise: many steps at half size keep the first worker denoising long enough.
      // Mid-encode: the first encode's ffmpeg stalls, so the kill lands while it runs.
      const first = phase === 'denoise' ? env({ FRAMECAST_STEPS: '40', FRAMECAST_RENDER_SCALE: '0.5' }) : env();
      const config = testConfig(env());
      const ff = await fakeFfmpeg();
      const { core, worker: second } = await productCoreAndWorker(config, redis);
      const recorder = recordDeliveries(core, 'discord');
      let child: FaultChild | undefined;
      try {
        const results = [];
        for (let i = 0; i < 2; i += 1) results.push(await core.submit(request(`/video fault ${phase} ${i} --draft`, `u${i}`)));
        const jobIds = acceptedJobIds(results);
        if (phase === 'encode') await ff.stallNextEncode(60);
        child = spawnWorker({ ...first, FRAMECAST_KEY_PREFIX: config.keyPrefix, PATH: `${ff.binDir}${path.delimiter}${process.env.PATH ?? ''}` });
        const c = child;
        if (phase === 'denoise') {
          await firstEvent(core, c, jobIds, (e) => e.type === 'step' && e.step >= 1, 240_000, 'a step from the first worker');
        } else {
          await firstEvent(core, c, jobIds, (e) => e.type === 'encoding' && e.phase === 'encoding', 240_000, 'encoding in the first worker');
          await waitFor(async () => ((await ff.calls()).includes('stall ') ? true : undefined), 30_000, 'the stalled ffmpeg to start');
        }
        await child.kill9();
        void second.run();
        const tally = await settleAndTally(core, jobIds, { timeoutMs: 150_000, handedOver: () => recorder.times });
        expect(tally.problems).toEqual([]);
        expect(tally.delivered + tally.refunded).toBe(tally.accepted);
      } finally {
        await child?.kill9();
        await recorder.close();
        await second.close();
        await core.close();
        await ff.remove();
      }
    });
  }
});
