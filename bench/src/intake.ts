import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { createCore, loadConfig, type ContentModerator } from '@framecast/core';
import { createKeywordModerator, defaultKeywordListDir, KeywordFilter } from '@framecast/content-safety';
import { startThrowawayRedis } from '../../test/support/redis-server.ts';
import { percentile, round, runConcurrent } from './stats.ts';

const N = 2000;
const CONCURRENCY = 32;
/** Requests of each kind before any is measured. */
const WARM_UP = 1000;
/** Measured rounds of each kind, in turns; the median round of each is reported. */
const ROUNDS = 5;

/**
 * core.submit (grammar, keyword moderation, quota Lua, job record, fair enqueue, position/ETA)
 * next to a bare BullMQ queue.add of the same payload, same Redis, same concurrency.
 */
export async function run(): Promise<Record<string, unknown>> {
  const redisServer = await startThrowawayRedis();
  const redis = new Redis(redisServer.url, { maxRetriesPerRequest: null });
  try {
    const config = loadConfig(
      { FRAMECAST_KEY_PREFIX: 'bench', LOG_LEVEL: 'silent', FRAMECAST_FREE_DAILY_CREDITS: '1000000', FRAMECAST_FREE_MAX_CONCURRENT: '1000', FRAMECAST_TENANT_DAILY_CAP: '100000000' },
      { dotenvPath: false },
    );
    const moderator: ContentModerator = createKeywordModerator(await KeywordFilter.fromDirectory(defaultKeywordListDir()));
    const core = createCore({ config, redis, moderator });
    const prompts = ['/video 一只橘猫在雨中的屋顶上奔跑 ——ar 16：9 ——draft', '/video a lighthouse at dusk, waves crashing --ar 9:16 --seed 42 --draft', '/视频 水墨风格的山水 --style 水墨 --duration 4 --draft'];
    const payloads: unknown[] = [];
    let accepted = 0;
    // The generate queue as a worker sees it (the payloads the intake enqueued, for the baseline).
    const work = new Queue(core.workQueue.name, { connection: redis, prefix: core.workQueue.bullPrefix });
    // CPU spent per request by this process and by Redis: steadier than requests/s on a busy machine.
    const redisCpu = async (): Promise<number> => {
      const info = await redis.info('cpu');
      const field = (k: string) => Number(new RegExp(`${k}:([0-9.]+)`).exec(info)?.[1] ?? 0);
      return (field('used_cpu_user') + field('used_cpu_sys')) * 1e6;
    };
    // Commands Redis ran (total_commands_processed: those a script calls count too).
    const redisCommands = async (): Promise<number> => Number(/total_commands_processed:(\d+)/.exec(await redis.info('stats'))?.[1] ?? 0);
    const cpuOf = async <T>(f: () => Promise<T>): Promise<T & { nodeCpuUs: number; redisCpuUs: number; commands: number }> => {
      const n0 = await redisCommands();
      const r0 = await redisCpu();
      const c0 = process.cpuUsage();
      const res = await f();
      const c = process.cpuUsage(c0);
      const redisCpuUs = ((await redisCpu()) - r0) / N;
      return { ...res, nodeCpuUs: (c.user + c.system) / N, redisCpuUs, commands: ((await redisCommands()) - n0 - 3) / N };
    };
    let roundNo = 0;
    const intakeRound = (n: number) => {
      const r = roundNo++;
      return runConcurrent(n, CONCURRENCY, async (i) => {
        const res = await core.submit({
          version: 1, platform: 'discord', tenantId: `g${i % 7}`, channelId: 'c', userId: `u${i % 50}`, eventId: `${r}-${randomUUID()}`, text: prompts[i % 3] ?? '',
          replyTarget: { platform: 'discord', applicationId: 'bench', channelId: 'c', interactionToken: `token-${i}` }, locale: 'en',
        });
        if (res.status === 'accepted') {
          accepted += 1;
          if (payloads.length < 3) payloads.push((await work.getJob(res.jobId))?.data);
        }
      });
    };
    const bare = new Queue('bare', { connection: redis, prefix: 'bench-bare' });
    const bareRound = (n: number) => runConcurrent(n, CONCURRENCY, async (i) => {
      await bare.add('generate', payloads[i % payloads.length], { jobId: randomUUID(), priority: 1 + (i % 5) });
    });
    // Both warmed up alike (JIT, scripts loaded, connections open), then measured in turns: the
    // median round of each, so that a burst of other work on the machine hits both.
    await intakeRound(WARM_UP);
    await bareRound(WARM_UP);
    accepted = 0;
    const intakeRounds: ({ latencies: number[]; wallMs: number; nodeCpuUs: number; redisCpuUs: number; commands: number })[] = [];
    const bareRounds: typeof intakeRounds = [];
    for (let k = 0; k < ROUNDS; k++) {
      intakeRounds.push(await cpuOf(() => intakeRound(N)));
      bareRounds.push(await cpuOf(() => bareRound(N)));
    }
    await work.close();
    await bare.close();
    await core.close();
    if (accepted !== N * ROUNDS) throw new Error(`only ${accepted} of ${N * ROUNDS} intakes were accepted`);
    const median = <R extends { wallMs: number }>(rs: R[]): R => [...rs].sort((x, y) => x.wallMs - y.wallMs)[Math.floor(rs.length / 2)] as R;
    const intake = median(intakeRounds);
    const baseline = median(bareRounds);

    const figures = (r: { latencies: number[]; wallMs: number; nodeCpuUs: number; redisCpuUs: number; commands: number }) => ({
      perSecond: round((N / r.wallMs) * 1000, 1),
      p50Ms: round(percentile(r.latencies, 50)),
      p99Ms: round(percentile(r.latencies, 99)),
      nodeCpuMicrosPerRequest: round(r.nodeCpuUs, 1),
      redisCpuMicrosPerRequest: round(r.redisCpuUs, 1),
      redisCommandsPerRequest: round(r.commands, 2),
    });
    // Each intake round next to the bare round that followed it (same minute of this VM).
    const pairRatios = intakeRounds.map((r, k) => (bareRounds[k] as { wallMs: number }).wallMs / r.wallMs).sort((x, y) => x - y);
    const a = figures(intake);
    const b = figures(baseline);
    return {
      intake: {
        requests: N,
        concurrency: CONCURRENCY,
        warmUp: WARM_UP,
        rounds: ROUNDS,
        roundsPerSecond: { coreIntake: intakeRounds.map((r) => round((N / r.wallMs) * 1000, 1)), bareQueueAdd: bareRounds.map((r) => round((N / r.wallMs) * 1000, 1)) },
        coreIntake: a,
        bareQueueAdd: b,
        ratio: {
          throughputIntakeOverBare: round(a.perSecond / b.perSecond),
          /** The median over the rounds of (intake round ÷ the bare round right after it): steadier when the machine's speed drifts. */
          throughputPairedMedian: round(pairRatios[Math.floor(pairRatios.length / 2)] ?? 0),
          p50IntakeOverBare: round(a.p50Ms / b.p50Ms),
          p99IntakeOverBare: round(a.p99Ms / b.p99Ms),
          /** Bare CPU over intake CPU (Node + Redis) per request: the throughput ratio a machine with CPU to spare for nothing else would see. */
          cpuBareOverIntake: round((b.nodeCpuMicrosPerRequest + b.redisCpuMicrosPerRequest) / (a.nodeCpuMicrosPerRequest + a.redisCpuMicrosPerRequest)),
        },
        note: 'core.submit of a text-only request = request schema + grammar + keyword moderation (no Redis), then 1 Redis call (JobLifecycle.intakeOne, intake-one-26.lua), sent with the other intakes of the same event-loop turn, at most 8 to a pipeline: idempotency claim + block check + quota reserve + job record + fair rank + place in line + BullMQ\'s own addPrioritizedJob script run inside ours + the queued event + the answer\'s facts over the claim. The baseline is one BullMQ queue.add of the same payload (a pointer to the record: version, jobId, userKey, enqueuedAt), same connection, same concurrency. Each side is warmed up with ' + WARM_UP + ' requests, then measured in ' + ROUNDS + ' alternating rounds of ' + N + '; the median round of each is reported (all rounds in roundsPerSecond), and throughputPairedMedian is the median over the rounds of the intake round rate ÷ the rate of the bare round right after it. CPU figures are per request, this process and the Redis server; redisCommandsPerRequest counts the commands Redis ran, those inside scripts included.',
      },
    };
  } finally {
    await redis.quit();
    await redisServer.stop();
  }
}
