import { Client, GatewayDispatchEvents, GatewayIntentBits, Routes, type APIInteraction, type GatewayMessageReactionAddDispatchData, type GatewayMessageReactionRemoveDispatchData, type REST } from 'discord.js';
import { ConfigError, type BlobStore, type ConsumeOptions, type Core, type DeliveryJobData, type FramecastConfig } from '@framecast/core';
import { createFollowUpLane } from '@framecast/http-server';
import { Redis } from 'ioredis';
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import { DiscordCollab } from './discord-collab.ts';
import { DiscordCollabBoards } from './discord-collab-board.ts';
import { discordCommandDefinitions } from './discord-commands.ts';
import type { DiscordContext } from './discord-context.ts';
import { createDiscordDeliveryHandler } from './discord-delivery.ts';
import { handleInteraction, runAfter } from './discord-interactions.ts';
import { discordInteractionsEndpoint } from './discord-interactions-endpoint.ts';
import { DiscordReplyBoard, startDiscordProgress, type DiscordProgressOptions } from './discord-progress.ts';
import { createDiscordRest } from './discord-rest.ts';
import { DiscordRoles } from './discord-roles.ts';

/** Follow-ups of HTTP interactions running at once (the rest wait their turn). */
const FOLLOW_UP_CONCURRENCY = 16;

export interface DiscordAdapterOptions {
  core: Core;
  store: BlobStore;
  logger: Logger;
  config: FramecastConfig;
  /** The process's HTTP server (`createHttpApp(…)`): `POST /discord/interactions` is mounted on it when DISCORD_PUBLIC_KEY is set. */
  http?: { mount(...routes: Middleware[]): void };
  /** The clock for interaction tokens' age (tests). */
  now?: () => number;
  progress?: DiscordProgressOptions;
  /** Passed to core.deliveries.consume (tests shorten the relay). */
  delivery?: ConsumeOptions;
  /** Redis for the storyboards' keys (seen interactions, clicks, board messages); default: a connection of its own to config.redisUrl. */
  redis?: Redis;
  /** Storyboards: the pause between two edits of one board's message (default 1000 ms), the double-click window (default 10 s). */
  collab?: { minEditIntervalMs?: number; clickWindowSeconds?: number };
}

export interface DiscordAdapter {
  close(): Promise<void>;
}

function credentials(config: FramecastConfig): { token: string; applicationId: string } {
  const { DISCORD_TOKEN: token, DISCORD_APPLICATION_ID: applicationId } = config.env;
  if (token === undefined || applicationId === undefined) {
    throw new ConfigError([...(token === undefined ? ['DISCORD_TOKEN: required for Discord'] : []), ...(applicationId === undefined ? ['DISCORD_APPLICATION_ID: required for Discord'] : [])]);
  }
  return { token, applicationId };
}

/** Whether this config turns Discord on (`framecast start` starts the adapter then). */
export function discordConfigured(config: FramecastConfig): boolean {
  return config.env.DISCORD_TOKEN !== undefined && config.env.DISCORD_APPLICATION_ID !== undefined;
}

/**
 * The Discord adapter: the gateway (a discord.js Client, unless DISCORD_GATEWAY=off) and/or HTTP
 * interactions (DISCORD_PUBLIC_KEY, mounted on `http`) feed one interaction handler; progress edits
 * the deferred replies; deliveries post the videos. Resolves once the gateway is ready.
 */
export async function startDiscordAdapter(o: DiscordAdapterOptions): Promise<DiscordAdapter> {
  const { token, applicationId } = credentials(o.config);
  const env = o.config.env;
  const logger = o.logger.child({ platform: 'discord' });
  const rest = createDiscordRest({ token, apiBaseUrl: env.DISCORD_API_BASE_URL });
  const now = o.now ?? Date.now;
  let client: Client | undefined;
  // Storyboards keep their keys in Redis: the process's connection, or one of the adapter's own.
  const ownRedis = o.redis === undefined && o.config.redisUrl !== undefined ? new Redis(o.config.redisUrl, { maxRetriesPerRequest: null, connectionName: 'framecast-discord' }) : undefined;
  const redis = o.redis ?? ownRedis;
  if (redis === undefined) logger.warn('no Redis for the Discord adapter: storyboards are off (/video prompts only)');
  const boards = redis === undefined ? undefined : new DiscordCollabBoards({ core: o.core, rest, redis, logger, ...(o.collab?.minEditIntervalMs === undefined ? {} : { minEditIntervalMs: o.collab.minEditIntervalMs }) });
  const collab = redis === undefined || boards === undefined ? undefined : new DiscordCollab({
    redis, boards, botUserId: () => client?.user?.id, ...(o.collab?.clickWindowSeconds === undefined ? {} : { clickWindowSeconds: o.collab.clickWindowSeconds }),
  });
  await boards?.start();
  const ctx: DiscordContext = { core: o.core, store: o.store, config: o.config, rest, logger, applicationId, roles: new DiscordRoles(rest, logger), now, ...(collab === undefined ? {} : { collab }) };
  let open = true;

  // One board for the progress edits and the delivery: the video's edit of a reply is the last one.
  const board = new DiscordReplyBoard(10_000, o.core.progress.fence('discord-reply'));
  // A storyboard's render: the job its board (in the target's channel or thread) is rendering or has rendered.
  const isStoryboard = async (d: DeliveryJobData) => d.replyTarget.platform === 'discord' && (await o.core.collab.board(`discord:${d.replyTarget.channelId}`))?.jobId === d.jobId;
  const consumer = o.core.deliveries.consume('discord', createDiscordDeliveryHandler({ rest, store: o.store, logger, now, board, isStoryboard }), o.delivery ?? {});
  const unsubscribe = await startDiscordProgress(ctx, { ...o.progress, board });

  if (env.DISCORD_PUBLIC_KEY !== undefined) {
    if (o.http === undefined) {
      logger.warn('DISCORD_PUBLIC_KEY is set but this process serves no HTTP: interactions come through the gateway only');
    } else {
      // The follow-ups of deferred interactions (intake, the edit of the deferral) take turns, so a
      // burst of them does not hold back the acknowledgements of the interactions still arriving.
      const lane = createFollowUpLane({ concurrency: FOLLOW_UP_CONCURRENCY });
      o.http.mount(discordInteractionsEndpoint({
        publicKey: env.DISCORD_PUBLIC_KEY,
        handle: (i) => handleInteraction(ctx, i),
        after: (i, reply) => lane.run(() => runAfter(ctx, i, reply)),
        logger,
        isOpen: () => open,
      }));
    }
  }

  if (env.DISCORD_GATEWAY) {
    // Guilds for interactions; GuildMessageReactions (not privileged) for reaction votes on board messages.
    client = new Client({ intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessageReactions], rest: { api: env.DISCORD_API_BASE_URL.replace(/\/+$/, '') } });
    client.on('error', (err) => logger.error({ err }, 'discord gateway error'));
    client.ws.on(GatewayDispatchEvents.InteractionCreate, (raw: APIInteraction) => {
      void onGatewayInteraction(ctx, rest, raw).catch((err: unknown) => logger.error({ err, interactionId: raw.id }, 'discord: interaction failed'));
    });
    client.ws.on(GatewayDispatchEvents.MessageReactionAdd, (raw: GatewayMessageReactionAddDispatchData) => {
      void collab?.onReaction(ctx, raw).catch((err: unknown) => logger.warn({ err }, 'discord: a reaction vote failed'));
    });
    client.ws.on(GatewayDispatchEvents.MessageReactionRemove, (raw: GatewayMessageReactionRemoveDispatchData) => {
      void collab?.onReactionRemove(ctx, raw).catch((err: unknown) => logger.warn({ err }, 'discord: a reaction removal failed'));
    });
    await client.login(token);
    logger.info({ user: client.user?.tag }, 'discord gateway connected');
  }

  return {
    async close() {
      open = false;
      unsubscribe();
      boards?.close();
      await consumer.close();
      await client?.destroy();
      await ownRedis?.quit().catch(() => undefined);
    },
  };
}

/** The gateway's transport: the first response goes back through the interaction callback. */
async function onGatewayInteraction(ctx: DiscordContext, rest: REST, i: APIInteraction): Promise<void> {
  const reply = await handleInteraction(ctx, i);
  if (reply === undefined) return;
  await rest.post(Routes.interactionCallback(i.id, i.token), { body: reply.response, auth: false });
  await runAfter(ctx, i, reply);
}

export interface RegisterDiscordCommandsOptions {
  config: FramecastConfig;
  /** Register in one guild (instantly visible, for testing) instead of globally. */
  guildId?: string;
}

/** Registers (overwrites) `/video`, `/video-quota`, `/video-jobs`, `/video-help`. Returns their names. */
export async function registerDiscordCommands(o: RegisterDiscordCommandsOptions): Promise<string[]> {
  const { token, applicationId } = credentials(o.config);
  const rest = createDiscordRest({ token, apiBaseUrl: o.config.env.DISCORD_API_BASE_URL, rejectRateLimitsFromMs: 60_000 });
  const route = o.guildId === undefined ? Routes.applicationCommands(applicationId) : Routes.applicationGuildCommands(applicationId, o.guildId);
  const registered = (await rest.put(route, { body: discordCommandDefinitions() })) as Array<{ name: string }>;
  return registered.map((c) => c.name);
}
