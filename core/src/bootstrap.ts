import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { loadConfig, type FramecastConfig, type LoadConfigOptions } from './config/config.ts';
import { createCore, type Core, type CoreMetricsSink } from './core.ts';
import type { ReferenceImageIntake } from './intake/reference-image-intake.ts';
import type { ContentModerator } from './moderation/content-moderator.ts';
import { connectRedis } from './redis/connection.ts';
import { resolveRedis } from './redis/local-redis.ts';
import type { BlobStore } from './storage/blob-store.ts';
import { blobStoreFromConfig } from './storage/blob-store-from-config.ts';
import { createLogger } from './util/logger.ts';

/** What the factories of the ports are given. */
export interface PortContext {
  config: FramecastConfig;
  logger: Logger;
  store: BlobStore;
}

export interface BootstrapOptions {
  /** The process's name in logs and Redis CLIENT LIST. */
  name?: string;
  /** Overrides LOG_LEVEL (e.g. a CLI command that only wants warnings). */
  logLevel?: string;
  /** The content moderator (content-safety's createProductModerator); default: allow everything. */
  moderator?: (ctx: PortContext) => ContentModerator | Promise<ContentModerator>;
  /** Reference image intake (content-safety's createProductImageIntake). */
  imageIntake?: (ctx: PortContext) => ReferenceImageIntake;
  metrics?: CoreMetricsSink;
  dotenv?: LoadConfigOptions;
  /** Where messages about the local redis-server go; default: the logger. */
  redisLog?: (msg: string) => void;
}

export interface Bootstrapped {
  config: FramecastConfig;
  logger: Logger;
  redis: Redis;
  redisUrl: string;
  /** True when this process started a local redis-server. */
  redisOwned: boolean;
  store: BlobStore;
  core: Core;
  close(): Promise<void>;
}

const ALLOW_ALL: ContentModerator = { moderateText: async () => ({ action: 'allow', hits: [], source: 'none' }) };

/**
 * Start-up for every process (CLI, worker, bots, HTTP server): config (every problem listed at
 * once) → logger → Redis (local unless REDIS_URL) → blob store → ports → core.
 */
export async function bootstrap(env: Record<string, string | undefined> = process.env, opts: BootstrapOptions = {}): Promise<Bootstrapped> {
  const config = loadConfig(env, opts.dotenv);
  const name = opts.name ?? 'framecast';
  const logger = createLogger(opts.logLevel ?? config.env.LOG_LEVEL, name);
  const handle = await resolveRedis({ redisUrl: config.redisUrl, dataDir: config.dataDir, log: opts.redisLog ?? ((m) => logger.info(m)) });
  const redis = connectRedis(handle.url, name, logger);
  try {
    const store = blobStoreFromConfig(config);
    const ctx: PortContext = { config, logger, store };
    const moderator = opts.moderator === undefined ? ALLOW_ALL : await opts.moderator(ctx);
    const core = createCore({
      config, redis, moderator, logger,
      connection: { url: handle.url, maxRetriesPerRequest: null },
      ...(opts.imageIntake === undefined ? {} : { imageIntake: opts.imageIntake(ctx) }),
      ...(opts.metrics === undefined ? {} : { metrics: opts.metrics }),
    });
    return {
      config, logger, redis, redisUrl: handle.url, redisOwned: handle.owned, store, core,
      async close() {
        await core.close();
        await redis.quit().catch(() => undefined);
        await handle.close();
      },
    };
  } catch (err) {
    redis.disconnect();
    await handle.close();
    throw err;
  }
}
