import { randomBytes } from 'node:crypto';
import {
  COLLAB_SHOT_NUMBER_MAX, COLLAB_TEXT_MAX,
  type Board, type CollabContext, type CollabEvent, type CollabReply, type ContentModerator, type Core, type JobRecord, type Locale, type LocalizedText,
} from '@framecast/core';
import { WeChatApiError } from '@framecast/content-safety';
import type { Router } from '@koa/router';
import type { Redis } from 'ioredis';
import type { Context, Middleware } from 'koa';
import type { Logger } from 'pino';
import { z } from 'zod';
import { MpError, mpState } from './mp-error.ts';
import { jsonBody, openEventStream, paramOf, parseWith } from './mp-http.ts';
import { mtAll } from './mp-messages.ts';
import { CreateJobBodySchema, commandTextOf, mpStateOf, type MpJobState } from './mp-jobs.ts';
import type { MpRateLimiter, RateLimits } from './mp-rate-limit.ts';
import { tokenTag } from './mp-sessions.ts';
import type { MpUploads } from './mp-uploads.ts';

/**
 * Collaborative storyboards in the mini program: `/api/mp/boards`. A board is the core's
 * (`core.collab`, key `miniprogram:<boardId>`); its id is random and unguessable, and knowing it
 * (the share card opens `pages/board/board?id=<boardId>`) is what lets a user read and add to it.
 * Its starter administers it (reorders, locks, renders, cancels) and pays for the render, whose
 * video is an ordinary job of the starter's; the other contributors fetch it through the board.
 */

/** A board's id: `b_` and 128 random bits. */
export const BOARD_ID = /^b_[A-Za-z0-9_-]{22}$/;
/** Longest nickname a user gives the end card's credits. */
export const NICKNAME_MAX = 20;
const NICKNAME_TTL_SECONDS = 365 * 24 * 3600;
/** An answer kept under its `requestId` (the same request again answers it). */
const ANSWER_TTL_SECONDS = 3600;
const PENDING = 'pending';
const HEARTBEAT_MS = 15_000;
/** How often an open event stream looks at the board for changes (shots, votes, state). */
const BOARD_CHECK_MS = 2000;

const RequestIdSchema = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/);
const ShotNumberSchema = z.number().int().min(1).max(COLLAB_SHOT_NUMBER_MAX);
const ShotTextSchema = z.string().trim().min(1).max(COLLAB_TEXT_MAX);

/** `POST /api/mp/boards`: the board's theme and the flags of `collab start` (as in POST /api/mp/jobs). */
export const CreateBoardBodySchema = CreateJobBodySchema.pick({ style: true, seed: true, aspect: true, draft: true, duration: true, requestId: true }).extend({
  theme: ShotTextSchema,
});
export type CreateBoardBody = z.infer<typeof CreateBoardBodySchema>;
export const AddShotBodySchema = z.strictObject({ text: ShotTextSchema, imageId: z.string().min(1).max(80).optional(), requestId: RequestIdSchema.optional() });
export const EditShotBodySchema = z.strictObject({ text: ShotTextSchema, requestId: RequestIdSchema.optional() });
export const VoteBodySchema = z.strictObject({ n: ShotNumberSchema, requestId: RequestIdSchema.optional() });
export const ReorderBodySchema = z.strictObject({ order: z.array(ShotNumberSchema).min(1).max(40), requestId: RequestIdSchema.optional() });
/** The bodies of render, lock, unlock, cancel and remove: nothing but an optional requestId. */
export const BoardActionBodySchema = z.strictObject({ requestId: RequestIdSchema.optional() });
export const NicknameBodySchema = z.strictObject({
  nickname: z.string().trim().min(1).max(NICKNAME_MAX).regex(/^[^\u0000-\u001f\u007f<>]+$/u, 'printable'),
});

/** HTTP status of each refusal of `core.collab`. */
const REFUSAL_STATUS: Record<string, number> = {
  none: 404, no_shot: 404, exists: 409, not_collecting: 409, already_voted: 409, not_voted: 409, already_rendering: 409, empty: 409, full: 409,
  not_author: 403, not_starter: 403, moderation_blocked: 403, image_blocked: 403, image_invalid: 422, flags_in_shot: 422, bad_order: 400,
  quota_credits: 402, quota_tenant: 402, pool_credits: 402, quota_concurrency: 409, invalid_request: 400, internal: 503,
};

/** The signed-in user, as the API's auth middleware leaves it in `ctx.state.user`. */
export interface MpCaller {
  openid: string;
  tag: string;
  userKey: string;
  token: string;
}

/** A shot as the mini program shows it: no user ids, only the author's display name and whether it is the caller's. */
export interface MpShotView {
  n: number;
  authorName: string;
  text: string;
  votes: number;
  voted: boolean;
  mine: boolean;
  hasImage: boolean;
  inCut: boolean;
}

export interface MpBoardView {
  id: string;
  theme: string;
  state: Board['state'];
  starterName: string;
  style?: string;
  seed: number;
  aspect: string;
  mode: 'draft' | 'final';
  durationSeconds: number;
  shots: MpShotView[];
  maxShots: number;
  cost: number;
  policy: 'starter' | 'split' | 'pool';
  /** What the caller pays of `cost` under the policy. */
  yourCost: number;
  etaSeconds: number;
  /** The render's job (the starter's), once rendering. */
  jobId?: string;
  render?: { state: MpJobState; videoReady: boolean };
  you: { name: string; starter: boolean; contributor: boolean };
  /** The page the share card opens. */
  sharePath: string;
  /** The board as plain text in the caller's language. */
  text: string;
}

/** Display names for the end card's credits: a nickname each mini program user sets (bounded, moderated). */
export class MpNicknames {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(tag: string): string {
    return `${this.prefix}:mp:nickname:${tag}`;
  }

  async get(tag: string): Promise<string | undefined> {
    return (await this.redis.get(this.key(tag))) ?? undefined;
  }

  async set(tag: string, nickname: string): Promise<void> {
    await this.redis.set(this.key(tag), nickname, 'EX', NICKNAME_TTL_SECONDS);
  }

  /** The nickname, or a short masked id (`mp-` and 4 characters of the user's one-way tag). */
  async nameOf(tag: string): Promise<string> {
    return (await this.get(tag)) ?? `mp-${tag.slice(0, 4)}`;
  }
}

export interface MpBoardsDeps {
  core: Core;
  redis: Redis;
  prefix: string;
  appId: string;
  logger: Logger;
  limiter: MpRateLimiter;
  limits: RateLimits;
  uploads: MpUploads;
  nicknames: MpNicknames;
  /** Checks nicknames (the product's keyword lists; WeChat's msgSecCheck when on). */
  textModerator: ContentModerator;
  /** The Bearer session (401 otherwise), leaving the user in `ctx.state.user`. */
  auth: Middleware;
  /** Signed links to a finished job's video and poster. */
  links(rec: JobRecord): Promise<{ videoUrl: string; posterUrl?: string; expiresAt: number }>;
}

type Answer = { status: number; body: Record<string, unknown> } | { status: number; code: string; text: LocalizedText };

/** Mounts the board routes on the API's router (prefix `/api/mp`). */
export function mountBoardRoutes(router: Router, d: MpBoardsDeps): void {
  const { core, redis, prefix, appId, nicknames } = d;
  const userIn = (ctx: Context): MpCaller => (ctx.state as { user: MpCaller }).user;
  const localeIn = (ctx: Context): Locale => mpState(ctx).locale;
  const keyOf = (boardId: string): string => `miniprogram:${boardId}`;

  function boardIdOf(ctx: Context): string {
    const id = paramOf(ctx);
    if (typeof id !== 'string' || !BOARD_ID.test(id)) throw MpError.of(404, 'board_not_found', 'board_not_found');
    return id;
  }

  async function boardOf(ctx: Context): Promise<{ id: string; board: Board }> {
    const id = boardIdOf(ctx);
    const board = await core.collab.board(keyOf(id));
    if (board === undefined) throw MpError.of(404, 'board_not_found', 'board_not_found');
    return { id, board };
  }

  function collabContext(u: MpCaller, boardId: string, locale: Locale, name: string, attachment?: CollabContext['attachment']): CollabContext {
    return {
      platform: 'miniprogram', tenantId: appId, channelId: boardId, userId: u.openid, userName: name, isAdmin: false, locale,
      replyTarget: { platform: 'miniprogram', appId, openid: u.openid }, ...(attachment === undefined ? {} : { attachment }),
    };
  }

  async function viewOf(u: MpCaller, board: Board, locale: Locale): Promise<MpBoardView> {
    const v = await core.collab.view(board);
    const rec = board.jobId === undefined ? undefined : await core.job(board.jobId);
    const isContributor = board.starter === u.userKey || board.shots.some((s) => s.author === u.userKey);
    return {
      id: board.channelId, theme: v.theme, state: v.state, starterName: v.starterName, ...(v.style === undefined ? {} : { style: v.style }),
      seed: v.seed, aspect: v.aspect, mode: board.mode, durationSeconds: board.shotSeconds,
      shots: v.shots.map((s) => ({
        n: s.n, authorName: s.authorName, text: s.text, votes: s.votes, voted: board.shots[s.n - 1]?.voters.includes(u.userKey) ?? false,
        mine: s.author === u.userKey, hasImage: s.hasImage, inCut: s.inCut,
      })),
      maxShots: v.maxShots, cost: v.cost, policy: v.policy, yourCost: v.charges.filter((c) => c.payer === u.userKey).reduce((sum, c) => sum + c.credits, 0),
      etaSeconds: v.etaSeconds, ...(board.jobId === undefined ? {} : { jobId: board.jobId }),
      ...(rec === undefined ? {} : { render: { state: mpStateOf(rec.state), videoReady: rec.state === 'succeeded' && rec.result !== undefined } }),
      you: { name: await nicknames.nameOf(u.tag), starter: board.starter === u.userKey, contributor: isContributor },
      sharePath: `pages/board/board?id=${board.channelId}`, text: v.text[locale],
    };
  }

  /**
   * Runs a change once per `requestId` (kept an hour): the same request again, or a second copy
   * arriving at once, answers the first answer (a double tap is one shot, one vote, one render).
   */
  async function once(ctx: Context, op: string, boardId: string, requestId: string | undefined, produce: () => Promise<Answer>): Promise<void> {
    const u = userIn(ctx);
    const locale = localeIn(ctx);
    const send = (a: Answer, duplicate: boolean): void => {
      if ('code' in a) throw new MpError(a.status, a.code, a.text);
      ctx.status = duplicate && a.status === 201 ? 200 : a.status;
      ctx.body = { ...a.body, ...(typeof a.body.messages === 'object' && a.body.messages !== null ? { message: (a.body.messages as LocalizedText)[locale] } : {}), duplicate };
    };
    if (requestId === undefined) return send(await produce(), false);
    const key = `${prefix}:mp:boards:req:${u.tag}:${op}:${boardId}:${requestId}`;
    if ((await redis.set(key, PENDING, 'EX', ANSWER_TTL_SECONDS, 'NX')) !== 'OK') {
      for (let i = 0; i < 100; i++) {
        const prior = await redis.get(key);
        if (prior === null) break;
        if (prior !== PENDING) return send(JSON.parse(prior) as Answer, true);
        await new Promise((r) => setTimeout(r, 100));
      }
      throw MpError.of(409, 'in_progress', 'in_progress');
    }
    let answer: Answer;
    try {
      answer = await produce();
    } catch (err) {
      await redis.del(key);
      throw err;
    }
    await redis.set(key, JSON.stringify(answer), 'EX', ANSWER_TTL_SECONDS);
    send(answer, false);
  }

  /** A command's answer: the board (in the caller's view) and the message, or the refusal. */
  async function answerOf(u: MpCaller, boardId: string, locale: Locale, res: CollabReply, okStatus = 200): Promise<Answer> {
    if (!res.ok) return { status: REFUSAL_STATUS[res.code] ?? (res.code.startsWith('grammar_') ? 422 : 400), code: res.code, text: res.message };
    const board = await core.collab.board(keyOf(boardId));
    return {
      status: okStatus,
      body: {
        ok: true, code: res.code, messages: res.message, boardId, ...(res.jobId === undefined ? {} : { jobId: res.jobId }),
        ...(board === undefined ? {} : { board: await viewOf(u, board, locale) }),
      },
    };
  }

  async function writeLimit(ctx: Context): Promise<void> {
    await d.limiter.hit('boards', tokenTag(userIn(ctx).token), d.limits.boards);
  }

  // ---- the caller's nickname (the credits' name) ----
  router.put('/me/nickname', d.auth, async (ctx) => {
    const u = userIn(ctx);
    const body = parseWith(NicknameBodySchema, await jsonBody(ctx));
    await writeLimit(ctx);
    const nickname = body.nickname.replace(/\s+/g, ' ');
    let verdict;
    try {
      verdict = await d.textModerator.moderateText(nickname, { platform: 'miniprogram', userId: u.openid, openid: u.openid });
    } catch (err) {
      if (!(err instanceof WeChatApiError)) throw err;
      d.logger.warn({ code: err.code, errcode: err.errcode }, 'msgSecCheck failed for a nickname');
      throw new MpError(503, 'wechat_unavailable', err.userMessage, { 'Retry-After': '5' });
    }
    if (verdict.action !== 'allow') throw MpError.of(403, 'nickname_blocked', 'nickname_blocked');
    await nicknames.set(u.tag, nickname);
    ctx.body = { nickname };
  });
  router.get('/me/nickname', d.auth, async (ctx) => {
    const u = userIn(ctx);
    const nickname = await nicknames.get(u.tag);
    ctx.body = { name: await nicknames.nameOf(u.tag), ...(nickname === undefined ? {} : { nickname }) };
  });

  // ---- boards ----
  router.post('/boards', d.auth, async (ctx) => {
    const u = userIn(ctx);
    const locale = localeIn(ctx);
    const body = parseWith(CreateBoardBodySchema, await jsonBody(ctx));
    await writeLimit(ctx);
    // The id is made before the request is claimed, and kept with the answer: a retry answers the same board.
    const boardId = `b_${randomBytes(16).toString('base64url')}`;
    await once(ctx, 'create', '-', body.requestId, async () => {
      // The /video grammar's flags, as POST /api/mp/jobs writes them, after `collab start`.
      const text = commandTextOf({ prompt: body.theme, ...body }).replace(/^\/video /, 'collab start ');
      const res = await core.collab.command(collabContext(u, boardId, locale, await nicknames.nameOf(u.tag)), text);
      if (res === undefined) return { status: 400, code: 'bad_request', text: mtAll('bad_request', { fields: 'theme' }) };
      const a = await answerOf(u, boardId, locale, res, 201);
      if (!('code' in a)) d.logger.info({ boardId, user: u.tag }, 'storyboard started');
      return a;
    });
  });

  router.get('/boards/:id', d.auth, async (ctx) => {
    const { board } = await boardOf(ctx);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await viewOf(userIn(ctx), board, localeIn(ctx));
  });

  router.post('/boards/:id/shots', d.auth, async (ctx) => {
    const u = userIn(ctx);
    const locale = localeIn(ctx);
    const id = boardIdOf(ctx);
    const body = parseWith(AddShotBodySchema, await jsonBody(ctx));
    await writeLimit(ctx);
    await once(ctx, 'add', id, body.requestId, async () => {
      const attachment = body.imageId === undefined ? undefined : await d.uploads.attachment(u.tag, body.imageId);
      // Through the grammar, as a chat user's `add …`: the same normalising and checks.
      const res = await core.collab.command(collabContext(u, id, locale, await nicknames.nameOf(u.tag), attachment), `add ${body.text}`);
      if (res === undefined) return { status: 400, code: 'bad_request', text: mtAll('bad_request', { fields: 'text' }) };
      return answerOf(u, id, locale, res, 201);
    });
  });

  function shotNumberOf(ctx: Context): number {
    const n = Number(paramOf(ctx, 'n'));
    if (!ShotNumberSchema.safeParse(n).success) throw MpError.of(400, 'bad_request', 'bad_request', { fields: 'n' });
    return n;
  }

  const editShot: Middleware = async (ctx) => {
    const u = userIn(ctx);
    const locale = localeIn(ctx);
    const id = boardIdOf(ctx);
    const n = shotNumberOf(ctx);
    const body = parseWith(EditShotBodySchema, await jsonBody(ctx));
    await writeLimit(ctx);
    await once(ctx, `edit-${n}`, id, body.requestId, async () => {
      const res = await core.collab.command(collabContext(u, id, locale, await nicknames.nameOf(u.tag)), `edit ${n} ${body.text}`);
      if (res === undefined) return { status: 400, code: 'bad_request', text: mtAll('bad_request', { fields: 'text' }) };
      return answerOf(u, id, locale, res);
    });
  };
  router.patch('/boards/:id/shots/:n', d.auth, editShot);
  // wx.request knows no PATCH: the mini program edits with POST.
  router.post('/boards/:id/shots/:n', d.auth, editShot);

  /** A command with no text: remove, vote, lock, unlock, cancel, reorder, render. */
  async function simple(ctx: Context, op: string, requestId: string | undefined, command: Parameters<Core['collab']['run']>[1]): Promise<void> {
    const u = userIn(ctx);
    const locale = localeIn(ctx);
    const id = boardIdOf(ctx);
    await writeLimit(ctx);
    await once(ctx, op, id, requestId, async () => {
      const res = await core.collab.run(collabContext(u, id, locale, await nicknames.nameOf(u.tag)), command);
      if (command.kind === 'render' && res.ok) d.logger.info({ boardId: id, jobId: res.jobId }, 'storyboard render started');
      return answerOf(u, id, locale, res);
    });
  }

  router.delete('/boards/:id/shots/:n', d.auth, async (ctx) => {
    const n = shotNumberOf(ctx);
    const body = parseWith(BoardActionBodySchema, await jsonBody(ctx));
    await simple(ctx, `remove-${n}`, body.requestId, { kind: 'remove', n });
  });
  router.post('/boards/:id/votes', d.auth, async (ctx) => {
    const body = parseWith(VoteBodySchema, await jsonBody(ctx));
    await simple(ctx, `vote-${body.n}`, body.requestId, { kind: 'vote', n: body.n });
  });
  router.delete('/boards/:id/votes', d.auth, async (ctx) => {
    const body = parseWith(VoteBodySchema, await jsonBody(ctx));
    await simple(ctx, `unvote-${body.n}`, body.requestId, { kind: 'unvote', n: body.n });
  });
  router.post('/boards/:id/reorder', d.auth, async (ctx) => {
    const body = parseWith(ReorderBodySchema, await jsonBody(ctx));
    await simple(ctx, 'reorder', body.requestId, { kind: 'reorder', order: body.order });
  });
  for (const kind of ['render', 'lock', 'unlock', 'cancel'] as const) {
    router.post(`/boards/:id/${kind}`, d.auth, async (ctx) => {
      const body = parseWith(BoardActionBodySchema, await jsonBody(ctx));
      await simple(ctx, kind, body.requestId, { kind });
    });
  }

  // ---- the finished video, for the board's contributors ----
  router.get('/boards/:id/media', d.auth, async (ctx) => {
    const u = userIn(ctx);
    const { board } = await boardOf(ctx);
    if (board.starter !== u.userKey && !board.shots.some((s) => s.author === u.userKey)) throw MpError.of(403, 'not_contributor', 'not_contributor');
    const rec = board.jobId === undefined ? undefined : await core.job(board.jobId);
    if (rec === undefined || rec.state !== 'succeeded') throw MpError.of(404, 'not_finished', 'not_finished');
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { jobId: rec.jobId, ...(await d.links(rec)) };
  });

  // ---- the board's events (server-sent) ----
  router.get('/boards/:id/events', d.auth, async (ctx) => {
    const u = userIn(ctx);
    const locale = localeIn(ctx);
    const { id, board } = await boardOf(ctx);
    const key = keyOf(id);
    const { stream, send } = openEventStream(ctx);
    let current = board;
    const first = await viewOf(u, current, locale);
    send('board', first);
    /** Shot numbers of the cut, in render order (a segment's `index` is its place in the cut). */
    let cut = first.shots.filter((s) => s.inCut).map((s) => s.n);
    const open = (b: Board): boolean => b.state === 'collecting' || b.state === 'locked' || b.state === 'rendering';
    if (!open(current)) {
      stream.end();
      return;
    }
    let ended = false;
    let lastId = '0-0';
    let replaying = true;
    const buffered: CollabEvent[] = [];
    const timers: NodeJS.Timeout[] = [];
    const sub: { off?: () => void } = {};
    const finish = (): void => {
      if (ended) return;
      ended = true;
      for (const t of timers) clearInterval(t);
      sub.off?.();
      stream.end();
    };
    ctx.res.on('close', finish);
    stream.on('close', finish);
    const emit = async (e: CollabEvent): Promise<void> => {
      if (ended || e.boardKey !== key || !after(e.id, lastId)) return;
      lastId = e.id;
      send(e.type, {
        type: e.type, boardId: id, ...(e.jobId === undefined ? {} : { jobId: e.jobId }),
        ...(e.index === undefined ? {} : { index: e.index, n: cut[e.index] ?? e.index + 1 }), ...(e.count === undefined ? {} : { count: e.count }),
        ...(e.phase === undefined ? {} : { phase: e.phase }), ...(e.step === undefined ? {} : { step: e.step }), ...(e.totalSteps === undefined ? {} : { totalSteps: e.totalSteps }),
        ...(e.message === undefined ? {} : { message: e.message[locale] }), at: Number(e.id.split('-')[0]),
      }, e.id);
      if (e.type === 'rendered' || e.type === 'failed' || e.type === 'expired') {
        const now = await core.collab.board(key);
        if (now !== undefined) send('board', await viewOf(u, now, locale));
        finish();
      }
    };
    sub.off = await core.collab.subscribe(async (e) => {
      if (replaying) buffered.push(e);
      else await emit(e);
    }, { platform: 'miniprogram' });
    // What happened before the stream opened (since the board was made), then what came meanwhile.
    let from = `${Math.max(0, current.createdAt - 1)}-0`;
    for (let page = 0; page < 40 && !ended; page++) {
      const events = await core.collab.events.read(from, 500);
      for (const e of events) await emit(e);
      if (events.length < 500) break;
      from = events[events.length - 1]?.id ?? from;
    }
    replaying = false;
    for (const e of buffered.splice(0)) await emit(e);
    // The client left (or the render ended) while the history was read: nothing more to follow.
    if (ended) {
      sub.off();
      return;
    }
    const heartbeat = setInterval(() => stream.write(': ping\n\n'), HEARTBEAT_MS);
    heartbeat.unref();
    timers.push(heartbeat);
    // Shots, votes and states change without an event: the board again whenever it changed; a
    // board closed without an event (cancelled; done, its `rendered` event missed) ends the stream.
    let closedChecks = 0;
    const check = setInterval(() => {
      void (async () => {
        const now = await core.collab.board(key);
        if (ended || now === undefined) return;
        if (now.rev !== current.rev) {
          current = now;
          const view = await viewOf(u, now, locale);
          cut = view.shots.filter((s) => s.inCut).map((s) => s.n);
          send('board', view);
        }
        if (!open(now) && ++closedChecks >= (now.state === 'done' ? 3 : 1)) finish();
      })().catch((err: unknown) => d.logger.warn({ err }, 'board events: reading the board failed'));
    }, BOARD_CHECK_MS);
    check.unref();
    timers.push(check);
  });
}

/** Whether stream id `a` comes after `b` (`ms-seq`). */
function after(a: string, b: string): boolean {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am > bm || (am === bm && as > bs);
}
