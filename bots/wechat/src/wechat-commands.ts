import { createHash } from 'node:crypto';
import {
  costOf, FINAL_STATES, formatEta, parseVideoCommand, t,
  type Attachment, type ChatRequestInput, type Core, type GenerationSpec, type IntakeResult, type JobRecord, type Locale,
} from '@framecast/core';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { WechatCollab } from './wechat-collab.ts';
import { ImageMemory, type RememberedImage } from './wechat-images.ts';
import { wt } from './wechat-messages.ts';
import { classifyText, localeOfText, type WechatCommand } from './wechat-triggers.ts';
import type { RoomQuota } from './room-quota.ts';

/** One incoming WeChat message, in the shape the commands read (the adapter builds it from wechaty's Message). */
export interface WechatIncoming {
  /** The puppet's message id: the idempotency key. */
  messageId: string;
  talkerId: string;
  /** The room, when the message was said in one. */
  room?: { id: string; topic: string };
  kind: 'text' | 'image' | 'other';
  /** A text message's text, the bot's mention removed. */
  text: string;
  /** Whether the message mentions the bot (rooms). */
  mentioned: boolean;
  /** The sender's display name (their name in the room, else their WeChat name): a storyboard's credits. */
  talkerName?: string;
  /** The sender owns the room (a storyboard admin there). */
  roomOwner?: boolean;
  /** An image message's bytes (bounded by the adapter; throws ImageProblem). */
  readImage?: () => Promise<{ bytes: Buffer; contentType: string }>;
}

/** Answers to the chat the message came from (in a room, mentioning its sender). */
export type WechatReply = (text: string) => Promise<void>;

export class ImageProblem extends Error {
  readonly code: 'image_too_large' | 'image_unreadable';
  constructor(code: 'image_too_large' | 'image_unreadable') {
    super(code);
    this.code = code;
  }
}

/** The /video command that makes `spec` again with `seed` (its style is already folded into the prompt). */
export function commandTextOf(spec: GenerationSpec, seed: number): string {
  const neg = spec.negativePrompt === undefined || spec.negativePrompt === '' ? '' : ` --neg "${spec.negativePrompt.replace(/"/g, "'")}"`;
  return `${spec.prompt} --seed ${seed} --ar ${spec.aspect} --duration ${spec.durationSeconds}${neg}${spec.mode === 'draft' ? ' --draft' : ''}`;
}

/** A seed from a message id: a repeated "again" asks for the same job. */
export function seedOf(messageId: string): number {
  return Number.parseInt(createHash('sha256').update(messageId).digest('hex').slice(0, 8), 16);
}

/** Whether a room may use the bot: the allow-list is empty, or names it by id or exact topic. */
export function roomAllowed(allow: readonly string[], room: { id: string; topic: string }): boolean {
  return allow.length === 0 || allow.includes(room.id) || allow.includes(room.topic);
}

export interface WechatCommandsDeps {
  core: Core;
  redis: Redis;
  images: ImageMemory;
  roomQuota: RoomQuota;
  logger: Logger;
  /** Room ids or exact topics the bot answers in (FRAMECAST_WECHAT_ROOMS); empty: every room. */
  allowedRooms: readonly string[];
  /** The upload budget put into each reply target. */
  maxUploadBytes: number;
  imageWindowSeconds: number;
  maxImageBytes: number;
  /** Collaborative storyboards in rooms (read before /video). */
  collab?: WechatCollab;
}

/** A prompt on its way to the core. */
interface PromptRequest {
  msg: WechatIncoming;
  text: string;
  eventId: string;
  locale: Locale;
  image?: RememberedImage;
  attachments: Attachment[];
}

/**
 * WeChat messages → the core: text commands (quota, cancel, again, help), pictures kept for the
 * next prompt, prompts submitted with the room's daily credits charged first. Never throws for a
 * user's mistake; the reply says what happened.
 */
export class WechatCommands {
  constructor(private readonly deps: WechatCommandsDeps) {}

  private chatIdOf(msg: WechatIncoming): string {
    return msg.room?.id ?? msg.talkerId;
  }

  private userKeyOf(msg: WechatIncoming): string {
    return `wechat:${msg.talkerId}`;
  }

  /** True the first time a message id is seen (commands and pictures; prompts rely on the core's idempotency). */
  private async firstSight(messageId: string): Promise<boolean> {
    const key = `${this.deps.core.config.keyPrefix}:wechat:seen:${messageId}`;
    return (await this.deps.redis.set(key, '1', 'EX', 24 * 3600, 'NX')) === 'OK';
  }

  /**
   * Handles one message. Returns what it did (for logs and tests). `replyPrivately` answers the
   * sender alone (a storyboard's refusal of their shot); default: `reply`.
   */
  async handle(msg: WechatIncoming, reply: WechatReply, replyPrivately: WechatReply = reply): Promise<'ignored' | 'image' | 'command' | 'prompt' | 'collab'> {
    if (msg.room !== undefined && !roomAllowed(this.deps.allowedRooms, msg.room)) return 'ignored';
    if (msg.kind === 'text' && this.deps.collab !== undefined && (await this.deps.collab.handle(msg, localeOfText(msg.text), reply, replyPrivately))) return 'collab';
    if (msg.kind === 'image') {
      if (msg.readImage === undefined || !(await this.firstSight(msg.messageId))) return 'ignored';
      await this.keepImage(msg, reply);
      return 'image';
    }
    if (msg.kind !== 'text') return 'ignored';
    const trigger = classifyText(msg.text, { inRoom: msg.room !== undefined, mentioned: msg.mentioned });
    const locale = localeOfText(msg.text);
    if (trigger.kind === 'ignore') return 'ignored';
    if (trigger.kind === 'command') {
      if (!(await this.firstSight(msg.messageId))) return 'ignored';
      await this.command(msg, trigger.command, trigger.arg, locale, reply);
      return 'command';
    }
    let image: RememberedImage | undefined;
    if (trigger.useLastImage) {
      image = await this.deps.images.last(this.chatIdOf(msg), msg.talkerId);
      if (image === undefined) {
        await reply(wt('no_last_image', locale));
        return 'prompt';
      }
      if (trigger.text === '') {
        await reply(wt('need_prompt', locale));
        return 'prompt';
      }
    } else {
      image = await this.deps.images.pending(this.chatIdOf(msg), msg.talkerId);
    }
    await this.submit({
      msg, text: trigger.text, eventId: `msg:${msg.messageId}`, locale,
      ...(image === undefined ? {} : { image }),
      attachments: image === undefined ? [] : [ImageMemory.attachmentOf(image)],
    }, reply);
    return 'prompt';
  }

  private async keepImage(msg: WechatIncoming, reply: WechatReply): Promise<void> {
    // A picture carries no language: WeChat's default.
    const locale: Locale = 'zh-CN';
    try {
      const { bytes, contentType } = await (msg.readImage as NonNullable<WechatIncoming['readImage']>)();
      if (bytes.length > this.deps.maxImageBytes) throw new ImageProblem('image_too_large');
      await this.deps.images.remember(this.chatIdOf(msg), msg.talkerId, msg.messageId, bytes, contentType);
      // In a private chat say what the picture is for; in a room keep quiet (people share pictures all the time).
      if (msg.room === undefined) await reply(wt('image_saved', locale, { minutes: Math.max(1, Math.round(this.deps.imageWindowSeconds / 60)) }));
    } catch (err) {
      if (!(err instanceof ImageProblem)) throw err;
      if (msg.room === undefined) await reply(wt(err.code, locale, { mb: Math.round(this.deps.maxImageBytes / 1048576) }));
    }
  }

  private replyTarget(msg: WechatIncoming): ChatRequestInput['replyTarget'] {
    return msg.room === undefined
      ? { platform: 'wechat', contactId: msg.talkerId, maxUploadBytes: this.deps.maxUploadBytes }
      : { platform: 'wechat', roomId: msg.room.id, mentionId: msg.talkerId, maxUploadBytes: this.deps.maxUploadBytes };
  }

  /** Charges the room, submits, and answers with one short acknowledgement or the refusal. */
  private async submit(req: PromptRequest, reply: WechatReply): Promise<IntakeResult | undefined> {
    const { core, roomQuota, logger } = this.deps;
    const { msg, locale } = req;
    const room = msg.room;
    // The room's credits first: its cost as the grammar reads it (the core may fit the size; settled below).
    let charged: { day: string } | undefined;
    if (room !== undefined && roomQuota.enabled) {
      const parsed = parseVideoCommand(req.text);
      if (parsed.ok) {
        const cost = costOf(parsed.spec);
        const c = await roomQuota.charge(room.id, req.eventId, cost);
        if (!c.ok) {
          // Said once, however often the event comes.
          if (await this.firstSight(`roomquota:${req.eventId}`)) await reply(wt('room_quota', locale, { limit: roomQuota.limit, cost, left: c.left, timeZone: core.config.timeZone }));
          return undefined;
        }
        charged = { day: c.day };
      }
    }
    const release = async () => {
      if (room !== undefined && charged !== undefined) await roomQuota.release(room.id, req.eventId, charged.day);
    };
    let result: IntakeResult;
    try {
      result = await core.submit({
        version: 1, platform: 'wechat',
        tenantId: room?.id ?? `dm:${msg.talkerId}`, channelId: this.chatIdOf(msg), userId: msg.talkerId,
        eventId: req.eventId, text: req.text, attachments: req.attachments, locale,
        replyTarget: this.replyTarget(msg), receivedAt: Date.now(),
      });
    } catch (err) {
      await release();
      logger.error({ err }, 'wechat request failed');
      await reply(t('refusal.internal', locale));
      return undefined;
    }
    if (result.status === 'refused') {
      await release();
      // A picture the core would not take is not picked up again by the next prompt.
      if (req.image !== undefined && (result.reason === 'image_invalid' || result.reason === 'image_blocked' || result.reason === 'runtime_unsupported')) {
        await this.deps.images.markUsed(this.chatIdOf(msg), msg.talkerId, req.image.ref, `refused:${req.eventId}`);
      }
      if (!result.duplicate) await reply(result.message[locale]);
      return result;
    }
    if (room !== undefined && charged !== undefined) await roomQuota.settle(room.id, req.eventId, charged.day, result.jobId, result.cost);
    if (req.image !== undefined) await this.deps.images.markUsed(this.chatIdOf(msg), msg.talkerId, req.image.ref, result.jobId);
    if (result.duplicate) return result;
    const vars = { jobId: result.jobId, position: Math.max(1, result.position), eta: formatEta(result.etaSeconds, locale), cost: result.cost, credits: result.creditsLeft };
    const ack = wt(result.reviewRequired ? 'ack_review' : 'ack', locale, vars);
    await reply(req.attachments.length > 0 ? `${ack}${wt('ack_image', locale)}` : ack);
    return result;
  }

  /** The user's jobs in this chat, newest first. */
  private async jobsHere(msg: WechatIncoming): Promise<JobRecord[]> {
    const jobs = await this.deps.core.listJobs(this.userKeyOf(msg), 50);
    return jobs.filter((j) => j.channelId === this.chatIdOf(msg)).sort((a, b) => b.createdAt - a.createdAt);
  }

  private async command(msg: WechatIncoming, command: WechatCommand, arg: string | undefined, locale: Locale, reply: WechatReply): Promise<void> {
    const { core, roomQuota } = this.deps;
    const userKey = this.userKeyOf(msg);
    switch (command) {
      case 'help':
        await reply(wt('help', locale, { minutes: Math.max(1, Math.round(this.deps.imageWindowSeconds / 60)) }));
        return;
      case 'quota': {
        const q = await core.quota.show(userKey);
        let text = wt('quota', locale, { available: q.available, daily: q.dailyCredits, tier: q.tier, active: q.active, max: q.maxConcurrent });
        if (msg.room !== undefined && roomQuota.enabled) text += wt('quota_room', locale, { left: await roomQuota.left(msg.room.id), limit: roomQuota.limit });
        await reply(text);
        return;
      }
      case 'cancel': {
        const job = arg !== undefined ? await core.job(arg) : (await this.jobsHere(msg)).find((j) => !FINAL_STATES.has(j.state));
        if (job === undefined) {
          await reply(wt('nothing_to_cancel', locale));
          return;
        }
        // The user hears it from this answer: the delivery of the cancelled outcome stays quiet.
        await this.deps.redis.set(toldCancelKey(core.config.keyPrefix, job.jobId), '1', 'EX', 24 * 3600);
        const res = await core.cancel(job.jobId, { userKey, isAdmin: core.quota.tierOf(userKey) === 'admin' });
        if (res.status !== 'cancelled' && res.status !== 'cancel_requested') await this.deps.redis.del(toldCancelKey(core.config.keyPrefix, job.jobId));
        await reply(res.message[locale]);
        return;
      }
      case 'again': {
        const last = (await this.jobsHere(msg))[0];
        if (last === undefined) {
          await reply(wt('nothing_to_reroll', locale));
          return;
        }
        const ref = last.spec.referenceImage?.ref;
        await this.submit({
          msg, text: commandTextOf(last.spec, seedOf(msg.messageId)), eventId: `again:${msg.messageId}`, locale,
          attachments: ref === undefined ? [] : [{ kind: 'image', storageRef: ref }],
        }, reply);
        return;
      }
    }
  }
}

/** Set when a user cancelled a job by command (and was told): its cancelled outcome is not said again. */
export function toldCancelKey(keyPrefix: string, jobId: string): string {
  return `${keyPrefix}:wechat:toldcancel:${jobId}`;
}
