import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pino from 'pino';
import { blobStoreFromConfig, createCore, FINAL_STATES, loadConfig, type ContentModerator, type Core } from '@framecast/core';
import { createWorkerFromConfig, outputScannerFromConfig, type GenerateWorker, type JobTiming, type OutputScanner } from '@framecast/gpu-worker';

/**
 * Queue throughput and fairness between users: a burst of jobs from users of uneven demand, taken
 * by W GPU workers (in one process, each with its own runtime: the tiny ONNX model on the CPU),
 * from Framecast's fair queue or from a plain FIFO BullMQ queue (the same jobs, the same workers).
 * Shared by `npm run bench -- queue` (full counts) and test/load/queue-throughput.redis.test.ts.
 */

export interface BurstUser {
  userId: string;
  jobs: number;
}

/** One heavy user asking for `heavyJobs`, then `lightUsers` users asking for `lightJobs` each. */
export function unevenBurst(heavyJobs: number, lightUsers: number, lightJobs: number): BurstUser[] {
  return [{ userId: 'heavy', jobs: heavyJobs }, ...Array.from({ length: lightUsers }, (_, i) => ({ userId: `light${i + 1}`, jobs: lightJobs }))];
}

/**
 * Jain's fairness index of a non-negative allocation: (Σx)² / (n·Σx²); 1 when every x is equal,
 * 1/n when one user has everything. NaN for no users; 1 when every x is 0.
 */
export function jainIndex(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  if (xs.some((x) => !Number.isFinite(x) || x < 0)) throw new RangeError('Jain’s index takes finite, non-negative values');
  const sum = xs.reduce((a, b) => a + b, 0);
  const squares = xs.reduce((a, b) => a + b * b, 0);
  return squares === 0 ? 1 : (sum * sum) / (xs.length * squares);
}

/** One job of a run: seconds from the burst's start to its dequeue, its accelerator and its end. */
export interface JobOutcome {
  jobId: string;
  userId: string;
  /** Taken by a worker (BullMQ's processedOn). */
  dequeuedMs: number;
  /** Dequeued by a worker plus the wait for the worker's accelerator (pipelined mode holds one job ahead). */
  queueWaitMs: number;
  completedMs: number;
}

export interface UserFairness {
  users: number;
  /** Jain's index over each user's mean completion time divided by the user's job count. */
  jainMeanCompletionPerJob: number;
  /** Jain's index over each user's time to their first finished video. */
  jainFirstVideo: number;
  /** The longest any user waited for their first finished video. */
  firstVideoMaxMs: number;
  firstVideoP50Ms: number;
}

/** Fairness figures of a run from its jobs' outcomes. */
export function userFairness(jobs: readonly JobOutcome[]): UserFairness {
  const byUser = new Map<string, number[]>();
  for (const j of jobs) {
    const list = byUser.get(j.userId) ?? [];
    list.push(j.completedMs);
    byUser.set(j.userId, list);
  }
  const perJob: number[] = [];
  const first: number[] = [];
  for (const times of byUser.values()) {
    perJob.push(times.reduce((a, b) => a + b, 0) / times.length / times.length);
    first.push(Math.min(...times));
  }
  const sorted = [...first].sort((a, b) => a - b);
  return {
    users: byUser.size,
    jainMeanCompletionPerJob: jainIndex(perJob),
    jainFirstVideo: jainIndex(first),
    firstVideoMaxMs: sorted[sorted.length - 1] ?? NaN,
    firstVideoP50Ms: sorted[Math.max(0, Math.ceil(sorted.length / 2) - 1)] ?? NaN,
  };
}

export interface QueueRunOptions {
  redisUrl: string;
  dataDir: string;
  /** Unique per run (Redis keys and BullMQ queues). */
  prefix: string;
  workers: number;
  pipelined: boolean;
  /** `fair`: Framecast's queue (a user's n-th waiting job after everyone's (n−1)-th); `fifo`: BullMQ's plain wait list in arrival order. */
  queue: 'fair' | 'fifo';
  burst: readonly BurstUser[];
  steps: number;
  /**
   * `nsfw`: the product's output scan (content-safety's frame classifier, one model shared by the
   * workers); `none`: every video allowed unscanned (its cost is `bench -- moderation`'s subject).
   */
  scan: 'nsfw' | 'none';
  /** Gives up (and throws) when the jobs have not all ended by then. */
  timeoutMs: number;
}

export interface QueueRun {
  outcomes: JobOutcome[];
  wallMs: number;
  /** Times each job's processor finished a render (1 each when every job was done once). */
  renders: Map<string, number>;
  /** Deliveries queued per job (1 each when every job was handed to its platform once). */
  deliveries: Map<string, number>;
  /** Jobs whose record did not end `succeeded`. */
  notSucceeded: string[];
  /** Submission order, with each job's user. */
  submitted: { jobId: string; userId: string }[];
}

/**
 * Submits the burst (arrival order: each user's jobs back to back, users in `burst` order) with no
 * worker running, turns it into a FIFO when asked, then starts every worker at once and waits for
 * every job to end. Times are measured from that start (the burst's arrival).
 */
export async function runQueueBurst(o: QueueRunOptions): Promise<QueueRun> {
  const redis = new Redis(o.redisUrl, { maxRetriesPerRequest: null });
  const connection = { url: o.redisUrl, maxRetriesPerRequest: null };
  const total = o.burst.reduce((a, u) => a + u.jobs, 0);
  const config = loadConfig(
    {
      REDIS_URL: o.redisUrl, FRAMECAST_DATA_DIR: o.dataDir, FRAMECAST_KEY_PREFIX: o.prefix, LOG_LEVEL: 'silent', FRAMECAST_STEPS: String(o.steps),
      FRAMECAST_FREE_MAX_CONCURRENT: String(total), FRAMECAST_FREE_DAILY_CREDITS: '1000000', FRAMECAST_TENANT_DAILY_CAP: '100000000',
    },
    { dotenvPath: false },
  );
  const allow: ContentModerator = { moderateText: async () => ({ action: 'allow', hits: [], source: 'bench' }) };
  const logger = pino({ level: 'silent' });
  const core = createCore({ config, redis, moderator: allow, connection, logger });
  const store = blobStoreFromConfig(config);
  const workers: GenerateWorker[] = [];
  const renders = new Map<string, number>();
  const gateWait = new Map<string, number>();
  const onTiming = (t: JobTiming) => {
    renders.set(t.jobId, (renders.get(t.jobId) ?? 0) + 1);
    gateWait.set(t.jobId, t.gateWaitMs);
  };
  try {
    // One output scanner (the NSFW model) shared by the workers of this process; each worker has its own runtime.
    const scanner: OutputScanner = o.scan === 'nsfw' ? await outputScannerFromConfig(config) : { scan: async () => ({ action: 'allow', decidingFrames: [] }) };
    for (let w = 0; w < o.workers; w++) {
      workers.push(await createWorkerFromConfig({ core, store, logger, overrides: { store, scanner, pipelined: o.pipelined, onTiming, progressEveryMs: 1_000 } }));
    }
    const submitted: { jobId: string; userId: string }[] = [];
    for (const u of o.burst) {
      for (let i = 0; i < u.jobs; i++) {
        const r = await core.submit({
          version: 1, platform: 'cli', tenantId: 'bench', channelId: 'queue', userId: u.userId, eventId: `${o.prefix}-${u.userId}-${i}`,
          text: `/video ${u.userId} shot ${i}, a harbour at night --draft --seed ${i}`,
          replyTarget: { platform: 'cli', out: path.join(o.dataDir, `${o.prefix}-${u.userId}-${i}.mp4`) }, locale: 'en',
        });
        if (r.status !== 'accepted') throw new Error(`intake refused ${u.userId}'s job ${i}: ${r.reason}`);
        submitted.push({ jobId: r.jobId, userId: u.userId });
      }
    }
    const generate = new Queue(core.workQueue.name, { connection, prefix: core.workQueue.bullPrefix });
    if (o.queue === 'fifo') {
      // BullMQ's priority 0 moves a job to the plain wait list (LPUSH; workers take from the other
      // end): in arrival order, that is a FIFO queue with no fairness between users.
      for (const s of submitted) await (await generate.getJob(s.jobId))?.changePriority({ priority: 0 });
    }
    const t0 = Date.now();
    const start = performance.now();
    for (const w of workers) void w.run().catch((err: unknown) => logger.error({ err }, 'worker stopped'));
    await allEnded(core, generate, submitted.map((s) => s.jobId), o.timeoutMs);
    const wallMs = performance.now() - start;
    const outcomes: JobOutcome[] = [];
    for (const s of submitted) {
      const job = await generate.getJob(s.jobId);
      const processedOn = job?.processedOn ?? NaN;
      const finishedOn = job?.finishedOn ?? NaN;
      outcomes.push({ jobId: s.jobId, userId: s.userId, dequeuedMs: processedOn - t0, queueWaitMs: Math.max(0, processedOn - t0) + (gateWait.get(s.jobId) ?? 0), completedMs: finishedOn - t0 });
    }
    const deliveries = new Map<string, number>();
    // The cli platform's delivery queue (nobody consumes it here); a delivery's id is `deliver-<jobId>`.
    const deliver = new Queue('deliver-cli', { connection, prefix: core.workQueue.bullPrefix });
    for (const s of submitted) deliveries.set(s.jobId, (await deliver.getJob(`deliver-${s.jobId}`)) === undefined ? 0 : 1);
    const notSucceeded = (await Promise.all(submitted.map((s) => core.job(s.jobId)))).filter((rec) => rec?.state !== 'succeeded').map((rec) => rec?.jobId ?? '?');
    for (const q of [generate, deliver]) {
      await q.obliterate({ force: true });
      await q.close();
    }
    return { outcomes, wallMs, renders, deliveries, notSucceeded, submitted };
  } finally {
    await Promise.all(workers.map((w) => w.close()));
    await core.close();
    await redis.quit();
  }
}

/** Every job's record in a final state and BullMQ done with it (it completes the job just after the record ends). */
async function allEnded(core: Core, generate: Queue, ids: readonly string[], timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const recs = await Promise.all(ids.map((id) => core.job(id)));
    const pending = recs.filter((rec) => rec === undefined || !FINAL_STATES.has(rec.state));
    const counts = await generate.getJobCounts('completed', 'failed');
    if (pending.length === 0 && (counts.completed ?? 0) + (counts.failed ?? 0) >= ids.length) return;
    if (Date.now() > end) {
      const states = [...new Set(pending.map((rec) => rec?.state ?? 'missing'))].join(', ');
      throw new Error(`${pending.length} of ${ids.length} jobs had not ended after ${timeoutMs} ms (${states})`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
