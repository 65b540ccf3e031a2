import { Redis } from 'ioredis';

/** A connection as BullMQ needs it (blocking commands never give up on their own). */
export function connectRedis(url: string, name = 'framecast'): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, connectionName: name, lazyConnect: false });
}
