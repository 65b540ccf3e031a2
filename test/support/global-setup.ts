import type { TestProject } from 'vitest/node';
import { startThrowawayRedis } from './redis-server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

/** One throwaway redis-server for the whole run; tests isolate themselves with random key prefixes. */
export default async function setup(project: TestProject) {
  const redis = await startThrowawayRedis();
  project.provide('redisUrl', redis.url);
  return async () => {
    await redis.stop();
  };
}
