import { parseCollabCommand, type CollabEvent, type CollabReply, type Core, type Locale, type Unsubscribe } from '@framecast/core';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { WechatReply, WechatIncoming } from './wechat-commands.ts';
import type { WechatSender, WechatTarget } from './wechat-delivery.ts';
import { ImageMemory } from './wechat-images.ts';
import { wt } from './wechat-messages.ts';
import { startsWithVideoCommand } from './wechat-triggers.ts';

/** `+ text`, `＋ text`, `加：text`, `投票 N`: the room shortcuts that need no `/video` (only while a board is open). */
const SHORTCUT = /^(?:[+＋]|加\s*[:：]|(?:取消)?投票\s*\d)/u;
/** `+1`, `+ 1!`: agreement, not a shot. */
const PLUS_ONE = /^[+＋]\s*[\d\p{P}\p{S}\s]*$/u;

/**
 * How a room message may be a collab command: `explicit` (a leading `/video`, `/视频` or a mention
 * of the bot: always read), `shortcut` (`+ text`, `加：text`, `投票 N`: read only while the room
 * has an open board, so ordinary chatter such as "+1" never reaches the core), or not at all.
 */
export function collabCandidate(text: string, mentioned: boolean): 'explicit' | 'shortcut' | undefined {
  const t = text.replace(/[\u2005\u00a0]/g, ' ').trim();
  if (t === '') return undefined;
  if (mentioned || /^[/／](?:video|视频)(?=\s|$)/iu.test(t)) return 'explicit';
  if (startsWithVideoCommand(t)) return undefined;
  if (SHORTCUT.test(t) && !PLUS_ONE.test(t)) return 'shortcut';
  return undefined;
}

export interface WechatCollabDeps {
  core: Core;
  redis: Redis;
  logger: Logger;
  /** The upload budget put into the board's reply target. */
  maxUploadBytes: number;
  /** Pictures kept for their sender's next message: a shot added within the window takes the sender's picture as its reference image. */
  images?: ImageMemory;
}

/**
 * Room messages → `core.collab`: the board of a room is `wechat:<roomId>`. Answers for the room
 * (a shot added, the board, the render's cost) go to the room mentioning the sender; answers for
 * the author alone (a refused shot, "only the starter can…") go to the author in a private chat,
 * since WeChat has no ephemeral messages; when that fails (not the bot's friend) they go to the
 * room mentioning the author (the refusal names a category, never the refused text).
 */
export class WechatCollab {
  constructor(private readonly deps: WechatCollabDeps) {}

  /** Whether the message was a collab command (answered, or a duplicate left alone). */
  async handle(msg: WechatIncoming, locale: Locale, reply: WechatReply, replyPrivately: WechatReply): Promise<boolean> {
    const room = msg.room;
    if (room === undefined || msg.kind !== 'text') return false;
    const how = collabCandidate(msg.text, msg.mentioned);
    if (how === undefined) return false;
    const parsed = parseCollabCommand(msg.text);
    if (parsed.kind === 'none') return false;
    const { core } = this.deps;
    // A shot or a vote with no open board is a prompt ("/video add a cat to the scene"), as are the shortcuts then.
    const shotCommand = parsed.kind === 'ok' && (parsed.command.kind === 'add' || parsed.command.kind === 'edit' || parsed.command.kind === 'remove' || parsed.command.kind === 'vote' || parsed.command.kind === 'unvote');
    if (how === 'shortcut' || shotCommand) {
      const board = await core.collab.board(`wechat:${room.id}`);
      if (board === undefined || (board.state !== 'collecting' && board.state !== 'locked' && board.state !== 'rendering')) return false;
    }
    // A message event seen twice (a puppet's retry, a second replica) is one command.
    const seenKey = `${core.config.keyPrefix}:wechat:seen:${msg.messageId}`;
    if ((await this.deps.redis.set(seenKey, '1', 'EX', 24 * 3600, 'NX')) !== 'OK') return true;
    const image = parsed.kind === 'ok' && parsed.command.kind === 'add' ? await this.deps.images?.pending(room.id, msg.talkerId) : undefined;
    let res: CollabReply | undefined;
    try {
      res = await core.collab.command({
        platform: 'wechat', tenantId: room.id, channelId: room.id, userId: msg.talkerId,
        userName: msg.talkerName ?? '', isAdmin: msg.roomOwner === true, locale,
        replyTarget: { platform: 'wechat', roomId: room.id, mentionId: msg.talkerId, maxUploadBytes: this.deps.maxUploadBytes },
        ...(image === undefined ? {} : { attachment: ImageMemory.attachmentOf(image) }),
      }, msg.text);
    } catch (err) {
      this.deps.logger.error({ err }, 'wechat collab command failed');
      await reply(wt('collab_failed_internal', locale));
      return true;
    }
    if (res === undefined) {
      await this.deps.redis.del(seenKey);
      return false;
    }
    // The picture is this shot's (or, refused with it, not picked up again by the next message).
    if (image !== undefined && (res.ok || res.code === 'image_invalid' || res.code === 'image_blocked')) await this.deps.images?.markUsed(room.id, msg.talkerId, image.ref, `collab:${msg.messageId}`);
    let text = res.message[locale];
    // Short answers keep the room readable; `collab show` posts the whole board.
    if (res.ok && res.code === 'started') text += `\n${wt('collab_help', locale)}`;
    if (res.audience === 'author') {
      try {
        await replyPrivately(text);
      } catch (err) {
        this.deps.logger.info({ err }, 'private collab answer not sent; answering in the room');
        await reply(text);
      }
    } else {
      await reply(text);
    }
    return true;
  }
}

export interface WechatCollabNotesOptions {
  core: Core;
  redis: Redis;
  sender: WechatSender;
  logger: Logger;
}

/**
 * A board's render in a WeChat room: WeChat cannot edit a message, so the room hears one note when
 * the first shot starts rendering, and one when an idle board expires (each once across processes,
 * by a Redis SET NX). The end is not a note of its own: the video file, or the failure and its
 * refund, comes through the usual WeChat delivery of the render's job.
 */
export async function startWechatCollabNotes(opts: WechatCollabNotesOptions): Promise<Unsubscribe> {
  const { core, redis, sender, logger } = opts;
  return core.collab.subscribe(async (e: CollabEvent) => {
    const started = e.type === 'segment' && e.phase === 'started';
    if (!started && e.type !== 'expired') return;
    const once = `${core.config.keyPrefix}:wechat:collabnote:${e.type === 'expired' ? `expired:${e.id}` : `started:${e.jobId ?? e.boardKey}`}`;
    if ((await redis.set(once, '1', 'EX', 7 * 24 * 3600, 'NX')) !== 'OK') return;
    const board = await core.collab.board(e.boardKey);
    const rt = board?.replyTarget;
    if (rt?.platform !== 'wechat' || rt.roomId === undefined) return;
    const target: WechatTarget = { roomId: rt.roomId };
    const locale = board?.locale ?? 'zh-CN';
    const text = e.type === 'expired'
      ? (e.message?.[locale] ?? wt('collab_expired', locale))
      : wt('collab_render_started', locale, { count: e.count ?? board?.shots.length ?? 0 });
    await sender.sayText(target, text).catch((err: unknown) => logger.info({ err, boardKey: e.boardKey }, 'collab note not sent'));
  }, { platform: 'wechat' });
}
