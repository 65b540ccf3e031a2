import { Redis } from 'ioredis';
import type { Logger } from 'pino';

/** While Redis stays unreachable, one log line per this many ms (ioredis errors on every retry). */
const ERROR_LOG_EVERY_MS = 30_000;

/**
 * A connection as BullMQ needs it (blocking commands never give up on their own). Connection
 * errors go to the logger, at most one line per 30 s while they last, instead of ioredis's
 * "Unhandled error event" on stderr at every reconnect attempt; a reconnection is logged once.
 */
export function connectRedis(url: string, name = 'framecast', logger?: Logger): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: null, connectionName: name, lazyConnect: false });
  let lastLogged = 0;
  let failing = false;
  redis.on('error', (err: Error) => {
    const now = Date.now();
    if (!failing || now - lastLogged >= ERROR_LOG_EVERY_MS) {
      logger?.warn({ err: err.message, connection: name }, 'redis connection error; retrying');
      lastLogged = now;
    }
    failing = true;
  });
  redis.on('ready', () => {
    if (failing) logger?.info({ connection: name }, 'redis connection back');
    failing = false;
  });
  return redis;
}
