import { ButtonStyle, ComponentType, Routes, type APIActionRowComponent, type APIButtonComponent, type REST } from 'discord.js';
import type { Board, BoardState, BoardView, CollabEvent, Core, Locale, LocalizedText, Unsubscribe } from '@framecast/core';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { DiscordReplyBoard } from './discord-progress.ts';
import { classifyDiscordError } from './discord-rest.ts';
import { dt, eta, progressBar, type DiscordTextId } from './discord-texts.ts';

/** Buttons of a board message: `fcc1:<action>:<channelId>:<boardId>:<n>` (a vote names its shot; the others 0). */
export const COLLAB_BUTTON_PREFIX = 'fcc1';
export const COLLAB_BUTTON_ACTIONS = ['vote', 'show', 'render'] as const;
export type CollabButtonAction = (typeof COLLAB_BUTTON_ACTIONS)[number];

export function collabCustomId(action: CollabButtonAction, channelId: string, boardId: string, n = 0): string {
  return `${COLLAB_BUTTON_PREFIX}:${action}:${channelId}:${boardId}:${n}`;
}

export function parseCollabCustomId(id: string): { action: CollabButtonAction; channelId: string; boardId: string; n: number } | undefined {
  const [prefix, action, channelId, boardId, n, ...rest] = id.split(':');
  if (prefix !== COLLAB_BUTTON_PREFIX || rest.length > 0 || channelId === undefined || boardId === undefined || n === undefined) return undefined;
  if (!/^\d{1,25}$/.test(channelId) || !/^[0-9a-z]{1,40}$/.test(boardId) || !/^\d{1,2}$/.test(n)) return undefined;
  if (!(COLLAB_BUTTON_ACTIONS as readonly string[]).includes(action ?? '')) return undefined;
  return { action: action as CollabButtonAction, channelId, boardId, n: Number(n) };
}

/** The reactions that vote for shots 1–10 on a board message. */
export const VOTE_EMOJI = ['1️⃣', '2️⃣', '3️⃣', '4️⃣', '5️⃣', '6️⃣', '7️⃣', '8️⃣', '9️⃣', '🔟'] as const;

/** The shot a reaction votes for (1️⃣ → 1 … 🔟 → 10; also a keycap sent without its variation selector). */
export function shotOfEmoji(name: string | null | undefined): number | undefined {
  if (typeof name !== 'string') return undefined;
  const plain = (s: string) => s.replace(/\uFE0F/g, '');
  const i = VOTE_EMOJI.findIndex((e) => plain(e) === plain(name));
  return i < 0 ? undefined : i + 1;
}

/** Vote buttons on a board message: Discord takes 5 rows of 5; the last row holds Show and Render. */
const VOTE_BUTTONS_MAX = 20;
const CONTENT_MAX = 2000;
const SHOT_TEXT_MAX = 200;

/** How far each shot of a render has got, as this process heard it (only forward, except a retry). */
export interface BoardProgress {
  jobId?: string;
  segments: Map<number, { started: boolean; step: number; total: number; retrying: boolean; done: boolean }>;
  stage: 'rendering' | 'stitching' | 'rendered' | 'failed' | 'expired';
  note?: LocalizedText;
}

const STAGE_RANK = { rendering: 0, stitching: 1, rendered: 2, failed: 2, expired: 2 } as const;

const STATE_TEXT: Record<BoardState, DiscordTextId> = {
  collecting: 'collabStateCollecting', locked: 'collabStateLocked', rendering: 'collabStateRendering', done: 'collabStateDone', expired: 'collabStateExpired', cancelled: 'collabStateCancelled',
};
const POLICY_TEXT = { starter: 'collabPolicyStarter', split: 'collabPolicySplit', pool: 'collabPolicyPool' } as const satisfies Record<BoardView['policy'], DiscordTextId>;

/** User text inside the board message: markdown characters escaped, one line, bounded. */
function plain(text: string, max: number): string {
  const one = text.replace(/\s+/g, ' ').trim();
  const cut = Array.from(one).length > max ? `${Array.from(one).slice(0, max - 1).join('')}…` : one;
  return cut.replace(/([\\*_~`|>#[\]()-])/g, '\\$1');
}

function segmentText(p: BoardProgress | undefined, index: number, locale: Locale): string {
  if (p === undefined || p.stage === 'failed' || p.stage === 'expired') return '';
  const s = p.segments.get(index);
  // Stitching or rendered: every shot is done.
  if (p.stage !== 'rendering' || s?.done === true) return dt('collabSegDone', locale);
  if (s === undefined) return dt('collabSegWaiting', locale);
  if (s.retrying) return dt('collabSegRetrying', locale);
  if (s.step > 0) return dt('collabSegStep', locale, { bar: progressBar(s.step, s.total, 6), step: s.step, total: s.total });
  return s.started ? dt('collabSegStarted', locale) : dt('collabSegWaiting', locale);
}

/** The board message's text: the theme and state, the settings, each shot (author, text, votes, in or out of the cut, its render's progress), cost, policy and ETA. */
export function boardMessageContent(view: BoardView, locale: Locale, progress?: BoardProgress): string {
  const theme = view.theme === '' ? '' : locale === 'zh-CN' ? `「${plain(view.theme, 100)}」` : ` “${plain(view.theme, 100)}”`;
  const head = [
    dt('collabTitle', locale, { theme, state: dt(STATE_TEXT[view.state], locale), starter: plain(view.starterName, 80) }),
    dt('collabSettings', locale, { style: view.style === undefined ? '' : `${plain(view.style, 40)} · `, seed: view.seed, aspect: view.aspect, count: view.shots.length, max: view.maxShots }),
  ];
  const rendering = view.state === 'rendering' || (progress !== undefined && progress.stage !== 'failed' && progress.stage !== 'expired' && view.state === 'done');
  let cutIndex = 0;
  const lines = view.shots.map((s) => {
    const index = s.inCut ? cutIndex++ : -1;
    return dt('collabShotLine', locale, {
      n: s.n, author: plain(s.authorName, 80), text: plain(s.text, SHOT_TEXT_MAX), votes: s.votes,
      cut: s.inCut ? '' : dt('collabShotOut', locale),
      progress: rendering && index >= 0 ? segmentText(progress, index, locale) : '',
    });
  });
  const tail: string[] = [];
  if (view.state === 'collecting' || view.state === 'locked') tail.push(dt('collabCost', locale, { cost: view.cost, policy: dt(POLICY_TEXT[view.policy], locale), eta: eta(view.etaSeconds, locale) }));
  if (view.state === 'collecting') tail.push(dt('collabHelp', locale));
  if (progress?.stage === 'stitching' && view.state === 'rendering') tail.push(dt('collabStitching', locale));
  if (progress?.stage === 'rendered' || (view.state === 'done' && progress !== undefined)) tail.push(dt('collabRendered', locale));
  if ((progress?.stage === 'failed' || progress?.stage === 'expired') && progress.note !== undefined) tail.push(`⚠️ ${progress.note[locale]}`);
  // Within Discord's 2000 characters: shots from the end give way to a count.
  const body = lines.length === 0 ? [dt('collabNoShots', locale)] : [...lines];
  const size = (xs: string[]) => [...head, ...xs, ...tail].join('\n').length;
  let dropped = 0;
  while (body.length > 0 && size(body) > CONTENT_MAX - 20) {
    body.pop();
    dropped += 1;
  }
  if (dropped > 0) body.push(`… +${dropped}`);
  return [...head, ...body, ...tail].join('\n').slice(0, CONTENT_MAX);
}

function button(customId: string, label: string, style: ButtonStyle): APIButtonComponent {
  return { type: ComponentType.Button, style, label, custom_id: customId } as APIButtonComponent;
}

/** The board message's buttons: a vote per shot while collecting (up to 20), Show, and Render while it can still be rendered. */
export function boardComponents(view: BoardView, boardId: string, channelId: string, locale: Locale): APIActionRowComponent<APIButtonComponent>[] {
  const rows: APIActionRowComponent<APIButtonComponent>[] = [];
  if (view.state === 'collecting') {
    const votes = view.shots.slice(0, VOTE_BUTTONS_MAX).map((s) => button(collabCustomId('vote', channelId, boardId, s.n), dt('collabButtonVote', locale, { n: s.n }), s.inCut ? ButtonStyle.Primary : ButtonStyle.Secondary));
    for (let i = 0; i < votes.length; i += 5) rows.push({ type: ComponentType.ActionRow, components: votes.slice(i, i + 5) });
  }
  const last: APIButtonComponent[] = [];
  if (view.state === 'collecting' || view.state === 'locked' || view.state === 'rendering') last.push(button(collabCustomId('show', channelId, boardId), dt('collabButtonShow', locale), ButtonStyle.Secondary));
  if (view.state === 'collecting' || view.state === 'locked') last.push(button(collabCustomId('render', channelId, boardId), dt('collabButtonRender', locale), ButtonStyle.Success));
  if (last.length > 0) rows.push({ type: ComponentType.ActionRow, components: last });
  return rows;
}

/** Where a board's message is. */
export interface BoardMessageLocation {
  boardId: string;
  channelId: string;
  messageId: string;
}

export interface DiscordCollabBoardsOptions {
  core: Core;
  rest: REST;
  redis: Redis;
  logger: Logger;
  /** After each edit of one board's message, wait this long before the next (edits coalesce meanwhile). Default 1000 ms. */
  minEditIntervalMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One message per board (posted when it starts, then edited): the board as it stands, and the
 * render's per-shot progress from `core.collab.subscribe({ platform: 'discord' })`. The edits of a
 * board run one after another (DiscordReplyBoard's chain, keyed by the board) and each reads the
 * board when it runs, so a burst of events becomes one edit and the message never goes back.
 */
export class DiscordCollabBoards {
  private readonly chain = new DiscordReplyBoard();
  private readonly queued = new Set<string>();
  private readonly progress = new Map<string, BoardProgress>();
  private readonly ttlSeconds: number;
  private unsubscribe: Unsubscribe | undefined;

  constructor(private readonly o: DiscordCollabBoardsOptions) {
    this.ttlSeconds = o.core.config.env.FRAMECAST_COLLAB_IDLE_HOURS * 3600 + 7 * 24 * 3600;
  }

  private key(kind: 'msg' | 'bymsg', id: string): string {
    return `${this.o.core.config.keyPrefix}:discord:collab:${kind}:${id}`;
  }

  async location(boardKey: string): Promise<BoardMessageLocation | undefined> {
    const raw = await this.o.redis.get(this.key('msg', boardKey));
    if (raw === null) return undefined;
    try {
      const v = JSON.parse(raw) as Partial<BoardMessageLocation>;
      return typeof v.boardId === 'string' && typeof v.channelId === 'string' && typeof v.messageId === 'string' ? { boardId: v.boardId, channelId: v.channelId, messageId: v.messageId } : undefined;
    } catch {
      return undefined;
    }
  }

  /** The board a message shows (a reaction's target), if it is a board message. */
  async boardOfMessage(messageId: string): Promise<string | undefined> {
    return (await this.o.redis.get(this.key('bymsg', messageId))) ?? undefined;
  }

  private async render(b: Board): Promise<{ content: string; components: APIActionRowComponent<APIButtonComponent>[] }> {
    const view = await this.o.core.collab.view(b);
    const p = this.progress.get(b.key);
    return { content: boardMessageContent(view, b.locale, p?.jobId === b.jobId || b.jobId === undefined ? p : undefined), components: boardComponents(view, b.id, b.channelId, b.locale) };
  }

  /** Posts the board's message in its channel or thread (on start; again when it was deleted). */
  async post(boardKey: string): Promise<BoardMessageLocation | undefined> {
    const b = await this.o.core.collab.board(boardKey);
    if (b === undefined || b.replyTarget.platform !== 'discord') return undefined;
    const channelId = b.replyTarget.channelId;
    const { content, components } = await this.render(b);
    const msg = (await this.o.rest.post(Routes.channelMessages(channelId), { body: { content, components, allowed_mentions: { parse: [] } } })) as { id: string };
    const loc: BoardMessageLocation = { boardId: b.id, channelId, messageId: msg.id };
    await this.o.redis.multi()
      .set(this.key('msg', boardKey), JSON.stringify(loc), 'EX', this.ttlSeconds)
      .set(this.key('bymsg', msg.id), boardKey, 'EX', this.ttlSeconds)
      .exec();
    return loc;
  }

  /** The board changed (a command, a vote, an event): its message is edited soon, once for a burst. */
  refresh(boardKey: string): void {
    if (this.queued.has(boardKey)) return;
    this.queued.add(boardKey);
    this.chain.edit(boardKey, async () => {
      this.queued.delete(boardKey);
      await this.write(boardKey).catch((err: unknown) => this.o.logger.warn({ err, boardKey }, 'discord: board message not edited'));
      await sleep(this.o.minEditIntervalMs ?? 1000);
    });
  }

  /** A render starts: the progress heard before (an earlier, failed render) is forgotten. */
  renderStarted(boardKey: string, jobId: string | undefined): void {
    this.progress.set(boardKey, { ...(jobId === undefined ? {} : { jobId }), segments: new Map(), stage: 'rendering' });
    this.refresh(boardKey);
  }

  private async write(boardKey: string): Promise<void> {
    const loc = await this.location(boardKey);
    if (loc === undefined) return;
    const b = await this.o.core.collab.board(boardKey);
    if (b?.id !== loc.boardId) return;
    const { content, components } = await this.render(b);
    try {
      await this.o.rest.patch(Routes.channelMessage(loc.channelId, loc.messageId), { body: { content, components, allowed_mentions: { parse: [] } } });
    } catch (err) {
      const f = classifyDiscordError(err);
      if (f.kind === 'rate_limited') {
        setTimeout(() => this.refresh(boardKey), Math.min(f.retryAfterMs, 60_000)).unref();
        return;
      }
      if (f.kind === 'unknown_message') {
        // Someone deleted the board's message: a new one takes its place.
        await this.post(boardKey);
        return;
      }
      throw err;
    }
  }

  /** A render's event, merged into what the board's message shows (never back: a later stage stays). */
  onEvent(e: CollabEvent): void {
    let p = this.progress.get(e.boardKey);
    const fresh = (): BoardProgress => ({ ...(e.jobId === undefined ? {} : { jobId: e.jobId }), segments: new Map(), stage: 'rendering' });
    if (e.type === 'segment') {
      // A new render starts the story over (after a failure the board renders again under the same job
      // id: its first 'started' does; a late step of the failed render does not).
      if (p === undefined || p.jobId !== e.jobId || ((p.stage === 'failed' || p.stage === 'expired') && e.phase === 'started')) p = fresh();
      if (p.stage !== 'rendering' || e.index === undefined) return;
      const s = p.segments.get(e.index) ?? { started: false, step: 0, total: e.totalSteps ?? 1, retrying: false, done: false };
      if (e.phase === 'started') s.started = true;
      if (e.phase === 'step' && e.step !== undefined) {
        s.step = Math.max(s.step, e.step);
        s.total = e.totalSteps ?? s.total;
        s.retrying = false;
      }
      if (e.phase === 'retrying' && !s.done) s.retrying = true;
      if (e.phase === 'done') {
        s.done = true;
        s.retrying = false;
      }
      p.segments.set(e.index, s);
    } else {
      const stage = e.type;
      if (p === undefined || (e.jobId !== undefined && p.jobId !== e.jobId)) p = fresh();
      if (STAGE_RANK[stage] < STAGE_RANK[p.stage]) return;
      p.stage = stage;
      if (e.message !== undefined) p.note = e.message;
    }
    this.progress.set(e.boardKey, p);
    if (this.progress.size > 10_000) this.progress.delete(this.progress.keys().next().value as string);
    this.refresh(e.boardKey);
  }

  async start(): Promise<void> {
    // One replica at a time edits a board's message from its events (the others skip that board).
    this.unsubscribe = await this.o.core.collab.subscribe((e) => this.onEvent(e), { platform: 'discord' }, { exclusive: 'discord-collab' });
  }

  close(): void {
    this.unsubscribe?.();
  }
}
