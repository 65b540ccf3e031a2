import { t, type BlobStore, type ConsumeOptions, type Core, type FramecastConfig } from '@framecast/core';
import { createFollowUpLane } from '@framecast/http-server';
import { App } from '@slack/bolt';
import { WebClient } from '@slack/web-api';
import { Redis } from 'ioredis';
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import { registerSlackActions } from './slack-actions.ts';
import { SlackCollab } from './slack-collab.ts';
import { extractFileLinks, SlackCommands, stripMentions, type SlackFile, type SlackIntakeAnswer, type SlackInvocation } from './slack-commands.ts';
import { slackDeliveryHandler, type SlackDeliveryOptions } from './slack-delivery.ts';
import { publishHome } from './slack-home.ts';
import { st } from './slack-messages.ts';
import { SlackStatusBoard, startSlackProgress } from './slack-progress.ts';
import { boltLogger, SlackHttpReceiver, SlackSocketReceiver } from './slack-receiver.ts';

/** The callback id of the message shortcut "Make a video from this". */
export const MAKE_VIDEO_SHORTCUT = 'make_video';
/** The slash command. */
export const VIDEO_COMMAND = '/video';
/** Intakes of acknowledged slash commands running at once (the rest wait their turn). */
const FOLLOW_UP_CONCURRENCY = 16;
/** Largest reference image downloaded from Slack. */
export const MAX_SLACK_IMAGE_BYTES = 20 * 1024 * 1024;
/** A slash command is answered with its outcome when the core answers within this; else "working on it" first. */
const INLINE_ANSWER_MS = 2_000;

export interface SlackAdapterOptions {
  core: Core;
  store: BlobStore;
  logger: Logger;
  config: FramecastConfig;
  /** The one HTTP server (HTTP mode mounts POST /slack/events on it). Not needed in Socket Mode. */
  http?: { mount(...routes: Middleware[]): void };
  /** Passed to core.deliveries.consume('slack', …). */
  consume?: ConsumeOptions;
  /** The delivery handler's choices (tests). */
  delivery?: Pick<SlackDeliveryOptions, 'linkAfterAttempts'>;
  /** Redis for the storyboards' event dedup and board-message ids; default: a connection of its own to config.redisUrl. */
  redis?: Redis;
}

export interface SlackAdapter {
  readonly mode: 'socket' | 'http';
  close(): Promise<void>;
}

export class SlackConfigError extends Error {
  readonly code = 'slack_config';
}

/** Whether Slack is configured (`framecast start` starts it then): a bot token, checked with its partner by loadConfig. */
export function isSlackConfigured(config: FramecastConfig): boolean {
  return config.env.SLACK_BOT_TOKEN !== undefined;
}

function withSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

/**
 * Starts Slack: Socket Mode when SLACK_APP_TOKEN is set (no public URL), else HTTP mode on
 * `http` at POST /slack/events with SLACK_SIGNING_SECRET. Registers /video, app mentions, the
 * "Make a video from this" shortcut, the App Home tab and the buttons; storyboards (`/video collab …`,
 * `/video add …`, votes by button and reaction, the board message: SlackCollab); renders progress into
 * one status message per job; consumes the Slack deliveries (uploads the videos).
 */
export async function startSlackAdapter(opts: SlackAdapterOptions): Promise<SlackAdapter> {
  const { core, store, config } = opts;
  const logger = opts.logger.child({ platform: 'slack' });
  const env = config.env;
  const botToken = env.SLACK_BOT_TOKEN;
  if (botToken === undefined) throw new SlackConfigError('SLACK_BOT_TOKEN is not set');
  const slackApiUrl = withSlash(env.SLACK_API_BASE_URL);
  if (opts.redis === undefined && config.redisUrl === undefined) throw new SlackConfigError('the Slack adapter needs Redis: pass the process\'s connection or set REDIS_URL');

  let receiver: SlackSocketReceiver | SlackHttpReceiver;
  if (env.SLACK_APP_TOKEN !== undefined) {
    receiver = new SlackSocketReceiver({ appToken: env.SLACK_APP_TOKEN, slackApiUrl, logger });
  } else if (env.SLACK_SIGNING_SECRET !== undefined) {
    if (opts.http === undefined) throw new SlackConfigError('Slack HTTP mode (SLACK_SIGNING_SECRET without SLACK_APP_TOKEN) needs the HTTP server (FRAMECAST_HTTP_PORT not 0)');
    receiver = new SlackHttpReceiver({ signingSecret: env.SLACK_SIGNING_SECRET, logger });
  } else {
    throw new SlackConfigError('set SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode)');
  }

  const app = new App({
    token: botToken,
    receiver,
    logger: boltLogger(logger),
    clientOptions: { slackApiUrl, retryConfig: { retries: 2, minTimeout: 100, maxTimeout: 1000 } },
    deferInitialization: true,
  });
  await app.init();
  // Deliveries and status edits: a 429 comes back at once (the delivery queue honours Retry-After).
  const fast = new WebClient(botToken, { slackApiUrl, rejectRateLimitedCalls: true, retryConfig: { retries: 0 }, logger: boltLogger(logger) });
  const commands = new SlackCommands({
    core, store, client: app.client, botToken, logger,
    fileOrigins: [new URL(slackApiUrl).origin, 'https://files.slack.com'],
    maxImageBytes: MAX_SLACK_IMAGE_BYTES,
  });
  const ownRedis = opts.redis === undefined ? new Redis(config.redisUrl as string, { maxRetriesPerRequest: null, connectionName: 'framecast-slack' }) : undefined;
  const redis = opts.redis ?? (ownRedis as Redis);
  // One board for the renderer, the delivery and the storyboards: no edit lands after the final one,
  // in this process or (the fence) another replica's.
  const fence = core.progress.fence('slack-status');
  const board = new SlackStatusBoard(10_000, fence);
  // Status edits give up before the fence's window: the final edit waits for one in flight no longer.
  const progressClient = new WebClient(botToken, { slackApiUrl, rejectRateLimitedCalls: true, retryConfig: { retries: 0 }, timeout: Math.max(1000, fence.windowMs - 2000), logger: boltLogger(logger) });
  const collab = new SlackCollab({ core, redis, client: app.client, fast, commands, logger, board });
  /** The storyboard path first; an error before it took the command leaves it to /video. */
  const asCollab = (inv: SlackInvocation, origin: Parameters<SlackCollab['handle']>[1]): Promise<boolean> =>
    collab.handle(inv, origin).catch((err: unknown) => {
      logger.error({ err }, 'storyboard routing failed');
      return false;
    });
  const internal = (err: unknown): SlackIntakeAnswer => {
    logger.error({ err }, 'slack request failed');
    return { text: t('refusal.internal', config.defaultLocale), locale: config.defaultLocale };
  };
  const tell = async (channel: string, user: string, text: string, threadTs?: string): Promise<void> => {
    await app.client.chat
      .postEphemeral({ channel, user, text, ...(threadTs === undefined ? {} : { thread_ts: threadTs }) })
      .catch((err: unknown) => logger.info({ err }, 'ephemeral answer not posted'));
  };

  // The intakes of acknowledged commands take turns, so a burst of them does not hold back the
  // acknowledgements of the commands still arriving.
  const lane = createFollowUpLane({ concurrency: FOLLOW_UP_CONCURRENCY });
  app.command(VIDEO_COMMAND, async ({ command, ack }) => {
    const inv: SlackInvocation = {
      kind: 'command', teamId: command.team_id, channelId: command.channel_id, userId: command.user_id,
      eventId: `cmd:${command.trigger_id}`, text: command.text, responseUrl: command.response_url, files: [],
    };
    // A storyboard command is acknowledged at once; its answers come as messages (ephemeral or in the board's thread).
    if (await asCollab(inv, { accepted: () => ack() })) return;
    // The outcome goes in the acknowledgement when the core answers within INLINE_ANSWER_MS: that
    // answer reaches the user in any channel, even one the bot is not a member of (where
    // chat.postEphemeral fails). A reference image is downloaded and classified (CPU work that can
    // hold the event loop past Slack's 3 s), and a slow core is not waited for: then "working on it"
    // at once, in the user's language when it is known, and the outcome as an ephemeral message.
    // The core makes one job per event id, so a repeated command never makes a second job or charge.
    const working = { response_type: 'ephemeral' as const, text: st('working', commands.knownLocale(inv.userId) ?? config.defaultLocale) };
    const withImage = extractFileLinks(command.text).fileIds.length > 0;
    if (withImage) {
      await ack(working);
      const answer = await lane.run(() => commands.submit(inv)).catch(internal);
      if (answer.result?.duplicate !== true) await tell(inv.channelId, inv.userId, answer.text);
      return;
    }
    const work = commands.submit(inv).catch(internal);
    let timer: NodeJS.Timeout | undefined;
    const first = await Promise.race([work, new Promise<undefined>((r) => {
      timer = setTimeout(() => r(undefined), INLINE_ANSWER_MS);
    })]);
    clearTimeout(timer);
    if (first !== undefined) {
      await ack({ response_type: 'ephemeral', text: first.text });
      return;
    }
    await ack(working);
    const answer = await work;
    if (answer.result?.duplicate !== true) await tell(inv.channelId, inv.userId, answer.text);
  });

  app.event('app_mention', async ({ event, body }) => {
    const e = event as typeof event & { files?: SlackFile[]; thread_ts?: string; user?: string };
    if (e.user === undefined) return;
    const inv: SlackInvocation = {
      kind: 'mention', teamId: (body as { team_id?: string }).team_id ?? e.team ?? '', channelId: e.channel, userId: e.user,
      eventId: `evt:${(body as { event_id?: string }).event_id ?? `${e.channel}-${e.ts}`}`,
      text: stripMentions(e.text), threadTs: e.thread_ts ?? e.ts, files: e.files ?? [],
    };
    if (await asCollab(inv, e.thread_ts === undefined ? {} : { inThread: e.thread_ts })) return;
    const answer = await commands.submit(inv).catch(internal);
    if (answer.result?.duplicate !== true) await tell(inv.channelId, inv.userId, answer.text, inv.threadTs);
  });

  app.shortcut({ callback_id: MAKE_VIDEO_SHORTCUT, type: 'message_action' }, async ({ shortcut, ack }) => {
    await ack();
    const m = shortcut.message as { text?: string; ts: string; thread_ts?: string; files?: SlackFile[] };
    const inv: SlackInvocation = {
      kind: 'shortcut', teamId: shortcut.team?.id ?? shortcut.user.team_id ?? '', channelId: shortcut.channel.id, userId: shortcut.user.id,
      eventId: `sc:${shortcut.trigger_id}`, text: stripMentions(m.text ?? ''), threadTs: m.thread_ts ?? m.ts, files: m.files ?? [],
    };
    const answer = await commands.submit(inv).catch(internal);
    if (answer.result?.duplicate !== true) await tell(inv.channelId, inv.userId, answer.text, inv.threadTs);
  });

  app.event('app_home_opened', async ({ event }) => {
    if (event.tab !== 'home') return;
    await publishHome(core, app.client, event.user, await commands.localeFor(event.user)).catch((err: unknown) => logger.warn({ err }, 'App Home not published'));
  });

  registerSlackActions(app, { core, client: app.client, commands, logger });
  collab.register(app);
  app.error(async (err) => {
    logger.error({ err }, 'slack handler error');
  });

  const unsubscribeProgress = await startSlackProgress({ core, client: progressClient, logger, store, board });
  const unsubscribeCollab = await collab.subscribe();
  const unsubscribe = (): void => {
    unsubscribeProgress();
    unsubscribeCollab();
  };
  const consumer = core.deliveries.consume('slack', slackDeliveryHandler({ store, client: fast, logger, board, ...opts.delivery }), opts.consume);
  try {
    if (receiver instanceof SlackHttpReceiver) opts.http?.mount(receiver.middleware());
    await app.start();
  } catch (err) {
    unsubscribe();
    await consumer.close();
    ownRedis?.disconnect();
    throw err;
  }
  logger.info({ mode: receiver instanceof SlackSocketReceiver ? 'socket' : 'http' }, 'slack adapter started');
  let closed = false;
  return {
    mode: receiver instanceof SlackSocketReceiver ? 'socket' : 'http',
    async close() {
      if (closed) return;
      closed = true;
      unsubscribe();
      await Promise.allSettled([consumer.close(), app.stop()]);
      ownRedis?.disconnect();
    },
  };
}
