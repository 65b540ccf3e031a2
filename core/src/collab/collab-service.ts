import { randomBytes } from 'node:crypto';
import { FlowProducer, Queue, type ConnectionOptions, type FlowJob } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { FramecastConfig } from '../config/config.ts';
import { parseCollabCommand, type CollabCommand, type CollabStartOptions } from '../grammar/collab-command.ts';
import { scanCommand } from '../grammar/command-scanner.ts';
import { framesFor } from '../grammar/grammar-flags.ts';
import { parseVideoCommand } from '../grammar/prompt-grammar.ts';
import { formatEta, t, tAll, type LocalizedText, type MessageId } from '../i18n/messages.ts';
import { tierOf } from '../intake/tiers.ts';
import type { ReferenceImageIntake } from '../intake/reference-image-intake.ts';
import type { CollabLedger, CollabCharge } from '../jobs/collab-ledger.ts';
import type { JobLifecycle } from '../jobs/job-lifecycle.ts';
import { FINAL_STATES, JobStore } from '../jobs/job-record.ts';
import { AttachmentSchema, PlatformSchema, type Attachment, type Locale } from '../model/chat-request.schema.ts';
import { ReplyTargetSchema, type ReplyTargetInput } from '../model/reply-target.schema.ts';
import type { GenerationSpec } from '../model/generation-spec.schema.ts';
import { fitSpecToCapabilities } from '../model/runtime-capabilities.schema.ts';
import type { ContentModerator } from '../moderation/content-moderator.ts';
import type { FairQueue } from '../queue/fair-queue.ts';
import { costOf } from '../quota/cost.ts';
import type { QuotaService } from '../quota/quota-service.ts';
import { tenantKeyOf, userKeyOf } from '../redis/keys.ts';
import type { RuntimeCapabilitiesRegistry } from '../runtime/runtime-capabilities-registry.ts';
import { BoardSchema, chargesFor, clampName, contributors, selectShots, BOARD_SHOTS_HARD_MAX, type Board, type BoardState, type Shot } from './collab-board.ts';
import { CollabEvents } from './collab-events.ts';
import { COLLAB_SEGMENT_QUEUE, COLLAB_STITCH_QUEUE, StitchJobDataSchema, type CollabEvent, type SegmentJobData, type StitchJobData } from './collab-payloads.ts';
import { CollabStore } from './collab-store.ts';

/** Who speaks, where: what every collab command needs from the adapter (validated). */
export const CollabContextSchema = z.object({
  platform: PlatformSchema,
  tenantId: z.string().max(200).default(''),
  /** The channel, thread or room: one board per (platform, channelId). */
  channelId: z.string().min(1).max(200),
  userId: z.string().min(1).max(200),
  /** The display name the end card credits. */
  userName: z.string().max(200).default(''),
  roles: z.array(z.string().max(100)).max(100).default([]),
  /** The platform says this user administers the room (a channel manager, a WeChat room owner). */
  isAdmin: z.boolean().default(false),
  locale: z.enum(['zh-CN', 'en']).optional(),
  /** Where the finished video goes (the board's, taken when it is started). */
  replyTarget: ReplyTargetSchema,
  /** A reference image for the shot being added. */
  attachment: AttachmentSchema.optional(),
});
export type CollabContext = z.input<typeof CollabContextSchema>;
type Ctx = z.infer<typeof CollabContextSchema>;

export interface ShotView {
  n: number;
  id: string;
  author: string;
  authorName: string;
  text: string;
  votes: number;
  hasImage: boolean;
  inCut: boolean;
}

export interface BoardView {
  key: string;
  theme: string;
  state: BoardState;
  starterName: string;
  style?: string;
  seed: number;
  aspect: string;
  shots: ShotView[];
  maxShots: number;
  /** Credits the render costs now, who pays them under the policy, and about how long it takes. */
  cost: number;
  policy: 'starter' | 'split' | 'pool';
  charges: Array<{ payer: string; credits: number }>;
  etaSeconds: number;
  jobId?: string;
  /** The whole board as text in each language (for platforms that post plain text). */
  text: LocalizedText;
}

/**
 * A command's answer. `audience: 'author'` answers only its author (an ephemeral reply, a private
 * message): a refused contribution never disturbs the room. Never thrown: a value.
 */
export interface CollabReply {
  ok: boolean;
  code: string;
  message: LocalizedText;
  audience: 'author' | 'channel';
  board?: BoardView;
  jobId?: string;
}

export interface CollabNotice {
  boardKey: string;
  replyTarget: ReplyTargetInput;
  message: LocalizedText;
}

export interface CollabServiceDeps {
  config: FramecastConfig;
  redis: Redis;
  moderator: ContentModerator;
  quota: QuotaService;
  lifecycle: JobLifecycle;
  ledger: CollabLedger;
  queue: FairQueue;
  runtimes?: RuntimeCapabilitiesRegistry;
  imageIntake?: ReferenceImageIntake;
  connection: ConnectionOptions;
  bullPrefix: string;
  logger?: Logger;
  now?: () => number;
  random?: () => number;
}

const END_CARD_SECONDS = 2;
const STITCH_ESTIMATE_SECONDS = 20;
const SEGMENT_ATTEMPTS = 3;
/** A rendering board whose job was never written this long after the render began: its process died starting it. */
const ORPHAN_RENDER_MS = 10 * 60_000;

function newId(): string {
  return `${Date.now().toString(36)}${randomBytes(4).toString('hex')}`;
}

const reply = (ok: boolean, code: string, id: MessageId, vars: Record<string, string | number> = {}, audience: 'author' | 'channel' = ok ? 'channel' : 'author'): CollabReply => ({
  ok, code, message: tAll(id, vars), audience,
});

/**
 * Group-chat collaborative storyboards: a board per channel, thread or room; members add, edit,
 * remove and vote on shots; the starter (or an admin) reorders, locks and renders it as one video —
 * a segment job per shot and a stitch job (a BullMQ flow), charged through the ledger once by the
 * configured policy. Every answer is a value for the adapter to post.
 */
export class CollabService {
  readonly events: CollabEvents;
  private readonly store: CollabStore;
  private readonly jobs: JobStore;
  private readonly now: () => number;
  private flow: FlowProducer | undefined;

  constructor(private readonly d: CollabServiceDeps) {
    const e = d.config.env;
    this.store = new CollabStore(d.redis, d.config.keyPrefix, e.FRAMECAST_COLLAB_IDLE_HOURS * 3600 + 7 * 24 * 3600);
    this.events = new CollabEvents(d.redis, d.config.keyPrefix, d.logger);
    this.jobs = new JobStore(d.redis, d.config.keyPrefix);
    this.now = d.now ?? Date.now;
  }

  get maxShots(): number {
    return this.d.config.env.FRAMECAST_COLLAB_MAX_SHOTS;
  }

  get policy(): 'starter' | 'split' | 'pool' {
    return this.d.config.env.FRAMECAST_COLLAB_QUOTA_POLICY;
  }

  /** The board key of a context: `platform:channelId`. */
  static keyOf(ctx: Pick<CollabContext, 'platform' | 'channelId'>): string {
    return `${ctx.platform}:${ctx.channelId}`;
  }

  /**
   * Reads chat text as a collab command and runs it; undefined when the text is not one (the adapter
   * then treats it as a /video request).
   */
  async command(context: CollabContext, text: string): Promise<CollabReply | undefined> {
    if (!CollabContextSchema.safeParse(context).success) {
      return { ok: false, code: 'invalid_request', message: tAll('refusal.invalid_request', { detail: 'collab context' }), audience: 'author' };
    }
    const parsed = parseCollabCommand(text, this.d.random === undefined ? {} : { random: this.d.random });
    if (parsed.kind === 'none') return undefined;
    if (parsed.kind === 'error') {
      if (parsed.grammarError !== undefined) return { ok: false, code: `grammar_${parsed.grammarError.code}`, message: parsed.grammarError.message, audience: 'author' };
      return reply(false, parsed.code, parsed.code === 'bad_order' ? 'collab.bad_order' : 'collab.none');
    }
    return this.run(context, parsed.command);
  }

  /** Runs a parsed command. */
  async run(context: CollabContext, c: CollabCommand): Promise<CollabReply> {
    const ctx = CollabContextSchema.parse(context);
    switch (c.kind) {
      case 'start':
        return this.start(ctx, c.options);
      case 'show':
        return this.show(ctx);
      case 'add':
        return this.add(ctx, c.text);
      case 'edit':
        return this.edit(ctx, c.n, c.text);
      case 'remove':
        return this.remove(ctx, c.n);
      case 'vote':
        return this.vote(ctx, c.n);
      case 'unvote':
        return this.unvote(ctx, c.n);
      case 'lock':
      case 'unlock':
        return this.setLock(ctx, c.kind === 'lock');
      case 'reorder':
        return this.reorder(ctx, c.order);
      case 'cancel':
        return this.cancel(ctx);
      case 'render':
        return this.render(ctx);
      case 'pool':
        return this.grantPool(ctx, c.credits);
    }
  }

  private userKey(ctx: Ctx): string {
    return userKeyOf(ctx.platform, ctx.userId);
  }

  private isAdmin(ctx: Ctx): boolean {
    return ctx.isAdmin || tierOf(this.d.config, this.userKey(ctx), ctx.roles) === 'admin';
  }

  async board(key: string): Promise<Board | undefined> {
    return this.store.get(key);
  }

  async start(context: CollabContext, o: CollabStartOptions): Promise<CollabReply> {
    const ctx = CollabContextSchema.parse(context);
    const key = CollabService.keyOf(ctx);
    const now = this.now();
    const userKey = this.userKey(ctx);
    if (o.theme !== '') {
      const refused = await this.moderate(ctx, o.theme);
      if (refused !== undefined) return refused;
    }
    const res = await this.store.update(key, (cur) => {
      if (cur !== undefined && (cur.state === 'collecting' || cur.state === 'locked' || cur.state === 'rendering')) return { value: false };
      const board: Board = {
        version: 1, id: newId(), key, platform: ctx.platform, tenantKey: tenantKeyOf(ctx.platform, ctx.tenantId), channelId: ctx.channelId,
        replyTarget: ctx.replyTarget, locale: ctx.locale ?? this.d.config.defaultLocale, theme: o.theme,
        ...(o.style === undefined ? {} : { style: o.style }),
        seed: o.seed, aspect: o.aspect, mode: o.mode, shotSeconds: o.durationSeconds,
        starter: userKey, starterName: clampName(ctx.userName || ctx.userId), shots: [], state: 'collecting', createdAt: now, lastActivityAt: now, rev: 0,
      };
      return { write: board, value: true };
    });
    if (!res.value) return reply(false, 'exists', 'collab.exists');
    const theme = (l: Locale) => ({ theme: o.theme === '' ? '' : l === 'zh-CN' ? `「${o.theme}」` : ` “${o.theme}”` });
    return { ok: true, code: 'started', message: tAll('collab.started', theme), audience: 'channel', board: await this.view(res.board as Board) };
  }

  async show(context: CollabContext): Promise<CollabReply> {
    const ctx = CollabContextSchema.parse(context);
    const b = await this.store.get(CollabService.keyOf(ctx));
    if (b === undefined || !this.isOpen(b.state)) return reply(false, 'none', 'collab.none');
    const view = await this.view(b);
    return { ok: true, code: 'show', message: view.text, audience: 'channel', board: view };
  }

  private isOpen(s: BoardState): boolean {
    return s === 'collecting' || s === 'locked' || s === 'rendering';
  }

  /** The moderator's refusal of a contribution, to its author alone; undefined when allowed. */
  private async moderate(ctx: Ctx, text: string): Promise<CollabReply | undefined> {
    const v = await this.d.moderator.moderateText(text, { platform: ctx.platform, userId: ctx.userId, ...(ctx.platform === 'miniprogram' ? { openid: ctx.userId } : {}) });
    if (v.action !== 'block') return undefined;
    const label = v.hits[0]?.categoryLabel ?? tAll('category.policy');
    this.d.logger?.info({ category: v.hits[0]?.category ?? 'policy', platform: ctx.platform }, 'collab contribution blocked');
    return { ok: false, code: 'moderation_blocked', message: tAll('collab.blocked', (l) => ({ category: label[l] })), audience: 'author' };
  }

  /** A shot's text as the board renders it: refused when it carries flags or breaks the grammar's limits. */
  private shotSpec(b: Board, text: string): { ok: true; spec: GenerationSpec } | { ok: false; reply: CollabReply } {
    const scan = scanCommand(Array.from(text));
    if (!scan.ok || scan.flags.size > 0 || scan.commandFound) return { ok: false, reply: reply(false, 'flags_in_shot', 'collab.flags_in_shot') };
    const prompt = b.theme === '' ? text : `${b.theme}, ${text}`;
    const parsed = parseVideoCommand(prompt, {
      defaults: { mode: b.mode, aspect: b.aspect, draftDurationSeconds: b.shotSeconds, finalDurationSeconds: b.shotSeconds, ...(b.style === undefined ? {} : { style: b.style }) },
      random: () => 0,
    });
    if (!parsed.ok) return { ok: false, reply: { ok: false, code: `grammar_${parsed.error.code}`, message: parsed.error.message, audience: 'author' } };
    return { ok: true, spec: { ...parsed.spec, seed: b.seed } };
  }

  private collecting(b: Board | undefined): { value: CollabReply } | undefined {
    if (b === undefined || !this.isOpen(b.state)) return { value: reply(false, 'none', 'collab.none') };
    if (b.state !== 'collecting') return { value: reply(false, 'not_collecting', 'collab.not_collecting', { state: b.state }) };
    return undefined;
  }

  async add(context: CollabContext, text: string): Promise<CollabReply> {
    const ctx = CollabContextSchema.parse(context);
    const key = CollabService.keyOf(ctx);
    const first = await this.store.get(key);
    const early = this.collecting(first);
    if (early !== undefined) return early.value;
    const check = this.shotSpec(first as Board, text);
    if (!check.ok) return check.reply;
    const refused = await this.moderate(ctx, text);
    if (refused !== undefined) return refused;
    let image: Shot['image'];
    if (ctx.attachment !== undefined) {
      const got = await this.acceptImage(ctx, ctx.attachment);
      if (!got.ok) return got.reply;
      image = got.image;
    }
    const shot: Shot = {
      id: newId(), author: this.userKey(ctx), authorName: clampName(ctx.userName || ctx.userId), text, voters: [], createdAt: this.now(),
      ...(image === undefined ? {} : { image }),
    };
    const res = await this.store.update(key, (b) => {
      const not = this.collecting(b);
      if (not !== undefined) return not;
      const board = b as Board;
      if (board.shots.length >= BOARD_SHOTS_HARD_MAX) return { value: reply(false, 'full', 'collab.full', { max: BOARD_SHOTS_HARD_MAX }) };
      return { write: { ...board, shots: [...board.shots, shot], lastActivityAt: this.now() }, value: reply(true, 'added', 'collab.shot_added', { n: board.shots.length + 1 }) };
    });
    return this.withView(res);
  }

  private async acceptImage(ctx: Ctx, attachment: Attachment): Promise<{ ok: true; image: NonNullable<Shot['image']> } | { ok: false; reply: CollabReply }> {
    if (this.d.imageIntake === undefined) return { ok: false, reply: { ok: false, code: 'image_invalid', message: tAll('refusal.image_invalid', (l) => ({ detail: t('image.not_supported_here', l) })), audience: 'author' } };
    const img = await this.d.imageIntake.accept(attachment, { jobId: `collab-${newId()}` });
    if (!img.ok) return { ok: false, reply: { ok: false, code: 'image_invalid', message: tAll('refusal.image_invalid', (l) => ({ detail: img.message[l] })), audience: 'author' } };
    if (this.d.moderator.moderateImage !== undefined) {
      const v = await this.d.moderator.moderateImage(img.pixels, { platform: ctx.platform, userId: ctx.userId });
      if (v.action === 'block') {
        const label = v.hits[0]?.categoryLabel ?? tAll('category.policy');
        return { ok: false, reply: { ok: false, code: 'image_blocked', message: tAll('refusal.image_blocked', (l) => ({ category: label[l] })), audience: 'author' } };
      }
    }
    return { ok: true, image: img.image };
  }

  private async withView(res: { board: Board | undefined; value: CollabReply; written: boolean }): Promise<CollabReply> {
    if (!res.written || res.board === undefined) return res.value;
    return { ...res.value, board: await this.view(res.board) };
  }

  async edit(context: CollabContext, n: number, text: string): Promise<CollabReply> {
    const ctx = CollabContextSchema.parse(context);
    const key = CollabService.keyOf(ctx);
    const first = await this.store.get(key);
    const early = this.collecting(first);
    if (early !== undefined) return early.value;
    const check = this.shotSpec(first as Board, text);
    if (!check.ok) return check.reply;
    const refused = await this.moderate(ctx, text);
    if (refused !== undefined) return refused;
    const me = this.userKey(ctx);
    return this.withView(await this.store.update(key, (b) => {
      const not = this.collecting(b);
      if (not !== undefined) return not;
      const board = b as Board;
      const shot = board.shots[n - 1];
      if (shot === undefined) return { value: reply(false, 'no_shot', 'collab.no_shot', { n }) };
      if (shot.author !== me) return { value: reply(false, 'not_author', 'collab.not_author', { n }) };
      // An edited shot keeps its votes? No: what people voted for changed, so the votes go.
      const shots = board.shots.map((s, i) => (i === n - 1 ? { ...s, text, voters: [] } : s));
      return { write: { ...board, shots, lastActivityAt: this.now() }, value: reply(true, 'edited', 'collab.shot_edited', { n }) };
    }));
  }

  async remove(context: CollabContext, n: number): Promise<CollabReply> {
    const ctx = CollabContextSchema.parse(context);
    const me = this.userKey(ctx);
    const admin = this.isAdmin(ctx);
    return this.withView(await this.store.update(CollabService.keyOf(ctx), (b) => {
      const not = this.collecting(b);
      if (not !== undefined) return not;
      const board = b as Board;
      const shot = board.shots[n - 1];
      if (shot === undefined) return { value: reply(false, 'no_shot', 'collab.no_shot', { n }) };
      if (shot.author !== me && board.starter !== me && !admin) return { value: reply(false, 'not_author', 'collab.not_author', { n }) };
      return { write: { ...board, shots: board.shots.filter((_, i) => i !== n - 1), lastActivityAt: this.now() }, value: reply(true, 'removed', 'collab.shot_removed', { n }) };
    }));
  }

  async vote(context: CollabContext, n: number): Promise<CollabReply> {
    return this.setVote(context, n, true);
  }

  /** Takes the user's vote for shot n back (a removed reaction, `unvote n`, `取消投票 n`). */
  async unvote(context: CollabContext, n: number): Promise<CollabReply> {
    return this.setVote(context, n, false);
  }

  /** The user's vote for shot n given (`on`) or taken back: once per user per shot either way. */
  private async setVote(context: CollabContext, n: number, on: boolean): Promise<CollabReply> {
    const ctx = CollabContextSchema.parse(context);
    const me = this.userKey(ctx);
    return this.withView(await this.store.update(CollabService.keyOf(ctx), (b) => {
      const not = this.collecting(b);
      if (not !== undefined) return not;
      const board = b as Board;
      const shot = board.shots[n - 1];
      if (shot === undefined) return { value: reply(false, 'no_shot', 'collab.no_shot', { n }) };
      if (shot.voters.includes(me) === on) return { value: on ? reply(false, 'already_voted', 'collab.already_voted', { n }) : reply(false, 'not_voted', 'collab.not_voted', { n }) };
      const voters = on ? [...shot.voters, me] : shot.voters.filter((v) => v !== me);
      const shots = board.shots.map((s, i) => (i === n - 1 ? { ...s, voters } : s));
      const value = on ? reply(true, 'voted', 'collab.voted', { n, votes: voters.length }) : reply(true, 'unvoted', 'collab.unvoted', { n, votes: voters.length });
      return { write: { ...board, shots, lastActivityAt: this.now() }, value };
    }));
  }

  private starterOnly(ctx: Ctx, b: Board): { value: CollabReply } | undefined {
    if (b.starter !== this.userKey(ctx) && !this.isAdmin(ctx)) return { value: reply(false, 'not_starter', 'collab.not_starter') };
    return undefined;
  }

  async setLock(context: CollabContext, lock: boolean): Promise<CollabReply> {
    const ctx = CollabContextSchema.parse(context);
    return this.withView(await this.store.update(CollabService.keyOf(ctx), (b) => {
      if (b === undefined || !this.isOpen(b.state)) return { value: reply(false, 'none', 'collab.none') };
      const denied = this.starterOnly(ctx, b);
      if (denied !== undefined) return denied;
      const from: BoardState = lock ? 'collecting' : 'locked';
      if (b.state !== from) return { value: reply(false, 'not_collecting', 'collab.not_collecting', { state: b.state }) };
      return { write: { ...b, state: lock ? 'locked' : 'collecting', lastActivityAt: this.now() }, value: reply(true, lock ? 'locked' : 'unlocked', lock ? 'collab.locked' : 'collab.unlocked') };
    }));
  }

  async reorder(context: CollabContext, order: readonly number[]): Promise<CollabReply> {
    const ctx = CollabContextSchema.parse(context);
    return this.withView(await this.store.update(CollabService.keyOf(ctx), (b) => {
      if (b === undefined || !this.isOpen(b.state)) return { value: reply(false, 'none', 'collab.none') };
      const denied = this.starterOnly(ctx, b);
      if (denied !== undefined) return denied;
      if (b.state !== 'collecting' && b.state !== 'locked') return { value: reply(false, 'not_collecting', 'collab.not_collecting', { state: b.state }) };
      const ok = order.length === b.shots.length && new Set(order).size === order.length && order.every((n) => n >= 1 && n <= b.shots.length);
      if (!ok) return { value: reply(false, 'bad_order', 'collab.bad_order') };
      const shots = order.map((n) => b.shots[n - 1] as Shot);
      return { write: { ...b, shots, lastActivityAt: this.now() }, value: reply(true, 'reordered', 'collab.reordered') };
    }));
  }

  /**
   * `collab cancel` by the starter or an admin: closes a collecting or locked board; stops a
   * rendering one (see cancelRender) and opens it again, so a second cancel closes it.
   */
  async cancel(context: CollabContext): Promise<CollabReply> {
    const ctx = CollabContextSchema.parse(context);
    const res = await this.store.update(CollabService.keyOf(ctx), (b) => {
      if (b === undefined || !this.isOpen(b.state)) return { value: reply(false, 'none', 'collab.none') as CollabReply | { render: string } };
      const denied = this.starterOnly(ctx, b);
      if (denied !== undefined) return denied;
      if (b.state === 'rendering') return { value: { render: b.jobId ?? '' } };
      return { write: { ...b, state: 'cancelled' as const, lastActivityAt: this.now() }, value: reply(true, 'cancelled', 'collab.cancelled') };
    });
    if (!('render' in res.value)) return res.value;
    return this.cancelRender(CollabService.keyOf(ctx), res.value.render, this.userKey(ctx));
  }

  /**
   * Stops a render: the render's job ends as cancelled at once, with every share refunded in the same
   * step (its finish); segments not yet running leave their queue; a running one stops at its next
   * step (the worker watches the job's state); the stitch is skipped. The board opens again and a
   * `failed` event with reason `cancelled` follows. The render's job also delivers its usual `cancelled` outcome. When the
   * video was made first, nothing changes ('already_finished').
   */
  private async cancelRender(boardKey: string, jobId: string, by: string): Promise<CollabReply> {
    if (jobId === '') return reply(false, 'already_rendering', 'collab.already_rendering');
    // A video finishing at this moment turns into a cancel too (the finish script reads the flag).
    await this.d.lifecycle.requestCancel(jobId, by);
    let res = await this.d.lifecycle.finish(jobId, { kind: 'cancelled', message: tAll('outcome.cancelled') }, { code: 'cancelled', message: 'storyboard render cancelled' });
    // The stitched video waits for a moderator: cancelled as any held video is.
    if (res.status === 'conflict' && res.kind === 'review') res = await this.d.lifecycle.cancelNow(jobId);
    if (res.status === 'missing') {
      // The render is still starting (no record yet): its first segment reads the flag and cancels it.
      return { ...reply(true, 'cancel_requested', 'job.cancel_requested', { jobId }), jobId };
    }
    // Settled, reopened and told (or already by a worker that saw the job over first).
    await this.afterRender(boardKey);
    await this.removeWaitingSegments(jobId).catch((err: unknown) => this.d.logger?.warn({ err, jobId }, 'collab segments not removed; the workers skip them'));
    const rec = await this.jobs.get(jobId);
    if (rec?.state !== 'cancelled') return { ...reply(false, 'already_finished', 'job.already_finished', { jobId, state: rec?.state ?? 'unknown' }), jobId };
    const board = await this.store.get(boardKey);
    return {
      ok: true, code: 'render_cancelled', message: tAll('collab.render_cancelled'), audience: 'channel', jobId,
      ...(board !== undefined && this.isOpen(board.state) ? { board: await this.view(board) } : {}),
    };
  }

  private queues: { segments: Queue; stitches: Queue } | undefined;

  /**
   * Takes a cancelled render's flow out of its queues where nothing runs: the whole flow when no
   * segment is running; otherwise each waiting segment (a chain's later segments wait on the running
   * one and are skipped by the worker instead). Best effort: whatever stays is skipped.
   */
  private async removeWaitingSegments(jobId: string): Promise<number> {
    this.queues ??= {
      segments: new Queue(COLLAB_SEGMENT_QUEUE, { connection: this.d.connection, prefix: this.d.bullPrefix }),
      stitches: new Queue(COLLAB_STITCH_QUEUE, { connection: this.d.connection, prefix: this.d.bullPrefix }),
    };
    const { segments, stitches } = this.queues;
    const stitch = await stitches.getJob(jobId);
    if (stitch === undefined) return 0;
    const count = StitchJobDataSchema.safeParse(stitch.data).data?.count ?? 0;
    if ((await stitches.remove(jobId, { removeChildren: true }).catch(() => 0)) === 1) return 1;
    let removed = 0;
    for (let i = 0; i < count; i++) {
      const job = await segments.getJob(`${jobId}-seg-${i}`);
      if (job === undefined) continue;
      const state = await job.getState();
      if (state !== 'waiting' && state !== 'delayed' && state !== 'prioritized') continue;
      removed += await segments.remove(job.id ?? '', { removeChildren: true }).catch(() => 0);
    }
    return removed;
  }

  /** The segment specs of the cut, fitted to what the workers render. */
  private async plan(b: Board): Promise<{ shots: Shot[]; specs: GenerationSpec[]; cost: number; takesImage: boolean; etaSeconds: number }> {
    const shots = selectShots(b.shots, this.maxShots);
    const caps = await this.d.runtimes?.current().catch(() => undefined);
    const specs: GenerationSpec[] = [];
    for (const s of shots) {
      const built = this.shotSpec(b, s.text);
      // A shot that passed at add time always builds; one that no longer does is dropped from the plan.
      if (!built.ok) continue;
      let spec = s.image === undefined ? built.spec : { ...built.spec, referenceImage: s.image };
      if (caps !== undefined) {
        const fit = fitSpecToCapabilities(spec, caps);
        if (fit.ok) spec = fit.spec;
      }
      specs.push(spec);
    }
    const cost = specs.reduce((sum, s) => sum + costOf(s), 0);
    const takesImage = caps !== undefined && caps.imageInput !== 'none';
    const avg = await this.d.queue.averageSeconds(b.mode).catch(() => 60);
    const workers = Math.max(1, await this.d.queue.queue.getWorkers().then((w) => w.length, () => 1));
    const sequential = takesImage ? specs.length : Math.ceil(specs.length / workers);
    return { shots, specs, cost, takesImage, etaSeconds: Math.ceil(sequential * avg + STITCH_ESTIMATE_SECONDS) };
  }

  /** The board as the adapters show it, with the cost and time of rendering it now. */
  async view(b: Board): Promise<BoardView> {
    const p = await this.plan(b);
    const cut = new Set(p.shots.map((s) => s.id));
    const shots: ShotView[] = b.shots.map((s, i) => ({
      n: i + 1, id: s.id, author: s.author, authorName: s.authorName, text: s.text, votes: s.voters.length, hasImage: s.image !== undefined, inCut: cut.has(s.id),
    }));
    const charges = chargesFor(this.policy, b, p.shots, p.cost);
    const text = (l: Locale): string => {
      const head = t('collab.show', l, {
        theme: b.theme === '' ? '' : l === 'zh-CN' ? `「${b.theme}」` : ` “${b.theme}”`, state: b.state, count: b.shots.length, max: this.maxShots, cost: p.cost, eta: formatEta(p.etaSeconds, l),
      });
      const lines = shots.map((s) => t('collab.shot_line', l, { n: s.n, author: s.authorName, text: s.text, votes: s.votes, cut: s.inCut ? '' : t('collab.shot_cut', l) }));
      return [head, ...lines].join('\n');
    };
    return {
      key: b.key, theme: b.theme, state: b.state, starterName: b.starterName, ...(b.style === undefined ? {} : { style: b.style }), seed: b.seed, aspect: b.aspect,
      shots, maxShots: this.maxShots, cost: p.cost, policy: this.policy, charges, etaSeconds: p.etaSeconds, ...(b.jobId === undefined ? {} : { jobId: b.jobId }),
      text: { en: text('en'), 'zh-CN': text('zh-CN') },
    };
  }

  /**
   * Renders the board: reserves the cost by the policy, records the render's job (the stitched
   * video's; its delivery goes to the board's reply target), and queues a BullMQ flow of a segment
   * job per shot under a stitch job. Twice (a double click) answers the same job once.
   */
  async render(context: CollabContext): Promise<CollabReply> {
    const ctx = CollabContextSchema.parse(context);
    const key = CollabService.keyOf(ctx);
    const claim = await this.store.update(key, (b) => {
      if (b === undefined || !this.isOpen(b.state)) return { value: reply(false, 'none', 'collab.none') as CollabReply | 'go' };
      const denied = this.starterOnly(ctx, b);
      if (denied !== undefined) return denied;
      if (b.state === 'rendering') return { value: { ...reply(false, 'already_rendering', 'collab.already_rendering'), ...(b.jobId === undefined ? {} : { jobId: b.jobId }) } };
      if (b.shots.length === 0) return { value: reply(false, 'empty', 'collab.empty') };
      // A job id per render (the board's id and revision): a board opened again after a failure or a cancel renders anew.
      return { write: { ...b, state: 'rendering' as const, jobId: `c${b.id}-${b.rev}`, lastActivityAt: this.now() }, value: 'go' as const };
    });
    if (claim.value !== 'go') return claim.value;
    const board = claim.board as Board;
    const jobId = board.jobId as string;
    await this.store.markRendering(key, true);
    const plan = await this.plan(board);
    let charges: CollabCharge[] = [];
    let recorded = false;
    try {
      if (plan.specs.length === 0) return await this.reopen(key, jobId, reply(false, 'empty', 'collab.empty'));
      const reserved = await this.reserve(ctx, board, plan.shots, plan.cost, jobId);
      if (!reserved.ok) return await this.reopen(key, jobId, reserved.reply);
      charges = reserved.charges;
      await this.store.update(key, (b) => (b?.jobId === jobId ? { write: { ...b, charges }, value: true } : { value: false }));
      const summary: GenerationSpec = {
        ...(plan.specs[0] as GenerationSpec),
        prompt: (board.theme === '' ? plan.shots.map((s) => s.text).join(' / ') : board.theme).slice(0, 1500),
        durationSeconds: Math.min(30, plan.specs.reduce((s, x) => s + x.durationSeconds, 0)),
        frames: Math.min(1025, framesFor(Math.min(30, plan.specs.reduce((s, x) => s + x.durationSeconds, 0)), (plan.specs[0] as GenerationSpec).fps)),
      };
      delete summary.referenceImage;
      await this.d.lifecycle.create({
        version: 2, jobId, state: 'queued', platform: board.platform, userKey: board.starter, tenantKey: board.tenantKey, channelId: board.channelId,
        eventId: `collab-${board.id}`, cost: plan.cost, spec: summary, createdAt: this.now(), reviewRequired: false, replyTarget: board.replyTarget,
        locale: board.locale, allowDowngrade: false,
      });
      recorded = true;
      await this.enqueueFlow(board, plan.shots, plan.specs, plan.takesImage, jobId);
    } catch (err) {
      this.d.logger?.error({ err, jobId }, 'collab render could not start');
      if (recorded) await this.d.lifecycle.abandon(jobId, 'collab render could not start').catch(() => undefined);
      await this.d.ledger.release(charges).catch(() => undefined);
      return this.reopen(key, jobId, reply(false, 'internal', 'refusal.internal'));
    }
    const eta = (l: Locale) => ({ shots: plan.specs.length, cost: plan.cost, eta: formatEta(plan.etaSeconds, l) });
    return { ok: true, code: 'rendering', message: tAll('collab.rendering', eta), audience: 'channel', jobId, board: await this.view((await this.store.get(key)) ?? board) };
  }

  private async reopen(key: string, jobId: string, r: CollabReply): Promise<CollabReply> {
    await this.store.update(key, (b) => {
      if (b?.jobId !== jobId || b.state !== 'rendering') return { value: false };
      const { jobId: _j, charges: _c, ...rest } = b;
      return { write: { ...rest, state: 'locked' as const, lastActivityAt: this.now() }, value: true };
    });
    await this.store.markRendering(key, false);
    return r;
  }

  private async reserve(ctx: Ctx, b: Board, shots: readonly Shot[], cost: number, jobId: string): Promise<{ ok: true; charges: CollabCharge[] } | { ok: false; reply: CollabReply }> {
    const parts = chargesFor(this.policy, b, shots, cost);
    const idOf = (i: number) => (this.policy === 'starter' ? jobId : `${jobId}-p${i}`);
    // Listed with the job before any is reserved (and before its record exists): the job's finish
    // settles every share in its own step, and a render that dies half-way is released by the sweep.
    await this.d.ledger.attach(jobId, parts.map((p, i) => ({ payer: p.payer, credits: p.credits, reservationId: idOf(i) })));
    const charges: CollabCharge[] = [];
    for (const [i, p] of parts.entries()) {
      const reservationId = idOf(i);
      if (p.payer.startsWith('pool:')) {
        const r = await this.d.ledger.reservePool(b.key, reservationId, p.credits, this.now());
        if (!r.ok) {
          await this.d.ledger.release(charges);
          return { ok: false, reply: reply(false, 'pool_credits', 'collab.pool_empty', { available: r.available, cost }) };
        }
      } else {
        const tier = tierOf(this.d.config, p.payer, p.payer === this.userKey(ctx) ? ctx.roles : []);
        const r = await this.d.quota.reserve({ jobId: reservationId, userKey: p.payer, tenantKey: b.tenantKey, cost: p.credits, tier, now: this.now() });
        if (!r.ok) {
          await this.d.ledger.release(charges);
          if (r.reason === 'credits') return { ok: false, reply: reply(false, 'quota_credits', 'refusal.quota_credits', { cost: p.credits, available: r.available, timeZone: this.d.config.timeZone }) };
          if (r.reason === 'concurrency') return { ok: false, reply: reply(false, 'quota_concurrency', 'refusal.quota_concurrency', { active: r.active, limit: r.limit }) };
          return { ok: false, reply: reply(false, 'quota_tenant', 'refusal.quota_tenant', { timeZone: this.d.config.timeZone }) };
        }
        if (reservationId !== jobId) await this.d.ledger.detachShare(reservationId);
      }
      charges.push({ payer: p.payer, credits: p.credits, reservationId });
    }
    return { ok: true, charges };
  }

  private async enqueueFlow(b: Board, shots: readonly Shot[], specs: readonly GenerationSpec[], takesImage: boolean, jobId: string): Promise<void> {
    this.flow ??= new FlowProducer({ connection: this.d.connection, prefix: this.d.bullPrefix });
    const count = specs.length;
    const segment = (i: number, children: FlowJob[]): FlowJob => {
      const spec = specs[i] as GenerationSpec;
      const fromPrevious = i > 0 && takesImage && spec.referenceImage === undefined;
      const data: SegmentJobData = { version: 1, jobId, boardKey: b.key, index: i, count, spec, fromPrevious };
      return {
        name: 'segment', queueName: COLLAB_SEGMENT_QUEUE, data, children,
        opts: { jobId: `${jobId}-seg-${i}`, attempts: SEGMENT_ATTEMPTS, backoff: { type: 'fixed', delay: 1000 }, failParentOnFailure: true, removeOnComplete: { age: 24 * 3600 }, removeOnFail: { age: 7 * 24 * 3600 } },
      };
    };
    // Chains: a segment that starts from the previous one's last frame is that one's parent.
    const roots: FlowJob[] = [];
    let chain: FlowJob | undefined;
    for (let i = 0; i < count; i++) {
      const spec = specs[i] as GenerationSpec;
      const continues = i > 0 && takesImage && spec.referenceImage === undefined;
      if (continues && chain !== undefined) {
        chain = segment(i, [chain]);
      } else {
        if (chain !== undefined) roots.push(chain);
        chain = segment(i, []);
      }
    }
    if (chain !== undefined) roots.push(chain);
    const names = contributors(b, shots).map((c) => c.name);
    const data: StitchJobData = {
      version: 1, jobId, boardKey: b.key, count, transitionSeconds: this.d.config.env.FRAMECAST_COLLAB_TRANSITION_SECONDS,
      subtitles: shots.slice(0, count).map((s) => s.text), credits: names, creditsTitle: t('collab.end_card', b.locale), endCardSeconds: END_CARD_SECONDS, locale: b.locale,
    };
    await this.flow.add({
      name: 'stitch', queueName: COLLAB_STITCH_QUEUE, data, children: roots,
      opts: { jobId, attempts: SEGMENT_ATTEMPTS, backoff: { type: 'fixed', delay: 1000 }, removeOnComplete: { age: 24 * 3600 }, removeOnFail: { age: 7 * 24 * 3600 } },
    });
  }

  /**
   * After the render's job ended (the stitch worker calls this; a cancel and the sweep repeat it): the
   * board is done (a `rendered` event) or open again (a `failed` event; reason `cancelled` after a
   * cancel), told once by the call that moved it; 'none' for every other call. The shares were
   * settled by the job's finish.
   */
  async afterRender(boardKey: string): Promise<'done' | 'reopened' | 'pending' | 'none'> {
    const b = await this.store.get(boardKey);
    if (b?.jobId === undefined || b.state !== 'rendering') return 'none';
    const rec = await this.jobs.get(b.jobId);
    if (rec === undefined && b.lastActivityAt < this.now() - ORPHAN_RENDER_MS) {
      // A render whose process died after reserving (some or all) and before writing its job: its shares go back.
      const charges = [...(b.charges ?? []), ...(await this.d.ledger.attached(b.jobId))];
      await this.d.ledger.release(charges);
      await this.reopen(boardKey, b.jobId, reply(false, 'internal', 'refusal.internal'));
      return 'reopened';
    }
    if (rec === undefined || !FINAL_STATES.has(rec.state)) return 'pending';
    // The job's finish settled its attached shares in its own step; this settles a render's from before attachments (else a no-op).
    await this.d.ledger.settleByJob(b.jobId, b.charges ?? []);
    const ok = rec.state === 'succeeded';
    const jobId = b.jobId;
    const res = await this.store.update(boardKey, (cur) => {
      if (cur?.jobId !== jobId || cur.state !== 'rendering') return { value: false };
      if (ok) return { write: { ...cur, state: 'done' as const }, value: true };
      const { jobId: _j, charges: _c, ...rest } = cur;
      return { write: { ...rest, state: 'collecting' as const, lastActivityAt: this.now() }, value: true };
    });
    await this.store.markRendering(boardKey, false);
    // Told once: only the call that moved the board (a worker, a cancel and the sweep may race here).
    if (!res.value) return 'none';
    if (ok) {
      await this.events.publish({ boardKey, type: 'rendered', jobId });
      return 'done';
    }
    const cancelled = rec.state === 'cancelled';
    await this.events.publish({ boardKey, type: 'failed', jobId, ...(cancelled ? { reason: 'cancelled' as const } : {}), message: tAll(cancelled ? 'collab.render_cancelled' : 'collab.failed') });
    return 'reopened';
  }

  /** A worker reports a segment's progress: an event for the board's message; a finished one also moves the render's step count. */
  async reportSegment(r: { jobId: string; boardKey: string; index: number; count: number; phase: 'started' | 'step' | 'done' | 'retrying'; step?: number; totalSteps?: number }): Promise<void> {
    await this.events.publish({ boardKey: r.boardKey, type: 'segment', jobId: r.jobId, index: r.index, count: r.count, phase: r.phase, ...(r.step === undefined ? {} : { step: r.step }), ...(r.totalSteps === undefined ? {} : { totalSteps: r.totalSteps }) });
    if (r.phase === 'started' && (await this.d.lifecycle.isCancelRequested(r.jobId))) {
      // A cancel asked while the render was still starting: it ends now (the worker sees the job over and stops).
      const rec = await this.jobs.get(r.jobId);
      if (rec !== undefined && !FINAL_STATES.has(rec.state)) await this.cancelRender(r.boardKey, r.jobId, 'cancel');
      return;
    }
    // The render's job turns active with its first segment (once: each start is a `started` event).
    if (r.phase === 'started' && (await this.jobs.get(r.jobId))?.state === 'queued') await this.d.lifecycle.start(r.jobId, 1);
    if (r.phase === 'done') {
      const key = `${this.d.config.keyPrefix}:collab:done:${r.jobId}`;
      const res = await this.d.redis.multi().sadd(key, String(r.index)).scard(key).expire(key, 7 * 24 * 3600).exec();
      const done = Number(res?.[1]?.[1] ?? 0);
      await this.d.lifecycle.progress(r.jobId, { type: 'step', step: done, totalSteps: r.count });
    }
  }

  /** A worker reports the stitch phase (encoding, scanning) of a render. */
  async reportStitch(jobId: string, boardKey: string, phase: 'encoding' | 'scanning'): Promise<void> {
    if (phase === 'encoding') await this.events.publish({ boardKey, type: 'stitching', jobId });
    await this.d.lifecycle.progress(jobId, { type: 'encoding', phase });
  }

  /** The render ended with its video delivered (the worker finished the job): the board is done. */
  async renderDone(jobId: string, boardKey: string): Promise<void> {
    void jobId;
    await this.afterRender(boardKey);
  }

  /** A render that cannot be made (a segment out of retries, the stitch failed): refunded by the policy, told once, the board open again. */
  async renderFailed(jobId: string, boardKey: string, error: { code: string; message: string }): Promise<void> {
    await this.d.lifecycle.finish(jobId, { kind: 'failed', code: error.code, message: tAll('collab.failed') }, error);
    await this.afterRender(boardKey);
  }

  /**
   * Expires boards idle longer than FRAMECAST_COLLAB_IDLE_HOURS (an `expired` event each, and the
   * notices returned for the adapter to post), and settles renders that ended. Call it every minute
   * or so from any one process; running it twice or in two processes is harmless.
   */
  async sweep(): Promise<CollabNotice[]> {
    const hours = this.d.config.env.FRAMECAST_COLLAB_IDLE_HOURS;
    const notices: CollabNotice[] = [];
    for (const key of await this.store.idleSince(this.now() - hours * 3600_000)) {
      const res = await this.store.update(key, (b) => {
        if (b === undefined || (b.state !== 'collecting' && b.state !== 'locked')) return { value: false };
        if (b.lastActivityAt > this.now() - hours * 3600_000) return { value: false };
        return { write: { ...b, state: 'expired' as const }, value: true };
      });
      if (!res.written || res.board === undefined) continue;
      const message = tAll('collab.expired', { hours });
      notices.push({ boardKey: key, replyTarget: res.board.replyTarget, message });
      await this.events.publish({ boardKey: key, type: 'expired', message });
    }
    for (const key of await this.store.rendering()) await this.afterRender(key).catch((err: unknown) => this.d.logger?.warn({ err }, 'collab render not settled yet'));
    return notices;
  }

  /**
   * Sweeps every `everyMs` until stopped (a worker process runs this; more than one is harmless).
   * Adapters learn of expiries from the `expired` events (`subscribe`), each with its board key.
   */
  startSweeping(everyMs = 60_000, onNotices?: (n: CollabNotice[]) => void): () => void {
    const timer = setInterval(() => {
      void this.sweep().then((n) => {
        if (n.length > 0) onNotices?.(n);
      }, (err: unknown) => this.d.logger?.warn({ err }, 'collab sweep failed'));
    }, everyMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  /** An admin sets a room's group pool (the `pool` policy): credits added. */
  async grantPool(context: CollabContext, credits: number): Promise<CollabReply & { balance?: number }> {
    const ctx = CollabContextSchema.parse(context);
    if (!this.isAdmin(ctx)) return reply(false, 'not_starter', 'collab.not_starter');
    const balance = await this.d.ledger.grantPool(CollabService.keyOf(ctx), credits);
    return { ok: true, code: 'pool_granted', message: tAll('collab.pool_granted', { balance }), audience: 'author', balance };
  }

  poolBalance(context: Pick<CollabContext, 'platform' | 'channelId'>): Promise<number> {
    return this.d.ledger.poolBalance(CollabService.keyOf(context));
  }

  /** Per-shot progress, stitching, the end and expiries of boards, as they happen. */
  subscribe(handler: (e: CollabEvent) => void | Promise<void>, filter: { platform?: string } = {}, opts: { exclusive?: string; exclusiveLeaseMs?: number } = {}): Promise<() => void> {
    return this.events.subscribe(handler, filter, opts);
  }

  async close(): Promise<void> {
    await this.flow?.close();
    await Promise.all([this.queues?.segments.close(), this.queues?.stitches.close()]);
    await this.events.close();
  }
}

export { BoardSchema };
