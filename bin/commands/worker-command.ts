import { connectRedis, createLogger, loadConfig, resolveRedis } from '@framecast/core';
import { createWorkerFromConfig } from '@framecast/gpu-worker';
import { stopOnSignal } from './run-until-signal.ts';

/** `framecast worker`: one process per GPU, the model loaded once, until SIGINT/SIGTERM. */
export async function workerCommand(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.env.LOG_LEVEL, 'framecast-worker');
  const handle = await resolveRedis({ redisUrl: config.redisUrl, dataDir: config.dataDir, log: (m) => logger.info(m) });
  const redis = connectRedis(handle.url, 'framecast-worker');
  const worker = await createWorkerFromConfig({ config, redis, connection: { url: handle.url, maxRetriesPerRequest: null }, logger });
  logger.info({ runtime: config.env.FRAMECAST_RUNTIME }, 'worker ready');
  stopOnSignal(logger, async () => {
    await worker.close();
    await redis.quit();
    await handle.close();
  });
  await worker.run();
}
