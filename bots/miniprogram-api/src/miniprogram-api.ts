import { randomUUID } from 'node:crypto';
import {
  mediaSecret,
  type BlobStore, type ConsumeOptions, type ContentModerator, type Core, type DeliveryConsumer, type DeliveryHandler,
  type DeliveryJobData, type FramecastConfig, type IntakeResult, type JobRecord, type Locale, type ProgressEvent,
} from '@framecast/core';
import {
  collectMediaChecks, createKeywordModerator, createProductKeywordFilter, parseWeChatPushBody, verifyWeChatPushSignature, WECHAT_PUSH_MAX_BYTES,
  WeChatApiError, WeChatMsgSecCheckModerator, WeChatPushParseError,
} from '@framecast/content-safety';
import { readRawBody } from '@framecast/http-server';
import { Router } from '@koa/router';
import { Redis, type RedisOptions } from 'ioredis';
import type { Context, Middleware, Next } from 'koa';
import type { Logger } from 'pino';
import { z } from 'zod';
import { mountBoardRoutes, MpNicknames } from './mp-boards.ts';
import { MpGallery, GALLERY_PAGE_MAX, type GalleryItem } from './mp-gallery.ts';
import { CreateJobBodySchema, MP_API_PREFIX, commandTextOf, jobView, mpStateOf, type MpJobView } from './mp-jobs.ts';
import { MediaSigner, serveBlob, type MediaKind } from './mp-media.ts';
import { MpError, mpErrors, mpState } from './mp-error.ts';
import { jsonBody, openEventStream, paramOf, parseWith } from './mp-http.ts';
import { mt, mtAll } from './mp-messages.ts';
import { DEFAULT_RATE_LIMITS, MpRateLimiter, type RateLimits } from './mp-rate-limit.ts';
import { MpSessions, tokenTag, userTag } from './mp-sessions.ts';
import { MpMediaChecks, outputScanAllows } from './mp-media-checks.ts';
import { MP_UPLOAD_MAX_BYTES, MP_UPLOAD_PATH, MULTIPART_ALLOWANCE_BYTES, MpUploads, readMultipartFile } from './mp-uploads.ts';
import { LoginError, WeChatMpClient, type SubscribeMessage } from './wechat-mp-client.ts';

export interface MiniProgramApiOptions {
  core: Core;
  store: BlobStore;
  logger: Logger;
  config: FramecastConfig;
  /**
   * The one HTTP server: the routes are mounted on it, and POST /api/mp/uploads is given its upload
   * limit (`acceptUploads`, FRAMECAST_UPLOAD_LIMIT). Without it, mount `api.middleware` yourself.
   */
  http?: { mount(...routes: Middleware[]): void; acceptUploads?(...paths: RegExp[]): void; readonly uploadLimit?: number };
  /** Sessions, rate limits, uploads and the gallery; default: a new connection to the core's Redis. */
  redis?: Redis;
  /** Passed to core.deliveries.consume('miniprogram', …). */
  consume?: ConsumeOptions;
  rateLimits?: Partial<RateLimits>;
  /** Checks gallery captions; default: the product's keyword lists, then WeChat's msgSecCheck when FRAMECAST_WECHAT_CHECKS is on. */
  textModerator?: ContentModerator;
  /** Lifetime of signed video/poster links (GET …/media, the gallery); default 600 s. */
  mediaLinkTtlSeconds?: number;
  /**
   * Largest photo; default 10 MiB, and never more than the HTTP server's upload limit less 64 KiB
   * for the multipart framing (a body over that limit is refused by the server before this API runs).
   */
  uploadMaxBytes?: number;
  /** WeChat's image checks (FRAMECAST_WECHAT_CHECKS): how long a verdict may take before a moderator decides; default 30 min. */
  mediaCheckTimeoutMs?: number;
  /** How often jobs waiting for a verdict are looked at again; default 5 s. */
  mediaCheckSweepMs?: number;
  /** Asked before WeChat's 'pass' releases a held video; default: the worker's output scan run again on it. */
  confirmMediaPass?: (rec: JobRecord) => Promise<boolean>;
  /** The page a subscription message opens; default `pages/videos/videos?id=<jobId>`. */
  subscribePage?: (jobId: string) => string;
  /** The template's data; default `thing1` (prompt), `phrase2` (outcome), `time3` (finish time). */
  templateData?: (delivery: DeliveryJobData, locale: Locale) => SubscribeMessage['data'];
  now?: () => number;
}

export interface MiniProgramApi {
  /** The routes (and the localised error answers) as one koa middleware. */
  readonly middleware: Middleware;
  /** The delivery handler for platform 'miniprogram' (consumed already). */
  readonly deliveryHandler: DeliveryHandler;
  close(): Promise<void>;
}

export class MiniProgramConfigError extends Error {
  readonly code = 'miniprogram_config';
}

/** Whether the mini program API is configured (`framecast start` starts it then). */
export function isMiniProgramConfigured(config: FramecastConfig): boolean {
  return config.env.WECHAT_APP_ID !== undefined && config.env.WECHAT_APP_SECRET !== undefined;
}

const LoginBodySchema = z.strictObject({ code: z.string().min(1).max(256) });
const PublishBodySchema = z.strictObject({ caption: z.string().trim().max(140).optional() });
const LikeBodySchema = z.strictObject({ like: z.boolean().default(true) });
const ReportBodySchema = z.strictObject({ reason: z.enum(['sexual', 'violence', 'politics', 'illegal', 'ads', 'copyright', 'other']).default('other'), note: z.string().max(200).optional() });
const GalleryQuerySchema = z.object({
  sort: z.enum(['newest', 'liked', 'hidden']).default('newest'),
  cursor: z.string().regex(/^\d{1,6}$/).optional(),
  limit: z.coerce.number().int().min(1).max(GALLERY_PAGE_MAX).default(20),
});
const ListQuerySchema = z.object({ limit: z.coerce.number().int().min(1).max(100).default(20) });
const JOB_ID = /^[A-Za-z0-9_-]{1,64}$/;
const NOTIFY_TTL_SECONDS = 30 * 24 * 3600;
const HEARTBEAT_MS = 15_000;

/** The signed-in user of a request. */
interface MpUser {
  openid: string;
  /** Stable one-way id (rate limits, likes, ownership of uploads and gallery items). */
  tag: string;
  userKey: string;
  token: string;
}

/** HTTP status of each refusal of the core. */
const REFUSAL_STATUS: Record<string, number> = {
  invalid_request: 400, bad_command: 422, image_invalid: 422, runtime_unsupported: 422,
  moderation_blocked: 403, image_blocked: 403, quota_credits: 402, quota_tenant: 402, quota_concurrency: 409, internal: 503,
};

/** Connects to the Redis the core's queues use (the core keeps its own connection private). */
function redisOf(core: Core): Redis {
  const c = core.workQueue.connection as unknown;
  if (c instanceof Redis) return c.duplicate();
  const url = (c as { url?: unknown }).url;
  if (typeof url === 'string') return new Redis(url, { maxRetriesPerRequest: 3 });
  return new Redis(c as RedisOptions);
}

/**
 * Starts the mini program API: login (code2Session → an opaque session), uploads, jobs (submit,
 * list, read, progress as server-sent events, cancel), the video and poster with Range or signed
 * links, the gallery (publish, browse, like, report, unpublish), and the 'miniprogram' deliveries
 * (the video is stored; a subscription message when the user allowed it).
 */
export async function startMiniProgramApi(opts: MiniProgramApiOptions): Promise<MiniProgramApi> {
  const { core, store, config } = opts;
  const env = config.env;
  const logger = opts.logger.child({ platform: 'miniprogram' });
  const appId = env.WECHAT_APP_ID;
  const appSecret = env.WECHAT_APP_SECRET;
  if (appId === undefined || appSecret === undefined) throw new MiniProgramConfigError('WECHAT_APP_ID and WECHAT_APP_SECRET are needed for the mini program API');
  const now = opts.now ?? Date.now;
  const ownRedis = opts.redis === undefined;
  const redis = opts.redis ?? redisOf(core);
  const prefix = config.keyPrefix;
  const limits: RateLimits = { ...DEFAULT_RATE_LIMITS, ...opts.rateLimits };
  const wechat = new WeChatMpClient({ appId, appSecret, baseUrl: env.WECHAT_API_BASE_URL });
  const sessions = new MpSessions(redis, prefix, env.FRAMECAST_MP_SESSION_TTL_SECONDS, now);
  const limiter = new MpRateLimiter(redis, prefix);
  const uploads = new MpUploads(redis, prefix, store);
  const gallery = new MpGallery(redis, prefix);
  const signer = new MediaSigner(mediaSecret(config), now);
  const linkTtl = opts.mediaLinkTtlSeconds ?? 600;
  const serverUploadLimit = opts.http?.uploadLimit;
  const uploadMax = Math.min(opts.uploadMaxBytes ?? MP_UPLOAD_MAX_BYTES, serverUploadLimit === undefined ? Infinity : Math.max(1024, serverUploadLimit - MULTIPART_ALLOWANCE_BYTES));
  // WeChat's image checks: submitted at intake, the job held; the pushed verdict applied here.
  const mediaChecks = env.FRAMECAST_WECHAT_CHECKS
    ? new MpMediaChecks({
      redis, prefix, core, logger, appId, now,
      ...(opts.mediaCheckTimeoutMs === undefined ? {} : { timeoutMs: opts.mediaCheckTimeoutMs }),
      ...(opts.mediaCheckSweepMs === undefined ? {} : { sweepEveryMs: opts.mediaCheckSweepMs }),
      confirmPass: opts.confirmMediaPass ?? outputScanAllows(config, store, logger),
    })
    : undefined;
  if (mediaChecks !== undefined && env.WECHAT_PUSH_TOKEN === undefined) {
    logger.warn('FRAMECAST_WECHAT_CHECKS is on without WECHAT_PUSH_TOKEN: WeChat\'s image verdicts cannot be received, every checked photo waits for a moderator');
  }
  const textModerator = opts.textModerator ?? (await captionModerator(config, wechat));
  const subscribePage = opts.subscribePage ?? ((jobId: string) => `pages/videos/videos?id=${jobId}`);
  const templateData = opts.templateData ?? ((d: DeliveryJobData, locale: Locale) => defaultTemplateData(d, locale, config.env.FRAMECAST_TIMEZONE, now()));
  const userKeyOf = (openid: string): string => `miniprogram:${openid}`;
  const isAdmin = (u: MpUser): boolean => core.quota.tierOf(u.userKey) === 'admin';
  const notifyKey = (jobId: string): string => `${prefix}:mp:notify:${jobId}`;

  // ---- middleware ----
  const ipLimit: Middleware = async (ctx, next) => {
    await limiter.hit('ip', ctx.ip || 'unknown', limits.ip);
    await next();
  };
  /** The Bearer session, or (with `allowSigned`) nothing when the link is signed. */
  async function userOf(ctx: Context): Promise<MpUser | undefined> {
    const m = /^Bearer ([A-Za-z0-9_-]{1,200})$/.exec(ctx.get('Authorization'));
    if (m === null) return undefined;
    const token = m[1] as string;
    const s = await sessions.get(token);
    if (s === undefined) return undefined;
    return { openid: s.openid, tag: userTag(appId as string, s.openid), userKey: userKeyOf(s.openid), token };
  }
  const auth: Middleware = async (ctx, next) => {
    const user = await userOf(ctx);
    if (user === undefined) throw MpError.of(401, 'unauthorized', 'unauthorized', {}, { 'WWW-Authenticate': 'Bearer' });
    await limiter.hit('session', tokenTag(user.token), limits.session);
    (ctx.state as { user: MpUser }).user = user;
    await next();
  };
  const userIn = (ctx: Context): MpUser => (ctx.state as { user: MpUser }).user;
  const localeIn = (ctx: Context): Locale => mpState(ctx).locale;

  async function ownJob(ctx: Context, u: MpUser): Promise<JobRecord> {
    const id = paramOf(ctx);
    if (typeof id !== 'string' || !JOB_ID.test(id)) throw MpError.of(404, 'job_not_found', 'job_not_found');
    const rec = await core.job(id);
    // Someone else's job is answered exactly like a job that does not exist.
    if (rec === undefined || rec.platform !== 'miniprogram' || rec.userKey !== u.userKey) throw MpError.of(404, 'job_not_found', 'job_not_found');
    return rec;
  }

  async function viewOf(rec: JobRecord, locale: Locale, pos?: { position: number; etaSeconds: number }): Promise<MpJobView> {
    let where = pos;
    if (where === undefined && rec.state === 'queued') {
      const p = await core.position(rec.jobId).catch(() => undefined);
      if (p !== undefined) where = { position: p.position, etaSeconds: p.etaSeconds };
    }
    const failedText = rec.state === 'blocked' ? mtAll('job_blocked') : rec.state === 'cancelled' ? mtAll('job_cancelled') : mtAll('job_failed');
    return jobView(rec, { ...(where ?? {}), published: await gallery.isPublished(rec.jobId), locale, failedText });
  }

  const router = new Router({ prefix: MP_API_PREFIX });

  // ---- login ----
  router.post('/login', async (ctx) => {
    await limiter.hit('login', ctx.ip || 'unknown', limits.login);
    const body = parseWith(LoginBodySchema, await jsonBody(ctx));
    let openid: string;
    try {
      ({ openid } = await wechat.code2Session(body.code));
    } catch (err) {
      if (!(err instanceof LoginError)) throw err;
      logger.info({ reason: err.reason, errcode: err.errcode }, 'mini program login refused');
      if (err.reason === 'invalid_code') throw MpError.of(401, 'login_code_invalid', 'login_code_invalid');
      if (err.reason === 'rate_limited') throw MpError.of(429, 'login_rate_limited', 'login_rate_limited', {}, { 'Retry-After': '60' });
      if (err.reason === 'risky_user') throw MpError.of(403, 'login_risky_user', 'login_risky_user');
      throw MpError.of(503, 'login_unavailable', 'login_unavailable', {}, { 'Retry-After': '5' });
    }
    const s = await sessions.create(openid);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { token: s.token, expiresAt: s.expiresAt };
  });

  router.post('/logout', auth, async (ctx) => {
    await sessions.revoke(userIn(ctx).token);
    ctx.status = 204;
  });

  router.get('/me', auth, async (ctx) => {
    const u = userIn(ctx);
    const q = await core.quota.show(u.userKey);
    ctx.body = {
      user: u.tag, tier: q.tier, admin: isAdmin(u),
      // What wx.requestSubscribeMessage asks the user to allow (absent: no completion notice).
      ...(env.FRAMECAST_MP_TEMPLATE_ID === undefined ? {} : { subscribeTemplateId: env.FRAMECAST_MP_TEMPLATE_ID }),
      quota: { day: q.day, timeZone: q.timeZone, dailyCredits: q.dailyCredits, spent: q.spent, held: q.held, bonus: q.bonus, available: q.available, active: q.active, maxConcurrent: q.maxConcurrent },
    };
  });

  // ---- uploads ----
  router.post('/uploads', auth, async (ctx) => {
    const u = userIn(ctx);
    await limiter.hit('uploads', tokenTag(u.token), limits.uploads);
    const bytes = await readMultipartFile(ctx, uploadMax);
    const out = await uploads.accept(u.tag, bytes, uploadMax);
    ctx.status = 201;
    ctx.body = out;
  });

  // ---- jobs ----
  router.post('/jobs', auth, async (ctx) => {
    const u = userIn(ctx);
    const locale = localeIn(ctx);
    const body = parseWith(CreateJobBodySchema, await jsonBody(ctx));
    await limiter.hit('jobs', tokenTag(u.token), limits.jobs);
    const attachments = body.imageId === undefined ? [] : [await uploads.attachment(u.tag, body.imageId)];
    const eventId = `mp:${u.tag}:${body.requestId ?? randomUUID()}`;
    const submit = (): Promise<IntakeResult> => core.submit({
      version: 1, platform: 'miniprogram', tenantId: appId, channelId: 'miniprogram', userId: u.openid, eventId,
      text: commandTextOf(body), attachments, locale, replyTarget: { platform: 'miniprogram', appId, openid: u.openid }, receivedAt: now(),
    });
    let res: IntakeResult;
    if (mediaChecks === undefined) res = await submit();
    else {
      // The image check WeChat answers later is linked to the job it was made for.
      const c = await collectMediaChecks(submit);
      res = c.value;
      if (res.status === 'accepted' && !res.duplicate) await mediaChecks.link(res.jobId, c.traces, c.otherReview);
    }
    if (res.status === 'refused') {
      const status = REFUSAL_STATUS[res.reason] ?? 400;
      throw new MpError(status, res.reason, res.message, status === 503 ? { 'Retry-After': '5' } : {});
    }
    if (body.subscribe === true) await redis.set(notifyKey(res.jobId), '1', 'EX', NOTIFY_TTL_SECONDS);
    const rec = await core.job(res.jobId);
    if (rec === undefined) throw new Error(`accepted job ${res.jobId} has no record`);
    ctx.status = res.duplicate ? 200 : 201;
    ctx.body = { ...(await viewOf(rec, locale, { position: res.position, etaSeconds: res.etaSeconds })), creditsLeft: res.creditsLeft, message: res.message[locale] };
  });

  router.get('/jobs', auth, async (ctx) => {
    const u = userIn(ctx);
    const q = parseWith(ListQuerySchema, ctx.query);
    const recs = (await core.listJobs(u.userKey, q.limit)).filter((r) => r.platform === 'miniprogram');
    ctx.body = { jobs: await Promise.all(recs.map((r) => viewOf(r, localeIn(ctx)))) };
  });

  router.get('/jobs/:id', auth, async (ctx) => {
    ctx.body = await viewOf(await ownJob(ctx, userIn(ctx)), localeIn(ctx));
  });

  router.post('/jobs/:id/cancel', auth, async (ctx) => {
    const u = userIn(ctx);
    const rec = await ownJob(ctx, u);
    const res = await core.cancel(rec.jobId, { userKey: u.userKey, isAdmin: false });
    if (res.status === 'not_found' || res.status === 'not_owner') throw MpError.of(404, 'job_not_found', 'job_not_found');
    if (res.status === 'already_finished') throw new MpError(409, 'already_finished', res.message);
    const after = (await core.job(rec.jobId)) ?? rec;
    ctx.status = res.status === 'cancelled' ? 200 : 202;
    ctx.body = { ...(await viewOf(after, localeIn(ctx))), cancel: res.status, message: res.message[localeIn(ctx)] };
  });

  router.get('/jobs/:id/events', auth, async (ctx) => {
    const u = userIn(ctx);
    const locale = localeIn(ctx);
    const rec = await ownJob(ctx, u);
    const { stream, send } = openEventStream(ctx);
    send('job', await viewOf(rec, locale));
    if (mpStateOf(rec.state) !== 'queued' && mpStateOf(rec.state) !== 'running' && mpStateOf(rec.state) !== 'held') {
      stream.end();
      return;
    }
    const sub: { off?: () => void } = {};
    let ended = false;
    const heartbeat = setInterval(() => stream.write(': ping\n\n'), HEARTBEAT_MS);
    heartbeat.unref();
    const finish = (): void => {
      if (ended) return;
      ended = true;
      clearInterval(heartbeat);
      sub.off?.();
      stream.end();
    };
    // The response's close: the client went away (or the stream ended). The request's own close
    // only says its body was read.
    ctx.res.on('close', finish);
    stream.on('close', finish);
    sub.off = await core.progress.subscribe(rec.jobId, async (e) => {
      if (ended) return;
      const data = eventView(e, locale);
      if (e.type === 'delivered' || e.type === 'failed' || e.type === 'cancelled') {
        const now = await core.job(rec.jobId);
        if (now !== undefined) data.job = await viewOf(now, locale);
      }
      send(e.type, data, e.seq);
      if (e.type === 'delivered' || e.type === 'failed' || e.type === 'cancelled') finish();
    }, { replay: true });
    if (ended) sub.off();
  });

  // ---- the video and poster ----
  async function mediaOf(ctx: Context, kind: MediaKind): Promise<void> {
    const id = paramOf(ctx);
    if (typeof id !== 'string' || !JOB_ID.test(id)) throw MpError.of(404, 'job_not_found', 'job_not_found');
    let rec: JobRecord | undefined;
    if (ctx.query.sig !== undefined || ctx.query.exp !== undefined) {
      const check = signer.check(id, kind, ctx.query.exp, ctx.query.sig);
      if (check === 'expired') throw MpError.of(410, 'link_expired', 'link_expired');
      if (check !== 'ok') throw MpError.of(403, 'bad_signature', 'bad_signature');
      rec = await core.job(id);
      if (rec === undefined || rec.platform !== 'miniprogram') throw MpError.of(404, 'job_not_found', 'job_not_found');
    } else {
      const u = await userOf(ctx);
      if (u === undefined) throw MpError.of(401, 'unauthorized', 'unauthorized', {}, { 'WWW-Authenticate': 'Bearer' });
      await limiter.hit('session', tokenTag(u.token), limits.session);
      rec = await ownJob(ctx, u);
    }
    const key = kind === 'video' ? rec.result?.videoRef : rec.result?.posterRef;
    if (rec.state !== 'succeeded' || key === undefined) throw MpError.of(404, 'not_finished', 'not_finished');
    await serveBlob(ctx, store, key, kind, linkTtl);
  }
  router.get('/jobs/:id/video', (ctx) => mediaOf(ctx, 'video'));
  router.get('/jobs/:id/poster', (ctx) => mediaOf(ctx, 'poster'));

  /** Links the `<video>` and `<image>` components can load without headers. */
  async function linksOf(rec: JobRecord): Promise<{ videoUrl: string; posterUrl?: string; expiresAt: number }> {
    const result = rec.result;
    if (result === undefined) throw MpError.of(404, 'not_finished', 'not_finished');
    const v = signer.sign(rec.jobId, 'video', linkTtl);
    const p = signer.sign(rec.jobId, 'poster', linkTtl);
    return {
      videoUrl: `${MP_API_PREFIX}/jobs/${rec.jobId}/video?${v.query}`,
      ...(result.posterRef === undefined ? {} : { posterUrl: `${MP_API_PREFIX}/jobs/${rec.jobId}/poster?${p.query}` }),
      expiresAt: v.expiresAt,
    };
  }
  router.get('/jobs/:id/media', auth, async (ctx) => {
    const rec = await ownJob(ctx, userIn(ctx));
    if (rec.state !== 'succeeded') throw MpError.of(404, 'not_finished', 'not_finished');
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await linksOf(rec);
  });

  // ---- gallery ----
  router.post('/jobs/:id/publish', auth, async (ctx) => {
    const u = userIn(ctx);
    const locale = localeIn(ctx);
    const body = parseWith(PublishBodySchema, await jsonBody(ctx));
    const rec = await ownJob(ctx, u);
    const result = rec.result;
    if (rec.state !== 'succeeded' || result === undefined) throw MpError.of(409, 'not_finished', 'not_finished');
    if (await gallery.isPublished(rec.jobId)) throw MpError.of(409, 'already_published', 'already_published');
    const caption = body.caption === undefined || body.caption === '' ? rec.spec.prompt.slice(0, 140) : body.caption;
    let verdict;
    try {
      verdict = await textModerator.moderateText(`${caption}\n${rec.spec.prompt}`, { platform: 'miniprogram', userId: u.openid, openid: u.openid });
    } catch (err) {
      if (err instanceof WeChatApiError) {
        logger.warn({ code: err.code, errcode: err.errcode }, 'msgSecCheck failed for a gallery caption');
        throw new MpError(503, 'wechat_unavailable', err.userMessage, { 'Retry-After': '5' });
      }
      throw err;
    }
    if (verdict.action === 'block') {
      const hit = verdict.hits[0];
      const category = hit?.categoryLabel?.[locale] ?? hit?.category ?? 'policy';
      throw MpError.of(403, 'caption_blocked', 'caption_blocked', { category });
    }
    if (verdict.action === 'review') throw MpError.of(403, 'caption_review', 'caption_review');
    const published = await gallery.publish({
      jobId: rec.jobId, owner: u.tag, caption, videoRef: result.videoRef, ...(result.posterRef === undefined ? {} : { posterRef: result.posterRef }),
      width: result.width, height: result.height, durationSec: result.durationSec, publishedAt: now(),
    });
    if (!published) throw MpError.of(409, 'already_published', 'already_published');
    const item = await gallery.get(rec.jobId);
    ctx.status = 201;
    ctx.body = item === undefined ? { id: rec.jobId } : await itemView(item, u, new Set());
  });

  async function unpublish(ctx: Context): Promise<void> {
    const u = userIn(ctx);
    const id = paramOf(ctx);
    if (typeof id !== 'string' || !JOB_ID.test(id)) throw MpError.of(404, 'job_not_found', 'job_not_found');
    const item = await gallery.get(id);
    if (item === undefined) {
      // Not published: the owner is told so; anyone else learns nothing about the job.
      const rec = await core.job(id);
      if (rec !== undefined && rec.userKey === u.userKey) throw MpError.of(404, 'not_published', 'not_published');
      throw MpError.of(404, 'job_not_found', 'job_not_found');
    }
    if (item.owner !== u.tag && !isAdmin(u)) throw MpError.of(403, 'not_owner', 'not_owner');
    await gallery.unpublish(id);
    if (item.owner !== u.tag) logger.info({ jobId: id, admin: u.tag }, 'gallery item removed by an admin');
    ctx.body = { id, published: false };
  }
  router.post('/jobs/:id/unpublish', auth, unpublish);
  router.delete('/jobs/:id/publish', auth, unpublish);

  async function itemView(item: GalleryItem, u: MpUser, liked: Set<string>) {
    const v = signer.sign(item.jobId, 'video', linkTtl);
    const p = signer.sign(item.jobId, 'poster', linkTtl);
    return {
      id: item.jobId, caption: item.caption, likes: item.likes, liked: liked.has(item.jobId), mine: item.owner === u.tag,
      publishedAt: item.publishedAt, width: item.width, height: item.height, durationSec: item.durationSec,
      videoUrl: `${MP_API_PREFIX}/jobs/${item.jobId}/video?${v.query}`,
      ...(item.posterRef === undefined ? {} : { posterUrl: `${MP_API_PREFIX}/jobs/${item.jobId}/poster?${p.query}` }),
      expiresAt: v.expiresAt,
    };
  }

  router.get('/gallery', auth, async (ctx) => {
    const u = userIn(ctx);
    const q = parseWith(GalleryQuerySchema, ctx.query);
    if (q.sort === 'hidden' && !isAdmin(u)) throw MpError.of(403, 'not_admin', 'not_admin');
    const page = await gallery.list(q.sort, q.cursor === undefined ? 0 : Number(q.cursor), q.limit);
    const liked = await gallery.likedBy(u.tag, page.items.map((i) => i.jobId));
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { items: await Promise.all(page.items.map((i) => itemView(i, u, liked))), ...(page.next === undefined ? {} : { nextCursor: String(page.next) }) };
  });

  router.post('/gallery/:id/like', auth, async (ctx) => {
    const u = userIn(ctx);
    const body = parseWith(LikeBodySchema, await jsonBody(ctx));
    const id = paramOf(ctx);
    const res = typeof id === 'string' && JOB_ID.test(id) ? await gallery.like(id, u.tag, body.like) : undefined;
    if (res === undefined) throw MpError.of(404, 'not_found', 'not_found');
    ctx.body = { id, ...res };
  });

  router.post('/gallery/:id/restore', auth, async (ctx) => {
    const u = userIn(ctx);
    if (!isAdmin(u)) throw MpError.of(403, 'not_admin', 'not_admin');
    const id = paramOf(ctx);
    const ok = typeof id === 'string' && JOB_ID.test(id) ? await gallery.restore(id) : false;
    if (!ok) throw MpError.of(404, 'not_found', 'not_found');
    logger.info({ jobId: id, admin: u.tag }, 'gallery item restored by an admin');
    ctx.body = { id, hidden: false };
  });

  router.post('/gallery/:id/report', auth, async (ctx) => {
    const u = userIn(ctx);
    const body = parseWith(ReportBodySchema, await jsonBody(ctx));
    const id = paramOf(ctx);
    const res = typeof id === 'string' && JOB_ID.test(id) ? await gallery.report(id, u.tag, now()) : undefined;
    if (res === undefined) throw MpError.of(404, 'not_found', 'not_found');
    logger.info({ jobId: id, reason: body.reason, reports: res.reports, hidden: res.hidden }, 'gallery item reported');
    ctx.body = { id, reported: true };
  });

  // ---- collaborative storyboards ----
  mountBoardRoutes(router, {
    core, redis, prefix, appId, logger, limiter, limits, uploads, nicknames: new MpNicknames(redis, prefix), textModerator, auth, links: linksOf,
  });

  // ---- WeChat's message push (plaintext mode): the URL check and the image check verdicts ----
  function pushToken(ctx: Context): string {
    const token = env.WECHAT_PUSH_TOKEN;
    if (token === undefined) throw MpError.of(404, 'push_not_configured', 'push_not_configured');
    if (!verifyWeChatPushSignature(token, ctx.query)) {
      logger.warn({ ip: ctx.ip }, 'WeChat push refused: bad signature');
      throw MpError.of(401, 'bad_signature', 'push_bad_signature');
    }
    return token;
  }
  router.get('/wechat/push', (ctx) => {
    pushToken(ctx);
    const echostr = ctx.query.echostr;
    if (typeof echostr !== 'string' || !/^[A-Za-z0-9_-]{1,128}$/.test(echostr)) throw MpError.of(400, 'bad_request', 'bad_request', { fields: 'echostr' });
    ctx.type = 'text/plain';
    ctx.body = echostr;
  });
  router.post('/wechat/push', async (ctx) => {
    pushToken(ctx);
    if (ctx.query.encrypt_type !== undefined && ctx.query.encrypt_type !== 'raw') throw MpError.of(400, 'push_encrypted', 'push_encrypted');
    const raw = await readRawBody(ctx, WECHAT_PUSH_MAX_BYTES);
    let payload: Record<string, unknown>;
    try {
      payload = parseWeChatPushBody(raw, ctx.get('Content-Type'));
    } catch (err) {
      if (!(err instanceof WeChatPushParseError)) throw err;
      throw MpError.of(400, 'bad_request', 'bad_request', { fields: '(body)' });
    }
    const result = mediaChecks === undefined ? 'ignored' : await mediaChecks.onPush(payload);
    logger.debug({ event: typeof payload.Event === 'string' ? payload.Event.slice(0, 40) : undefined, result }, 'WeChat push');
    // WeChat wants "success" (or nothing), else it sends the push again.
    ctx.type = 'text/plain';
    ctx.body = 'success';
  });

  const routes = router.routes() as unknown as Middleware;
  const allowed = router.allowedMethods() as unknown as Middleware;
  const errors = mpErrors(MP_API_PREFIX);
  const middleware: Middleware = (ctx, next: Next) => {
    if (!ctx.path.startsWith(`${MP_API_PREFIX}/`)) return next();
    return errors(ctx, () => ipLimit(ctx, () => routes(ctx, () => allowed(ctx, next))));
  };

  // ---- deliveries ----
  const deliveryHandler: DeliveryHandler = async (d) => {
    if (d.outcome.kind === 'video' && !(await store.exists(d.outcome.result.videoRef))) return { status: 'retry', reason: 'video not stored yet' };
    const target = d.replyTarget;
    const template = env.FRAMECAST_MP_TEMPLATE_ID;
    if (target.platform !== 'miniprogram' || template === undefined || d.outcome.kind === 'cancelled') return { status: 'delivered' };
    if ((await redis.get(notifyKey(d.jobId))) !== '1') return { status: 'delivered' };
    // Once per job, whatever the retries: claimed before sending, released only for a retry.
    const claim = `${prefix}:mp:notified:${d.jobId}`;
    if ((await redis.set(claim, '1', 'EX', NOTIFY_TTL_SECONDS, 'NX')) !== 'OK') return { status: 'delivered' };
    try {
      const out = await wechat.sendSubscribeMessage({
        touser: target.openid, templateId: template, page: subscribePage(d.jobId), data: templateData(d, d.locale), lang: d.locale === 'en' ? 'en_US' : 'zh_CN',
      });
      if (!out.sent) logger.info({ jobId: d.jobId, errcode: out.errcode }, 'subscription message not sent');
      return { status: 'delivered', info: { notified: out.sent ? 1 : 0 } };
    } catch (err) {
      if (err instanceof WeChatApiError && err.retryable) {
        await redis.del(claim);
        logger.warn({ jobId: d.jobId, code: err.code }, 'subscription message failed: retrying');
        return { status: 'retry', reason: `subscribe: ${err.code}` };
      }
      logger.warn({ jobId: d.jobId, err }, 'subscription message failed');
      return { status: 'delivered', info: { notified: 0 } };
    }
  };
  const consumer: DeliveryConsumer = core.deliveries.consume('miniprogram', deliveryHandler, opts.consume);
  opts.http?.acceptUploads?.(MP_UPLOAD_PATH);
  opts.http?.mount(middleware);
  mediaChecks?.start();
  logger.info('mini program API started');

  let closed = false;
  return {
    middleware,
    deliveryHandler,
    async close() {
      if (closed) return;
      closed = true;
      mediaChecks?.stop();
      await consumer.close();
      if (ownRedis) await redis.quit().catch(() => undefined);
    },
  };
}

/** A progress event as the SSE stream sends it: the mini program's state and the caller's language. */
interface EventData {
  type: ProgressEvent['type'];
  jobId: string;
  at: number;
  state: MpJobView['state'];
  position?: number;
  etaSeconds?: number;
  step?: number;
  totalSteps?: number;
  phase?: string;
  code?: string;
  message?: string;
  job?: MpJobView;
}

function eventView(e: ProgressEvent, locale: Locale): EventData {
  const base = { type: e.type, jobId: e.jobId, at: e.at };
  switch (e.type) {
    case 'queued':
      return { ...base, state: 'queued', position: e.position, etaSeconds: e.etaSeconds };
    case 'started':
      return { ...base, state: 'running' };
    case 'step':
      return { ...base, state: 'running', step: e.step, totalSteps: e.totalSteps };
    case 'encoding':
      return { ...base, state: 'running', phase: e.phase };
    case 'review':
      return { ...base, state: 'held' };
    case 'ready':
      return { ...base, state: 'running', phase: 'ready' };
    case 'delivered':
      return { ...base, state: 'succeeded' };
    case 'failed':
      return { ...base, state: 'failed', code: e.code, message: e.message[locale] };
    case 'cancelled':
      return { ...base, state: 'cancelled', message: e.message[locale] };
  }
}

/** The default template data: thing1 the prompt (20 characters), phrase2 the outcome, time3 the time. */
export function defaultTemplateData(d: DeliveryJobData, locale: Locale, timeZone: string, at: number): SubscribeMessage['data'] {
  const prompt = Array.from(d.spec?.prompt ?? d.prompt ?? 'Framecast');
  const thing = prompt.length > 20 ? `${prompt.slice(0, 19).join('')}…` : prompt.join('');
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(at);
  const p = (t: string): string => parts.find((x) => x.type === t)?.value ?? '';
  return {
    thing1: { value: thing },
    phrase2: { value: mt(d.outcome.kind === 'video' ? 'notify_done' : 'notify_failed', locale) },
    time3: { value: `${p('year')}-${p('month')}-${p('day')} ${p('hour')}:${p('minute')}` },
  };
}

/** Gallery captions: the product's keyword lists always; WeChat's msgSecCheck (scene 3, forum) too when FRAMECAST_WECHAT_CHECKS is on. */
async function captionModerator(config: FramecastConfig, wechat: WeChatMpClient): Promise<ContentModerator> {
  const keywords = createKeywordModerator(await createProductKeywordFilter(config));
  if (!config.env.FRAMECAST_WECHAT_CHECKS) return keywords;
  const remote = new WeChatMsgSecCheckModerator({ client: wechat.api, scene: 3 });
  return {
    async moderateText(text, ctx) {
      const local = await keywords.moderateText(text, ctx);
      if (local.action === 'block') return local;
      const r = await remote.moderateText(text, ctx);
      return r.action === 'allow' ? local : r;
    },
  };
}
