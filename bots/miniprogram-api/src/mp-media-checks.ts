import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { BlobStore, Core, FramecastConfig, JobRecord, ModerationAction } from '@framecast/core';
import { createProductNsfwClassifier, scanVideo, verdictFromEvent, WxaMediaCheckEventSchema, type NsfwClassifier } from '@framecast/content-safety';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

/** Who the automatic decisions are made by (the job's audit says so). */
export const MEDIA_CHECK_ACTOR = 'wechat:media-check';
/** WeChat answers within 30 minutes; after that a moderator decides. */
export const MEDIA_CHECK_TIMEOUT_MS = 30 * 60_000;
const KEEP_SECONDS = 7 * 86_400;
const FINAL = new Set(['succeeded', 'failed', 'cancelled', 'blocked', 'undeliverable']);
const VERDICT_ACTIONS = new Set<string>(['allow', 'review', 'block']);

export type PushResult =
  /** Not a media-check event, or another mini program's. */
  | 'ignored'
  /** The same trace's verdict came before: nothing changes. */
  | 'duplicate'
  /** Kept; applied once its job is known and held. */
  | 'recorded';

export interface MpMediaChecksOptions {
  redis: Redis;
  prefix: string;
  core: Core;
  logger: Logger;
  appId: string;
  /** How long a check may stay unanswered before its job is left to a moderator; default 30 min. */
  timeoutMs?: number;
  /** How often waiting jobs are looked at again (a verdict may come before the video is made); default 5 s. */
  sweepEveryMs?: number;
  /**
   * Asked before WeChat's 'pass' releases a held video: the worker holds a video on its own output
   * scan's review too, which the record does not tell apart. Default: the same output scan again.
   */
  confirmPass?: (rec: JobRecord) => Promise<boolean>;
  now?: () => number;
}

type Decision = 'approve' | 'reject' | 'human' | 'wait';

/**
 * WeChat's asynchronous image checks of mini program jobs. The intake submits the check and holds
 * the job (it renders, then waits in 'review' instead of being sent); the submitting request links
 * the check's trace_id to the job here; WeChat's pushed verdict (POST /api/mp/wechat/push) decides:
 * risky → rejected (refunded, told), pass → approved (sent, charged) unless something else asked
 * for a review, review or a failed check → left to a moderator (/admin/review). A check unanswered
 * after the timeout is left to a moderator too. State is in Redis, so any process can receive the
 * push; a verdict that arrives before the link or before the video is made is kept and applied
 * when both are there (a sweep looks again every few seconds). The same push twice changes nothing.
 */
export class MpMediaChecks {
  readonly #o: Required<Omit<MpMediaChecksOptions, 'confirmPass'>> & { confirmPass: (rec: JobRecord) => Promise<boolean> };
  readonly #busy = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #sweeping = false;

  constructor(opts: MpMediaChecksOptions & { confirmPass: (rec: JobRecord) => Promise<boolean> }) {
    this.#o = { timeoutMs: MEDIA_CHECK_TIMEOUT_MS, sweepEveryMs: 5000, now: Date.now, ...opts };
  }

  #key(kind: 'trace' | 'verdict' | 'job' | 'pending' | 'decided', id = ''): string {
    return `${this.#o.prefix}:mp:wxcheck:${kind}${id === '' ? '' : `:${id}`}`;
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.sweep(), this.#o.sweepEveryMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Records that a job waits for these checks (`otherReview`: something else asked for a human too). */
  async link(jobId: string, traces: string[], otherReview: boolean): Promise<void> {
    if (traces.length === 0) return;
    const deadline = this.#o.now() + this.#o.timeoutMs;
    const m = this.#o.redis.multi();
    m.hset(this.#key('job', jobId), { traces: JSON.stringify(traces.slice(0, 8)), otherReview: otherReview ? '1' : '0', deadline: String(deadline) });
    m.expire(this.#key('job', jobId), KEEP_SECONDS);
    for (const t of traces) m.set(this.#key('trace', t), jobId, 'EX', KEEP_SECONDS);
    m.zadd(this.#key('pending'), deadline, jobId);
    await m.exec();
    await this.settle(jobId);
  }

  /** A pushed event (already signature-checked and parsed): recorded once per trace, then applied. */
  async onPush(payload: unknown): Promise<PushResult> {
    const parsed = WxaMediaCheckEventSchema.safeParse(payload);
    if (!parsed.success) return 'ignored';
    const ev = parsed.data;
    if (ev.appid !== undefined && ev.appid !== this.#o.appId) return 'ignored';
    if (ev.trace_id.length > 128) return 'ignored';
    const verdict = verdictFromEvent(ev);
    const fresh = await this.#o.redis.set(this.#key('verdict', ev.trace_id), verdict.action, 'EX', KEEP_SECONDS, 'NX');
    if (fresh !== 'OK') return 'duplicate';
    this.#o.logger.info({ traceId: ev.trace_id, action: verdict.action, hits: verdict.hits.map((h) => h.category) }, 'WeChat image check verdict');
    const jobId = await this.#o.redis.get(this.#key('trace', ev.trace_id));
    if (jobId !== null) await this.settle(jobId);
    return 'recorded';
  }

  /** Looks at every waiting job again (verdicts that came before their video was made, timeouts). */
  async sweep(): Promise<void> {
    if (this.#sweeping) return;
    this.#sweeping = true;
    try {
      const ids = await this.#o.redis.zrange(this.#key('pending'), 0, 199);
      for (const id of ids) await this.settle(id);
    } catch (err) {
      this.#o.logger.warn({ err }, 'WeChat image check sweep failed');
    } finally {
      this.#sweeping = false;
    }
  }

  /** Applies what is known to one job: a decision once its verdicts are in and the job is held. */
  async settle(jobId: string): Promise<void> {
    if (this.#busy.has(jobId)) return;
    this.#busy.add(jobId);
    try {
      await this.#settle(jobId);
    } catch (err) {
      this.#o.logger.warn({ err, jobId }, 'WeChat image check not applied (tried again later)');
    } finally {
      this.#busy.delete(jobId);
    }
  }

  async #settle(jobId: string): Promise<void> {
    const { redis, core, logger } = this.#o;
    const done = (): Promise<number> => redis.zrem(this.#key('pending'), jobId);
    const h = await redis.hgetall(this.#key('job', jobId));
    if (h.traces === undefined || h.human === '1') {
      // Unknown, or a moderator's already: a late verdict is not applied.
      await done();
      return;
    }
    const traces = JSON.parse(h.traces) as string[];
    const verdicts = traces.length === 0 ? [] : await redis.mget(...traces.map((t) => this.#key('verdict', t)));
    const decision = decide(
      verdicts.map((v) => (v !== null && VERDICT_ACTIONS.has(v) ? (v as ModerationAction) : undefined)),
      h.otherReview === '1',
      this.#o.now() >= Number(h.deadline),
    );
    if (decision === 'wait') return;
    const rec = await core.job(jobId);
    if (rec === undefined || FINAL.has(rec.state)) {
      await done();
      return;
    }
    if (decision === 'human') {
      await redis.hset(this.#key('job', jobId), 'human', '1');
      await done();
      logger.info({ jobId, verdicts }, 'WeChat image check: left to a moderator');
      return;
    }
    // Queued or rendering: decided once the video is made and held.
    if (rec.state !== 'review') return;
    if (decision === 'approve' && !(await this.#o.confirmPass(rec))) {
      await redis.hset(this.#key('job', jobId), 'human', '1');
      await done();
      logger.info({ jobId }, 'WeChat passed the image but the video itself needs a moderator');
      return;
    }
    // One process applies it (a push and a sweep may meet here).
    if ((await redis.set(this.#key('decided', jobId), decision, 'EX', KEEP_SECONDS, 'NX')) !== 'OK') return;
    const res = await core.review(jobId, { userKey: MEDIA_CHECK_ACTOR, isAdmin: true }, decision);
    await done();
    logger.info({ jobId, decision, status: res.status }, 'WeChat image check applied');
  }
}

/** All verdicts in: any block rejects, any review (or another reason) leaves it to a human, all allow approves. */
export function decide(verdicts: Array<ModerationAction | undefined>, otherReview: boolean, timedOut: boolean): Decision {
  if (verdicts.includes('block')) return 'reject';
  if (verdicts.includes('review')) return 'human';
  if (verdicts.includes(undefined)) return timedOut ? 'human' : 'wait';
  return otherReview ? 'human' : 'approve';
}

/**
 * The default `confirmPass`: the held video scanned again as the worker scans its output (the
 * product's NSFW model, FRAMECAST_SCAN_FPS / FRAMECAST_SCAN_MAX_FRAMES); only 'allow' releases it.
 */
export function outputScanAllows(config: FramecastConfig, store: BlobStore, logger: Logger): (rec: JobRecord) => Promise<boolean> {
  let classifier: Promise<NsfwClassifier> | undefined;
  return async (rec) => {
    const key = rec.result?.videoRef;
    if (key === undefined) return false;
    classifier ??= createProductNsfwClassifier(config);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'framecast-mpcheck-'));
    try {
      const file = path.join(dir, 'video.mp4');
      await writeFile(file, await store.get(key));
      const v = await scanVideo(file, await classifier, { framesPerSecond: config.env.FRAMECAST_SCAN_FPS, maxFrames: config.env.FRAMECAST_SCAN_MAX_FRAMES });
      return v.action === 'allow';
    } catch (err) {
      logger.warn({ err, jobId: rec.jobId }, 'held video could not be scanned again: left to a moderator');
      return false;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };
}
