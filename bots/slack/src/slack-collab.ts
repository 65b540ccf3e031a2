import { createHash } from 'node:crypto';
import { formatEta, parseCollabCommand, t, type Attachment, type Board, type BoardView, type CollabContext, type CollabEvent, type CollabReply, type Core, type LocalizedText, type Locale, type Unsubscribe } from '@framecast/core';
import type { App, BlockButtonAction } from '@slack/bolt';
import type { Button, KnownBlock } from '@slack/types';
import type { WebClient } from '@slack/web-api';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { z } from 'zod';
import { extractFileLinks, unescapeSlack, type SlackCommands, type SlackInvocation } from './slack-commands.ts';
import { escapeMrkdwn, st, type SlackTextId } from './slack-messages.ts';
import { STATUS_RANK, type SlackStatusBoard, type StatusPosition } from './slack-progress.ts';

/** Block Kit action ids of the board message's buttons. */
export const COLLAB_ACTION = { vote: 'fc_collab_vote', show: 'fc_collab_show', render: 'fc_collab_render' } as const;

/** Reactions on a board message that vote for a shot (`:one:` … `:keycap_ten:`). */
export const VOTE_REACTIONS: Readonly<Record<string, number>> = {
  one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, keycap_ten: 10,
};

/** Slack allows 50 blocks a message: the board shows this many shots, one section each. */
const MAX_SHOT_BLOCKS = 42;
/** A repeated click on the same button by the same user within this is the same click. */
const CLICK_WINDOW_SECONDS = 10;
/** How long an event id is remembered (Slack retries for minutes; a second replica sees the same event). */
const SEEN_SECONDS = 24 * 3600;

/** A board button's value: the board, the shot (0: none) and the board's channel key (`C…` or `C…:thread_ts`). */
export function collabButtonValue(boardId: string, n: number, channelKey: string): string {
  return `${boardId}|${n}|${channelKey}`;
}

export function parseCollabButtonValue(value: string | undefined): { boardId: string; n: number; channelKey: string } | undefined {
  const m = /^([A-Za-z0-9]{1,64})\|(\d{1,3})\|([A-Za-z0-9.:_-]{1,200})$/.exec(value ?? '');
  if (m === null) return undefined;
  return { boardId: m[1] as string, n: Number(m[2]), channelKey: m[3] as string };
}

/** How far the render of a board is, as its events told this process. */
export interface BoardProgress {
  /** Per segment (the cut's shots in order): its phase, and its step when it reports steps. */
  segments: Map<number, { phase: 'started' | 'step' | 'done' | 'retrying'; step?: number; totalSteps?: number }>;
  stitching: boolean;
  /** The last render's failure (its refund note) or the expiry notice, shown until the next render. */
  note?: { kind: 'failed' | 'expired'; message: LocalizedText };
}

/** One render event into a board's progress: a segment's phase, the stitching, a failure (the progress starts over, with its refund note). */
export function applyRenderEvent(p: BoardProgress, e: CollabEvent): void {
  if (e.type === 'segment' && e.index !== undefined && e.phase !== undefined) {
    delete p.note;
    p.segments.set(e.index, { phase: e.phase, ...(e.step === undefined ? {} : { step: e.step }), ...(e.totalSteps === undefined ? {} : { totalSteps: e.totalSteps }) });
  } else if (e.type === 'stitching') {
    p.stitching = true;
  } else if (e.type === 'failed') {
    p.segments.clear();
    p.stitching = false;
    p.note = { kind: 'failed', message: e.message ?? { en: '', 'zh-CN': '' } };
  }
}

/** The progress of the render `jobId` of `boardKey` from the event stream, oldest first (a process that joins mid-render). */
export function progressFrom(events: readonly CollabEvent[], boardKey: string, jobId: string): BoardProgress {
  const p: BoardProgress = { segments: new Map(), stitching: false };
  for (const e of events) if (e.boardKey === boardKey && e.jobId === jobId) applyRenderEvent(p, e);
  return p;
}

function themeOf(theme: string, locale: Locale): string {
  if (theme === '') return '';
  return locale === 'zh-CN' ? `「${escapeMrkdwn(theme)}」` : ` “${escapeMrkdwn(theme)}”`;
}

function stateText(v: BoardView, locale: Locale): string {
  return st(`collab_state_${v.state}` as SlackTextId, locale);
}

function progressText(p: BoardProgress, index: number, locale: Locale): string {
  const s = p.segments.get(index);
  if (s === undefined) return st('collab_progress_waiting', locale);
  if (s.phase === 'step' && s.step !== undefined && s.totalSteps !== undefined) return st('collab_progress_step', locale, { step: s.step, total: s.totalSteps });
  return st(s.phase === 'step' ? 'collab_progress_started' : `collab_progress_${s.phase}`, locale);
}

/** The status line under the shots: the render's progress, its end, or the last failure's refund note. */
function statusLine(v: BoardView, p: BoardProgress, locale: Locale): string | undefined {
  switch (v.state) {
    case 'rendering': {
      if (p.stitching) return st('collab_status_stitching', locale);
      const count = v.shots.filter((s) => s.inCut).length;
      const done = [...p.segments.values()].filter((s) => s.phase === 'done').length;
      return st('collab_status_rendering', locale, { done, count });
    }
    case 'done':
      return st('collab_status_rendered', locale);
    case 'cancelled':
      return st('collab_status_cancelled', locale);
    case 'expired':
      return st('collab_status_expired', locale, { message: escapeMrkdwn(p.note?.message[locale] ?? '') });
    default:
      return p.note?.kind === 'failed' ? st('collab_status_failed', locale, { message: escapeMrkdwn(p.note.message[locale]) }) : undefined;
  }
}

/**
 * The board message (Block Kit): title, state and settings; one section per shot (author, text,
 * votes, in or out of the cut, its render progress) with a vote button while shots are collected;
 * the cost, who pays and the ETA; the render's status; Show and Render buttons while it is open.
 */
export function boardBlocks(v: BoardView, p: BoardProgress, locale: Locale, boardId: string, channelKey: string): KnownBlock[] {
  const blocks: KnownBlock[] = [
    { type: 'section', text: { type: 'mrkdwn', text: st('collab_title', locale, { theme: themeOf(v.theme, locale), starter: escapeMrkdwn(v.starterName) }) } },
    { type: 'context', elements: [{ type: 'mrkdwn', text: st('collab_meta', locale, { state: stateText(v, locale), style: escapeMrkdwn(v.style ?? st('collab_style_none', locale)), seed: v.seed, aspect: v.aspect }) }] },
  ];
  const collecting = v.state === 'collecting';
  const rendering = v.state === 'rendering';
  const cutIndex = new Map(v.shots.filter((s) => s.inCut).map((s, i) => [s.n, i]));
  if (v.shots.length === 0) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: st('collab_no_shots', locale) } });
  const shown = v.shots.slice(0, MAX_SHOT_BLOCKS);
  for (const s of shown) {
    const seg = cutIndex.get(s.n);
    const text = st('collab_shot', locale, {
      n: s.n, author: escapeMrkdwn(s.authorName), text: escapeMrkdwn(s.text), votes: s.votes,
      cut: s.inCut ? '' : st('collab_not_in_cut', locale),
      progress: rendering && seg !== undefined ? progressText(p, seg, locale) : '',
    });
    const vote: Button = { type: 'button', action_id: COLLAB_ACTION.vote, text: { type: 'plain_text', text: st('button_collab_vote', locale, { n: s.n }) }, value: collabButtonValue(boardId, s.n, channelKey) };
    blocks.push({ type: 'section', block_id: `fc_shot_${s.n}`, text: { type: 'mrkdwn', text }, ...(collecting ? { accessory: vote } : {}) });
  }
  if (v.shots.length > shown.length) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `+${v.shots.length - shown.length}` }] });
  const policy = st(`collab_policy_${v.policy}`, locale);
  if (collecting || v.state === 'locked') {
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: st('collab_cost', locale, { cost: v.cost, policy, eta: formatEta(v.etaSeconds, locale), max: v.maxShots }) }] });
  }
  const status = statusLine(v, p, locale);
  if (status !== undefined) blocks.push({ type: 'section', block_id: 'fc_collab_status', text: { type: 'mrkdwn', text: status } });
  if (collecting || v.state === 'locked') {
    blocks.push({
      type: 'actions', block_id: 'fc_collab_actions', elements: [
        { type: 'button', action_id: COLLAB_ACTION.show, text: { type: 'plain_text', text: st('button_collab_show', locale) }, value: collabButtonValue(boardId, 0, channelKey) },
        { type: 'button', action_id: COLLAB_ACTION.render, style: 'primary', text: { type: 'plain_text', text: st('button_collab_render', locale) }, value: collabButtonValue(boardId, 0, channelKey) },
      ],
    });
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: st('collab_help', locale) }] });
  }
  return blocks;
}

/** Where a board's message is (Redis, JSON: it outlives this process and is parsed when read). */
const BoardMessageSchema = z.object({ boardId: z.string().min(1).max(64), channel: z.string().min(1).max(40), ts: z.string().min(1).max(40) });
type BoardMessage = z.infer<typeof BoardMessageSchema>;
const MessageBoardSchema = z.object({ key: z.string().min(1).max(300), boardId: z.string().min(1).max(64) });

export interface SlackCollabDeps {
  core: Core;
  redis: Redis;
  /** Bolt's client (answers, the board message). */
  client: WebClient;
  /** A client that does not wait out 429s (the board message's edits: a skipped one is overtaken by the next). */
  fast: WebClient;
  commands: SlackCommands;
  logger: Logger;
  /** The adapter's status board: every edit of a board message goes through it, in order, never back. */
  board: SlackStatusBoard;
}

/** Where an invocation came from, beyond the invocation. */
export interface SlackCollabOrigin {
  /** The thread the command was written in (an app mention in a thread); undefined at a channel's top level and for slash commands. */
  inThread?: string;
  /** Called once the text is known to be a storyboard command, before the work (a slash command acknowledges then). */
  accepted?: () => Promise<void>;
}

/**
 * Storyboards in Slack: `/video collab …`, `/video add …`, `/video vote N` (slash command or app
 * mention) go to `core.collab` before the /video path. A board lives in a channel (`slack:C…`) or,
 * started in a thread, in that thread (`slack:C…:thread_ts`); its message is posted where it is
 * started and its thread holds the answers and the final video. Shot and vote commands are read as
 * storyboard commands only while the channel has an open board (otherwise "add a cat …" is a
 * prompt). Answers for the author alone are ephemeral. Votes also come from the board message's
 * buttons and from :one: … :keycap_ten: reactions on it; the message follows the board and its
 * render (`core.collab.subscribe`), edited through the adapter's SlackStatusBoard.
 */
export class SlackCollab {
  private readonly progress = new Map<string, BoardProgress & { epoch: number; seq: number }>();
  private readonly prefix: string;
  private readonly ttlSeconds: number;

  constructor(private readonly deps: SlackCollabDeps) {
    this.prefix = `${deps.core.config.keyPrefix}:slack:collab`;
    this.ttlSeconds = deps.core.config.env.FRAMECAST_COLLAB_IDLE_HOURS * 3600 + 7 * 24 * 3600;
  }

  private static isOpen(b: Board | undefined): b is Board {
    return b !== undefined && (b.state === 'collecting' || b.state === 'locked' || b.state === 'rendering');
  }

  /**
   * The board key's channel part for a command written in `channel` (in `thread`): the thread's own
   * board when it has an open one, the channel's board when the thread is that board's thread, else
   * the thread (a board started there lives there); the channel at its top level.
   */
  async channelKeyOf(channel: string, thread: string | undefined): Promise<string> {
    if (thread === undefined) return channel;
    const own = `${channel}:${thread}`;
    if (SlackCollab.isOpen(await this.deps.core.collab.board(`slack:${own}`))) return own;
    const top = await this.deps.core.collab.board(`slack:${channel}`);
    if (top?.replyTarget.platform === 'slack' && top.replyTarget.threadTs === thread) return channel;
    return own;
  }

  /**
   * Runs the invocation as a storyboard command when it is one; false when it is not (the caller
   * goes on with /video). A retried event or a command seen twice is answered once.
   */
  async handle(inv: SlackInvocation, origin: SlackCollabOrigin = {}): Promise<boolean> {
    const { core, redis, logger } = this.deps;
    const text = unescapeSlack(extractFileLinks(inv.text).text);
    const parsed = parseCollabCommand(text);
    if (parsed.kind === 'none') return false;
    const channelKey = await this.channelKeyOf(inv.channelId, origin.inThread);
    const key = `slack:${channelKey}`;
    const board = await core.collab.board(key);
    // A shot or a vote with no open board is a prompt ("/video add a cat to the scene").
    const c = parsed.kind === 'ok' ? parsed.command : undefined;
    const shotCommand = c !== undefined && (c.kind === 'add' || c.kind === 'edit' || c.kind === 'remove' || c.kind === 'vote' || c.kind === 'unvote');
    if (shotCommand && !SlackCollab.isOpen(board)) return false;
    await origin.accepted?.();
    // From here on the command is the storyboard's, whatever happens.
    const tellAuthor = (t: string) => this.ephemeral(inv.channelId, inv.userId, t, inv.threadTs);
    let locale = core.config.defaultLocale;
    try {
      const seen = `${this.prefix}:seen:${inv.eventId}`;
      if ((await redis.set(seen, '1', 'EX', SEEN_SECONDS, 'NX')) !== 'OK') return true;
      const user = await this.deps.commands.userInfo(inv.userId);
      locale = user.locale;
      if (c?.kind === 'start') {
        await this.start(inv, origin, channelKey, text, user);
        return true;
      }
      let attachment: Attachment | undefined;
      if (c?.kind === 'add') {
        const images = await this.deps.commands.imagesOf(inv, locale);
        if (!images.ok) {
          await tellAuthor(images.text);
          return true;
        }
        attachment = images.attachments[0];
      }
      const replyTarget = board?.replyTarget ?? { platform: 'slack' as const, teamId: inv.teamId, channelId: inv.channelId, ...(origin.inThread === undefined ? {} : { threadTs: origin.inThread }) };
      const ctx: CollabContext = {
        platform: 'slack', tenantId: inv.teamId, channelId: channelKey, userId: inv.userId, userName: user.name, isAdmin: user.isAdmin, locale, replyTarget,
        ...(attachment === undefined ? {} : { attachment }),
      };
      const res = await core.collab.command(ctx, text);
      if (res === undefined) {
        await redis.del(seen);
        return false;
      }
      await this.answer(res, key, locale, tellAuthor);
    } catch (err) {
      logger.error({ err }, 'slack storyboard command failed');
      await tellAuthor(t('refusal.internal', locale));
    }
    return true;
  }

  /** Posts a command's answer (the author's alone ephemerally, the others in the board's thread) and brings the board message up to date. */
  private async answer(res: CollabReply, key: string, locale: Locale, tellAuthor: (t: string) => Promise<void>): Promise<void> {
    const text = escapeMrkdwn(res.message[locale]);
    if (res.audience === 'author') await tellAuthor(text);
    else await this.inThread(key, text);
    if (!res.ok) return;
    if (res.code === 'rendering') {
      const b = await this.deps.core.collab.board(key);
      if (b !== undefined) delete (await this.stateFor(b)).note;
    }
    await this.refresh(key);
  }

  /** `collab start`: the board message first (its thread is the board's), then the board; a refused start takes the message back. */
  private async start(inv: SlackInvocation, origin: SlackCollabOrigin, channelKey: string, text: string, user: { name: string; isAdmin: boolean; locale: Locale }): Promise<void> {
    const { core, client, logger, redis } = this.deps;
    const locale = user.locale;
    // A board already open here: said to the author alone, with no board message posted and taken back.
    if (SlackCollab.isOpen(await core.collab.board(`slack:${channelKey}`))) {
      await this.ephemeral(inv.channelId, inv.userId, escapeMrkdwn(t('collab.exists', locale)), inv.threadTs);
      return;
    }
    let ts: string;
    try {
      const res = await client.chat.postMessage({ channel: inv.channelId, text: st('collab_opening', locale), ...(origin.inThread === undefined ? {} : { thread_ts: origin.inThread }) });
      if (typeof res.ts !== 'string') throw new Error('chat.postMessage answered without ts');
      ts = res.ts;
    } catch (err) {
      const code = (err as { data?: { error?: string } }).data?.error;
      logger.info({ err }, 'board message not posted');
      const why = code === 'not_in_channel' || code === 'channel_not_found' || code === 'is_archived' ? 'not_in_channel' : 'collab_board_gone';
      await this.ephemeral(inv.channelId, inv.userId, st(why, locale), inv.threadTs);
      return;
    }
    const ctx: CollabContext = {
      platform: 'slack', tenantId: inv.teamId, channelId: channelKey, userId: inv.userId, userName: user.name, isAdmin: user.isAdmin, locale,
      replyTarget: { platform: 'slack', teamId: inv.teamId, channelId: inv.channelId, threadTs: origin.inThread ?? ts },
    };
    const res = await core.collab.command(ctx, text).catch((err: unknown) => {
      void client.chat.delete({ channel: inv.channelId, ts }).catch(() => undefined);
      throw err;
    });
    const key = `slack:${channelKey}`;
    if (res?.ok !== true) {
      await client.chat.delete({ channel: inv.channelId, ts }).catch((err: unknown) => logger.info({ err }, 'refused board message not deleted'));
      if (res !== undefined) await this.ephemeral(inv.channelId, inv.userId, escapeMrkdwn(res.message[locale]), inv.threadTs);
      return;
    }
    const board = await core.collab.board(key);
    if (board === undefined) return;
    const msg: BoardMessage = { boardId: board.id, channel: inv.channelId, ts };
    await redis.multi()
      .set(`${this.prefix}:msg:${key}`, JSON.stringify(msg), 'EX', this.ttlSeconds)
      .set(`${this.prefix}:at:${inv.channelId}:${ts}`, JSON.stringify({ key, boardId: board.id }), 'EX', this.ttlSeconds)
      .exec();
    await this.refresh(key);
  }

  private async ephemeral(channel: string, user: string, text: string, threadTs?: string): Promise<void> {
    await this.deps.client.chat
      .postEphemeral({ channel, user, text, ...(threadTs === undefined ? {} : { thread_ts: threadTs }) })
      .catch((err: unknown) => this.deps.logger.info({ err }, 'ephemeral answer not posted'));
  }

  /** A message in the board's thread. */
  private async inThread(key: string, text: string): Promise<void> {
    const rt = (await this.deps.core.collab.board(key))?.replyTarget;
    if (rt?.platform !== 'slack') return;
    await this.deps.client.chat
      .postMessage({ channel: rt.channelId, text, ...(rt.threadTs === undefined ? {} : { thread_ts: rt.threadTs }) })
      .catch((err: unknown) => this.deps.logger.info({ err }, 'storyboard answer not posted'));
  }

  private async messageOf(key: string): Promise<BoardMessage | undefined> {
    const raw = await this.deps.redis.get(`${this.prefix}:msg:${key}`);
    if (raw === null) return undefined;
    const parsed = BoardMessageSchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  }

  /** The board whose message is `channel`/`ts` (a reaction's item). */
  private async boardAt(channel: string, ts: string): Promise<{ key: string; boardId: string } | undefined> {
    const raw = await this.deps.redis.get(`${this.prefix}:at:${channel}:${ts}`);
    if (raw === null) return undefined;
    const parsed = MessageBoardSchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  }

  /**
   * What this process knows of a board's render. First seen while it renders (a restart, a second
   * replica), the render's events so far are read back from the stream, so that the next edit does
   * not show finished shots as waiting.
   */
  private async stateFor(b: Board): Promise<BoardProgress & { epoch: number; seq: number }> {
    const known = this.progress.get(b.id);
    if (known !== undefined) return known;
    const events = b.state === 'rendering' && b.jobId !== undefined ? await this.renderEvents().catch(() => []) : [];
    const s = { ...progressFrom(events, b.key, b.jobId ?? ''), epoch: 1, seq: 0 };
    // Another call may have filled it meanwhile: the first one stays.
    const again = this.progress.get(b.id);
    if (again !== undefined) return again;
    this.progress.set(b.id, s);
    if (this.progress.size > 1000) this.progress.delete(this.progress.keys().next().value as string);
    return s;
  }

  /** The storyboards' event stream from its start (it keeps about the last 10,000 events), in pages. */
  private async renderEvents(): Promise<CollabEvent[]> {
    const out: CollabEvent[] = [];
    let after = '0-0';
    for (let page = 0; page < 25; page++) {
      const events = await this.deps.core.collab.events.read(after, 500);
      out.push(...events);
      const last = events.at(-1);
      if (last === undefined || events.length < 500) break;
      after = last.id;
    }
    return out;
  }

  /**
   * Edits the board message to show the board as it is now (read when the edit runs). Edits of one
   * board run one at a time and never take it back: a collecting board by its revision, a render
   * by its events, a failed render opening the next round (the status board's `attempt`).
   */
  async refresh(key: string, at?: StatusPosition): Promise<void> {
    const { core, fast, logger, redis } = this.deps;
    const msg = await this.messageOf(key);
    if (msg === undefined) return;
    const b = await core.collab.board(key);
    if (b === undefined || b.id !== msg.boardId) return;
    const s = await this.stateFor(b);
    const position: StatusPosition = at ?? (b.state === 'collecting' || b.state === 'locked'
      ? { rank: STATUS_RANK.queued, step: b.rev }
      : b.state === 'rendering' ? { rank: STATUS_RANK.started, step: 0 } : { rank: STATUS_RANK.final });
    await this.deps.board.edit(`collab:${msg.boardId}`, { ...position, attempt: s.epoch }, async () => {
      const now = await core.collab.board(key);
      if (now === undefined || now.id !== msg.boardId) return;
      const view = await core.collab.view(now);
      const locale = now.locale;
      const channelKey = key.slice('slack:'.length);
      try {
        await fast.chat.update({ channel: msg.channel, ts: msg.ts, text: escapeMrkdwn(view.text[locale]).slice(0, 3000), blocks: boardBlocks(view, s, locale, msg.boardId, channelKey) });
        await redis.multi().expire(`${this.prefix}:msg:${key}`, this.ttlSeconds).expire(`${this.prefix}:at:${msg.channel}:${msg.ts}`, this.ttlSeconds).exec();
      } catch (err) {
        logger.debug({ err, boardKey: key }, 'board message not updated');
      }
    });
  }

  /** A render's events and expiries → the board message. */
  async onEvent(e: CollabEvent): Promise<void> {
    const msg = await this.messageOf(e.boardKey);
    if (msg === undefined) return;
    const b = await this.deps.core.collab.board(e.boardKey);
    if (b === undefined || b.id !== msg.boardId) return;
    const s = await this.stateFor(b);
    applyRenderEvent(s, e);
    switch (e.type) {
      case 'segment':
        s.seq += 1;
        return this.refresh(e.boardKey, { rank: STATUS_RANK.step, step: s.seq });
      case 'stitching':
        return this.refresh(e.boardKey, { rank: STATUS_RANK.encoding, step: 0 });
      case 'rendered':
        return this.refresh(e.boardKey, { rank: STATUS_RANK.final });
      case 'failed':
        // The board is open again: a new round of edits, the refund note shown until the next render.
        s.epoch += 1;
        return this.refresh(e.boardKey, { rank: STATUS_RANK.queued, step: 0 });
      case 'expired':
        s.note = { kind: 'expired', message: e.message ?? { en: '', 'zh-CN': '' } };
        return this.refresh(e.boardKey, { rank: STATUS_RANK.final });
    }
  }

  /** Follows every Slack board's events (`core.collab.subscribe`). */
  subscribe(): Promise<Unsubscribe> {
    // One replica at a time edits a board's message from its events (the others skip that board).
    return this.deps.core.collab.subscribe((e) => this.onEvent(e), { platform: 'slack' }, { exclusive: 'slack-collab' });
  }

  /** A vote, Show or Render from the board message (a button or a reaction), or a vote taken back (a reaction removed), as `user`. */
  private async act(kind: 'vote' | 'unvote' | 'show' | 'render', where: { key: string; boardId: string; channel: string; teamId: string }, userId: string, n: number): Promise<void> {
    const { core } = this.deps;
    const user = await this.deps.commands.userInfo(userId);
    const board = await core.collab.board(where.key);
    const tell = (t: string) => this.ephemeral(where.channel, userId, t);
    if (board === undefined || board.id !== where.boardId || board.replyTarget.platform !== 'slack') return tell(st('collab_board_gone', user.locale));
    const ctx: CollabContext = {
      platform: 'slack', tenantId: where.teamId, channelId: where.key.slice('slack:'.length), userId, userName: user.name, isAdmin: user.isAdmin, locale: user.locale, replyTarget: board.replyTarget,
    };
    const res = kind === 'vote' ? await core.collab.vote(ctx, n) : kind === 'unvote' ? await core.collab.unvote(ctx, n) : kind === 'show' ? await core.collab.show(ctx) : await core.collab.render(ctx);
    // A vote shows on the board message; its "vote counted" would only fill the thread.
    if ((kind === 'vote' || kind === 'unvote') && res.ok) return this.refresh(where.key);
    // A reaction removed that was no vote (given before the board, or on a closed one): nothing to say.
    if (kind === 'unvote' && (res.code === 'not_voted' || res.code === 'not_collecting')) return;
    await this.answer(res, where.key, user.locale, tell);
  }

  /** The board message's buttons and the vote reactions. */
  register(app: App): void {
    const { redis, logger } = this.deps;
    const onButton = (kind: 'vote' | 'show' | 'render') => async ({ ack, body, action }: { ack: () => Promise<void>; body: BlockButtonAction; action: BlockButtonAction['actions'][number] }) => {
      await ack();
      const v = parseCollabButtonValue(action.value);
      const channel = body.channel?.id ?? (body.container?.channel_id as string | undefined);
      const teamId = body.team?.id ?? body.user.team_id ?? '';
      if (v === undefined || channel === undefined) return;
      // A double click (two payloads, one value) is one click.
      const click = createHash('sha256').update(`${body.user.id}|${action.action_id}|${action.value ?? ''}`).digest('hex').slice(0, 32);
      if ((await redis.set(`${this.prefix}:click:${click}`, '1', 'EX', CLICK_WINDOW_SECONDS, 'NX')) !== 'OK') return;
      await this.act(kind, { key: `slack:${v.channelKey}`, boardId: v.boardId, channel, teamId }, body.user.id, v.n).catch((err: unknown) => logger.error({ err }, 'storyboard button failed'));
    };
    app.action<BlockButtonAction>(COLLAB_ACTION.vote, onButton('vote'));
    app.action<BlockButtonAction>(COLLAB_ACTION.show, onButton('show'));
    app.action<BlockButtonAction>(COLLAB_ACTION.render, onButton('render'));

    app.event('reaction_added', async ({ event, body }) => {
      const n = VOTE_REACTIONS[event.reaction];
      if (n === undefined || event.item.type !== 'message') return;
      const where = await this.boardAt(event.item.channel, event.item.ts);
      if (where === undefined) return;
      // A retried event (X-Slack-Retry-Num), or one a second replica also got, is one vote.
      const eventId = (body as { event_id?: string }).event_id ?? `${event.item.channel}-${event.item.ts}-${event.user}-${event.reaction}`;
      if ((await redis.set(`${this.prefix}:seen:evt:${eventId}`, '1', 'EX', SEEN_SECONDS, 'NX')) !== 'OK') return;
      const teamId = (body as { team_id?: string }).team_id ?? '';
      await this.act('vote', { ...where, channel: event.item.channel, teamId }, event.user, n).catch((err: unknown) => logger.error({ err }, 'storyboard reaction failed'));
    });
    // The reaction taken off: the vote is taken back (reaction_removed, same scope).
    app.event('reaction_removed', async ({ event, body }) => {
      const n = VOTE_REACTIONS[event.reaction];
      if (n === undefined || event.item.type !== 'message') return;
      const where = await this.boardAt(event.item.channel, event.item.ts);
      if (where === undefined) return;
      const eventId = (body as { event_id?: string }).event_id ?? `rm-${event.item.channel}-${event.item.ts}-${event.user}-${event.reaction}-${event.event_ts}`;
      if ((await redis.set(`${this.prefix}:seen:evt:${eventId}`, '1', 'EX', SEEN_SECONDS, 'NX')) !== 'OK') return;
      const teamId = (body as { team_id?: string }).team_id ?? '';
      await this.act('unvote', { ...where, channel: event.item.channel, teamId }, event.user, n).catch((err: unknown) => logger.error({ err }, 'storyboard reaction removal failed'));
    });
  }
}
