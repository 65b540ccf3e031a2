import { mkdir } from 'node:fs/promises';
import { DEFAULT_UPLOAD_BYTES, type BlobStore, type ConsumeOptions, type Core, type FramecastConfig } from '@framecast/core';
import type { FileBoxInterface } from 'file-box';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import qrcodeTerminal from 'qrcode-terminal';
import { WechatyBuilder, types, type Message, type Wechaty } from 'wechaty';
import type { Puppet } from 'wechaty-puppet';
import { RoomQuota } from './room-quota.ts';
import { WechatCollab, startWechatCollabNotes } from './wechat-collab.ts';
import { ImageProblem, WechatCommands, type WechatIncoming } from './wechat-commands.ts';
import { WechatNotLoggedIn, WechatTargetGone, wechatDeliveryHandler, type WechatSender, type WechatTarget } from './wechat-delivery.ts';
import { ImageMemory } from './wechat-images.ts';
import { writeWechatLogin } from './wechat-login.ts';
import { startWechatProgress } from './wechat-progress.ts';
import { stripSelfMention } from './wechat-triggers.ts';

/** Largest picture read from WeChat. */
export const MAX_WECHAT_IMAGE_BYTES = 20 * 1024 * 1024;

export class WechatConfigError extends Error {
  readonly code = 'wechat_config';
}

/** Whether the WeChat bot is configured (`framecast start` starts it then): a puppet is named. */
export function isWechatConfigured(config: FramecastConfig): boolean {
  return config.env.WECHATY_PUPPET !== undefined;
}

export interface WechatAdapterOptions {
  core: Core;
  store: BlobStore;
  logger: Logger;
  config: FramecastConfig;
  /** The one HTTP server, as other adapters get it; the bot mounts nothing (the admin page reads the login state from Redis). */
  http?: object;
  /** A puppet instance (tests: a PuppetMock); default: the package WECHATY_PUPPET names, with WECHATY_PUPPET_TOKEN. */
  puppet?: Puppet;
  /** Redis for the login state, room credits and pictures; default: a connection of its own to config.redisUrl. */
  redis?: Redis;
  /** Passed to core.deliveries.consume('wechat', …). */
  consume?: ConsumeOptions;
  /** The upload budget of each reply target. Default DEFAULT_UPLOAD_BYTES.wechat (20 MB). */
  maxUploadBytes?: number;
  /** A job still rendering this long after it was accepted gets one progress note. Default 60 s. */
  progressNoteAfterMs?: number;
  /** Where the login QR code is drawn; default stderr, null for nowhere. */
  terminal?: NodeJS.WritableStream | null;
}

export interface WechatAdapter {
  readonly bot: Wechaty;
  close(): Promise<void>;
}

/** Reads a FileBox into memory, never past `max` bytes. */
async function readBounded(file: FileBoxInterface, max: number): Promise<Buffer> {
  if (file.size > max) throw new ImageProblem('image_too_large');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of await file.toStream()) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    size += b.length;
    if (size > max) throw new ImageProblem('image_too_large');
    chunks.push(b);
  }
  return Buffer.concat(chunks, size);
}

/**
 * Starts the WeChat bot: a Wechaty on the configured puppet (or the one given). The login QR code
 * is drawn in the terminal and published to Redis (`{prefix}:wechat:login`) for the admin page.
 * Private chats and allowed rooms (a mention or a leading command) go to the core; pictures wait
 * for their sender's next prompt; each request gets one short acknowledgement, a long job one
 * progress note, and the video comes as a file (or a link) through the WeChat deliveries.
 */
export async function startWechatAdapter(opts: WechatAdapterOptions): Promise<WechatAdapter> {
  const { core, store, config } = opts;
  const logger = opts.logger.child({ platform: 'wechat' });
  const env = config.env;
  if (opts.puppet === undefined && env.WECHATY_PUPPET === undefined) throw new WechatConfigError('WECHATY_PUPPET is not set');
  let ownRedis: Redis | undefined;
  if (opts.redis === undefined) {
    if (config.redisUrl === undefined) throw new WechatConfigError('the WeChat bot needs Redis: pass the process\'s connection or set REDIS_URL');
    ownRedis = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  }
  const redis = opts.redis ?? (ownRedis as Redis);
  const prefix = config.keyPrefix;
  const terminal = opts.terminal === undefined ? process.stderr : opts.terminal;

  // The puppet's session (memory card) lives in the data folder.
  if (opts.puppet === undefined) await mkdir(config.dataDir, { recursive: true });
  const bot = WechatyBuilder.build(
    opts.puppet !== undefined
      ? { puppet: opts.puppet }
      : {
          name: `${config.dataDir}/wechaty`,
          // Any puppet package by name (wechaty-puppet-service, -padlocal, -wechat4u, …): resolved at start.
          puppet: env.WECHATY_PUPPET as 'wechaty-puppet-service',
          ...(env.WECHATY_PUPPET_TOKEN === undefined ? {} : { puppetOptions: { token: env.WECHATY_PUPPET_TOKEN } }),
        },
  );

  const roomQuota = new RoomQuota({ redis, keyPrefix: prefix, dailyCredits: env.FRAMECAST_WECHAT_ROOM_DAILY_CREDITS, timeZone: config.timeZone });
  const images = new ImageMemory({ redis, store, keyPrefix: prefix, windowSeconds: env.FRAMECAST_WECHAT_IMAGE_WINDOW_SECONDS });
  const maxUploadBytes = opts.maxUploadBytes ?? DEFAULT_UPLOAD_BYTES.wechat;
  const commands = new WechatCommands({
    core, redis, images, roomQuota, logger,
    collab: new WechatCollab({ core, redis, logger, maxUploadBytes, images }),
    allowedRooms: env.FRAMECAST_WECHAT_ROOMS,
    maxUploadBytes,
    imageWindowSeconds: env.FRAMECAST_WECHAT_IMAGE_WINDOW_SECONDS,
    maxImageBytes: MAX_WECHAT_IMAGE_BYTES,
  });

  const sender: WechatSender = {
    async sayText(target, text) {
      await sayTo(target, text);
    },
    async sayFile(target, file) {
      await sayTo(target, file);
    },
  };
  async function sayTo(target: WechatTarget, what: string | FileBoxInterface): Promise<void> {
    if (!bot.isLoggedIn) throw new WechatNotLoggedIn('the WeChat bot is not logged in');
    if (target.roomId !== undefined) {
      const room = await bot.Room.find({ id: target.roomId });
      if (room === undefined) throw new WechatTargetGone(`room ${target.roomId} not found`);
      const member = target.mentionId === undefined || typeof what !== 'string' ? undefined : await bot.Contact.find({ id: target.mentionId });
      if (typeof what === 'string' && member !== undefined) await room.say(what, member);
      else await room.say(what);
      return;
    }
    if (target.contactId === undefined) throw new WechatTargetGone('a reply target with neither room nor contact');
    const contact = await bot.Contact.find({ id: target.contactId });
    if (contact === undefined) throw new WechatTargetGone(`contact ${target.contactId} not found`);
    await contact.say(what);
  }

  const publishLogin = (state: Parameters<typeof writeWechatLogin>[2]) =>
    writeWechatLogin(redis, prefix, state).catch((err: unknown) => logger.warn({ err }, 'login state not published'));

  bot.on('scan', (qrcode, status) => {
    // Scanned or confirmed: the code on show has done its job (login follows); anything else is a code to show.
    if (status === types.ScanStatus.Scanned || status === types.ScanStatus.Confirmed || qrcode === '') return;
    void publishLogin({ status: 'scan', qrcode, updatedAt: Date.now() });
    logger.info('WeChat login: scan the QR code (terminal, or the admin page)');
    if (terminal !== null) {
      qrcodeTerminal.generate(qrcode, { small: true }, (art) => {
        terminal.write(`\nScan with WeChat to log the bot in (or open ${qrcode}):\n${art}\n`);
      });
    }
  });
  bot.on('login', (user) => {
    void publishLogin({ status: 'logged-in', user: user.name(), updatedAt: Date.now() });
    logger.info('WeChat bot logged in');
  });
  bot.on('logout', () => {
    void publishLogin({ status: 'logged-out', updatedAt: Date.now() });
    logger.warn('WeChat bot logged out');
  });
  bot.on('error', (err) => logger.warn({ err }, 'wechaty error'));

  const topics = new Map<string, { topic: string; until: number }>();
  const topicOf = async (room: NonNullable<ReturnType<Message['room']>>): Promise<string> => {
    const known = topics.get(room.id);
    if (known !== undefined && known.until > Date.now()) return known.topic;
    const topic = await room.topic().catch(() => '');
    topics.set(room.id, { topic, until: Date.now() + 60_000 });
    return topic;
  };

  async function incoming(message: Message): Promise<WechatIncoming | undefined> {
    if (message.self()) return undefined;
    const talker = message.talker();
    const room = message.room();
    const type = message.type();
    const kind: WechatIncoming['kind'] = type === types.Message.Text ? 'text' : type === types.Message.Image ? 'image' : 'other';
    let text = kind === 'text' ? message.text() : '';
    let mentioned = false;
    let talkerName: string | undefined;
    let roomOwner = false;
    if (room !== undefined && kind === 'text') {
      talkerName = (await room.alias(talker).catch(() => undefined)) || talker.name();
      roomOwner = room.owner()?.id === talker.id;
      mentioned = await message.mentionSelf().catch(() => false);
      const self = bot.currentUser;
      const alias = await room.alias(self).catch(() => undefined);
      const names = [self.name(), ...(alias === undefined ? [] : [alias])];
      const stripped = stripSelfMention(text, names);
      if (!mentioned && stripped !== text.replace(/\s+/g, ' ').trim()) mentioned = true;
      text = stripped;
    }
    return {
      messageId: message.id,
      talkerId: talker.id,
      ...(room === undefined ? {} : { room: { id: room.id, topic: await topicOf(room) } }),
      kind,
      text,
      mentioned,
      ...(talkerName === undefined ? {} : { talkerName, roomOwner }),
      ...(kind !== 'image'
        ? {}
        : {
            readImage: async () => {
              const file = await message.toFileBox().catch(() => {
                throw new ImageProblem('image_unreadable');
              });
              const bytes = await readBounded(file, MAX_WECHAT_IMAGE_BYTES);
              return { bytes, contentType: file.mediaType || 'application/octet-stream' };
            },
          }),
    };
  }

  // One sender's messages in one chat are handled in order: a picture is kept before the prompt
  // that follows it is read, however close together they arrive.
  const queues = new Map<string, Promise<void>>();
  const inOrder = (key: string, work: () => Promise<void>): Promise<void> => {
    const next = (queues.get(key) ?? Promise.resolve()).then(work, work);
    queues.set(key, next);
    void next.finally(() => {
      if (queues.get(key) === next) queues.delete(key);
    });
    return next;
  };

  bot.on('message', async (message) => {
    try {
      if (message.self()) return;
      const key = `${message.room()?.id ?? ''}\n${message.talker().id}`;
      await inOrder(key, async () => {
        try {
          const msg = await incoming(message);
          if (msg === undefined) return;
          const target: WechatTarget = msg.room === undefined ? { contactId: msg.talkerId } : { roomId: msg.room.id, mentionId: msg.talkerId };
          const did = await commands.handle(msg, (text) => sayTo(target, text), (text) => sayTo({ contactId: msg.talkerId }, text));
          logger.debug({ messageId: msg.messageId, did, room: msg.room !== undefined }, 'wechat message handled');
        } catch (err) {
          logger.error({ err, messageId: message.id }, 'wechat message failed');
        }
      });
    } catch (err) {
      logger.error({ err, messageId: message.id }, 'wechat message failed');
    }
  });

  const unsubscribe = await startWechatProgress({
    core, redis, sender, roomQuota, logger,
    ...(opts.progressNoteAfterMs === undefined ? {} : { noteAfterMs: opts.progressNoteAfterMs }),
  });
  const unsubscribeCollab = await startWechatCollabNotes({ core, redis, sender, logger });
  const consumer = core.deliveries.consume('wechat', wechatDeliveryHandler({ store, sender, roomQuota, redis, keyPrefix: prefix, logger }), opts.consume);
  try {
    await bot.start();
  } catch (err) {
    unsubscribe();
    unsubscribeCollab();
    await consumer.close();
    await ownRedis?.quit();
    throw err;
  }
  logger.info({ puppet: opts.puppet === undefined ? env.WECHATY_PUPPET : 'given' }, 'wechat adapter started');
  let closed = false;
  return {
    bot,
    async close() {
      if (closed) return;
      closed = true;
      unsubscribe();
      unsubscribeCollab();
      await Promise.allSettled([consumer.close(), bot.stop()]);
      await publishLogin({ status: 'logged-out', updatedAt: Date.now() });
      await ownRedis?.quit().catch(() => undefined);
    },
  };
}
