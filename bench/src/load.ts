import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startThrowawayRedis } from '../../test/support/redis-server.ts';
import { LOAD_PLATFORMS, readLedger, runBaseline, runCommands, settle, startLoadRig, type LoadOutcome } from '../../test/load/load-rig.ts';
import { percentile, round } from './stats.ts';

const COMMANDS = Number(process.env.FRAMECAST_LOAD_COMMANDS ?? 1000);
const USERS = Number(process.env.FRAMECAST_LOAD_USERS ?? 200);
const WINDOW_MS = 10_000;
/** Per user: 10 credits, so 3 drafts of 3 credits are accepted and the rest refused by the quota. */
const DAILY_CREDITS = 10;
const PROMPTS = ['a lighthouse at dusk, waves crashing --draft', '一只橘猫在雨中的屋顶上奔跑 --draft', 'paper boats on a rainy street --draft'];

function latency(o: LoadOutcome, platform?: string): { acked: number; p50Ms: number; p99Ms: number; maxMs: number } {
  const l = o.acked.filter((a) => platform === undefined || a.platform === platform).map((a) => a.latencyMs);
  return { acked: l.length, p50Ms: round(percentile(l, 50), 1), p99Ms: round(percentile(l, 99), 1), maxMs: round(Math.max(...l), 1) };
}

/**
 * `npm run bench -- load`: 1,000 slash commands from 200 users sent on an even schedule over 10 s
 * through Slack's HTTP receiver, Discord's HTTP interactions and the mini program API of one HTTP
 * server (real Redis, no worker), next to the same schedule of plain 200 answers from a koa route
 * on the same server. Then the ledger: jobs, credits and BullMQ's queue.
 */
export async function run(): Promise<Record<string, unknown>> {
  if (!Number.isSafeInteger(COMMANDS) || COMMANDS < 1 || COMMANDS > 20_000 || !Number.isSafeInteger(USERS) || USERS < 3 || USERS > COMMANDS) {
    throw new Error('FRAMECAST_LOAD_COMMANDS must be 1…20000 and FRAMECAST_LOAD_USERS 3…commands');
  }
  const redisServer = await startThrowawayRedis();
  const rig = await startLoadRig({ redisUrl: redisServer.url, dailyCredits: DAILY_CREDITS });
  try {
    const tokens = new Map<number, string>();
    for (let u = 0; u < USERS; u++) if (LOAD_PLATFORMS[u % 3] === 'miniprogram') tokens.set(u, await rig.mpLogin(u));
    // Warm-up (scripts loaded, connections open, JIT) with users outside the measured range.
    for (let i = 0; i < 15; i++) {
      const user = USERS * 10 + i;
      const platform = LOAD_PLATFORMS[i % 3] ?? 'slack';
      await rig.send(platform, user, PROMPTS[0] ?? '', platform === 'miniprogram' ? await rig.mpLogin(user) : undefined);
      await rig.baseline();
    }
    const queuedBefore = await rig.queueDepth();
    const loadBefore = os.loadavg();
    // CPU per command (this process: server, adapters, core, generator and fakes; and Redis): steadier than latency on a busy machine.
    const redisCpu = async (): Promise<number> => {
      const info = await rig.redis.info('cpu');
      const field = (k: string) => Number(new RegExp(`${k}:([0-9.]+)`).exec(info)?.[1] ?? 0);
      return (field('used_cpu_user') + field('used_cpu_sys')) * 1e6;
    };
    // The event loop's delay (sampled every 10 ms) while each schedule runs: how long a due request could wait for the loop.
    type Run<T> = { result: T; nodeCpuMicrosPerCommand: number; redisCpuMicrosPerCommand: number; eventLoopDelayMs: { p50: number; p99: number; max: number } };
    const cpuOf = async <T>(f: () => Promise<T>): Promise<Run<T>> => {
      const r0 = await redisCpu();
      const loop = monitorEventLoopDelay({ resolution: 10 });
      loop.enable();
      const c0 = process.cpuUsage();
      const result = await f();
      const c = process.cpuUsage(c0);
      loop.disable();
      const ms = (ns: number) => round(ns / 1e6, 1);
      return {
        result, nodeCpuMicrosPerCommand: round((c.user + c.system) / COMMANDS, 0), redisCpuMicrosPerCommand: round(((await redisCpu()) - r0) / COMMANDS, 0),
        eventLoopDelayMs: { p50: ms(loop.percentile(50)), p99: ms(loop.percentile(99)), max: ms(loop.max) },
      };
    };
    const baselineRun = await cpuOf(() => runBaseline(rig, { commands: COMMANDS, windowMs: WINDOW_MS }));
    const loadRun = await cpuOf(() => runCommands(rig, { commands: COMMANDS, users: USERS, windowMs: WINDOW_MS, settleMs: 30_000 }, (i) => PROMPTS[i % PROMPTS.length] ?? '', tokens));
    const baseline = baselineRun.result;
    const load = loadRun.result;
    const loadAfter = os.loadavg();
    const perUser = Math.ceil(COMMANDS / USERS);
    await settle(rig, USERS, 0, 60_000);
    const ledger = await readLedger(rig, USERS);
    const cost = ledger.costs.length === 1 ? (ledger.costs[0] ?? 0) : NaN;
    const expectedAccepted = USERS * Math.min(perUser, Math.floor(DAILY_CREDITS / cost));
    const b = latency(baseline);
    const all = latency(load);
    const byPlatform = Object.fromEntries(LOAD_PLATFORMS.map((p) => {
      const l = latency(load, p);
      return [p, { ...l, p50OverBaseline: round(l.p50Ms / b.p50Ms, 2), p99OverBaseline: round(l.p99Ms / b.p99Ms, 2) }];
    }));
    const statuses: Record<string, number> = {};
    for (const a of load.acked) statuses[`${a.platform} ${a.status}`] = (statuses[`${a.platform} ${a.status}`] ?? 0) + 1;
    return {
      load: {
        machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? '?', loadavgBefore: loadBefore.map((x) => round(x, 2)), loadavgAfter: loadAfter.map((x) => round(x, 2)) },
        commands: COMMANDS, users: USERS, windowMs: WINDOW_MS, dailyCredits: DAILY_CREDITS,
        acknowledged: load.acked.length,
        failures: load.failures.length,
        failureSamples: load.failures.slice(0, 5),
        sendWallMs: round(load.wallMs, 0),
        // How late the sender (its own worker thread) let requests leave: near 0 means the figures are the server's.
        senderLagMs: { commands: { p99: round(percentile(load.lagMs, 99), 1), max: round(Math.max(...load.lagMs), 1) }, baseline: { p99: round(percentile(baseline.lagMs, 99), 1), max: round(Math.max(...baseline.lagMs), 1) } },
        statuses,
        latency: { all: { ...all, p50OverBaseline: round(all.p50Ms / b.p50Ms, 2), p99OverBaseline: round(all.p99Ms / b.p99Ms, 2) }, ...byPlatform },
        cpu: {
          commands: { nodeCpuMicrosPerCommand: loadRun.nodeCpuMicrosPerCommand, redisCpuMicrosPerCommand: loadRun.redisCpuMicrosPerCommand },
          baseline: { nodeCpuMicrosPerCommand: baselineRun.nodeCpuMicrosPerCommand, redisCpuMicrosPerCommand: baselineRun.redisCpuMicrosPerCommand },
        },
        eventLoopDelayMs: { commands: loadRun.eventLoopDelayMs, baseline: baselineRun.eventLoopDelayMs },
        baseline: { what: 'the same schedule of POSTs to a plain koa route answering 200 on the same server', ...b, failures: baseline.failures.length },
        quota: {
          costPerDraft: ledger.costs,
          accepted: ledger.accepted,
          expectedAccepted,
          charged: ledger.charged,
          acceptedTimesCost: ledger.accepted * cost,
          exact: ledger.charged === ledger.accepted * cost && ledger.inexact.length === 0,
          usersOverDailyCredits: ledger.overDrawn.length,
          usersInexact: ledger.inexact.length,
        },
        queue: {
          counts: ledger.queueCounts, queuedByThisRun: ledger.queued - queuedBefore, acceptedMissingFromQueue: ledger.missingFromQueue, duplicateEventIds: ledger.duplicateEvents,
          allQueued: ledger.queued - queuedBefore === ledger.accepted && ledger.missingFromQueue === 0,
        },
        note: 'latency: from the moment a request was due (open loop, even schedule) to its HTTP answer; Slack answers with the outcome of core.submit when it comes within 2 s (else an ephemeral "working on it" and the outcome posted after), Discord answers a deferral (type 5) at once and submits after, the mini program answers after core.submit (its answer is the job). The requests leave from a worker thread of the bench process; the server, core and the fake platform APIs share the main thread; eventLoopDelayMs is the delay of that thread.',
      },
    };
  } finally {
    await rig.close();
    await redisServer.stop();
  }
}
