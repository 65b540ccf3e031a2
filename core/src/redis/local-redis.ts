import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Redis } from 'ioredis';

export interface RedisHandle {
  url: string;
  /** True when this process started the server (and stops it on close). */
  owned: boolean;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function ping(url: string): Promise<boolean> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

/**
 * The Redis a process should use: REDIS_URL when set; otherwise the local redis-server that
 * `framecast start` runs under <dataDir>/redis (found by its port file); otherwise one started now
 * from the PATH on a free port with AOF persistence in that folder, stopped on close.
 */
export async function resolveRedis(opts: { redisUrl: string | undefined; dataDir: string; log?: (msg: string) => void }): Promise<RedisHandle> {
  if (opts.redisUrl !== undefined) return { url: opts.redisUrl, owned: false, close: async () => undefined };
  const dir = path.join(opts.dataDir, 'redis');
  const portFile = path.join(dir, 'redis.port');
  try {
    const port = Number(readFileSync(portFile, 'utf8').trim());
    const url = `redis://127.0.0.1:${port}`;
    if (Number.isInteger(port) && port > 0 && (await ping(url))) return { url, owned: false, close: async () => undefined };
  } catch {
    // no running local server
  }
  mkdirSync(dir, { recursive: true });
  // One redis-server per data folder: whoever holds the lock runs it; the others wait for its
  // port file and use it. A lock left by a dead process is taken over.
  const lockFile = path.join(dir, 'redis.lock');
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const fd = openSync(lockFile, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = Number(readFileSync(lockFile, 'utf8').trim() || '0');
    if (!isAlive(owner)) {
      rmSync(lockFile, { force: true });
      continue;
    }
    try {
      const port = Number(readFileSync(portFile, 'utf8').trim());
      const url = `redis://127.0.0.1:${port}`;
      if (Number.isInteger(port) && port > 0 && (await ping(url))) return { url, owned: false, close: async () => undefined };
    } catch {
      // not written yet
    }
    if (Date.now() > deadline) throw new Error(`another process (pid ${owner}) holds ${lockFile} but its Redis does not answer`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const port = await freePort();
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--protected-mode', 'yes'],
    // Its own process group: a Ctrl-C in the terminal reaches only us, and we stop Redis after the
    // worker has finished with it. If we die without stopping it, the next start reuses it.
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  const started = new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start within 10 s:\n${out}`)), 10_000);
    child.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        new Error(
          err.code === 'ENOENT'
            ? 'redis-server is not installed. Install it with: sudo apt-get install -y redis-server (or set REDIS_URL to an existing Redis).'
            : `cannot start redis-server: ${err.message}`,
        ),
      );
    });
    const onEarlyExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with code ${code}:\n${out}`));
    };
    child.once('exit', onEarlyExit);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        child.removeListener('exit', onEarlyExit);
        child.stdout?.removeListener('data', onData);
        child.stdout?.resume(); // keep draining its log
        resolve();
      }
    };
    child.stdout?.on('data', onData);
  });
  try {
    await started;
  } catch (err) {
    rmSync(lockFile, { force: true });
    throw err;
  }
  child.stderr?.resume();
  writeFileSync(portFile, String(port));
  opts.log?.(`started redis-server on 127.0.0.1:${port} (data in ${dir})`);
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(portFile, { force: true });
    rmSync(lockFile, { force: true });
  };
  process.once('exit', () => {
    if (child.exitCode === null) child.kill('SIGTERM');
  });
  return { url: `redis://127.0.0.1:${port}`, owned: true, close: stop };
}
