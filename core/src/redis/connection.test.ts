import { createServer } from 'node:net';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { connectRedis } from './connection.ts';

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('connectRedis', () => {
  it('logs an unreachable Redis through the logger, once per 30 s while it lasts, and never as an unhandled error event', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
    const redis = connectRedis(`redis://127.0.0.1:${await closedPort()}`, 'test-conn', logger);
    try {
      expect(redis.listenerCount('error')).toBeGreaterThan(0);
      // ioredis retries every ~50–2000 ms; several failed attempts happen within 3 s.
      const started = Date.now();
      while (lines.length === 0 && Date.now() - started < 10_000) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 2500));
      const warns = lines.filter((l) => l.msg === 'redis connection error; retrying');
      expect(warns).toHaveLength(1);
      expect(warns[0]).toMatchObject({ connection: 'test-conn', level: 40 });
    } finally {
      redis.disconnect();
    }
  });
});
