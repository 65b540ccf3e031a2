import type { BlobStore, Core, FramecastConfig } from '@framecast/core';
import type { Redis } from 'ioredis';
import type { Middleware } from 'koa';
import type { Logger } from 'pino';

export type AdapterName = 'slack' | 'discord' | 'miniprogram' | 'wechat';

export interface AdapterContext {
  core: Core;
  store: BlobStore;
  logger: Logger;
  config: FramecastConfig;
  /** The one HTTP server, when it runs (FRAMECAST_HTTP_PORT not 0): adapters mount their routes. */
  http?: { mount(...routes: Middleware[]): void; acceptUploads(...paths: RegExp[]): void; readonly uploadLimit: number };
  /** The process's Redis connection (the WeChat bot keeps its login state, room credits and pictures there; Discord its storyboard keys). */
  redis?: Redis;
}

export interface RunningAdapter {
  name: AdapterName;
  /** What the banner says about it (mode, URL). */
  summary: string;
  close(): Promise<void>;
}

/** Which chat platforms the configuration names (their variables are set). */
export function configuredAdapters(config: FramecastConfig): AdapterName[] {
  const e = config.env;
  const out: AdapterName[] = [];
  if (e.SLACK_BOT_TOKEN !== undefined) out.push('slack');
  if (e.DISCORD_TOKEN !== undefined) out.push('discord');
  if (e.WECHAT_APP_ID !== undefined && e.WECHAT_APP_SECRET !== undefined) out.push('miniprogram');
  if (e.WECHATY_PUPPET !== undefined) out.push('wechat');
  return out;
}

/** Starts one platform's adapter; each package is loaded only when its platform is used. */
export async function startAdapter(name: AdapterName, ctx: AdapterContext): Promise<RunningAdapter> {
  const e = ctx.config.env;
  switch (name) {
    case 'slack': {
      const { startSlackAdapter } = await import('@framecast/bot-slack');
      const a = await startSlackAdapter({ core: ctx.core, store: ctx.store, logger: ctx.logger, config: ctx.config, ...(ctx.http === undefined ? {} : { http: ctx.http }), ...(ctx.redis === undefined ? {} : { redis: ctx.redis }) });
      const mode = e.SLACK_APP_TOKEN !== undefined ? 'Socket Mode' : 'HTTP mode at POST /slack/events';
      return { name, summary: `Slack (${mode})`, close: () => a.close() };
    }
    case 'discord': {
      const { startDiscordAdapter } = await import('@framecast/bot-discord');
      const a = await startDiscordAdapter({ core: ctx.core, store: ctx.store, logger: ctx.logger, config: ctx.config, ...(ctx.http === undefined ? {} : { http: ctx.http }), ...(ctx.redis === undefined ? {} : { redis: ctx.redis }) });
      const modes = [e.DISCORD_GATEWAY ? 'gateway' : '', e.DISCORD_PUBLIC_KEY !== undefined && ctx.http !== undefined ? 'HTTP interactions at POST /discord/interactions' : ''].filter(Boolean);
      return { name, summary: `Discord (${modes.join(', ') || 'delivery only'})`, close: () => a.close() };
    }
    case 'miniprogram': {
      const { startMiniProgramApi } = await import('@framecast/bot-miniprogram-api');
      const a = await startMiniProgramApi({ core: ctx.core, store: ctx.store, logger: ctx.logger, config: ctx.config, ...(ctx.http === undefined ? {} : { http: ctx.http }) });
      return { name, summary: ctx.http === undefined ? 'Mini Program API (deliveries only: the HTTP server is off)' : 'Mini Program API at /api/mp/*', close: () => a.close() };
    }
    case 'wechat': {
      const { startWechatAdapter } = await import('@framecast/bot-wechat');
      const a = await startWechatAdapter({ core: ctx.core, store: ctx.store, logger: ctx.logger, config: ctx.config, ...(ctx.redis === undefined ? {} : { redis: ctx.redis }) });
      return { name, summary: `WeChat bot (${e.WECHATY_PUPPET ?? 'puppet'}; scan the QR code printed here or shown on the admin page to log in)`, close: () => a.close() };
    }
  }
}

/** The web playground as `framecast start` runs it. */
export interface RunningPlayground {
  /** Where a browser on this machine opens it. */
  url: string;
  close(): Promise<void>;
}

/**
 * Starts the web playground (platform `web`: the page at `/`, its API under `/api/web`, the web
 * deliveries) when FRAMECAST_WEB is on (the default) and the HTTP server runs; undefined otherwise.
 */
export async function startPlayground(ctx: AdapterContext & { port: number | undefined }): Promise<RunningPlayground | undefined> {
  if (!ctx.config.env.FRAMECAST_WEB || ctx.http === undefined || ctx.port === undefined || ctx.redis === undefined) return undefined;
  const { startWebAdapter } = await import('@framecast/bot-web');
  const a = await startWebAdapter({ core: ctx.core, store: ctx.store, redis: ctx.redis, logger: ctx.logger, config: ctx.config, http: ctx.http });
  return { url: `http://127.0.0.1:${ctx.port}${a.path}`, close: () => a.close() };
}
