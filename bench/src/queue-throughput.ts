import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { startThrowawayRedis } from '../../test/support/redis-server.ts';
import { runQueueBurst, unevenBurst, userFairness, type QueueRun } from '../../test/load/queue-rig.ts';
import { benchScale } from './report.ts';
import { percentile, round } from './stats.ts';

/** Full counts: the 8 workers, one heavy user with 50 jobs and 20 light users with 2 each. */
const SETTINGS = {
  full: { workers: 8, heavyJobs: 50, lightUsers: 20, lightJobs: 2, steps: 4, timeoutMs: 40 * 60_000 },
  small: { workers: 4, heavyJobs: 10, lightUsers: 6, lightJobs: 2, steps: 2, timeoutMs: 15 * 60_000 },
} as const;

const HEAVY = 'heavy';

interface RunFigures {
  jobs: number;
  wallMs: number;
  jobsPerSecond: number;
  queueWaitP50Ms: number;
  queueWaitP99Ms: number;
  jainMeanCompletionPerJob: number;
  jainFirstVideo: number;
  firstVideoP50Ms: number;
  firstVideoMaxMs: number;
  heavyMeanCompletionMs: number;
  lightMeanCompletionMs: number;
  lightAllDoneMs: number;
}

function figuresOf(run: QueueRun): RunFigures {
  const bad = run.submitted.filter((s) => run.renders.get(s.jobId) !== 1 || run.deliveries.get(s.jobId) !== 1);
  if (run.notSucceeded.length > 0 || bad.length > 0) {
    throw new Error(`not every job was done once: ${run.notSucceeded.length} not succeeded, ${bad.length} rendered or delivered other than once`);
  }
  const o = run.outcomes;
  const f = userFairness(o);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const heavy = o.filter((j) => j.userId === HEAVY).map((j) => j.completedMs);
  const light = o.filter((j) => j.userId !== HEAVY).map((j) => j.completedMs);
  const waits = o.map((j) => j.queueWaitMs);
  const lastDone = Math.max(...o.map((j) => j.completedMs));
  return {
    jobs: o.length,
    wallMs: round(lastDone, 0),
    jobsPerSecond: round((o.length / lastDone) * 1000),
    queueWaitP50Ms: round(percentile(waits, 50), 0),
    queueWaitP99Ms: round(percentile(waits, 99), 0),
    jainMeanCompletionPerJob: round(f.jainMeanCompletionPerJob),
    jainFirstVideo: round(f.jainFirstVideo),
    firstVideoP50Ms: round(f.firstVideoP50Ms, 0),
    firstVideoMaxMs: round(f.firstVideoMaxMs, 0),
    heavyMeanCompletionMs: round(mean(heavy), 0),
    lightMeanCompletionMs: round(mean(light), 0),
    lightAllDoneMs: round(Math.max(...light), 0),
  };
}

/** Each figure of `a` over the same figure of `b`. */
function ratios(a: RunFigures, b: RunFigures): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(a) as (keyof RunFigures)[]) if (k !== 'jobs') out[k] = round(a[k] / b[k]);
  return out;
}

/**
 * `npm run bench -- queue`: a burst from users of uneven demand (one heavy user's jobs first, then
 * the light users', all queued before the workers start) taken by W GPU workers, from Framecast's
 * fair queue and from a plain FIFO BullMQ queue (the same jobs and workers: BullMQ priority 0,
 * arrival order), with the workers pipelined and not. Each worker is a GenerateWorker with its own
 * tiny ONNX runtime and BullMQ connections, all in this process (not 8 processes: 8 Node
 * processes with a model each do not fit beside other work on a 2-core machine).
 */
export async function run(): Promise<Record<string, unknown>> {
  const scale = benchScale();
  const s = SETTINGS[scale];
  const burst = unevenBurst(s.heavyJobs, s.lightUsers, s.lightJobs);
  const server = await startThrowawayRedis();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'framecast-bench-queue-'));
  try {
    const modes: Record<string, unknown> = {};
    const jobsPerSecond: Record<string, Record<string, number>> = {};
    for (const pipelined of [false, true]) {
      const byQueue: Partial<Record<'fifo' | 'fair', RunFigures>> = {};
      for (const queue of ['fifo', 'fair'] as const) {
        const r = await runQueueBurst({
          redisUrl: server.url, dataDir, prefix: `bench-queue-${queue}-${pipelined ? 'p' : 's'}`, workers: s.workers, pipelined, queue, burst, steps: s.steps, scan: 'none', timeoutMs: s.timeoutMs,
        });
        byQueue[queue] = figuresOf(r);
      }
      const { fifo, fair } = byQueue as Record<'fifo' | 'fair', RunFigures>;
      modes[pipelined ? 'pipelined' : 'serial'] = { fifoBaseline: fifo, fairQueue: fair, fairOverFifo: ratios(fair, fifo) };
      jobsPerSecond[pipelined ? 'pipelined' : 'serial'] = { fifo: fifo.jobsPerSecond, fair: fair.jobsPerSecond };
    }
    return {
      queue: {
        scale,
        workers: s.workers,
        workersRunAs: `${s.workers} GenerateWorkers in one process (each its own tiny ONNX runtime on the CPU, BullMQ worker and connections)`,
        burst: { heavyUserJobs: s.heavyJobs, lightUsers: s.lightUsers, lightUserJobs: s.lightJobs, jobs: s.heavyJobs + s.lightUsers * s.lightJobs },
        steps: s.steps,
        ...modes,
        pipelinedOverSerial: {
          fifo: round((jobsPerSecond.pipelined?.fifo ?? NaN) / (jobsPerSecond.serial?.fifo ?? NaN)),
          fair: round((jobsPerSecond.pipelined?.fair ?? NaN) / (jobsPerSecond.serial?.fair ?? NaN)),
        },
        machine: `${os.cpus().length} CPU cores, no GPU: the ${s.workers} workers' denoising (ONNX Runtime), ffmpeg encodes and Redis share these cores, so jobs/s is this CPU's, not ${s.workers} GPUs'`,
        note: 'Every job was rendered once, succeeded and was queued for delivery once (checked; the run throws otherwise). Times from the moment the workers start, with the whole burst already queued (heavy user first). queueWait: until a worker took the job plus, pipelined, its wait for that worker\'s accelerator. jainMeanCompletionPerJob: Jain\'s index over each user\'s mean completion time divided by their job count; jainFirstVideo: over each user\'s time to their first video. With one heavy user among many light ones both indices are dominated by how alike the light users are, so read them with firstVideoMaxMs (the longest any user waited for a first video) and light/heavy mean completion. The NSFW output scan is left out (its cost is bench -- moderation\'s subject; here it would add the same CPU to every job).',
      },
    };
  } finally {
    await rm(dataDir, { recursive: true, force: true });
    await server.stop();
  }
}
