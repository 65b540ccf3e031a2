import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { Router } from '@koa/router';
import {
  BlobStoreError, FINAL_STATES, type Board, type CollabEvent, isTerminalEvent, parseCollabCommand,
  type Attachment, type BlobStore, type BoardView, type ChatRequestInput, type CollabContext, type CollabReply, type Core, type FramecastConfig, type IntakeResult, type JobRecord, type Locale, type ProgressEvent,
} from '@framecast/core';
import { httpState, readRawBody, sendBlob as sendStoredBlob } from '@framecast/http-server';
import type { Redis } from 'ioredis';
import type { Context, Middleware, Next } from 'koa';
import type { Logger } from 'pino';
import { z } from 'zod';
import { WebError } from './web-error.ts';
import { API_PREFIX, commandTextOf, JOB_ID, jobView, seedOf, type WebJobView } from './web-jobs.ts';
import { pickLocale } from './web-messages.ts';
import { ASSET_PATHS, PAGE_CSP, renderPlaygroundPage } from './web-page.ts';
import { LANG_COOKIE, SESSION_COOKIE, SESSION_TTL_SECONDS, WebSessions, webUserKey, type WebSession } from './web-session.ts';
import { parseSubmitForm } from './web-upload.ts';

/** The tenant every playground user belongs to (its daily cap is FRAMECAST_TENANT_DAILY_CAP). */
export const WEB_TENANT = 'playground';
/** Largest reference image taken by the playground, before the HTTP body limit lowers it. */
export const WEB_MAX_IMAGE_BYTES = 10 * 1024 * 1024;
/** Room for the form's other parts within the HTTP body limit. */
const FORM_OVERHEAD_BYTES = 64 * 1024;
/** The submit route, which takes an image: the HTTP server's upload limit applies to it. */
export const PLAYGROUND_UPLOAD_PATH = /^\/api\/web\/jobs$/;
/** Open event streams per browser session at once (a browser holds 6 connections per host). */
export const MAX_STREAMS_PER_SESSION = 4;
/** A comment line on each open event stream this often, so proxies keep it open. */
const HEARTBEAT_MS = 15_000;
/** A refused request's body up to this size is read before answering. */
const DRAIN_BYTES = 64 * 1024;
/** Jobs listed on the page. */
const HISTORY_LIMIT = 50;

export interface PlaygroundDeps {
  core: Core;
  store: BlobStore;
  /** Sessions live here (the process's connection). */
  redis: Redis;
  logger: Logger;
  config: FramecastConfig;
  /** Largest reference image; default: 10 MiB, or less when the HTTP body limit is lower. */
  maxImageBytes?: number;
  /** The limit the HTTP server holds the submit route to (FRAMECAST_UPLOAD_LIMIT when it is an upload route, else FRAMECAST_HTTP_BODY_LIMIT): an upload must fit in it. */
  bodyLimit?: number;
  /** Origins that may POST besides the request's own (default: FRAMECAST_PUBLIC_URL's). */
  allowedOrigins?: readonly string[];
}

interface WebState {
  token: string;
  session: WebSession;
  userKey: string;
  locale: Locale;
}

const STATIC_DIR = new URL('../static/', import.meta.url);
function readAsset(name: string): Buffer {
  return readFileSync(new URL(name, STATIC_DIR));
}

const RequestIdSchema = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/);
/** A storyboard's id in the playground (`?board=` of the page): any session that knows it joins the board. */
export const BOARD_ID = /^[A-Za-z0-9_-]{4,64}$/;
/** Longest display name a playground user gives the storyboard's credits. */
const MAX_NAME_CHARS = 40;
/** A storyboard command's answer is kept this long under its requestId (a repeat answers it again). */
const COLLAB_ANSWER_TTL_SECONDS = 3600;
const PENDING = 'pending';
const ActionBodySchema = z.object({ requestId: RequestIdSchema }).strict();
/** Storyboard events read for one board's per-shot progress (a render's own are far fewer). */
const SEGMENT_EVENTS_READ = 500;

/** A shot's segment while its board renders: the latest phase the worker reported. */
interface SegmentView {
  phase: NonNullable<CollabEvent['phase']>;
  step?: number;
  totalSteps?: number;
}

/** The locale of a request: `?lang=` (page only), the `fc_lang` cookie, Accept-Language, the default. */
function localeOf(ctx: Context, fallback: Locale, withQuery: boolean): Locale {
  const q = withQuery && typeof ctx.query.lang === 'string' ? ctx.query.lang : undefined;
  return pickLocale(q ?? ctx.cookies.get(LANG_COOKIE), ctx.get('Accept-Language') || undefined, fallback);
}

function answerError(ctx: Context, err: WebError, locale: Locale): void {
  const messages = err.messages();
  ctx.status = err.status;
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { error: err.code, message: messages[locale], messages, requestId: httpState(ctx).requestId };
}

/** HTTP status of a refusal: quota refusals are 429, the rest the user can fix (422). */
function refusalStatus(reason: string): number {
  return reason.startsWith('quota_') ? 429 : 422;
}

/**
 * The playground: `GET /` (the page, in zh-CN or en), its script and style sheet under /assets/,
 * and the JSON API under /api/web (see the README's "Web playground" for each route). One browser
 * session (cookie `fc_web`, in Redis) is one user `web:<id>`; each user reads and acts on its own
 * jobs only (others' ids answer 404). State-changing requests must come from this origin (Origin).
 */
export function createPlaygroundRouter(deps: PlaygroundDeps): Router {
  const { core, store, config } = deps;
  const log = deps.logger.child({ platform: 'web' });
  const sessions = new WebSessions(deps.redis, config.keyPrefix);
  const fallback = config.defaultLocale;
  const bodyLimit = deps.bodyLimit ?? config.env.FRAMECAST_HTTP_BODY_LIMIT;
  const maxImageBytes = Math.max(1024, Math.min(deps.maxImageBytes ?? WEB_MAX_IMAGE_BYTES, bodyLimit - FORM_OVERHEAD_BYTES));
  const publicOrigin = config.env.FRAMECAST_PUBLIC_URL === undefined ? [] : [new URL(config.env.FRAMECAST_PUBLIC_URL).origin];
  const allowedOrigins = new Set(deps.allowedOrigins ?? publicOrigin);
  const publicHttps = config.env.FRAMECAST_PUBLIC_URL?.startsWith('https:') === true;
  const assets = { script: readAsset('playground.js'), style: readAsset('playground.css') };
  const streams = new Map<string, number>();
  const router = new Router();

  const security = (ctx: Context): void => {
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('X-Frame-Options', 'DENY');
  };

  // --- the page and its assets -------------------------------------------------------------
  router.get('/', async (ctx) => {
    const locale = localeOf(ctx, fallback, true);
    // Secure cookies over HTTPS, also behind a proxy that ends TLS (FRAMECAST_PUBLIC_URL says https).
    const secure = ctx.secure || publicHttps;
    if (secure) (ctx.cookies as { secure: boolean }).secure = true;
    if (typeof ctx.query.lang === 'string' && (ctx.query.lang === 'en' || ctx.query.lang === 'zh-CN')) {
      ctx.cookies.set(LANG_COOKIE, ctx.query.lang, { httpOnly: false, sameSite: 'lax', secure, maxAge: 365 * 24 * 3600_000, overwrite: true });
    }
    const given = ctx.cookies.get(SESSION_COOKIE);
    const existing = await sessions.get(given);
    // A new session, or the same one's cookie renewed (the server's TTL decides when it ends).
    const token = existing === undefined || given === undefined ? (await sessions.create()).token : given;
    ctx.cookies.set(SESSION_COOKIE, token, { httpOnly: true, sameSite: 'lax', secure, maxAge: SESSION_TTL_SECONDS * 1000, overwrite: true });
    security(ctx);
    ctx.set('Content-Security-Policy', PAGE_CSP);
    ctx.set('Cache-Control', 'no-store');
    ctx.set('Vary', 'Accept-Language, Cookie');
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = renderPlaygroundPage({ locale, maxImageBytes });
  });
  router.get(ASSET_PATHS.script, (ctx) => {
    security(ctx);
    ctx.set('Cache-Control', 'no-cache');
    ctx.type = 'text/javascript; charset=utf-8';
    ctx.body = assets.script;
  });
  router.get(ASSET_PATHS.style, (ctx) => {
    security(ctx);
    ctx.set('Cache-Control', 'no-cache');
    ctx.type = 'text/css; charset=utf-8';
    ctx.body = assets.style;
  });

  // --- the API -------------------------------------------------------------------------------
  /** Every API request: the session (401 without one), the locale, refusals as localised JSON. */
  const api: Middleware = async (ctx: Context, next: Next) => {
    const locale = localeOf(ctx, fallback, false);
    security(ctx);
    ctx.set('Cache-Control', 'no-store');
    try {
      if (ctx.method !== 'GET' && ctx.method !== 'HEAD') checkOrigin(ctx);
      const token = ctx.cookies.get(SESSION_COOKIE);
      const session = await sessions.get(token);
      if (token === undefined || session === undefined) throw new WebError(401, 'no_session');
      const state: WebState = { token, session, userKey: webUserKey(session.userId), locale };
      ctx.state.web = state;
      await next();
    } catch (err) {
      if (!(err instanceof WebError)) throw err;
      // A small body refused before it was read is read now, so the connection stays usable
      // (an unread body makes the server close it, which a client still sending sees as a reset).
      const declared = Number(ctx.get('Content-Length') || NaN);
      if (!ctx.req.complete && Number.isFinite(declared) && declared <= DRAIN_BYTES) await readRawBody(ctx, DRAIN_BYTES).catch(() => undefined);
      answerError(ctx, err, locale);
    }
  };

  /** CSRF: a state-changing request must say it comes from this page's origin. */
  function checkOrigin(ctx: Context): void {
    const origin = ctx.get('Origin');
    if (origin === '' || origin === 'null') throw new WebError(403, 'forbidden_origin');
    if (origin === `${ctx.protocol}://${ctx.host}` || allowedOrigins.has(origin)) return;
    throw new WebError(403, 'forbidden_origin');
  }

  const web = (ctx: Context): WebState => ctx.state.web as WebState;

  /** The caller's own job, or 404 (another user's job is indistinguishable from none). */
  async function ownJob(ctx: Context): Promise<JobRecord> {
    const id = String((ctx as Context & { params?: Record<string, string> }).params?.id ?? '');
    if (!JOB_ID.test(id)) throw new WebError(404, 'not_found');
    const rec = await core.job(id);
    if (rec === undefined || rec.userKey !== web(ctx).userKey) throw new WebError(404, 'not_found');
    return rec;
  }

  async function viewOf(rec: JobRecord): Promise<WebJobView> {
    if (rec.state !== 'queued') return jobView(rec);
    const pos = await core.position(rec.jobId).catch(() => undefined);
    return jobView(rec, pos);
  }

  /** Runs a ChatRequest through the core and answers: 201 with the job, or the refusal. */
  async function submitAndAnswer(ctx: Context, req: ChatRequestInput): Promise<void> {
    const w = web(ctx);
    const result: IntakeResult = await core.submit(req);
    if (result.status === 'refused') {
      ctx.status = refusalStatus(result.reason);
      ctx.body = { error: result.reason, message: result.message[w.locale], messages: result.message, ...(result.detail === undefined ? {} : { detail: result.detail }), requestId: httpState(ctx).requestId };
      return;
    }
    // A session that submits lives SESSION_TTL_SECONDS from its last submission.
    await sessions.touch(w.token, w.session);
    const rec = await core.job(result.jobId);
    ctx.status = result.duplicate ? 200 : 201;
    ctx.body = {
      status: 'accepted',
      duplicate: result.duplicate,
      message: result.message[w.locale],
      messages: result.message,
      creditsLeft: result.creditsLeft,
      job: rec === undefined ? { jobId: result.jobId } : await viewOf(rec),
    };
  }

  function chatRequest(w: WebState, eventId: string, text: string, attachments: Attachment[]): ChatRequestInput {
    return {
      version: 1, platform: 'web', tenantId: WEB_TENANT, channelId: w.session.userId, userId: w.session.userId, eventId, text, attachments,
      locale: w.locale, replyTarget: { platform: 'web', sessionId: w.session.userId }, receivedAt: Date.now(),
    };
  }

  function collabContext(w: WebState, board: string, name: string, attachment?: Attachment): CollabContext {
    return {
      platform: 'web', tenantId: WEB_TENANT, channelId: board, userId: w.session.userId, userName: name === '' ? `web-${w.session.userId.slice(0, 6)}` : name,
      locale: w.locale, replyTarget: { platform: 'web', sessionId: w.session.userId }, ...(attachment === undefined ? {} : { attachment }),
    };
  }

  /**
   * The board as anyone holding its link may see it: display names, never the user keys behind them
   * (`author`, who pays, who voted); for the caller: `mine` and `voted` per shot, `youStarted`, and
   * their own share of the cost; while it renders, each shot's segment progress.
   */
  async function publicBoard(w: WebState, board: BoardView): Promise<Record<string, unknown>> {
    const { shots, charges, key, ...rest } = board;
    const me = w.userKey;
    const raw = await core.collab.board(key).catch(() => undefined);
    const segments = raw === undefined ? new Map<number, SegmentView>() : await segmentsOf(raw, shots);
    return {
      ...rest,
      shots: shots.map(({ author, ...shot }) => {
        const segment = segments.get(shot.n);
        return { ...shot, mine: author === me, voted: raw?.shots[shot.n - 1]?.voters.includes(me) ?? false, ...(segment === undefined ? {} : { segment }) };
      }),
      youStarted: raw?.starter === me,
      yourCost: charges.filter((c) => c.payer === me).reduce((sum, c) => sum + c.credits, 0),
    };
  }

  /**
   * A rendering board's per-shot progress (shot number → its segment's latest phase), from the
   * storyboards' event stream since the render began (one bounded read).
   */
  async function segmentsOf(raw: Board, shots: BoardView['shots']): Promise<Map<number, SegmentView>> {
    const out = new Map<number, SegmentView>();
    if (raw.state !== 'rendering' || raw.jobId === undefined) return out;
    const cut = shots.filter((s) => s.inCut).map((s) => s.n);
    const events: CollabEvent[] = await core.collab.events.read(`${Math.max(0, raw.lastActivityAt - 1)}-0`, SEGMENT_EVENTS_READ).catch(() => []);
    for (const e of events) {
      if (e.boardKey !== raw.key || e.jobId !== raw.jobId || e.type !== 'segment' || e.index === undefined || e.phase === undefined) continue;
      const n = cut[e.index];
      if (n === undefined || out.get(n)?.phase === 'done') continue;
      out.set(n, { phase: e.phase, ...(e.step === undefined ? {} : { step: e.step }), ...(e.totalSteps === undefined ? {} : { totalSteps: e.totalSteps }) });
    }
    return out;
  }

  async function collabBody(w: WebState, board: string, res: CollabReply, duplicate: boolean): Promise<Record<string, unknown>> {
    return {
      status: 'collab', duplicate, ok: res.ok, code: res.code, audience: res.audience, boardId: board, message: res.message[w.locale], messages: res.message,
      ...(res.board === undefined ? {} : { board: await publicBoard(w, res.board) }), ...(res.jobId === undefined ? {} : { jobId: res.jobId }),
    };
  }

  /**
   * A storyboard command typed in the box (`/video collab start …`, `/video add …`, `vote 2`, …) on
   * the board `board`: answered (200, or 422 for a refusal) and true; false when the text is no such
   * command. The same requestId again answers the first answer (a double click is one shot).
   */
  async function collabAnswer(ctx: Context, o: { text: string; requestId: string; board: string; name: string; attachment?: Attachment }): Promise<boolean> {
    const w = web(ctx);
    // Most texts are prompts: read without a round trip to Redis.
    if (parseCollabCommand(o.text).kind === 'none') return false;
    const key = `${config.keyPrefix}:web:collab:${w.session.userId}:${o.requestId}`;
    // Claimed first: two copies of one request at once run once (the second waits for the first's answer).
    const claimed = (await deps.redis.set(key, PENDING, 'EX', COLLAB_ANSWER_TTL_SECONDS, 'NX')) === 'OK';
    if (!claimed) {
      const prior = await waitForAnswer(key);
      if (prior === 'none') return false;
      if (prior === undefined) throw new WebError(409, 'in_progress');
      const body = JSON.parse(prior) as { ok: boolean };
      ctx.status = body.ok ? 200 : 422;
      ctx.body = { ...body, duplicate: true };
      return true;
    }
    let res: CollabReply | undefined;
    try {
      res = await core.collab.command(collabContext(w, o.board, o.name, o.attachment), o.text);
    } catch (err) {
      await deps.redis.del(key);
      throw err;
    }
    if (res === undefined) {
      // Not a storyboard command: the /video path (the core's idempotency) takes it, now and on a repeat.
      await deps.redis.set(key, 'none', 'EX', COLLAB_ANSWER_TTL_SECONDS);
      return false;
    }
    const body = await collabBody(w, o.board, res, false);
    await deps.redis.set(key, JSON.stringify(body), 'EX', COLLAB_ANSWER_TTL_SECONDS);
    if (res.ok) await sessions.touch(w.token, w.session);
    ctx.status = res.ok ? 200 : 422;
    ctx.body = body;
    return true;
  }

  async function waitForAnswer(key: string): Promise<string | undefined> {
    for (let i = 0; i < 50; i++) {
      const v = await deps.redis.get(key);
      if (v === null) return undefined;
      if (v !== PENDING) return v;
      await new Promise((r) => setTimeout(r, 100));
    }
    return undefined;
  }

  router.get(`${API_PREFIX}/boards/:id`, api, async (ctx) => {
    const w = web(ctx);
    const id = String((ctx as Context & { params?: Record<string, string> }).params?.id ?? '');
    if (!BOARD_ID.test(id)) throw new WebError(404, 'not_found');
    const res = await core.collab.show(collabContext(w, id, ''));
    ctx.body = { boardId: id, board: res.board === undefined ? null : await publicBoard(w, res.board) };
  });

  router.get(`${API_PREFIX}/me`, api, async (ctx) => {
    const w = web(ctx);
    const q = await core.quota.show(w.userKey);
    ctx.body = { userId: w.session.userId, locale: w.locale, maxImageBytes, credits: { available: q.available, daily: q.dailyCredits, active: q.active, maxConcurrent: q.maxConcurrent, tier: q.tier } };
  });

  router.get(`${API_PREFIX}/jobs`, api, async (ctx) => {
    const recs = await core.listJobs(web(ctx).userKey, HISTORY_LIMIT);
    ctx.body = { jobs: await Promise.all(recs.map((r) => viewOf(r))) };
  });

  router.post(`${API_PREFIX}/jobs`, api, async (ctx) => {
    const w = web(ctx);
    const form = await parseSubmitForm(ctx, { maxImageBytes, maxFieldBytes: 32 * 1024, fields: ['text', 'requestId', 'board', 'name'] });
    const requestId = RequestIdSchema.safeParse(form.fields.requestId);
    if (!requestId.success) throw new WebError(400, 'bad_request');
    const text = (form.fields.text ?? '').trim();
    if (text.length > 8000) throw new WebError(400, 'bad_request');
    if (text === '') throw new WebError(400, 'empty_command');
    const board = form.fields.board === undefined || form.fields.board === '' ? w.session.userId : form.fields.board;
    if (!BOARD_ID.test(board)) throw new WebError(400, 'bad_request');
    const name = Array.from((form.fields.name ?? '').replace(/\s+/g, ' ').trim()).slice(0, MAX_NAME_CHARS).join('');
    const attachments: Attachment[] = [];
    if (form.image !== undefined) {
      const img = form.image;
      const hash = createHash('sha256').update(img.bytes).digest('hex').slice(0, 24);
      const key = `uploads/web-${w.session.userId}-${hash}`;
      await store.put(key, img.bytes, img.contentType);
      attachments.push({ kind: 'image', storageRef: key, contentType: img.contentType, size: img.bytes.length, name: img.name.slice(0, 256) });
    }
    if (await collabAnswer(ctx, { text, requestId: requestId.data, board, name, ...(attachments[0] === undefined ? {} : { attachment: attachments[0] }) })) return;
    await submitAndAnswer(ctx, chatRequest(w, `web:${w.session.userId}:${requestId.data}`, text, attachments));
  });

  router.get(`${API_PREFIX}/jobs/:id`, api, async (ctx) => {
    ctx.body = await viewOf(await ownJob(ctx));
  });

  async function actionBody(ctx: Context): Promise<string> {
    if (!ctx.is('application/json')) throw new WebError(415, 'bad_request');
    const raw = await readRawBody(ctx, 4096);
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new WebError(400, 'bad_request');
    }
    const body = ActionBodySchema.safeParse(parsed);
    if (!body.success) throw new WebError(400, 'bad_request');
    return body.data.requestId;
  }

  router.post(`${API_PREFIX}/jobs/:id/cancel`, api, async (ctx) => {
    const w = web(ctx);
    const rec = await ownJob(ctx);
    const res = await core.cancel(rec.jobId, { userKey: w.userKey, isAdmin: false });
    ctx.status = res.status === 'cancelled' || res.status === 'cancel_requested' ? 200 : 409;
    ctx.body = { status: res.status, message: res.message[w.locale], messages: res.message };
  });

  for (const action of ['reroll', 'upscale'] as const) {
    router.post(`${API_PREFIX}/jobs/:id/${action}`, api, async (ctx) => {
      const w = web(ctx);
      const rec = await ownJob(ctx);
      const requestId = await actionBody(ctx);
      const spec = rec.spec;
      const text = action === 'reroll' ? commandTextOf(spec, seedOf(`${rec.jobId}|${requestId}`), spec.mode) : commandTextOf(spec, spec.seed, 'final');
      const attachments: Attachment[] = spec.referenceImage === undefined ? [] : [{ kind: 'image', storageRef: spec.referenceImage.ref }];
      await submitAndAnswer(ctx, chatRequest(w, `web:${w.session.userId}:${action}:${rec.jobId}:${requestId}`, text, attachments));
    });
  }

  /** A blob of the caller's job, streamed with Range support. */
  async function sendBlob(ctx: Context, key: string, type: string): Promise<void> {
    let sent: 'sent' | 'unsatisfiable';
    try {
      sent = await sendStoredBlob(ctx, store, key, { contentType: type, cacheControl: 'private, no-cache' });
    } catch (err) {
      if (err instanceof BlobStoreError && err.code === 'not_found') throw new WebError(404, 'not_found');
      throw err;
    }
    if (sent === 'unsatisfiable') {
      ctx.status = 416;
      ctx.body = { error: 'range_not_satisfiable' };
    }
  }

  router.get(`${API_PREFIX}/jobs/:id/video`, api, async (ctx) => {
    const rec = await ownJob(ctx);
    if (rec.state !== 'succeeded' || rec.result === undefined) throw new WebError(404, 'not_found');
    if (ctx.query.download === '1') ctx.attachment(`framecast-${rec.jobId}.mp4`);
    await sendBlob(ctx, rec.result.videoRef, 'video/mp4');
  });

  router.get(`${API_PREFIX}/jobs/:id/poster`, api, async (ctx) => {
    const rec = await ownJob(ctx);
    if (rec.state !== 'succeeded' || rec.result?.posterRef === undefined) throw new WebError(404, 'not_found');
    await sendBlob(ctx, rec.result.posterRef, 'image/jpeg');
  });

  router.get(`${API_PREFIX}/jobs/:id/preview`, api, async (ctx) => {
    const rec = await ownJob(ctx);
    // A latent preview, only while the job renders or once it may be shown (never for a held or refused video).
    if (rec.state !== 'active' && rec.state !== 'succeeded') throw new WebError(404, 'not_found');
    await sendBlob(ctx, `previews/${rec.jobId}.jpg`, 'image/jpeg');
  });

  router.get(`${API_PREFIX}/jobs/:id/events`, api, async (ctx) => {
    const w = web(ctx);
    const rec = await ownJob(ctx);
    const open = streams.get(w.session.userId) ?? 0;
    if (open >= MAX_STREAMS_PER_SESSION) {
      ctx.status = 429;
      ctx.body = { error: 'too_many_streams', requestId: httpState(ctx).requestId };
      return;
    }
    streams.set(w.session.userId, open + 1);
    const out = new PassThrough();
    let ended = false;
    let unsubscribe: (() => void) | undefined;
    const heartbeat = setInterval(() => out.write(': ping\n\n'), HEARTBEAT_MS);
    heartbeat.unref();
    const finish = (): void => {
      if (ended) return;
      ended = true;
      clearInterval(heartbeat);
      unsubscribe?.();
      const n = (streams.get(w.session.userId) ?? 1) - 1;
      if (n <= 0) streams.delete(w.session.userId);
      else streams.set(w.session.userId, n);
      out.end();
    };
    const send = (event: string, data: unknown): void => {
      if (!ended) out.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    ctx.res.on('close', finish);
    out.on('error', finish);
    ctx.status = 200;
    ctx.type = 'text/event-stream; charset=utf-8';
    ctx.set('Cache-Control', 'no-cache, no-transform');
    ctx.set('X-Accel-Buffering', 'no');
    ctx.body = out;
    out.write('retry: 3000\n\n');
    send('job', await viewOf(rec));
    // A finished job's story is its record (the feed may have been trimmed): nothing to follow.
    if (FINAL_STATES.has(rec.state)) {
      setImmediate(finish);
      return;
    }
    const onEvent = async (e: ProgressEvent): Promise<void> => {
      send('progress', progressView(e));
      if (isTerminalEvent(e) || e.type === 'review' || e.type === 'ready') {
        const now = await core.job(rec.jobId).catch(() => undefined);
        if (now !== undefined) send('job', await viewOf(now));
      }
      if (isTerminalEvent(e)) setImmediate(finish);
    };
    try {
      unsubscribe = await core.progress.subscribe(rec.jobId, onEvent, { replay: true, minStepIntervalMs: 250 });
    } catch (err) {
      log.warn({ err, jobId: rec.jobId }, 'progress subscription failed');
      finish();
      return;
    }
    if (ended) unsubscribe();
  });

  return router;
}

/** A progress event as the page reads it: no user key; a step's preview as a URL of this API. */
export function progressView(e: ProgressEvent): Record<string, unknown> {
  const { userKey: _u, platform: _p, ...rest } = e;
  if (e.type === 'step') {
    const { previewRef: _r, ...step } = rest as typeof rest & { previewRef?: string };
    return e.previewRef === undefined ? step : { ...step, previewUrl: `${API_PREFIX}/jobs/${encodeURIComponent(e.jobId)}/preview?step=${e.step}` };
  }
  return rest;
}
