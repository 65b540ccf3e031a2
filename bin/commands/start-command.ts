import os from 'node:os';
import { bootstrap, createFramecastMetrics } from '@framecast/core';
import { startHttpServer, type RunningHttpServer } from '@framecast/http-server';
import { createProductImageIntake, createProductModerator } from '@framecast/content-safety';
import { createWorkerFromConfig } from '@framecast/gpu-worker';
import { cliDeliveryHandler } from './cli-delivery.ts';
import { stopOnSignal } from './run-until-signal.ts';

/** A user id for the banner's examples that works even when $USER is empty (containers). */
function exampleUser(): string {
  const name = (process.env.USER ?? '') || (() => {
    try {
      return os.userInfo().username;
    } catch {
      return '';
    }
  })();
  return /^[^\s:]{1,256}$/.test(name) ? name : 'local';
}

/**
 * `framecast start`: the product on one machine. Redis (a local redis-server with AOF under
 * ./data/redis unless REDIS_URL is set, stopped on exit), a GPU worker, the cli platform's
 * delivery, and the chat platforms that are configured.
 */
export async function startCommand(): Promise<void> {
  const metrics = createFramecastMetrics();
  const app = await bootstrap(process.env, {
    name: 'framecast',
    metrics,
    moderator: ({ config, logger, store }) => createProductModerator(config, { logger, store, watch: true }).then((m) => m.moderator),
    imageIntake: ({ store }) => createProductImageIntake(store),
  });
  const { core, config, logger } = app;
  metrics.setLogger(logger);
  metrics.setSources({
    jobsByState: async () => (await core.stats()).jobsByState,
    queueDepths: async () => (await core.stats()).queues,
  });
  let http: RunningHttpServer | undefined;
  if (config.env.FRAMECAST_HTTP_PORT !== 0) {
    http = await startHttpServer({
      deps: { metrics, readiness: () => core.readiness(), logger },
      port: config.env.FRAMECAST_HTTP_PORT,
      bodyLimit: config.env.FRAMECAST_HTTP_BODY_LIMIT,
      logger,
    });
  }
  const worker = await createWorkerFromConfig({ core, store: app.store, logger });
  void worker.run();
  const cli = core.deliveries.consume('cli', cliDeliveryHandler(app.store));
  const user = exampleUser();
  const lines = [
    '',
    `Framecast is running (Redis ${app.redisOwned ? `started locally at ${app.redisUrl}, data in ${config.dataDir}/redis` : app.redisUrl}; worker: ${config.env.FRAMECAST_RUNTIME}).`,
    http === undefined ? 'HTTP server off (FRAMECAST_HTTP_PORT=0).' : `HTTP: http://127.0.0.1:${http.port}/healthz, /readyz, /metrics`,
    'No chat platform is configured yet. In another terminal, try:',
    '  npx framecast generate "a paper boat drifting on a rainy street --draft" --out boat.mp4',
    `  npx framecast jobs list cli:${user}`,
    'Stop with Ctrl-C.',
    '',
  ];
  console.error(lines.join('\n'));
  stopOnSignal(logger, async () => {
    await http?.close();
    await cli.close();
    await worker.close();
    await app.close();
  });
  await new Promise(() => undefined);
}
