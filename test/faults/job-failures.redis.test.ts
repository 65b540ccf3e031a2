import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { BlobStoreError, blobStoreFromConfig, type BlobStore, type ChatRequestInput } from '@framecast/core';
import { acceptedJobIds, coreAndWorkerAt, fakeFfmpeg, recordDeliveries, settleAndTally, type FakeFfmpeg } from '../support/faults.ts';
import { testRedis, testRedisUrl } from '../support/redis.ts';
import { testConfig } from '../support/config.ts';

// A job whose ffmpeg fails, and a results disk that is full, are retried by BullMQ (4 attempts;
// FRAMECAST_RETRY_BACKOFF_MS=500 here, so 0.5 s, 1 s, 2 s instead of the default 5, 10, 20 s)
// before they fail for good and are refunded. Each ends with the books: accepted = delivered + refunded.

let redis: Redis;
let dataDir: string;
let ff: FakeFfmpeg;
/** Unmounts of the tmpfs disks still mounted (afterAll runs them too, should a test time out). */
const mounted = new Set<() => void>();
beforeAll(async () => {
  redis = testRedis();
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'framecast-fault-jobs-'));
  // The worker runs in this test process: its ffmpeg (fluent-ffmpeg and the frame sampler both
  // look it up on the PATH) is the wrapper, which runs the real one unless told to fail.
  ff = await fakeFfmpeg();
  process.env.PATH = `${ff.binDir}${path.delimiter}${process.env.PATH ?? ''}`;
  delete process.env.FFMPEG_PATH;
});
afterAll(async () => {
  for (const unmount of mounted) unmount();
  await redis.quit();
  await rm(dataDir, { recursive: true, force: true });
  await ff.remove();
});

function env(extra: Record<string, string> = {}): Record<string, string> {
  return { REDIS_URL: testRedisUrl(), FRAMECAST_DATA_DIR: dataDir, FRAMECAST_STEPS: '1', FRAMECAST_SCAN_MAX_FRAMES: '2', FRAMECAST_FREE_MAX_CONCURRENT: '20', FRAMECAST_FREE_DAILY_CREDITS: '1000', FRAMECAST_RETRY_BACKOFF_MS: '500', ...extra };
}

let seq = 0;
function request(text: string, userId: string): ChatRequestInput {
  seq += 1;
  return {
    version: 1, platform: 'discord', tenantId: 'g', channelId: 'c', userId, eventId: `fault-job-${seq}-${Date.now()}`, text,
    replyTarget: { platform: 'discord', applicationId: 'app', channelId: 'c' }, locale: 'en',
  };
}

/** A tmpfs of 256 KiB at `dir`, filled to the last byte; undefined when this process may not mount. */
async function fullDisk(dir: string): Promise<{ unmount(): void } | undefined> {
  await mkdir(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  const unmount = () => {
    if (!mounted.delete(unmount)) return;
    try {
      execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
    } catch {
      // Already gone.
    }
  };
  mounted.add(unmount);
  try {
    await writeFile(path.join(dir, 'filler'), Buffer.alloc(1024 * 1024));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  }
  return { unmount };
}

/** Without root: a store whose every write fails as a full disk does (ENOSPC), through the public interface. */
function enospcStore(inner: BlobStore): BlobStore {
  return {
    kind: inner.kind,
    put: (key) => {
      const cause = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      return Promise.reject(new BlobStoreError('backend', 'local blob write failed (ENOSPC, simulated)', { key, cause }));
    },
    get: (key) => inner.get(key),
    stream: (key, range) => inner.stream(key, range),
    size: (key) => inner.size(key),
    exists: (key) => inner.exists(key),
    delete: (key) => inner.delete(key),
    url: (key, s) => inner.url(key, s),
  };
}

describe('faults: a job that cannot be finished', () => {
  it('ffmpeg fails on one job: that job fails and is refunded, the others are delivered; accepted = delivered + refunded', { timeout: 450_000 }, async () => {
    const config = testConfig(env());
    const { core, worker } = await coreAndWorkerAt(config, redis, testRedisUrl());
    const recorder = recordDeliveries(core, 'discord');
    try {
      const results = [];
      for (let i = 0; i < 3; i += 1) results.push(await core.submit(request(`/video ffmpeg fault ${i} --draft`, `u${i}`)));
      const jobIds = acceptedJobIds(results);
      await ff.failWhenArgsContain(jobIds[1] ?? 'none');
      void worker.run();
      const tally = await settleAndTally(core, jobIds, { timeoutMs: 400_000, handedOver: () => recorder.times });
      expect(tally.problems).toEqual([]);
      expect((await core.job(jobIds[1] ?? ''))?.state).toBe('failed');
      expect({ delivered: tally.delivered, refunded: tally.refunded }).toEqual({ delivered: 2, refunded: 1 });
      expect(tally.delivered + tally.refunded).toBe(tally.accepted);
    } finally {
      await recorder.close();
      await worker.close();
      await core.close();
    }
  });

  it('the results disk is full: the job fails cleanly and is refunded, nothing stuck; accepted = delivered + refunded', { timeout: 450_000 }, async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'framecast-fault-disk-'));
    const config = testConfig(env({ FRAMECAST_DATA_DIR: dir }));
    const disk = await fullDisk(path.join(dir, 'blobs'));
    const plain = blobStoreFromConfig(config);
    const { core, worker } = await coreAndWorkerAt(config, redis, testRedisUrl(), disk === undefined ? enospcStore(plain) : plain);
    const recorder = recordDeliveries(core, 'discord');
    try {
      const results = [];
      results.push(await core.submit(request('/video disk full --draft', 'u0')));
      const jobIds = acceptedJobIds(results);
      void worker.run();
      const tally = await settleAndTally(core, jobIds, { timeoutMs: 400_000, handedOver: () => recorder.times });
      expect(tally.problems).toEqual([]);
      expect({ delivered: tally.delivered, refunded: tally.refunded }).toEqual({ delivered: 0, refunded: 1 });
      expect(tally.delivered + tally.refunded).toBe(tally.accepted);
    } finally {
      disk?.unmount();
      await recorder.close();
      await worker.close();
      await core.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
