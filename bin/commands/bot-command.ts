import { bootstrap, createFramecastMetrics, mediaSecret, type Bootstrapped } from '@framecast/core';
import { createProductImageIntake, createProductModerator, type KeywordFilter } from '@framecast/content-safety';
import { mediaRouter, startHttpServer, type RunningHttpServer } from '@framecast/http-server';
import { UsageError } from './cli-context.ts';
import { startAdapter, type AdapterName, type RunningAdapter } from './platform-adapters.ts';
import { stopOnSignal } from './run-until-signal.ts';

function platformArg(p: string): AdapterName {
  if (p === 'slack' || p === 'discord' || p === 'wechat' || p === 'miniprogram') return p;
  throw new UsageError(`platform must be wechat, miniprogram, discord or slack, got "${p}"`);
}

/** The product's core with moderation and image intake, metrics for the HTTP server, and the keyword filter in force (the admin console reloads it). */
export async function productApp(name: string): Promise<{ app: Bootstrapped; metrics: ReturnType<typeof createFramecastMetrics>; keywords: KeywordFilter | undefined }> {
  const metrics = createFramecastMetrics();
  const made: { keywords?: KeywordFilter } = {};
  const app = await bootstrap(process.env, {
    name,
    metrics,
    moderator: ({ config, logger, store }) => createProductModerator(config, { logger, store, watch: true }).then((m) => {
      made.keywords = m.keywords;
      return m.moderator;
    }),
    imageIntake: ({ store }) => createProductImageIntake(store),
  });
  metrics.setLogger(app.logger);
  metrics.setSources({
    jobsByState: async () => (await app.core.stats()).jobsByState,
    queueDepths: async () => (await app.core.stats()).queues,
  });
  return { app, metrics, keywords: made.keywords };
}

/** The HTTP server of a process, unless FRAMECAST_HTTP_PORT is 0. */
export async function httpServerFor(app: Bootstrapped, metrics: ReturnType<typeof createFramecastMetrics>): Promise<RunningHttpServer | undefined> {
  const e = app.config.env;
  if (e.FRAMECAST_HTTP_PORT === 0) return undefined;
  const http = await startHttpServer({ deps: { metrics, readiness: () => app.core.readiness(), logger: app.logger }, port: e.FRAMECAST_HTTP_PORT, bodyLimit: e.FRAMECAST_HTTP_BODY_LIMIT, uploadLimit: e.FRAMECAST_UPLOAD_LIMIT, logger: app.logger });
  // Videos too large to upload are linked from here when the blobs are on this machine's disk.
  if (e.FRAMECAST_PUBLIC_URL !== undefined && e.FRAMECAST_STORAGE === 'local') http.mount(mediaRouter({ store: app.store, secret: mediaSecret(app.config) }));
  return http;
}

/**
 * `framecast bot discord|slack|wechat|miniprogram`: one platform's adapter alone (no worker), until
 * SIGINT/SIGTERM. `miniprogram` is the mini program API: its routes on the HTTP server (which must
 * be on) and the 'miniprogram' delivery consumer.
 */
export async function botCommand(platform: string): Promise<void> {
  const name = platformArg(platform);
  const { app, metrics } = await productApp(`framecast-${name}`);
  let http: RunningHttpServer | undefined;
  let adapter: RunningAdapter | undefined;
  try {
    http = await httpServerFor(app, metrics);
    adapter = await startAdapter(name, { core: app.core, store: app.store, logger: app.logger, config: app.config, redis: app.redis, ...(http === undefined ? {} : { http }) });
  } catch (err) {
    await http?.close();
    await app.close();
    throw err;
  }
  console.error(`${adapter.summary} is running${http === undefined ? '' : `; HTTP on port ${http.port}`}. Stop with Ctrl-C.`);
  stopOnSignal(app.logger, async () => {
    await adapter?.close();
    await http?.close();
    await app.close();
  });
  await new Promise(() => undefined);
}

/** `framecast bot discord register [--guild ID]`: registers the slash commands (globally, or in one guild at once). */
export async function botRegisterCommand(platform: string, opts: { guild?: string }): Promise<void> {
  if (platformArg(platform) !== 'discord') throw new UsageError('only discord has commands to register (Slack\'s are in the app manifest)');
  if (opts.guild !== undefined && !/^\d{5,25}$/.test(opts.guild)) throw new UsageError('--guild must be a guild id (digits)');
  const { loadConfig } = await import('@framecast/core');
  const { registerDiscordCommands } = await import('@framecast/bot-discord');
  const names = await registerDiscordCommands({ config: loadConfig(), ...(opts.guild === undefined ? {} : { guildId: opts.guild }) });
  console.log(JSON.stringify({ registered: names, scope: opts.guild === undefined ? 'global' : `guild ${opts.guild}` }, null, 2));
}
