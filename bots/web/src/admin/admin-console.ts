import { Router } from '@koa/router';
import {
  BlobStoreError, type BlobStore, type Core, type JobState, JOB_STATES, type Locale, parseScanReport, PLATFORMS, SCAN_REPORT_MAX_FRAMES, scanReportKey, type ScanReport,
} from '@framecast/core';
import { readRawBody, sendBlob } from '@framecast/http-server';
import type { Redis } from 'ioredis';
import type { Context, Middleware } from 'koa';
import { pino, type Logger } from 'pino';
import { z } from 'zod';
import { at, type AdminTextId } from './admin-messages.ts';
import { html, page, type PageContext } from './admin-html.ts';
import {
  auditTable, figuresBlock, jobBody, jobsBody, loginBody, moderationBody, queuesBody, reviewBody, usersBody, wechatBlock,
} from './admin-pages.ts';
import {
  ADMIN_LOGIN_COOKIE, ADMIN_SESSION_COOKIE, ADMIN_SESSION_TTL_SECONDS, AdminSessions, constantTimeEqual, DEFAULT_LOGIN_LIMIT, isToken,
  LOGIN_FORM_TTL_SECONDS, LoginLimiter, newToken, type AdminSession, type LoginLimit,
} from './admin-session.ts';
import { AuditLog } from './audit-log.ts';
import { keywordListsVersion, type KeywordListsControl } from './keyword-lists.ts';
import { createQueueBoard, QUEUE_BOARD_PATH, queueFigures, type QueueBoard } from './queue-board.ts';
import { qrSvgDataUrl, readWeChatLogin } from './wechat-login.ts';

export interface AdminConsoleOptions {
  core: Core;
  /** For sessions, the audit log, the login limiter and the WeChat bot's login state. */
  redis: Redis;
  /** Where the held videos are read from (the worker's blob store). */
  store: Pick<BlobStore, 'stream' | 'size'>;
  /** Default: the config's FRAMECAST_ADMIN_PASSWORD (required one way or the other). */
  password?: string;
  /** Secure cookies; default: when FRAMECAST_PUBLIC_URL is https. */
  secureCookies?: boolean;
  /** The /metrics text, shown on the queues page. */
  metrics?: { metrics(): Promise<string> };
  /** The keyword filter this process moderates with (version, reload). */
  keywords?: KeywordListsControl;
  loginLimit?: LoginLimit;
  logger?: Logger;
}

export interface AdminConsole {
  /** Serves /admin and everything under it; passes anything else on. Mount it on the HTTP server. */
  readonly middleware: Middleware;
  close(): Promise<void>;
}

type AdminState = { admin?: AdminSession; locale: Locale };

const LANG_COOKIE = 'fc_admin_lang';
const NOTICES = new Set<AdminTextId>(['notice_done', 'notice_failed', 'notice_retry_queued', 'notice_retry_none', 'notice_granted', 'notice_blocked', 'notice_unblocked', 'notice_reloaded', 'notice_reload_failed']);
const USER_KEY = z.string().trim().min(3).max(300).regex(new RegExp(`^(${PLATFORMS.join('|')}):\\S{1,256}$`));
const JOB_ID = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);
const BACK = z.string().max(600).regex(/^\/admin(\/[A-Za-z0-9_-]*)*(\?[A-Za-z0-9_=&%.:-]*)?$/);
const FORM_MAX_BYTES = 16 * 1024;

/** The console's pages: no framing, no scripts, styles inline, media only from here. */
const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; media-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

function cookie(name: string, value: string, o: { maxAge: number; secure: boolean }): string {
  return `${name}=${value}; Path=/admin; Max-Age=${o.maxAge}; HttpOnly; SameSite=Strict${o.secure ? '; Secure' : ''}`;
}

function localeOf(ctx: Context): Locale {
  const q = ctx.query.lang;
  if (q === 'en' || q === 'zh-CN') return q;
  const c = ctx.cookies.get(LANG_COOKIE);
  if (c === 'en' || c === 'zh-CN') return c;
  const accept = ctx.get('Accept-Language').toLowerCase();
  return accept.startsWith('zh') ? 'zh-CN' : 'en';
}

/** A blob read whole, refused past maxBytes (a report or a thumbnail is small). */
async function readBlob(store: Pick<BlobStore, 'stream'>, key: string, maxBytes: number): Promise<Buffer> {
  const s = await store.stream(key);
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const c of s) {
    const b = Buffer.isBuffer(c) ? c : Buffer.from(c as Uint8Array);
    bytes += b.length;
    if (bytes > maxBytes) {
      s.destroy();
      throw new Error(`${key} is larger than ${maxBytes} bytes`);
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

function one(v: string | string[] | undefined): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/**
 * The admin console at /admin: a password login (rate-limited per address, compared in constant
 * time), a session cookie (random, in Redis, HttpOnly, SameSite=Strict, Secure behind https), a
 * CSRF token in every form, server-rendered pages in zh-CN and en. Every action goes through the
 * core (review, cancel, redeliver, grant, block, reload) and into the audit log.
 */
export function createAdminConsole(o: AdminConsoleOptions): AdminConsole {
  const { core, redis } = o;
  const config = core.config;
  const password = o.password ?? config.env.FRAMECAST_ADMIN_PASSWORD;
  if (password === undefined || password.length < 12) throw new Error('the admin console needs FRAMECAST_ADMIN_PASSWORD (at least 12 characters)');
  const publicUrl = config.env.FRAMECAST_PUBLIC_URL;
  const secure = o.secureCookies ?? (publicUrl !== undefined && new URL(publicUrl).protocol === 'https:');
  const logger = (o.logger ?? pino({ level: 'silent' })).child({ component: 'admin' });
  const sessions = new AdminSessions(redis, config.keyPrefix);
  const limiter = new LoginLimiter(redis, config.keyPrefix, o.loginLimit ?? DEFAULT_LOGIN_LIMIT);
  const audit = new AuditLog(redis, config.keyPrefix);
  const board: QueueBoard = createQueueBoard(core);

  const state = (ctx: Context): AdminState => ctx.state as AdminState;

  const pageCtx = (ctx: Context): PageContext => {
    const s = state(ctx);
    const noticeId = one(ctx.query.notice) as AdminTextId | undefined;
    const outcome = one(ctx.query.outcome);
    const notice = noticeId !== undefined && NOTICES.has(noticeId)
      ? { kind: noticeId === 'notice_failed' || noticeId === 'notice_retry_none' || noticeId === 'notice_reload_failed' ? ('error' as const) : ('ok' as const), text: at(noticeId, s.locale, { outcome: outcome !== undefined && /^[a-z_]{1,40}$/.test(outcome) ? outcome : '?' }) }
      : undefined;
    return {
      locale: s.locale, path: ctx.path,
      ...(s.admin === undefined ? {} : { csrf: s.admin.csrf, who: s.admin.who }),
      ...(notice === undefined ? {} : { notice }),
    };
  };

  const send = (ctx: Context, status: number, body: string): void => {
    ctx.status = status;
    ctx.type = 'text/html; charset=utf-8';
    ctx.set('Content-Security-Policy', CSP);
    ctx.body = body;
  };

  const refuse = (ctx: Context, status: number, id: AdminTextId): void => {
    const pc = pageCtx(ctx);
    send(ctx, status, page({ ...pc, notice: { kind: 'error', text: at(id, pc.locale) } }, 'title', html`<p><a href="/admin">${at('nav_overview', pc.locale)}</a></p>`));
  };

  const readForm = async (ctx: Context): Promise<URLSearchParams> => {
    const type = ctx.get('Content-Type').split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/x-www-form-urlencoded') return new URLSearchParams();
    return new URLSearchParams((await readRawBody(ctx, FORM_MAX_BYTES)).toString('utf8'));
  };

  const write = (ctx: Context, action: string, target: string, outcome: string, detail = ''): Promise<void> =>
    audit.write({ who: state(ctx).admin?.who ?? '-', ip: ctx.ip, action, target, outcome, detail }).catch((err: unknown) => {
      logger.error({ err, action }, 'audit log not written');
    });

  const redirectBack = (ctx: Context, form: URLSearchParams, fallback: string, notice: AdminTextId, outcome?: string): void => {
    const back = BACK.safeParse(form.get('back') ?? '');
    const base = back.success ? back.data : fallback;
    const sep = base.includes('?') ? '&' : '?';
    ctx.status = 303;
    ctx.redirect(`${base}${sep}notice=${notice}${outcome === undefined ? '' : `&outcome=${encodeURIComponent(outcome)}`}`);
  };

  const router = new Router({ prefix: '/admin' });

  // --- sign-in -------------------------------------------------------------------------------
  router.get('/login', async (ctx) => {
    if (state(ctx).admin !== undefined) return ctx.redirect('/admin');
    const token = newToken();
    ctx.append('Set-Cookie', cookie(ADMIN_LOGIN_COOKIE, token, { maxAge: LOGIN_FORM_TTL_SECONDS, secure }));
    send(ctx, 200, page({ locale: state(ctx).locale, path: ctx.path, csrf: token }, 'login_title', loginBody({ locale: state(ctx).locale, path: ctx.path, csrf: token }, {})));
  });

  router.post('/login', async (ctx) => {
    const l = state(ctx).locale;
    const form = await readForm(ctx);
    const fresh = newToken();
    const again = (status: number, error: string): void => {
      ctx.append('Set-Cookie', cookie(ADMIN_LOGIN_COOKIE, fresh, { maxAge: LOGIN_FORM_TTL_SECONDS, secure }));
      send(ctx, status, page({ locale: l, path: '/admin/login', csrf: fresh }, 'login_title', loginBody({ locale: l, path: '/admin/login', csrf: fresh }, { error })));
    };
    const formToken = form.get('_csrf') ?? '';
    const cookieToken = ctx.cookies.get(ADMIN_LOGIN_COOKIE);
    if (!isToken(cookieToken) || !constantTimeEqual(formToken, cookieToken)) {
      await write(ctx, 'login.csrf', '-', 'refused');
      return again(403, at('forbidden_csrf', l));
    }
    const limited = await limiter.hit(ctx.ip);
    if (!limited.ok) {
      await write(ctx, 'login.limited', '-', 'refused');
      ctx.set('Retry-After', String(limited.retryAfterSeconds));
      return again(429, at('login_limited', l, { minutes: Math.ceil(limited.retryAfterSeconds / 60) }));
    }
    const who = z.string().trim().min(1).max(64).regex(/^[\p{L}\p{N} ._@-]+$/u).safeParse(form.get('who') ?? 'admin');
    const ok = constantTimeEqual(form.get('password') ?? '', password);
    if (!ok || !who.success) {
      await audit.write({ who: who.success ? who.data : '-', ip: ctx.ip, action: 'login.failed', target: '-', outcome: 'refused', detail: '' }).catch(() => undefined);
      logger.warn({ ip: ctx.ip }, 'admin sign-in refused');
      return again(401, at('login_failed', l));
    }
    const { token, session } = await sessions.create(who.data, ctx.ip);
    state(ctx).admin = session;
    ctx.append('Set-Cookie', cookie(ADMIN_SESSION_COOKIE, token, { maxAge: ADMIN_SESSION_TTL_SECONDS, secure }));
    ctx.append('Set-Cookie', cookie(ADMIN_LOGIN_COOKIE, '', { maxAge: 0, secure }));
    await write(ctx, 'login', '-', 'ok');
    logger.info({ who: session.who }, 'admin signed in');
    ctx.status = 303;
    ctx.redirect('/admin');
  });

  router.post('/logout', async (ctx) => {
    await write(ctx, 'logout', '-', 'ok');
    await sessions.destroy(ctx.cookies.get(ADMIN_SESSION_COOKIE));
    ctx.append('Set-Cookie', cookie(ADMIN_SESSION_COOKIE, '', { maxAge: 0, secure }));
    ctx.status = 303;
    ctx.redirect('/admin/login');
  });

  // --- pages ---------------------------------------------------------------------------------
  const heldJobs = async (limit = 50) => (await core.admin.searchJobs({ state: 'review', limit })).jobs;

  router.get('/', async (ctx) => {
    const pc = pageCtx(ctx);
    const [figures, held, wechat, entries] = await Promise.all([queueFigures(core, board.generate), heldJobs(200), readWeChatLogin(redis, config.keyPrefix), audit.recent(10)]);
    const qr = wechat?.status === 'scan' && wechat.qrcode !== undefined ? await qrSvgDataUrl(wechat.qrcode) : undefined;
    send(ctx, 200, page(pc, 'nav_overview', html`${figuresBlock(pc, figures, held.length)}
<h2><a href="/admin/review">${at('nav_review', pc.locale)}</a></h2><p>${held.length === 0 ? at('review_empty', pc.locale) : at('review_held_count', pc.locale, { count: held.length })}</p>
<h2>${at('wechat_status', pc.locale)}</h2>${wechatBlock(pc, wechat, qr)}
<h2><a href="/admin/audit">${at('nav_audit', pc.locale)}</a></h2>${auditTable(pc, entries)}`));
  });

  /** The worker's output scan report beside a held video; undefined when there is none (or it is not a valid one). */
  const scanReport = async (jobId: string): Promise<ScanReport | undefined> => {
    const buf = await readBlob(o.store, scanReportKey(jobId), 256 * 1024).catch((err: unknown) => {
      if (!(err instanceof BlobStoreError && err.code === 'not_found')) logger.warn({ err, jobId }, 'could not read a scan report');
      return undefined;
    });
    const report = buf === undefined ? undefined : parseScanReport(buf.toString('utf8'));
    return report?.jobId === jobId ? report : undefined;
  };

  router.get('/review', async (ctx) => {
    const pc = pageCtx(ctx);
    const held = await heldJobs();
    const reports = new Map<string, ScanReport>();
    await Promise.all(held.map(async (rec) => {
      const r = await scanReport(rec.jobId);
      if (r !== undefined) reports.set(rec.jobId, r);
    }));
    send(ctx, 200, page(pc, 'nav_review', reviewBody(pc, held, reports)));
  });

  router.get('/jobs', async (ctx) => {
    const pc = pageCtx(ctx);
    const user = USER_KEY.safeParse(one(ctx.query.user) ?? '');
    const st = z.enum(JOB_STATES).safeParse(one(ctx.query.state));
    const pf = z.enum(PLATFORMS).safeParse(one(ctx.query.platform));
    const q = { ...(user.success ? { userKey: user.data } : {}), ...(st.success ? { state: st.data as JobState } : {}), ...(pf.success ? { platform: pf.data } : {}), limit: 100 };
    const res = await core.admin.searchJobs(q);
    const back = ctx.querystring === '' ? '/admin/jobs' : `/admin/jobs?${new URLSearchParams({ ...(q.userKey === undefined ? {} : { user: q.userKey }), ...(q.state === undefined ? {} : { state: q.state }), ...(q.platform === undefined ? {} : { platform: q.platform }) }).toString()}`;
    send(ctx, 200, page(pc, 'nav_jobs', jobsBody(pc, { ...(q.userKey === undefined ? {} : { user: q.userKey }), ...(q.state === undefined ? {} : { state: q.state }), ...(q.platform === undefined ? {} : { platform: q.platform }) }, res.jobs, res.scanned, res.truncated, back)));
  });

  router.get('/jobs/:jobId', async (ctx) => {
    const pc = pageCtx(ctx);
    const id = JOB_ID.safeParse(ctx.params.jobId);
    const rec = id.success ? await core.job(id.data) : undefined;
    if (rec === undefined) return send(ctx, 404, page(pc, 'job', html`<p>${at('job_not_found', pc.locale)}</p>`));
    const [delivery, deliveryState, report] = await Promise.all([
      core.deliveries.record(rec.jobId), core.deliveries.state(rec.jobId), rec.result === undefined ? undefined : scanReport(rec.jobId),
    ]);
    send(ctx, 200, page(pc, 'job', jobBody(pc, rec, delivery, deliveryState, report)));
  });

  // A frame of the output scan's report (the thumbnail the worker stored beside the video).
  router.get('/media/:jobId/scan/:n', async (ctx) => {
    const id = JOB_ID.safeParse(ctx.params.jobId);
    const n = z.coerce.number().int().min(0).max(SCAN_REPORT_MAX_FRAMES - 1).safeParse(/^\d{1,2}$/.test(ctx.params.n ?? '') ? ctx.params.n : 'x');
    const report = id.success && n.success ? await scanReport(id.data) : undefined;
    const key = report?.frames.find((f) => f.index === n.data)?.key;
    const buf = key === undefined ? undefined : await readBlob(o.store, key, 2 * 1024 * 1024).catch((err: unknown) => {
      if (err instanceof BlobStoreError && err.code === 'not_found') return undefined;
      throw err;
    });
    if (buf === undefined) {
      ctx.status = 404;
      ctx.body = 'not found';
      return;
    }
    ctx.set('Cache-Control', 'private, no-store');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.type = 'image/jpeg';
    ctx.body = buf;
  });

  router.get('/media/:jobId/:kind', async (ctx) => {
    const id = JOB_ID.safeParse(ctx.params.jobId);
    const kind = ctx.params.kind;
    const rec = id.success ? await core.job(id.data) : undefined;
    const key = kind === 'video' ? rec?.result?.videoRef : kind === 'poster' ? rec?.result?.posterRef : undefined;
    if (key === undefined) {
      ctx.status = 404;
      ctx.body = 'not found';
      return;
    }
    let sent: 'sent' | 'unsatisfiable';
    try {
      sent = await sendBlob(ctx, o.store, key, { contentType: kind === 'video' ? 'video/mp4' : 'image/jpeg', cacheControl: 'private, no-store' });
    } catch (err) {
      if (err instanceof BlobStoreError && err.code === 'not_found') {
        ctx.status = 404;
        ctx.body = 'not found';
        return;
      }
      throw err;
    }
    if (sent === 'unsatisfiable') ctx.status = 416;
  });

  router.get('/users', async (ctx) => {
    const pc = pageCtx(ctx);
    const user = USER_KEY.safeParse(one(ctx.query.user) ?? '');
    const found = user.success
      ? await Promise.all([core.quota.show(user.data), core.admin.blocks.get(user.data), core.listJobs(user.data, 20)]).then(([quota, block, jobs]) => ({ quota, block, jobs }))
      : undefined;
    const blocks = await core.admin.blocks.list();
    send(ctx, 200, page(pc, 'nav_users', usersBody(pc, user.success ? { user: user.data } : {}, found, blocks.slice(0, 200), config.tiers)));
  });

  const listsInfo = async (): Promise<{ dir: string; version: string; files: number; entries: number; failed: boolean } | undefined> => {
    const k = o.keywords;
    if (k === undefined) return undefined;
    const v = await keywordListsVersion(k.dir).catch(() => ({ version: '?', files: 0 }));
    return { dir: k.dir, version: v.version, files: v.files, entries: k.entries(), failed: k.lastError() !== undefined };
  };

  router.get('/moderation', async (ctx) => {
    const pc = pageCtx(ctx);
    const [refusals, lists] = await Promise.all([core.admin.recentRefusals(100), listsInfo()]);
    send(ctx, 200, page(pc, 'nav_moderation', moderationBody(pc, refusals, lists)));
  });

  router.get('/queues-stats', async (ctx) => {
    const pc = pageCtx(ctx);
    const [figures, held, text] = await Promise.all([
      queueFigures(core, board.generate), heldJobs(200),
      o.metrics === undefined ? Promise.resolve(undefined) : o.metrics.metrics().then((t) => t.split('\n').filter((line) => line.startsWith('framecast_') || line.startsWith('# HELP framecast_')).join('\n')),
    ]);
    send(ctx, 200, page(pc, 'nav_queues', queuesBody(pc, figures, held.length, text)));
  });

  router.get('/wechat', async (ctx) => {
    const pc = pageCtx(ctx);
    const wechat = await readWeChatLogin(redis, config.keyPrefix);
    const qr = wechat?.status === 'scan' && wechat.qrcode !== undefined ? await qrSvgDataUrl(wechat.qrcode) : undefined;
    send(ctx, 200, page(pc, 'nav_wechat', wechatBlock(pc, wechat, qr)));
  });

  router.get('/audit', async (ctx) => {
    const pc = pageCtx(ctx);
    send(ctx, 200, page(pc, 'nav_audit', auditTable(pc, await audit.recent(200))));
  });

  // --- actions (POST, CSRF-checked before they run) ------------------------------------------
  const adminActor = (ctx: Context) => ({ userKey: `admin:${state(ctx).admin?.who ?? '-'}`, isAdmin: true });

  router.post('/jobs/:jobId/review', async (ctx) => {
    const form = ctx.state.form as URLSearchParams;
    const id = JOB_ID.safeParse(ctx.params.jobId);
    const decision = z.enum(['approve', 'reject']).safeParse(form.get('decision'));
    if (!id.success || !decision.success) return refuse(ctx, 400, 'bad_input');
    const res = await core.review(id.data, adminActor(ctx), decision.data);
    await write(ctx, `review.${decision.data}`, id.data, res.status);
    redirectBack(ctx, form, '/admin/review', res.status === 'approved' || res.status === 'rejected' ? 'notice_done' : 'notice_failed', res.status);
  });

  router.post('/jobs/:jobId/cancel', async (ctx) => {
    const form = ctx.state.form as URLSearchParams;
    const id = JOB_ID.safeParse(ctx.params.jobId);
    if (!id.success) return refuse(ctx, 400, 'bad_input');
    const res = await core.cancel(id.data, adminActor(ctx));
    await write(ctx, 'job.cancel', id.data, res.status);
    redirectBack(ctx, form, `/admin/jobs/${id.data}`, res.status === 'cancelled' || res.status === 'cancel_requested' ? 'notice_done' : 'notice_failed', res.status);
  });

  router.post('/jobs/:jobId/retry-delivery', async (ctx) => {
    const form = ctx.state.form as URLSearchParams;
    const id = JOB_ID.safeParse(ctx.params.jobId);
    if (!id.success) return refuse(ctx, 400, 'bad_input');
    const ok = await core.deliveries.retry(id.data);
    await write(ctx, 'delivery.retry', id.data, ok ? 'requeued' : 'not_undeliverable');
    redirectBack(ctx, form, `/admin/jobs/${id.data}`, ok ? 'notice_retry_queued' : 'notice_retry_none');
  });

  router.post('/users/grant', async (ctx) => {
    const form = ctx.state.form as URLSearchParams;
    const user = USER_KEY.safeParse(form.get('user'));
    const credits = z.coerce.number().int().min(1).max(1_000_000).safeParse(form.get('credits'));
    if (!user.success || !credits.success) return refuse(ctx, 400, 'bad_input');
    const bonus = await core.quota.grant(user.data, credits.data);
    await write(ctx, 'quota.grant', user.data, 'ok', `+${credits.data} (bonus ${bonus})`);
    redirectBack(ctx, form, `/admin/users?user=${encodeURIComponent(user.data)}`, 'notice_granted');
  });

  router.post('/users/block', async (ctx) => {
    const form = ctx.state.form as URLSearchParams;
    const user = USER_KEY.safeParse(form.get('user'));
    const reason = z.string().max(500).safeParse(form.get('reason') ?? '');
    if (!user.success || !reason.success) return refuse(ctx, 400, 'bad_input');
    const changed = await core.admin.blocks.block(user.data, state(ctx).admin?.who ?? '-', reason.data);
    await write(ctx, 'user.block', user.data, changed ? 'ok' : 'already_blocked', reason.data.slice(0, 200));
    redirectBack(ctx, form, `/admin/users?user=${encodeURIComponent(user.data)}`, 'notice_blocked');
  });

  router.post('/users/unblock', async (ctx) => {
    const form = ctx.state.form as URLSearchParams;
    const user = USER_KEY.safeParse(form.get('user'));
    if (!user.success) return refuse(ctx, 400, 'bad_input');
    const changed = await core.admin.blocks.unblock(user.data);
    await write(ctx, 'user.unblock', user.data, changed ? 'ok' : 'not_blocked');
    redirectBack(ctx, form, `/admin/users?user=${encodeURIComponent(user.data)}`, 'notice_unblocked');
  });

  router.post('/moderation/reload', async (ctx) => {
    const form = ctx.state.form as URLSearchParams;
    if (o.keywords === undefined) {
      await write(ctx, 'keywords.reload', 'keyword-lists', 'unavailable');
      return redirectBack(ctx, form, '/admin/moderation', 'notice_reload_failed');
    }
    try {
      await o.keywords.reload();
      const v = await keywordListsVersion(o.keywords.dir).catch(() => ({ version: '?' }));
      await write(ctx, 'keywords.reload', 'keyword-lists', 'ok', `version ${v.version}, ${o.keywords.entries()} entries`);
      redirectBack(ctx, form, '/admin/moderation', 'notice_reloaded');
    } catch (err) {
      logger.error({ err }, 'keyword lists not reloaded from the admin console');
      await write(ctx, 'keywords.reload', 'keyword-lists', 'failed');
      redirectBack(ctx, form, '/admin/moderation', 'notice_reload_failed');
    }
  });

  const routes = router.routes() as Middleware;

  const middleware: Middleware = async (ctx, next) => {
    if (ctx.path !== '/admin' && !ctx.path.startsWith('/admin/')) return next();
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Cache-Control', 'no-store');
    const s = state(ctx);
    s.locale = localeOf(ctx);
    if (one(ctx.query.lang) !== undefined) ctx.append('Set-Cookie', `${LANG_COOKIE}=${s.locale}; Path=/admin; Max-Age=31536000; SameSite=Strict${secure ? '; Secure' : ''}`);
    const session = await sessions.get(ctx.cookies.get(ADMIN_SESSION_COOKIE));
    if (session !== undefined) s.admin = session;
    const isLogin = ctx.path === '/admin/login';
    const safe = ctx.method === 'GET' || ctx.method === 'HEAD';
    if (!isLogin && session === undefined) {
      if (safe) {
        ctx.status = 303;
        return ctx.redirect('/admin/login');
      }
      return refuse(ctx, 403, 'forbidden_csrf');
    }
    if (ctx.path === QUEUE_BOARD_PATH || ctx.path.startsWith(`${QUEUE_BOARD_PATH}/`)) {
      // bull-board is read-only here; its API calls come from its own page, never from another site.
      if (!safe && ctx.get('Sec-Fetch-Site') !== 'same-origin') return refuse(ctx, 403, 'forbidden_csrf');
      return board.middleware(ctx, next);
    }
    if (!safe && !isLogin && session !== undefined) {
      const form = await readForm(ctx);
      const token = form.get('_csrf') ?? '';
      if (!constantTimeEqual(token, session.csrf)) {
        await write(ctx, 'csrf.refused', ctx.path.slice(0, 200), 'refused');
        return refuse(ctx, 403, 'forbidden_csrf');
      }
      ctx.state.form = form;
    }
    await routes(ctx, async () => {
      const pc = pageCtx(ctx);
      send(ctx, 404, page(pc, 'title', html`<p>${at('page_not_found', pc.locale)}</p><p><a href="/admin">${at('nav_overview', pc.locale)}</a></p>`));
    });
  };

  return {
    middleware,
    close: () => board.close(),
  };
}
