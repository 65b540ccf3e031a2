import { readFileSync } from 'node:fs';
import { Job, Queue, type ConnectionOptions, type RedisClient } from 'bullmq';
import type { Redis } from 'ioredis';
import { Keys } from '../redis/keys.ts';
import { BULLMQ_ADD_PRIORITIZED_KEYS } from './bullmq-add.ts';
import type { TickBatcher } from '../redis/tick-batcher.ts';
import { GENERATE_QUEUE, GenerateJobDataSchema, type GenerateJobData, type GenerateJobDataInput } from './job-payloads.schema.ts';

const lua = (name: string) => readFileSync(new URL(`./lua/${name}`, import.meta.url), 'utf8');
const ENQUEUE_RANK = lua('enqueue-rank-1.lua');
const WAITING_POSITION = lua('waiting-position-3.lua');
const WAITING_SET_TTL_SECONDS = 30 * 24 * 3600;

type RedisWithFairQueue = Redis & {
  fcEnqueueRank(key: string, jobId: string, ttl: number): Promise<number>;
  fcWaitingPosition(prioritized: string, wait: string, active: string, jobId: string): Promise<[number, number, number]>;
};

/** BullMQ priorities run 1 … 2^21; lower runs first. */
const MAX_RANK = 1_000_000;
const DEFAULT_SECONDS: Record<'draft' | 'final', number> = { draft: 60, final: 300 };
const DURATION_SAMPLES = 50;
/** Every generate job's options but its id and priority. */
const JOB_OPTIONS = {
  attempts: 4,
  removeOnComplete: { age: 7 * 24 * 3600, count: 10_000 },
  removeOnFail: { age: 30 * 24 * 3600 },
} as const;
/** The first retry of a failed generate job waits this long, doubling after (FRAMECAST_RETRY_BACKOFF_MS). */
export const DEFAULT_RETRY_BACKOFF_MS = 5_000;

/**
 * Priority of a job whose user already has `rank` jobs waiting: a round-robin between users (each
 * user's n-th waiting job runs after everyone's (n−1)-th), drafts ahead of finals of the same rank.
 */
export function fairPriority(rank: number, mode: 'draft' | 'final'): number {
  return 1 + 2 * Math.min(Math.max(0, rank), MAX_RANK) + (mode === 'final' ? 1 : 0);
}

/** Mean of recent run times (ms) in seconds; the mode's default when there are none. */
function averageOf(samplesMs: readonly number[], mode: 'draft' | 'final'): number {
  const ms = samplesMs.filter((n) => Number.isFinite(n) && n > 0);
  if (ms.length === 0) return DEFAULT_SECONDS[mode];
  return ms.reduce((a, b) => a + b, 0) / ms.length / 1000;
}

/** Jobs ahead plus the ones running, shared among the workers, then the job's own run. */
function etaOf(position: number, running: number, workers: number, avgSeconds: number): number {
  return Math.ceil(((position - 1 + running) / Math.max(1, workers)) * avgSeconds + avgSeconds);
}

export interface QueuePosition {
  /** 1-based place among waiting jobs; 0 when the job is running or gone. */
  position: number;
  state: 'waiting' | 'active' | 'delayed' | 'completed' | 'failed' | 'unknown';
  etaSeconds: number;
}

/**
 * The `generate` queue with per-user fairness. A set per user holds that user's waiting job ids;
 * its size at enqueue time is the job's rank. Workers call `taken()` when they start a job.
 */
export class FairQueue {
  readonly queue: Queue;
  private readonly keys: Keys;

  private readonly backoff: { type: 'exponential'; delay: number };

  constructor(
    private readonly redis: Redis,
    prefix: string,
    connection: ConnectionOptions = redis,
    retryBackoffMs = DEFAULT_RETRY_BACKOFF_MS,
  ) {
    this.backoff = { type: 'exponential', delay: retryBackoffMs };
    this.keys = new Keys(prefix);
    this.queue = new Queue(GENERATE_QUEUE, { connection, prefix: this.keys.bullPrefix });
    if (!('fcEnqueueRank' in redis)) {
      redis.defineCommand('fcEnqueueRank', { numberOfKeys: 1, lua: ENQUEUE_RANK });
      redis.defineCommand('fcWaitingPosition', { numberOfKeys: 3, lua: WAITING_POSITION });
    }
  }

  private get r(): RedisWithFairQueue {
    return this.redis as RedisWithFairQueue;
  }

  /**
   * Enqueues once per job id (a repeated call is a no-op) and returns the job's rank. `rank`: the
   * rank JobLifecycle.admit already gave the job (its user's waiting set written), else one is given here.
   * `on`: a pipeline on this queue's own connection (`client()`) to send the add in, so that what
   * the caller puts in it next, in the same turn, runs right after the add in the same round trip.
   */
  async add(input: GenerateJobDataInput, mode: 'draft' | 'final', rank?: number, on?: TickBatcher): Promise<{ rank: number; priority: number }> {
    const data: GenerateJobData = GenerateJobDataSchema.parse(input);
    const setKey = this.keys.waitingCount(data.userKey);
    if (rank === undefined) rank = Math.max(0, await this.r.fcEnqueueRank(setKey, data.jobId, WAITING_SET_TTL_SECONDS));
    const priority = fairPriority(rank, mode);
    try {
      await (on === undefined ? this.enqueue(data, priority) : this.enqueueOn(on, data, priority));
    } catch (err) {
      // Not queued: it must not hold a place in its user's line.
      await this.redis.zrem(setKey, data.jobId).catch(() => undefined);
      throw err;
    }
    return { rank, priority };
  }

  private batch: { data: GenerateJobData; priority: number; done: (err?: unknown) => void }[] = [];

  /**
   * BullMQ's add, with the adds of one turn of the event loop sent together (Queue.addBulk: one
   * pipeline). Should the bulk add fail, each job is added again on its own (an add is idempotent
   * per job id), so each caller learns whether its own job is queued.
   */
  private enqueue(data: GenerateJobData, priority: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.batch.length === 0) process.nextTick(() => void this.flush());
      this.batch.push({ data, priority, done: (err?: unknown) => (err === undefined ? resolve() : reject(err as Error)) });
    });
  }

  /** BullMQ's name, data and options of one generate job. */
  private job(data: GenerateJobData, priority: number) {
    return { name: 'generate', data, opts: { ...JOB_OPTIONS, backoff: this.backoff, jobId: data.jobId, priority } };
  }

  /**
   * BullMQ's add of one job in the caller's pipeline (Job.addJob, as Queue.addBulk does in its own).
   * Should it fail there, the job is added again on its own (an add is idempotent per job id).
   */
  private async enqueueOn(on: TickBatcher, data: GenerateJobData, priority: number): Promise<void> {
    const j = this.job(data, priority);
    try {
      const reply = await on.run<unknown>((p) => new Job(this.queue, j.name, j.data, j.opts, j.opts.jobId).addJob(p as unknown as RedisClient));
      if (typeof reply === 'number' && reply < 0) throw new Error(`BullMQ refused the add (${reply})`);
    } catch {
      await this.queue.add(j.name, j.data, j.opts);
    }
  }

  /**
   * This queue's own connection once it is ready (BullMQ's client): where a pipeline for `add`'s
   * `on` is made, and where scripts run in it must be defined.
   */
  client(): Promise<RedisClient> {
    return this.queue.client;
  }

  private async flush(): Promise<void> {
    const batch = this.batch;
    this.batch = [];
    const job = (b: (typeof batch)[number]) => this.job(b.data, b.priority);
    try {
      await this.queue.addBulk(batch.map(job));
      for (const b of batch) b.done();
    } catch {
      await Promise.all(
        batch.map(async (b) => {
          const j = job(b);
          try {
            await this.queue.add(j.name, j.data, j.opts);
            b.done();
          } catch (err) {
            b.done(err ?? new Error('not queued'));
          }
        }),
      );
    }
  }

  /**
   * A worker started the job (or it was cancelled): it leaves its user's line. Ranks are fixed at
   * enqueue time (BullMQ priorities), so a user's next job queues behind their own waiting ones
   * and a user who keeps many jobs waiting yields to users with fewer.
   */
  async taken(userKey: string, jobId: string): Promise<void> {
    await this.redis.zrem(this.keys.waitingCount(userKey), jobId);
  }

  async position(jobId: string, mode: 'draft' | 'final' = 'draft'): Promise<QueuePosition> {
    const job = await this.queue.getJob(jobId);
    if (job === undefined) return { position: 0, state: 'unknown', etaSeconds: 0 };
    const state = await job.getState();
    const avg = await this.averageSeconds(mode);
    if (state === 'active') return { position: 0, state: 'active', etaSeconds: avg };
    if (state === 'completed' || state === 'failed') return { position: 0, state, etaSeconds: 0 };
    if (state === 'delayed') return { position: 0, state: 'delayed', etaSeconds: avg };
    return this.waitingPosition(jobId, mode);
  }

  /**
   * Place and ETA of a job known to be waiting (one Redis round trip plus a cached worker count):
   * the intake's answer. Our jobs all carry a priority, so they wait in BullMQ's prioritized sorted
   * set (score = priority·2^32 + insertion counter); its rank is the place in line. Jobs without a
   * priority (none of ours) would sit in the plain wait list ahead of them.
   */
  async waitingPosition(jobId: string, mode: 'draft' | 'final'): Promise<QueuePosition> {
    const base = `${this.keys.bullPrefix}:${GENERATE_QUEUE}`;
    const [[rank, plain, running], avg, workers] = await Promise.all([
      this.r.fcWaitingPosition(`${base}:prioritized`, `${base}:wait`, `${base}:active`, jobId),
      this.averageSeconds(mode),
      this.workerCount(),
    ]);
    if (rank < 0) return { position: 0, state: 'unknown', etaSeconds: avg };
    const position = rank + plain + 1;
    return { position, state: 'waiting', etaSeconds: etaOf(position, running, workers, avg) };
  }

  /**
   * The keys JobLifecycle.admit reads and writes to rank a job and tell its place in line before
   * it is enqueued (its user's waiting set, BullMQ's prioritized/wait/active, the mode's run times).
   */
  admissionKeys(userKey: string, mode: 'draft' | 'final'): {
    waitingSet: string; waitingSetTtl: number; prioritized: string; wait: string; active: string; durations: string; durationSamples: number;
  } {
    const base = `${this.keys.bullPrefix}:${GENERATE_QUEUE}`;
    return {
      waitingSet: this.keys.waitingCount(userKey), waitingSetTtl: WAITING_SET_TTL_SECONDS,
      prioritized: `${base}:prioritized`, wait: `${base}:wait`, active: `${base}:active`,
      durations: this.keys.durations(mode), durationSamples: DURATION_SAMPLES,
    };
  }

  private optsTemplate: string | undefined;
  private averageCache: Partial<Record<'draft' | 'final', { at: number; seconds: number }>> = {};

  /**
   * What the intake's one-call admission (JobLifecycle.intakeOne) needs to add a job with BullMQ's
   * own addPrioritizedJob inside its script: that script's 9 keys, then the queue's key prefix, the
   * job's name, its data (JSON), its options as BullMQ encodes them (JSON, without the id and the
   * priority, which the script sets: the priority comes from the rank it gives), the workers and the
   * mode's mean run time (both cached for 5 s: the ETA's inputs).
   */
  async oneCallAdd(input: GenerateJobData, mode: 'draft' | 'final'): Promise<{ keys: string[]; args: (string | number)[] }> {
    const data: GenerateJobData = { version: input.version, jobId: input.jobId, userKey: input.userKey, enqueuedAt: input.enqueuedAt };
    // BullMQ's own encoding of our options (Job.asJSON), once.
    this.optsTemplate ??= JSON.stringify(new Job(this.queue, 'generate', {}, { ...JOB_OPTIONS, backoff: this.backoff }).asJSON().opts);
    const k = this.queue.keys;
    const [workers, avg] = await Promise.all([this.workerCount(), this.averageSecondsCached(mode)]);
    return {
      keys: BULLMQ_ADD_PRIORITIZED_KEYS.map((name) => k[name] ?? `${k['']}${name}`),
      args: [k[''] ?? '', 'generate', JSON.stringify(data), this.optsTemplate, workers, avg],
    };
  }

  /** averageSeconds, read at most every 5 s. */
  private async averageSecondsCached(mode: 'draft' | 'final'): Promise<number> {
    const now = Date.now();
    const c = this.averageCache[mode];
    if (c !== undefined && now - c.at < 5_000) return c.seconds;
    const seconds = await this.averageSeconds(mode);
    this.averageCache[mode] = { at: now, seconds };
    return seconds;
  }

  /** BullMQ's hash of a job in the generate queue (exists once the job is queued). */
  jobKey(jobId: string): string {
    return `${this.keys.bullPrefix}:${GENERATE_QUEUE}:${jobId}`;
  }

  /**
   * Place and ETA from what admit read before the job was enqueued: `ahead` jobs waiting that run
   * before it, `plain` in the wait list, `running` active, and the mode's recent run times (ms).
   */
  async positionFrom(seen: { ahead: number; plain: number; running: number; durationsMs: readonly number[] }, mode: 'draft' | 'final'): Promise<QueuePosition> {
    const avg = averageOf(seen.durationsMs, mode);
    const position = seen.ahead + seen.plain + 1;
    return { position, state: 'waiting', etaSeconds: etaOf(position, seen.running, await this.workerCount(), avg) };
  }

  private workersCache: { at: number; n: number } | undefined;

  /** Workers connected to the queue (CLIENT LIST is costly: cached for 5 s). */
  private async workerCount(): Promise<number> {
    const now = Date.now();
    if (this.workersCache !== undefined && now - this.workersCache.at < 5_000) return this.workersCache.n;
    let n = 1;
    try {
      n = (await this.queue.getWorkers()).length;
    } catch {
      // CLIENT LIST refused (managed Redis): assume one worker.
    }
    this.workersCache = { at: now, n };
    return n;
  }

  /** Recent run time of jobs of one mode, the ETA's unit. */
  async averageSeconds(mode: 'draft' | 'final'): Promise<number> {
    const samples = await this.redis.lrange(this.keys.durations(mode), 0, DURATION_SAMPLES - 1);
    return averageOf(samples.map(Number), mode);
  }

  async recordDuration(mode: 'draft' | 'final', ms: number): Promise<void> {
    const key = this.keys.durations(mode);
    await this.redis.multi().lpush(key, Math.round(ms)).ltrim(key, 0, DURATION_SAMPLES - 1).exec();
  }

  /** Removes a job that has not started yet; false when a worker already holds it. */
  async removeWaiting(jobId: string, userKey: string): Promise<boolean> {
    const job = await this.queue.getJob(jobId);
    if (job === undefined) return false;
    try {
      const state = await job.getState();
      if (state !== 'waiting' && state !== 'prioritized' && state !== 'delayed' && state !== 'waiting-children') return false;
      await job.remove();
    } catch {
      // A worker locked it between the state check and the removal.
      return false;
    }
    await this.taken(userKey, jobId);
    return true;
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
