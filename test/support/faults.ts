import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { blobStoreFromConfig, createCore, FINAL_STATES, type BlobStore, type Core, type FramecastConfig, type IntakeResult, type Platform } from '@framecast/core';
import { createProductImageIntake, createProductModerator } from '@framecast/content-safety';
import { createWorkerFromConfig, type GenerateWorker } from '@framecast/gpu-worker';
import { freePort } from './redis-server.ts';
import { silentLogger, waitFor } from './e2e.ts';

// Helpers for the fault tests (test/faults): processes killed with SIGKILL, a Redis restarted
// with its append-only file, an ffmpeg that fails or stalls on cue, and the final count
// "accepted = delivered + refunded" read from the job records, delivery records and quota.

export const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..');
export const CLI = path.join(REPO_ROOT, 'bin', 'framecast.mjs');
export const TINY_MODEL_DIR = path.join(REPO_ROOT, 'models', 'tiny-wan');

/** A child process started by a fault test, in its own process group (so SIGKILL takes its ffmpeg too). */
export interface FaultChild {
  child: ChildProcess;
  exited: Promise<number | null>;
  output(): string;
  /** SIGKILL to the whole process group; resolves when the process is gone. */
  kill9(): Promise<void>;
}

/** Spawns `node <args>` with `env` added to this process's environment, in a new process group. */
export function spawnNode(args: string[], env: Record<string, string>, cwd = REPO_ROOT): FaultChild {
  const child = spawn(process.execPath, args, { env: { ...(process.env as Record<string, string>), ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  const keep = (b: Buffer) => {
    out = (out + b.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    output: () => out,
    async kill9() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
      await exited;
    },
  };
}

/** `framecast worker` as a separate process. */
export function spawnWorker(env: Record<string, string>): FaultChild {
  return spawnNode([CLI, 'worker'], { FRAMECAST_MODEL_DIR: TINY_MODEL_DIR, LOG_LEVEL: 'warn', ...env });
}

export interface AofRedis {
  url: string;
  port: number;
  dir: string;
  /** kill -9 the server (everything acknowledged is already in the AOF: appendfsync always). */
  kill9(): Promise<void>;
  /** Starts it again on the same port and directory (it replays the AOF). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** A redis-server of the test's own, persisting every write (appendonly yes, appendfsync always). */
export async function startAofRedis(): Promise<AofRedis> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'framecast-aof-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    const c = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 20_000);
      c.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      c.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited (${code}): ${out}`));
      });
      c.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  };
  const kill = async (signal: NodeJS.Signals) => {
    const c = child;
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill(signal);
    await exited;
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    kill9: () => kill('SIGKILL'),
    start,
    async stop() {
      await kill('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface FakeFfmpeg {
  /** A folder to put first on a worker's PATH: it holds `ffmpeg`, which runs the real one unless told otherwise. */
  binDir: string;
  /** Every ffmpeg call whose arguments mention this text (a job id) exits 1 without running. */
  failWhenArgsContain(text: string): Promise<void>;
  /** The next encode (an .mp4 output) sleeps this long first, once; then it runs. */
  stallNextEncode(seconds: number): Promise<void>;
  /** Lines `start <args>` / `fail <args>` / `stall <args>` for each call so far. */
  calls(): Promise<string>;
  remove(): Promise<void>;
}

/** An `ffmpeg` wrapper (a shell script) that fails or stalls on cue and otherwise runs the real ffmpeg. */
export async function fakeFfmpeg(): Promise<FakeFfmpeg> {
  const real = execFileSync('sh', ['-c', 'command -v ffmpeg']).toString().trim();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'framecast-ffmpeg-'));
  const binDir = path.join(dir, 'bin');
  await mkdir(binDir);
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const script = `#!/bin/sh
ctl=${q(dir)}
if [ -f "$ctl/fail" ]; then
  while IFS= read -r id; do
    [ -n "$id" ] || continue
    case "$*" in *"$id"*) echo "fail $*" >> "$ctl/calls"; echo "injected ffmpeg failure" >&2; exit 1;; esac
  done < "$ctl/fail"
fi
case "$*" in *.mp4*)
  if mv "$ctl/stall" "$ctl/stall.taken" 2>/dev/null; then
    echo "stall $*" >> "$ctl/calls"
    sleep "$(cat "$ctl/stall.taken")"
  fi;;
esac
echo "start $*" >> "$ctl/calls"
exec ${q(real)} "$@"
`;
  const file = path.join(binDir, 'ffmpeg');
  await writeFile(file, script);
  await chmod(file, 0o755);
  return {
    binDir,
    async failWhenArgsContain(text) {
      await writeFile(path.join(dir, 'fail'), `${text}\n`, { flag: 'a' });
    },
    async stallNextEncode(seconds) {
      await writeFile(path.join(dir, 'stall'), String(seconds));
    },
    calls: () => readFile(path.join(dir, 'calls'), 'utf8').catch(() => ''),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** The product's core and an in-process worker on any Redis (the AOF test brings its own). */
export async function coreAndWorkerAt(config: FramecastConfig, redis: Redis, redisUrl: string, store: BlobStore = blobStoreFromConfig(config)): Promise<{ core: Core; worker: GenerateWorker }> {
  const { moderator } = await createProductModerator(config);
  const core = createCore({ config, redis, moderator, imageIntake: createProductImageIntake(store), logger: silentLogger, connection: { url: redisUrl, maxRetriesPerRequest: null } });
  const worker = await createWorkerFromConfig({ core, store, logger: silentLogger, overrides: { store } });
  return { core, worker };
}

/** Records every delivery handed to this process for a platform (how often, per job). */
export interface DeliveryRecorder {
  readonly times: Map<string, number>;
  close(): Promise<void>;
}

export function recordDeliveries(core: Core, platform: Platform): DeliveryRecorder {
  const times = new Map<string, number>();
  const consumer = core.deliveries.consume(platform, async (d) => {
    times.set(d.jobId, (times.get(d.jobId) ?? 0) + 1);
    return { status: 'delivered' };
  }, { relayEveryMs: 500, lockDurationMs: 4000, stalledIntervalMs: 1000 });
  return { times, close: () => consumer.close() };
}

export interface Tally {
  accepted: number;
  /** A video delivered and charged once. */
  delivered: number;
  /** Failed, blocked, cancelled or undeliverable: told (or given up) and refunded. */
  refunded: number;
  /** Anything that breaks the books: a job counted in neither column, a charge that does not add up, credits still held. */
  problems: string[];
}

/** The jobs accepted by a list of submits (each id once, however often a duplicate answered). */
export function acceptedJobIds(results: readonly IntakeResult[]): string[] {
  return [...new Set(results.flatMap((r) => (r.status === 'accepted' ? [r.jobId] : [])))];
}

/**
 * Waits until every accepted job is final and its outcome recorded as delivered or given up,
 * then reads the books: each job is counted as delivered (succeeded, its video delivered) or
 * refunded (any other final state), and each user's ledger must show exactly the delivered
 * videos' cost as spent, nothing held, no slot taken. `handedOver` (deliveries per job seen by the
 * consumers) must be 1 for each job when given.
 */
export async function settleAndTally(core: Core, jobIds: readonly string[], opts: { timeoutMs?: number; handedOver?: () => Map<string, number> } = {}): Promise<Tally> {
  const pending = async () => {
    const out: string[] = [];
    for (const id of jobIds) {
      const rec = await core.job(id);
      const ds = await core.deliveries.state(id);
      if (rec === undefined || !FINAL_STATES.has(rec.state) || (ds !== 'delivered' && ds !== 'undeliverable')) {
        out.push(`${id}: ${rec?.state ?? 'no record'} (attempts ${rec?.attempts ?? 0}, error ${rec?.error?.code ?? '-'}), delivery ${ds ?? 'none'}`);
      }
    }
    return out;
  };
  try {
    await waitFor(async () => ((await pending()).length === 0 ? true : undefined), opts.timeoutMs ?? 120_000, 'every accepted job to be final and its outcome delivered or given up');
  } catch (err) {
    throw new Error(`${(err as Error).message}; still pending: ${(await pending()).join('; ')}`, { cause: err });
  }
  const problems: string[] = [];
  let delivered = 0;
  let refunded = 0;
  const spentByUser = new Map<string, number>();
  for (const id of jobIds) {
    const rec = await core.job(id);
    if (rec === undefined) {
      problems.push(`${id}: record gone`);
      continue;
    }
    spentByUser.set(rec.userKey, spentByUser.get(rec.userKey) ?? 0);
    const ds = await core.deliveries.state(id);
    const kind = await core.deliveries.outcomeKind(id);
    if (rec.state === 'succeeded' && ds === 'delivered' && kind === 'video') {
      delivered += 1;
      spentByUser.set(rec.userKey, (spentByUser.get(rec.userKey) ?? 0) + rec.cost);
    } else if (rec.state !== 'succeeded') {
      refunded += 1;
    } else {
      problems.push(`${id}: succeeded but delivery ${String(ds)} of ${String(kind)}`);
    }
    const n = opts.handedOver?.().get(id);
    if (opts.handedOver !== undefined && n !== 1) problems.push(`${id}: handed to the platform ${n ?? 0} times`);
  }
  for (const [user, spent] of spentByUser) {
    const q = await core.quota.show(user, { tier: 'free' });
    if (q.spent !== spent || q.held !== 0 || q.active !== 0) problems.push(`${user}: ledger spent ${q.spent} held ${q.held} active ${q.active}, expected spent ${spent} held 0 active 0`);
  }
  return { accepted: jobIds.length, delivered, refunded, problems };
}
