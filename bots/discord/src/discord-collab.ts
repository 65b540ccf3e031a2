import {
  ChannelType,
  InteractionResponseType,
  MessageFlags,
  Routes,
  type APIChatInputApplicationCommandInteraction,
  type APIInteraction,
  type APIMessageComponentInteraction,
  type APIUser,
  type GatewayMessageReactionAddDispatchData,
  type GatewayMessageReactionRemoveDispatchData,
} from 'discord.js';
import { parseCollabCommand, type Attachment, type Board, type CollabContext, type CollabReply, type Locale } from '@framecast/core';
import type { Redis } from 'ioredis';
import { parseCollabCustomId, shotOfEmoji, type DiscordCollabBoards } from './discord-collab-board.ts';
import { commandTextOf, interactionLocale, replyTargetOf, type VideoOptions } from './discord-commands.ts';
import type { DiscordContext, InteractionReply } from './discord-context.ts';
import { dt } from './discord-texts.ts';
import { answerPrivately, editOriginal, storeAttachment } from './discord-video-submit.ts';

/** Administrator, Manage Channels, Manage Guild: a member with one of these administers boards (beside FRAMECAST_ROLE_TIERS' admin roles). */
const ADMIN_PERMISSIONS = (1n << 3n) | (1n << 4n) | (1n << 5n);

/** Whether an interaction member's `permissions` bitfield holds Administrator, Manage Channels or Manage Guild. */
export function isDiscordAdmin(permissions: string | undefined): boolean {
  if (permissions === undefined || !/^\d{1,30}$/.test(permissions)) return false;
  return (BigInt(permissions) & ADMIN_PERMISSIONS) !== 0n;
}

/** The name the board and the end card show: the guild nickname, else the global display name, else the username. */
export function displayNameOf(nick: string | null | undefined, user: Pick<APIUser, 'id' | 'username' | 'global_name'> | undefined): string {
  return (nick ?? user?.global_name ?? user?.username ?? user?.id ?? '').slice(0, 80);
}

const isOpen = (b: Board | undefined): b is Board => b !== undefined && (b.state === 'collecting' || b.state === 'locked' || b.state === 'rendering');

/** The channel (or thread, or DM) an interaction came from. */
function channelOf(i: APIInteraction): string {
  return i.channel?.id ?? (i as { channel_id?: string }).channel_id ?? 'unknown';
}

export interface DiscordCollabOptions {
  redis: Redis;
  boards: DiscordCollabBoards;
  /** How long a second click of the same button by the same member is one click. Default 10 s. */
  clickWindowSeconds?: number;
  /** The bot's own user id (its reactions are not votes). */
  botUserId?: () => string | undefined;
}

/**
 * Storyboards in Discord (`core.collab`): `/video prompt: collab start …` opens a board — in a guild
 * text channel in a new public thread, in a thread or DM right there; `add …`, `vote N` and the rest
 * are read as board commands only while the channel has an open board (otherwise they are prompts).
 * Answers for the author alone are ephemeral; the board's one message (DiscordCollabBoards) carries
 * vote, Show and Render buttons, and a 1️⃣–🔟 reaction on it is a vote.
 */
export class DiscordCollab {
  constructor(private readonly o: DiscordCollabOptions) {}

  private key(ctx: DiscordContext, ...parts: string[]): string {
    return [ctx.config.keyPrefix, 'discord', 'collab', ...parts].join(':');
  }

  /** Who speaks, where, as the core takes it: the board of `channelId`, its videos posted there. */
  private async contextOf(ctx: DiscordContext, i: APIInteraction, channelId: string, attachment?: Attachment): Promise<CollabContext> {
    const member = 'member' in i ? i.member : undefined;
    const user = member?.user ?? ('user' in i ? i.user : undefined);
    const roles = await ctx.roles.namesOf(i.guild_id, member?.roles ?? []);
    const base = replyTargetOf(i);
    return {
      platform: 'discord', tenantId: i.guild_id ?? `dm:${channelOf(i)}`, channelId, userId: user?.id ?? 'unknown',
      userName: displayNameOf(member?.nick, user), roles: roles.slice(0, 50).map((r) => r.slice(0, 64)),
      isAdmin: isDiscordAdmin(member?.permissions), locale: interactionLocale(i, ctx.config.defaultLocale),
      // No interaction token: a render may end long after it has expired; the video is posted in the board's channel.
      replyTarget: { platform: 'discord', applicationId: i.application_id, channelId, ...(i.guild_id === undefined ? {} : { guildId: i.guild_id }), maxUploadBytes: base.maxUploadBytes },
      ...(attachment === undefined ? {} : { attachment }),
    };
  }

  /** A public thread for a board started in a guild text (or announcement) channel; undefined where there is none to make. */
  private async openThread(ctx: DiscordContext, i: APIInteraction, starter: string, locale: Locale): Promise<string | undefined> {
    const type = i.channel?.type;
    if (i.guild_id === undefined || (type !== ChannelType.GuildText && type !== ChannelType.GuildAnnouncement)) return undefined;
    try {
      const thread = (await ctx.rest.post(Routes.threads(channelOf(i)), {
        body: { name: dt('collabThreadName', locale, { starter }).slice(0, 100), type: type === ChannelType.GuildAnnouncement ? ChannelType.AnnouncementThread : ChannelType.PublicThread, auto_archive_duration: 1440 },
      })) as { id: string };
      return thread.id;
    } catch (err) {
      ctx.logger.warn({ err }, 'discord: no thread for the storyboard (permissions?); the board stays in the channel');
      return undefined;
    }
  }

  private async dropThread(ctx: DiscordContext, thread: string | undefined): Promise<void> {
    if (thread === undefined) return;
    await ctx.rest.delete(Routes.channel(thread)).catch((err: unknown) => ctx.logger.warn({ err }, 'discord: an unused storyboard thread was not deleted'));
  }

  /** Posts a board answer: ephemeral for its author alone, else in the interaction's (public) reply; the board's message follows. */
  private async answer(ctx: DiscordContext, i: APIInteraction, boardKey: string, res: CollabReply, locale: Locale, thread?: string): Promise<void> {
    if (res.audience === 'author') {
      await answerPrivately(ctx, i, res.message[locale]);
      return;
    }
    let content = res.message[locale];
    if (res.ok && res.code === 'started') {
      await this.o.boards.post(boardKey).catch((err: unknown) => ctx.logger.warn({ err, boardKey }, 'discord: the board message was not posted'));
      content = thread === undefined ? `${content}\n${dt('collabHelp', locale)}` : dt('collabThreadOpened', locale, { message: content, thread: `<#${thread}>` });
    } else if (res.ok && res.code === 'rendering') {
      this.o.boards.renderStarted(boardKey, res.jobId);
    } else if (res.ok && res.code !== 'show') {
      // Every change (a shot, a vote, lock, reorder, cancel…) shows on the board's message.
      this.o.boards.refresh(boardKey);
    }
    await editOriginal(ctx, i, { content: content.slice(0, 2000), allowed_mentions: { parse: [] } });
  }

  /**
   * `/video`'s prompt read as a board command first (from the deferred reply's follow-up work).
   * False: not a board command here (no open board for a shot or a vote): the caller submits a video.
   */
  async handleCommand(ctx: DiscordContext, i: APIChatInputApplicationCommandInteraction, options: VideoOptions): Promise<boolean> {
    const text = commandTextOf(options);
    const parsed = parseCollabCommand(text);
    if (parsed.kind === 'none') return false;
    const channelId = channelOf(i);
    // `collab …` is always a board command; a shot, a vote (or a malformed one) only while a board is open here.
    const always = parsed.kind === 'ok' ? !['add', 'edit', 'remove', 'vote', 'unvote'].includes(parsed.command.kind) : /^\/video\s+collab(?:\s|$)/iu.test(text);
    if (!always && !isOpen(await ctx.core.collab.board(`discord:${channelId}`))) return false;
    // A redelivered interaction (the gateway's, or a retried HTTP POST) is one command.
    const seen = this.key(ctx, 'seen', i.id);
    if ((await this.o.redis.set(seen, '1', 'EX', 24 * 3600, 'NX')) !== 'OK') return true;
    const locale = interactionLocale(i, ctx.config.defaultLocale);
    let attachment: Attachment | undefined;
    if (parsed.kind === 'ok' && parsed.command.kind === 'add' && options.image !== undefined) {
      const stored = await storeAttachment(ctx, i.id, options.image);
      if (!stored.ok) {
        await answerPrivately(ctx, i, stored.message[locale]);
        return true;
      }
      attachment = { kind: 'image', storageRef: stored.storageRef, name: options.image.filename.slice(0, 256), size: options.image.size };
    }
    const starting = parsed.kind === 'ok' && parsed.command.kind === 'start';
    const member = 'member' in i ? i.member : undefined;
    const thread = starting ? await this.openThread(ctx, i, displayNameOf(member?.nick, member?.user ?? i.user), locale) : undefined;
    const boardChannel = thread ?? channelId;
    let res: CollabReply | undefined;
    try {
      res = await ctx.core.collab.command(await this.contextOf(ctx, i, boardChannel, attachment), text);
    } catch (err) {
      ctx.logger.error({ err }, 'discord: storyboard command failed');
      await this.dropThread(ctx, thread);
      await answerPrivately(ctx, i, dt('internal', locale));
      return true;
    }
    if (res === undefined) {
      await this.o.redis.del(seen);
      await this.dropThread(ctx, thread);
      return false;
    }
    if (!res.ok) await this.dropThread(ctx, thread);
    await this.answer(ctx, i, `discord:${boardChannel}`, res, locale, res.ok ? thread : undefined);
    return true;
  }

  /**
   * A click on a board message's button. A second click of the same button by the same member
   * within the window is acknowledged and nothing more (one vote, one render). Votes and Show answer
   * the clicker alone (the board's message shows the votes to everyone); Render answers in public.
   */
  async handleButton(ctx: DiscordContext, i: APIMessageComponentInteraction): Promise<InteractionReply> {
    const parsed = parseCollabCustomId(i.data.custom_id);
    if (parsed === undefined) return { response: { type: InteractionResponseType.DeferredMessageUpdate } };
    const userId = i.member?.user.id ?? i.user?.id ?? 'unknown';
    const claim = this.key(ctx, 'click', i.data.custom_id, userId);
    if ((await this.o.redis.set(claim, '1', 'EX', this.o.clickWindowSeconds ?? 10, 'NX')) !== 'OK') return { response: { type: InteractionResponseType.DeferredMessageUpdate } };
    const locale = interactionLocale(i, ctx.config.defaultLocale);
    const boardKey = `discord:${parsed.channelId}`;
    const isPublic = parsed.action === 'render';
    return {
      response: { type: InteractionResponseType.DeferredChannelMessageWithSource, ...(isPublic ? {} : { data: { flags: MessageFlags.Ephemeral } }) },
      after: async () => {
        const board = await ctx.core.collab.board(boardKey);
        if (board?.id !== parsed.boardId || !isOpen(board)) {
          if (isPublic) await answerPrivately(ctx, i, dt('collabBoardGone', locale));
          else await editOriginal(ctx, i, { content: dt('collabBoardGone', locale) });
          return;
        }
        const cctx = await this.contextOf(ctx, i, parsed.channelId);
        const res = parsed.action === 'vote' ? await ctx.core.collab.vote(cctx, parsed.n) : parsed.action === 'show' ? await ctx.core.collab.show(cctx) : await ctx.core.collab.render(cctx);
        if (isPublic) {
          await this.answer(ctx, i, boardKey, res, locale);
          return;
        }
        if (res.ok && parsed.action === 'vote') this.o.boards.refresh(boardKey);
        await editOriginal(ctx, i, { content: res.message[locale].slice(0, 2000), allowed_mentions: { parse: [] } });
      },
    };
  }

  /** A 1️⃣–🔟 reaction on a board's message (gateway only): a vote for that shot (taking it off takes the vote back: onReactionRemove). */
  async onReaction(ctx: DiscordContext, r: GatewayMessageReactionAddDispatchData): Promise<void> {
    const on = await this.boardOfReaction(ctx, r);
    if (on === undefined) return;
    const member = r.member;
    const roles = await ctx.roles.namesOf(r.guild_id, member?.roles ?? []);
    const res = await ctx.core.collab.vote({ ...on.ctx, userName: displayNameOf(member?.nick, member?.user), roles: roles.slice(0, 50).map((x) => x.slice(0, 64)) }, on.n);
    if (res.ok) this.o.boards.refresh(on.boardKey);
    else ctx.logger.debug({ code: res.code, boardKey: on.boardKey }, 'discord: a reaction vote was not counted');
  }

  /** A 1️⃣–🔟 reaction taken off a board's message (gateway only): that vote is taken back. */
  async onReactionRemove(ctx: DiscordContext, r: GatewayMessageReactionRemoveDispatchData): Promise<void> {
    const on = await this.boardOfReaction(ctx, r);
    if (on === undefined) return;
    // The removal carries no member: the vote is the user's whatever their name (the board keeps the names it has).
    const res = await ctx.core.collab.unvote({ ...on.ctx, userName: r.user_id }, on.n);
    if (res.ok) this.o.boards.refresh(on.boardKey);
    else ctx.logger.debug({ code: res.code, boardKey: on.boardKey }, 'discord: a reaction removal took no vote back');
  }

  /** The open board whose current message a number reaction (added or removed, not the bot's) is on, the shot, and the reacting user's context. */
  private async boardOfReaction(ctx: DiscordContext, r: GatewayMessageReactionRemoveDispatchData): Promise<{ boardKey: string; n: number; ctx: Omit<CollabContext, 'userName'> } | undefined> {
    if (r.user_id === this.o.botUserId?.()) return undefined;
    const n = shotOfEmoji(r.emoji.name);
    if (n === undefined) return undefined;
    const boardKey = await this.o.boards.boardOfMessage(r.message_id);
    if (boardKey === undefined) return undefined;
    const [loc, board] = await Promise.all([this.o.boards.location(boardKey), ctx.core.collab.board(boardKey)]);
    if (board === undefined || loc?.boardId !== board.id || loc.messageId !== r.message_id || !isOpen(board)) return undefined;
    return {
      boardKey, n,
      ctx: { platform: 'discord', tenantId: r.guild_id ?? `dm:${r.channel_id}`, channelId: board.channelId, userId: r.user_id, locale: board.locale, replyTarget: board.replyTarget },
    };
  }
}
