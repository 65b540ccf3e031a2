import os from 'node:os';
import { defaultKeywordListDir } from '@framecast/content-safety';
import { createWorkerFromConfig } from '@framecast/gpu-worker';
import { httpServerFor, productApp } from './bot-command.ts';
import { cliDeliveryHandler } from './cli-delivery.ts';
import { configuredAdapters, startAdapter, startPlayground, type RunningAdapter, type RunningPlayground } from './platform-adapters.ts';
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
 * ./data/redis unless REDIS_URL is set, stopped on exit), the HTTP server, a GPU worker, the cli
 * platform's delivery, and every chat platform whose variables are set.
 */
export async function startCommand(): Promise<void> {
  const { app, metrics, keywords } = await productApp('framecast');
  const { core, config, logger } = app;
  const http = await httpServerFor(app, metrics);
  // The admin console (/admin) when an admin password is set (its package loaded only then); mounted before the adapters' routes.
  const admin = http === undefined || config.env.FRAMECAST_ADMIN_PASSWORD === undefined
    ? undefined
    : (await import('@framecast/bot-web')).createAdminConsole({
        core, redis: app.redis, store: app.store, metrics, logger,
        ...(keywords === undefined
          ? {}
          : { keywords: { dir: config.env.FRAMECAST_KEYWORD_LISTS ?? defaultKeywordListDir(), entries: () => keywords.size, lastError: () => keywords.lastError, reload: () => keywords.reload() } }),
      });
  if (admin !== undefined) http?.mount(admin.middleware);
  const worker = await createWorkerFromConfig({ core, store: app.store, logger });
  void worker.run();
  const cli = core.deliveries.consume('cli', cliDeliveryHandler(app.store));
  const adapters: RunningAdapter[] = [];
  for (const name of configuredAdapters(config)) {
    try {
      adapters.push(await startAdapter(name, { core, store: app.store, logger, config, redis: app.redis, ...(http === undefined ? {} : { http }) }));
    } catch (err) {
      // One platform's bad settings must not take the others (or the worker) down.
      logger.error({ err, platform: name }, 'chat platform not started');
      console.error(`${name}: not started: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  // The web playground (on unless FRAMECAST_WEB=off): where a newcomer makes a first video.
  let playground: RunningPlayground | undefined;
  try {
    playground = await startPlayground({ core, store: app.store, logger, config, redis: app.redis, port: http?.port, ...(http === undefined ? {} : { http }) });
  } catch (err) {
    logger.error({ err, platform: 'web' }, 'web playground not started');
    console.error(`web playground: not started: ${err instanceof Error ? err.message : String(err)}`);
  }
  const user = exampleUser();
  const lines = [
    '',
    `Framecast is running (Redis ${app.redisOwned ? `started locally at ${app.redisUrl}, data in ${config.dataDir}/redis` : app.redisUrl}; worker: ${config.env.FRAMECAST_RUNTIME}).`,
    http === undefined ? 'HTTP server off (FRAMECAST_HTTP_PORT=0).' : `HTTP: http://127.0.0.1:${http.port}/healthz, /readyz, /metrics`,
    ...(playground === undefined ? [] : [`Playground: ${playground.url} — open it in a browser and type /video …`]),
    ...(http !== undefined && admin !== undefined ? [`Admin console: http://127.0.0.1:${http.port}/admin`] : []),
    ...(adapters.length === 0
      ? ['No chat platform is configured yet (see the README: Slack, Discord). In another terminal, try:']
      : [`Chat platforms: ${adapters.map((a) => a.summary).join('; ')}. Locally, in another terminal:`]),
    '  npx framecast generate "a paper boat drifting on a rainy street --draft" --out boat.mp4',
    `  npx framecast jobs list cli:${user}`,
    'Stop with Ctrl-C.',
    '',
  ];
  console.error(lines.join('\n'));
  stopOnSignal(logger, async () => {
    for (const a of adapters) await a.close().catch((err: unknown) => logger.warn({ err, platform: a.name }, 'adapter did not close cleanly'));
    await playground?.close().catch((err: unknown) => logger.warn({ err, platform: 'web' }, 'playground did not close cleanly'));
    await http?.close();
    await admin?.close();
    await cli.close();
    await worker.close();
    await app.close();
  });
  await new Promise(() => undefined);
}
