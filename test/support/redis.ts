import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { inject } from 'vitest';

/** URL of the throwaway redis-server started by the global setup. Never a developer's Redis. */
export function testRedisUrl(): string {
  return inject('redisUrl');
}

/** A new ioredis connection to the test Redis (maxRetriesPerRequest null, as BullMQ needs). */
export function testRedis(): Redis {
  return new Redis(testRedisUrl(), { maxRetriesPerRequest: null });
}

/** A unique prefix so that tests running side by side never share keys. */
export function uniquePrefix(): string {
  return `t-${randomUUID().slice(0, 8)}`;
}
