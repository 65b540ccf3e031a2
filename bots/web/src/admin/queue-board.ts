import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { KoaAdapter } from '@bull-board/koa';
import { GENERATE_QUEUE, PLATFORMS, type Core } from '@framecast/core';
import { Queue } from 'bullmq';
import type { Middleware } from 'koa';

/** Where bull-board is mounted (behind the admin login). */
export const QUEUE_BOARD_PATH = '/admin/queues';

export interface QueueBoard {
  /** bull-board's UI and API under QUEUE_BOARD_PATH (the caller checks the login first). */
  readonly middleware: Middleware;
  /** The generate queue, for the console's own figures. */
  readonly generate: Queue;
  close(): Promise<void>;
}

/**
 * bull-board over the generate queue and every platform's delivery queue, read-only: a job's
 * fate changes only through the core's lifecycle (the console's own buttons), never by retrying
 * or removing BullMQ jobs behind its back.
 */
export function createQueueBoard(core: Core): QueueBoard {
  const { connection, bullPrefix } = core.workQueue;
  const names = [GENERATE_QUEUE, ...PLATFORMS.map((p) => `deliver-${p}`)];
  const queues = names.map((name) => new Queue(name, { connection, prefix: bullPrefix }));
  const serverAdapter = new KoaAdapter();
  serverAdapter.setBasePath(QUEUE_BOARD_PATH);
  createBullBoard({
    queues: queues.map((q) => new BullMQAdapter(q, { readOnlyMode: true })),
    // @bull-board/koa 9.10.1 carries its own copy of @bull-board/api 9.10.1: the same interface, a different declaration.
    serverAdapter: serverAdapter as unknown as Parameters<typeof createBullBoard>[0]['serverAdapter'],
    options: { uiConfig: { boardTitle: 'Framecast' } },
  });
  const generate = queues[0] as Queue;
  return {
    middleware: serverAdapter.registerPlugin() as unknown as Middleware,
    generate,
    async close() {
      await Promise.all(queues.map((q) => q.close()));
    },
  };
}

export interface QueueFigures {
  workers: number;
  active: number;
  /** Active generate jobs per worker, 0…1 (0 with no worker). */
  busyFraction: number;
  /** Generate jobs completed in the last hour (counted over the newest `THROUGHPUT_SAMPLE`). */
  completedLastHour: number;
  /** True when the count reached the sample's size (so it is at least that). */
  completedAtLeast: boolean;
  jobsByState: Record<string, number>;
  queues: Array<{ queue: string; counts: Record<string, number> }>;
}

export const THROUGHPUT_SAMPLE = 1000;

/** Workers, how busy they are, how many videos an hour, and the queues' depths (as /metrics has them). */
export async function queueFigures(core: Core, generate: Queue, now = Date.now()): Promise<QueueFigures> {
  const [workers, stats, counts, done] = await Promise.all([
    core.workQueue.workerCount(),
    core.stats(),
    generate.getJobCounts('active'),
    generate.getJobs(['completed'], 0, THROUGHPUT_SAMPLE - 1, false),
  ]);
  const active = counts.active ?? 0;
  const hourAgo = now - 3600_000;
  const completedLastHour = done.filter((j) => (j.finishedOn ?? 0) >= hourAgo).length;
  return {
    workers, active, busyFraction: workers === 0 ? 0 : Math.min(1, active / workers),
    completedLastHour, completedAtLeast: completedLastHour >= THROUGHPUT_SAMPLE,
    jobsByState: stats.jobsByState, queues: stats.queues,
  };
}
