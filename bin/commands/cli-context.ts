import { connectRedis, createCore, loadConfig, resolveRedis, type Core, type ContentModerator, type FramecastConfig } from '@framecast/core';
import type { Redis } from 'ioredis';

export class UsageError extends Error {
  readonly code = 'usage';
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** `platform:userId` as typed on the command line. */
export function parseUserKey(user: string): string {
  if (!/^(discord|slack|wechat|miniprogram|cli):[^\s:]{1,256}$/.test(user)) {
    throw new UsageError(`user must look like platform:userId (platform one of discord, slack, wechat, miniprogram, cli), got "${user}"`);
  }
  return user;
}

export interface CliContext {
  config: FramecastConfig;
  redis: Redis;
  close(): Promise<void>;
}

/** Config + a Redis connection (the local one when REDIS_URL is unset). */
export async function openContext(): Promise<CliContext> {
  const config = loadConfig();
  const handle = await resolveRedis({ redisUrl: config.redisUrl, dataDir: config.dataDir, log: (m) => console.error(m) });
  const redis = connectRedis(handle.url, 'framecast-cli');
  return {
    config,
    redis,
    async close() {
      await redis.quit();
      await handle.close();
    },
  };
}

/** A core for commands that only read and settle (no moderation needed). */
export function coreFor(ctx: CliContext, moderator?: ContentModerator): Core {
  const none: ContentModerator = {
    moderateText: async () => ({ action: 'allow', hits: [], source: 'none' }),
  };
  return createCore({ config: ctx.config, redis: ctx.redis, moderator: moderator ?? none });
}
