import { connectRedis, createLogger, loadConfig, resolveRedis } from '@framecast/core';
import { createWorkerFromConfig } from '@framecast/gpu-worker';
import { stopOnSignal } from './run-until-signal.ts';

/**
 * `framecast start`: the product on one machine. Redis (a local redis-server with AOF under
 * ./data/redis unless REDIS_URL is set, stopped on exit) and a GPU worker; adapters for the chat
 * platforms join here as they are configured.
 */
export async function startCommand(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.env.LOG_LEVEL, 'framecast');
  const handle = await resolveRedis({ redisUrl: config.redisUrl, dataDir: config.dataDir, log: (m) => logger.info(m) });
  const redis = connectRedis(handle.url, 'framecast-start');
  const worker = await createWorkerFromConfig({ config, redis, connection: { url: handle.url, maxRetriesPerRequest: null }, logger });
  void worker.run();
  const lines = [
    '',
    `Framecast is running (Redis ${handle.owned ? `started locally at ${handle.url}, data in ${config.dataDir}/redis` : handle.url}; worker: ${config.env.FRAMECAST_RUNTIME}).`,
    'No chat platform is configured yet. In another terminal, try:',
    '  npx framecast generate "a paper boat drifting on a rainy street --draft" --out boat.mp4',
    '  npx framecast jobs list cli:$USER',
    'Stop with Ctrl-C.',
    '',
  ];
  console.error(lines.join('\n'));
  stopOnSignal(logger, async () => {
    await worker.close();
    await redis.quit();
    await handle.close();
  });
  await new Promise(() => undefined);
}
