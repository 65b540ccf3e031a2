import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { FramecastConfig, Tier } from '../config/config.ts';
import { parseVideoCommand, formatSpecSummary, type GrammarError } from '../grammar/index.ts';
import { formatEta, t, tAll, type LocalizedText, type MessageId } from '../i18n/messages.ts';
import type { AdmitInput, AdmitResult, IntakeAnswerWrite, IntakeClaim, IntakeOneResult, JobLifecycle } from '../jobs/job-lifecycle.ts';
import { ChatRequestSchema, type ChatRequest, type ChatRequestInput, type Locale } from '../model/chat-request.schema.ts';
import type { GenerationSpec } from '../model/generation-spec.schema.ts';
import type { ContentModerator, ModerationContext, ModerationVerdict } from '../moderation/content-moderator.ts';
import { FairQueue } from '../queue/fair-queue.ts';
import { costOf } from '../quota/cost.ts';
import { QuotaService, type ReserveDecision } from '../quota/quota-service.ts';
import { Keys, tenantKeyOf, userKeyOf } from '../redis/keys.ts';
import { TickBatcher } from '../redis/tick-batcher.ts';
import { UserBlocks } from '../users/user-blocks.ts';
import type { ReferenceImageIntake } from './reference-image-intake.ts';
import type { RuntimeCapabilitiesRegistry } from '../runtime/runtime-capabilities-registry.ts';
import { fitSpecToCapabilities, imageInputRefusal, type FitRefusalCode, type RuntimeCapabilities } from '../model/runtime-capabilities.schema.ts';
import { tierOf } from './tiers.ts';

export type RefusalReason =
  | 'invalid_request'
  | 'bad_command'
  | 'moderation_blocked'
  | 'image_invalid'
  | 'image_blocked'
  | 'quota_credits'
  | 'quota_concurrency'
  | 'quota_tenant'
  | 'runtime_unsupported'
  | 'user_blocked'
  | 'internal';

export type IntakeResult =
  | {
      status: 'accepted';
      jobId: string;
      position: number;
      etaSeconds: number;
      cost: number;
      creditsLeft: number;
      reviewRequired: boolean;
      spec: GenerationSpec;
      message: LocalizedText;
      /** True when this event id was seen before and this is the first answer repeated. */
      duplicate: boolean;
    }
  | {
      status: 'refused';
      reason: RefusalReason;
      message: LocalizedText;
      /** e.g. the grammar error's code and parameter, or the moderation category. */
      detail?: Record<string, unknown>;
      duplicate: boolean;
    };

export interface IntakeDeps {
  config: FramecastConfig;
  redis: Redis;
  moderator: ContentModerator;
  queue: FairQueue;
  lifecycle: JobLifecycle;
  quota: QuotaService;
  imageIntake?: ReferenceImageIntake;
  /** What the live workers render: specs are fitted to it, images refused where none is taken. */
  capabilities?: RuntimeCapabilitiesRegistry;
  logger?: Logger;
  now?: () => number;
  random?: () => number;
}

const IDEMPOTENCY_TTL_SECONDS = 7 * 24 * 3600;
/** How long an intake may hold an event before a duplicate may take it over (it crashed). */
const LEASE_MS = 30_000;
const DUPLICATE_POLL_MS = 25;

/** What an accepted answer is made from: the one-call intake stores these, not the texts. */
interface AcceptedFacts {
  cost: number;
  reviewRequired: boolean;
  spec: GenerationSpec;
  position: number;
  etaSeconds: number;
  creditsLeft: number;
}

type IdemRecord =
  | { state: 'pending'; jobId: string; leaseUntil: number }
  | { state: 'done'; jobId: string; result: IntakeResult }
  /** Written by the one-call intake (intake-one-26.lua): the answer is made again from its facts. */
  | { state: 'done'; jobId: string; accepted: AcceptedFacts };

interface IntakeProgress {
  reserved: boolean;
  recorded: boolean;
  enqueued: boolean;
  /** The answer is written over the claim (in the enqueue's round trip). */
  answered: boolean;
  spec?: GenerationSpec;
}

/** What a request without an image comes to before any Redis call: a spec to admit, or a refusal. */
type Prepared = { ok: true; spec: GenerationSpec; reviewRequired: boolean } | { ok: false; result: IntakeResult };

// Deletes the claim only if it is still ours.
const CAS_DEL_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`;

// Replaces the pending record only if it is still exactly what the caller saw (a takeover).
const CAS_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', tonumber(ARGV[3]))
  return 1
end
return 0`;

/** Random bytes drawn a block at a time (one call to the system's generator per 1,024 ids, not one each). */
const ID_RANDOM = { buf: Buffer.alloc(0), at: 0 };

function newJobId(): string {
  if (ID_RANDOM.at + 4 > ID_RANDOM.buf.length) {
    ID_RANDOM.buf = randomBytes(4096);
    ID_RANDOM.at = 0;
  }
  const hex = ID_RANDOM.buf.toString('hex', ID_RANDOM.at, ID_RANDOM.at + 4);
  ID_RANDOM.at += 4;
  // Time-sortable and short: base36 milliseconds + 8 random hex characters.
  return `j${Date.now().toString(36)}${hex}`;
}

function refusal(reason: RefusalReason, id: MessageId, vars: Record<string, string | number> = {}, detail?: Record<string, unknown>): IntakeResult {
  return detail === undefined
    ? { status: 'refused', reason, message: tAll(id, vars), duplicate: false }
    : { status: 'refused', reason, message: tAll(id, vars), detail, duplicate: false };
}

/** Who is asking, for the moderator. A mini program user's id is their openid, which WeChat's own checks need. */
function moderationContext(req: ChatRequest): ModerationContext {
  return { platform: req.platform, userId: req.userId, ...(req.platform === 'miniprogram' ? { openid: req.userId } : {}) };
}

/** The hit that decided a block, with its category's name for users in each language. */
function firstHit(v: ModerationVerdict): { category: string; match: string; label: LocalizedText } {
  const h = v.hits[0];
  // The moderator names the category (categories.json); the catalogue's generic label otherwise.
  return { category: h?.category ?? 'policy', match: h?.match ?? '', label: h?.categoryLabel ?? tAll('category.policy') };
}

/**
 * The one way in: a chat message becomes a queued generation job, or a clear refusal.
 * parse → moderate text (and image) → reserve quota → record → enqueue → answer.
 * Idempotent per platform event id: the same event twice gives the same answer and one charge.
 */
export class Intake {
  private readonly keys: Keys;
  private readonly now: () => number;
  private readonly blocks: UserBlocks;
  /** Concurrent intakes' claims go to Redis together (one write per turn of the event loop). */
  private readonly batch: TickBatcher;

  constructor(private readonly deps: IntakeDeps) {
    this.keys = new Keys(deps.config.keyPrefix);
    this.blocks = new UserBlocks(deps.redis, deps.config.keyPrefix);
    this.batch = new TickBatcher(deps.redis);
    this.now = deps.now ?? Date.now;
  }

  async intake(input: ChatRequestInput): Promise<IntakeResult> {
    const parsed = ChatRequestSchema.safeParse(input);
    if (!parsed.success) {
      // zod's own messages are English: the user is told which fields, in their language, and
      // the issues go in the detail for the adapter's developer.
      const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
      const fields = [...new Set(parsed.error.issues.map((i) => (i.path.length === 0 ? '(request)' : i.path.join('.'))))];
      return {
        status: 'refused',
        reason: 'invalid_request',
        message: tAll('refusal.invalid_request', (l) => ({ detail: t('request.invalid_fields', l, { fields: fields.join(l === 'zh-CN' ? '、' : ', ') }) })),
        detail: { issues },
        duplicate: false,
      };
    }
    const req = parsed.data;
    const idemKey = this.keys.idempotency(req.platform, req.eventId);

    // A text-only request needs Redis for nothing before its admission: it is parsed and moderated
    // first, then claimed and admitted in one call, then enqueued and answered in one round trip.
    let prepared: Prepared | undefined;
    let claimedBefore = false;
    if (req.attachments.length === 0) {
      try {
        prepared = await this.prepare(req);
      } catch (err) {
        // A moderator that failed (a remote check down): nothing claimed or held, the event's retry runs again.
        this.deps.logger?.error({ err, platform: req.platform }, 'intake failed');
        return refusal('internal', 'refusal.internal');
      }
      if (prepared.ok) {
        const fast = await this.intakeTextOnly(req, idemKey, prepared);
        if (fast !== 'claimed') return fast;
        claimedBefore = true;
      }
    }

    // Claim the event, or wait for whoever claimed it first and repeat its answer.
    let jobId = newJobId();
    let claimRaw = JSON.stringify({ state: 'pending', jobId, leaseUntil: this.now() + LEASE_MS } satisfies IdemRecord);
    let blocked: boolean | undefined;
    if (!claimedBefore) {
      // The block list is read with the claim (one round trip); it decides only once the claim is ours.
      const userKey = userKeyOf(req.platform, req.userId);
      const [claimed, blockedNow] = await Promise.all([
        this.batch.run<string | null>((p) => p.set(idemKey, claimRaw, 'EX', IDEMPOTENCY_TTL_SECONDS, 'NX')),
        this.batch.run<number>((p) => p.hexists(this.keys.blockedUsers(), userKey)),
      ]);
      blocked = blockedNow === 1;
      claimedBefore = claimed === null;
    }
    if (claimedBefore) {
      blocked = undefined;
      const outcome = await this.awaitOrTakeOver(idemKey);
      if (outcome.kind === 'done') return { ...outcome.result, duplicate: true };
      jobId = outcome.jobId;
      claimRaw = outcome.claimRaw;
    }

    // Keep the claim alive while we work (an image fetch and NSFW check can be slow), so that a
    // duplicate does not take over a live intake.
    const renew = setInterval(() => {
      const next = JSON.stringify({ state: 'pending', jobId, leaseUntil: this.now() + LEASE_MS } satisfies IdemRecord);
      void this.deps.redis.eval(CAS_SCRIPT, 1, idemKey, claimRaw, next, IDEMPOTENCY_TTL_SECONDS).then(
        (ok) => {
          if (ok === 1) claimRaw = next;
        },
        () => undefined,
      );
    }, LEASE_MS / 3);

    const progress: IntakeProgress = { reserved: false, recorded: false, enqueued: false, answered: false };
    let result: IntakeResult;
    try {
      result = await this.process(req, jobId, progress, blocked, prepared);
    } catch (err) {
      clearInterval(renew);
      return this.failed(err, req, idemKey, jobId, claimRaw, progress);
    }
    clearInterval(renew);
    return this.answer(idemKey, jobId, claimRaw, progress, result);
  }

  /**
   * The text-only path: one call claims the event, reads the user's block and admits the job; the
   * enqueue and the answer share the next round trip. 'claimed' when the event was claimed before
   * (nothing written: the caller waits for that intake's answer, or takes it over).
   */
  private async intakeTextOnly(req: ChatRequest, idemKey: string, prepared: Prepared & { ok: true }): Promise<IntakeResult | 'claimed'> {
    if (typeof this.deps.lifecycle.intakeOne === 'function' && this.deps.lifecycle.intakeInOneCall) return this.intakeInOneCall(req, idemKey, prepared);
    const jobId = newJobId();
    const claimRaw = JSON.stringify({ state: 'pending', jobId, leaseUntil: this.now() + LEASE_MS } satisfies IdemRecord);
    const progress: IntakeProgress = { reserved: false, recorded: false, enqueued: false, answered: false };
    let result: IntakeResult | 'claimed';
    try {
      result = await this.admitAndQueue(req, jobId, prepared.spec, prepared.reviewRequired, progress, { key: idemKey, value: claimRaw, ttlSeconds: IDEMPOTENCY_TTL_SECONDS });
    } catch (err) {
      return this.failed(err, req, idemKey, jobId, claimRaw, progress);
    }
    if (result === 'claimed') return result;
    return this.answer(idemKey, jobId, claimRaw, progress, result);
  }

  /**
   * The text-only path in one Redis call (JobLifecycle.intakeOne): claim, block check, admission,
   * BullMQ's add, the 'queued' event and the answer's facts over the claim. Only a refusal takes a
   * second round trip (its answer written over the claim). 'claimed' as intakeTextOnly's.
   */
  private async intakeInOneCall(req: ChatRequest, idemKey: string, prepared: Prepared & { ok: true }): Promise<IntakeResult | 'claimed'> {
    const { config, quota, queue, lifecycle } = this.deps;
    const jobId = newJobId();
    const claimRaw = JSON.stringify({ state: 'pending', jobId, leaseUntil: this.now() + LEASE_MS } satisfies IdemRecord);
    const { spec, reviewRequired } = prepared;
    const userKey = userKeyOf(req.platform, req.userId);
    const tier = tierOf(config, userKey, req.roles);
    const input = this.admitInput(req, jobId, spec, reviewRequired, tier);
    const cost = input.record.cost;
    // The 'done' record up to its place in line, which the script completes (AcceptedFacts).
    const head = `{"state":"done","jobId":${JSON.stringify(jobId)},"accepted":{"cost":${cost},"reviewRequired":${reviewRequired},"spec":${JSON.stringify(spec)},`;
    const nothing: IntakeProgress = { reserved: false, recorded: false, enqueued: false, answered: false };
    let out: IntakeOneResult;
    try {
      const enqueue = await queue.oneCallAdd({ version: 2, jobId, userKey, enqueuedAt: input.record.createdAt }, spec.mode);
      out = await lifecycle.intakeOne(input, { key: idemKey, value: claimRaw, ttlSeconds: IDEMPOTENCY_TTL_SECONDS }, enqueue, head);
    } catch (err) {
      return this.oneCallFailed(err, req, idemKey, jobId, claimRaw);
    }
    switch (out.outcome) {
      case 'claimed':
        return 'claimed';
      case 'blocked':
        return this.answer(idemKey, jobId, claimRaw, nothing, refusal('user_blocked', 'refusal.user_blocked'));
      case 'refused': {
        const decision = quota.decide(tier, out.reserve);
        // A reservation of a brand-new job id found already made cannot be: released as a failure.
        if (decision.ok) return this.oneCallFailed(new Error(`unexpected reservation state ${String(out.reserve[0])}`), req, idemKey, jobId, claimRaw);
        return this.answer(idemKey, jobId, claimRaw, nothing, this.quotaRefusal(decision, cost));
      }
      case 'accepted':
        this.deps.logger?.info({ jobId, platform: req.platform, cost, tier, position: out.position }, 'job accepted');
        return this.acceptedResult(jobId, { cost, reviewRequired, spec, position: out.position, etaSeconds: out.etaSeconds, creditsLeft: out.creditsLeft }, false);
    }
  }

  /**
   * The one call failed, or its reply was lost after it ran: the event's record says which. The
   * answer written (it ran whole): accepted. Our claim (it ran and refused, or stopped part-way):
   * released as any failure, for the event's retry to run again. Unreadable: nothing is released
   * (the job may be queued), and a retry takes the claim over once its lease ends.
   */
  private async oneCallFailed(err: unknown, req: ChatRequest, idemKey: string, jobId: string, claimRaw: string): Promise<IntakeResult> {
    let raw: string | null;
    try {
      raw = await this.deps.redis.get(idemKey);
    } catch {
      this.deps.logger?.error({ err, jobId, platform: req.platform }, 'intake failed; whether it queued the job is unknown: a retry of the event will find out');
      return refusal('internal', 'refusal.internal');
    }
    if (raw !== null && raw !== claimRaw) {
      const rec = JSON.parse(raw) as IdemRecord;
      if (rec.state === 'done' && rec.jobId === jobId && 'accepted' in rec) {
        this.deps.logger?.warn({ err, jobId, platform: req.platform }, 'intake reply lost after it ran: accepted');
        return this.acceptedResult(jobId, rec.accepted, false);
      }
    }
    const touched: IntakeProgress = { reserved: raw === claimRaw, recorded: raw === claimRaw, enqueued: false, answered: false };
    return this.failed(err, req, idemKey, jobId, claimRaw, touched);
  }

  /** An accepted answer from its facts: the same for the intake and for a repeat of its event. */
  private acceptedResult(jobId: string, f: AcceptedFacts, duplicate = true): Extract<IntakeResult, { status: 'accepted' }> {
    const vars = (l: Locale) => ({
      summary: formatSpecSummary(f.spec, l),
      jobId,
      position: Math.max(1, f.position),
      eta: formatEta(f.etaSeconds, l),
      credits: f.creditsLeft,
    });
    return {
      status: 'accepted',
      jobId,
      position: f.position,
      etaSeconds: f.etaSeconds,
      cost: f.cost,
      creditsLeft: f.creditsLeft,
      reviewRequired: f.reviewRequired,
      spec: f.spec,
      message: tAll(f.reviewRequired ? 'intake.accepted_review' : 'intake.accepted', vars),
      duplicate,
    };
  }

  private quotaRefusal(decision: ReserveDecision & { ok: false }, cost: number): IntakeResult {
    const { config } = this.deps;
    switch (decision.reason) {
      case 'credits':
        return refusal('quota_credits', 'refusal.quota_credits', { cost, available: decision.available, timeZone: config.timeZone }, { cost, available: decision.available });
      case 'concurrency':
        return refusal('quota_concurrency', 'refusal.quota_concurrency', { active: decision.active, limit: decision.limit }, { active: decision.active, limit: decision.limit });
      case 'tenant':
        return refusal('quota_tenant', 'refusal.quota_tenant', { timeZone: config.timeZone });
    }
  }

  /** An intake that threw: accepted all the same once queued; otherwise released, and the event's claim with it. */
  private async failed(err: unknown, req: ChatRequest, idemKey: string, jobId: string, claimRaw: string, progress: IntakeProgress): Promise<IntakeResult> {
    this.deps.logger?.error({ err, jobId, platform: req.platform }, 'intake failed');
    if (progress.enqueued) {
      // Accepted for real: the job will run. Never refund it or let a retry make a second one.
      const result: IntakeResult = { status: 'accepted', jobId, position: 0, etaSeconds: 0, cost: 0, creditsLeft: 0, reviewRequired: false, spec: progress.spec as GenerationSpec, message: tAll('intake.accepted_short', { jobId }), duplicate: false };
      return this.answer(idemKey, jobId, claimRaw, progress, result);
    }
    if (progress.reserved || progress.recorded) {
      await this.deps.lifecycle.abandon(jobId, 'intake failed before the job was queued').catch((e: unknown) => this.deps.logger?.error({ err: e, jobId }, 'could not release an abandoned intake'));
      // Its rank among the user's waiting jobs goes too (it would push their next job back).
      await this.deps.queue.taken(userKeyOf(req.platform, req.userId), jobId).catch(() => undefined);
    }
    // Forget the claim so that the platform's retry of this event can try again.
    await this.deps.redis.eval(CAS_DEL_SCRIPT, 1, idemKey, claimRaw).catch(() => undefined);
    return refusal('internal', 'refusal.internal');
  }

  /** Records the answer over this intake's claim (unless the enqueue's round trip did), and gives it. */
  private async answer(idemKey: string, jobId: string, claimRaw: string, progress: IntakeProgress, result: IntakeResult): Promise<IntakeResult> {
    if (progress.answered) return result;
    const done: IdemRecord = { state: 'done', jobId, result };
    if (progress.enqueued && result.status === 'accepted' && !result.duplicate) {
      // The 'queued' event and the answer in one call. Should it fail, the job is queued all the
      // same: the claim stays pending and a retry of the event takes it over once the lease ends
      // (same job id: the reservation is found held, the record and the queue entry are kept).
      const how = await this.deps.lifecycle
        .queuedAnswer(jobId, { type: 'queued', position: result.position, etaSeconds: result.etaSeconds }, this.answerWrite(idemKey, jobId, claimRaw, done))
        .catch((err: unknown) => {
          this.deps.logger?.warn({ err, jobId }, 'queued, but the answer was not recorded: a retry of the event will take it over');
          return 'failed' as const;
        });
      if (how === 'not-queued') this.deps.logger?.warn({ jobId }, 'queued, but gone from the queue before the answer was recorded');
      return result;
    }
    // Only over our own claim: a takeover (same job id) writes its own, equivalent answer.
    await this.deps.redis.eval(CAS_SCRIPT, 1, idemKey, claimRaw, JSON.stringify(done), IDEMPOTENCY_TTL_SECONDS);
    return result;
  }

  private answerWrite(idemKey: string, jobId: string, claimRaw: string, done: IdemRecord): IntakeAnswerWrite {
    return { key: idemKey, claim: claimRaw, answer: JSON.stringify(done), ttlSeconds: IDEMPOTENCY_TTL_SECONDS, queuedJobKey: this.deps.queue.jobKey(jobId) };
  }

  private async awaitOrTakeOver(idemKey: string): Promise<{ kind: 'done'; result: IntakeResult } | { kind: 'takeover'; jobId: string; claimRaw: string }> {
    for (;;) {
      const raw = await this.deps.redis.get(idemKey);
      if (raw === null) {
        // The first intake failed and released the claim: try to claim it ourselves.
        const jobId = newJobId();
        const claimRaw = JSON.stringify({ state: 'pending', jobId, leaseUntil: this.now() + LEASE_MS } satisfies IdemRecord);
        if ((await this.deps.redis.set(idemKey, claimRaw, 'EX', IDEMPOTENCY_TTL_SECONDS, 'NX')) !== null) {
          return { kind: 'takeover', jobId, claimRaw };
        }
        continue;
      }
      const rec = JSON.parse(raw) as IdemRecord;
      if (rec.state === 'done') return { kind: 'done', result: 'accepted' in rec ? this.acceptedResult(rec.jobId, rec.accepted) : rec.result };
      if (rec.leaseUntil < this.now()) {
        const claimRaw = JSON.stringify({ state: 'pending', jobId: rec.jobId, leaseUntil: this.now() + LEASE_MS } satisfies IdemRecord);
        const ok = await this.deps.redis.eval(CAS_SCRIPT, 1, idemKey, raw, claimRaw, IDEMPOTENCY_TTL_SECONDS);
        if (ok === 1) return { kind: 'takeover', jobId: rec.jobId, claimRaw };
        continue;
      }
      await new Promise((r) => setTimeout(r, DUPLICATE_POLL_MS));
    }
  }

  private runtimeRefusal(code: FitRefusalCode, detail: string, log: Logger | undefined): IntakeResult {
    const id: MessageId = code === 'image_not_supported' ? 'refusal.image_not_supported' : code === 'image_required' ? 'refusal.image_required' : 'refusal.runtime_unavailable';
    if (id === 'refusal.runtime_unavailable') log?.error({ code, detail }, 'no worker can render this request: check the runtimes\' configuration');
    return refusal('runtime_unsupported', id, {}, { code });
  }

  /**
   * Parse, what the runtimes take, text moderation and the spec fitted: all that needs no Redis
   * (the runtimes' capabilities are cached) for a request without an image.
   */
  private async prepare(req: ChatRequest): Promise<Prepared> {
    // Only refusals log: no child logger for the others.
    const log = (): Logger | undefined => this.deps.logger?.child({ platform: req.platform });
    const parsedSpec = parseVideoCommand(req.text, this.deps.random === undefined ? {} : { random: this.deps.random });
    if (!parsedSpec.ok) return { ok: false, result: this.badCommand(parsedSpec.error) };
    let spec = parsedSpec.spec;
    const caps = await this.capabilities(this.deps.logger);
    if (caps !== undefined) {
      const early = imageInputRefusal(caps, false);
      if (early !== undefined) return { ok: false, result: this.runtimeRefusal(early.code, early.detail, log()) };
    }
    const textVerdict = await this.deps.moderator.moderateText(req.text, moderationContext(req));
    if (textVerdict.action === 'block') return { ok: false, result: this.textBlocked(textVerdict, log()) };
    if (caps !== undefined) {
      const fit = fitSpecToCapabilities(spec, caps);
      if (!fit.ok) return { ok: false, result: this.runtimeRefusal(fit.code, fit.detail, log()) };
      spec = fit.spec;
    }
    return { ok: true, spec, reviewRequired: textVerdict.action === 'review' };
  }

  private capabilities(log: Logger | undefined): Promise<RuntimeCapabilities | undefined> {
    return this.deps.capabilities?.current().catch((err: unknown) => {
      log?.warn({ err }, 'runtime capabilities unreadable: spec left as parsed');
      return undefined;
    }) ?? Promise.resolve(undefined);
  }

  private badCommand(e: GrammarError): IntakeResult {
    return { status: 'refused', reason: 'bad_command', message: e.message, detail: { code: e.code, param: e.param, allowed: e.allowed }, duplicate: false };
  }

  private textBlocked(textVerdict: ModerationVerdict, log: Logger | undefined): IntakeResult {
    const hit = firstHit(textVerdict);
    log?.info({ category: hit.category, source: textVerdict.source }, 'prompt blocked');
    return {
      status: 'refused',
      reason: 'moderation_blocked',
      message: tAll('refusal.moderation_blocked', (l) => ({ category: hit.label[l] })),
      detail: { category: hit.category, hits: textVerdict.hits },
      duplicate: false,
    };
  }

  private async process(req: ChatRequest, jobId: string, progress: IntakeProgress, blockedAtClaim: boolean | undefined, prepared: Prepared | undefined): Promise<IntakeResult> {
    const { moderator } = this.deps;
    const log = this.deps.logger?.child({ jobId, platform: req.platform });
    const userKey = userKeyOf(req.platform, req.userId);

    // 0. A user an operator blocked is refused before anything is parsed, moderated or charged
    // (read with the claim; a takeover reads it now). A text-only request was parsed and moderated
    // before its claim: only its answer waits for the block check.
    if (blockedAtClaim ?? (await this.blocks.isBlocked(userKey))) return refusal('user_blocked', 'refusal.user_blocked');
    if (prepared !== undefined) {
      if (!prepared.ok) return prepared.result;
      const r = await this.admitAndQueue(req, jobId, prepared.spec, prepared.reviewRequired, progress);
      if (r === 'claimed') throw new Error('unexpected: no claim was asked for');
      return r;
    }

    // 1. Parse.
    const parsedSpec = parseVideoCommand(req.text, this.deps.random === undefined ? {} : { random: this.deps.random });
    if (!parsedSpec.ok) return this.badCommand(parsedSpec.error);
    let spec = parsedSpec.spec;
    // What the runtimes can make decides before anything is fetched or charged.
    const caps = await this.capabilities(log);
    if (caps !== undefined) {
      const early = imageInputRefusal(caps, req.attachments.length > 0);
      if (early !== undefined) return this.runtimeRefusal(early.code, early.detail, log);
    }

    // 2. Moderate the text.
    const ctx = moderationContext(req);
    const textVerdict = await moderator.moderateText(req.text, ctx);
    if (textVerdict.action === 'block') return this.textBlocked(textVerdict, log);
    let reviewRequired = textVerdict.action === 'review';

    // 3. The reference image: fetched safely, decoded, stored, moderated.
    const attachment = req.attachments[0];
    if (attachment !== undefined) {
      if (this.deps.imageIntake === undefined) {
        return { status: 'refused', reason: 'image_invalid', message: tAll('refusal.image_invalid', (l) => ({ detail: t('image.not_supported_here', l) })), duplicate: false };
      }
      const img = await this.deps.imageIntake.accept(attachment, { jobId });
      if (!img.ok) {
        // The detail in each language goes to that language's message.
        return { status: 'refused', reason: 'image_invalid', message: tAll('refusal.image_invalid', (l) => ({ detail: img.message[l] })), detail: { code: img.code }, duplicate: false };
      }
      if (moderator.moderateImage !== undefined) {
        const v = await moderator.moderateImage(img.pixels, ctx);
        if (v.action === 'block') {
          const hit = firstHit(v);
          return {
            status: 'refused',
            reason: 'image_blocked',
            message: tAll('refusal.image_blocked', (l) => ({ category: hit.label[l] })),
            detail: { category: hit.category },
            duplicate: false,
          };
        }
        if (v.action === 'review') reviewRequired = true;
      }
      spec = { ...spec, referenceImage: img.image };
    }

    if (caps !== undefined) {
      const fit = fitSpecToCapabilities(spec, caps);
      if (!fit.ok) return this.runtimeRefusal(fit.code, fit.detail, log);
      spec = fit.spec;
    }

    const r = await this.admitAndQueue(req, jobId, spec, reviewRequired, progress);
    if (r === 'claimed') throw new Error('unexpected: no claim was asked for');
    return r;
  }

  /**
   * 4. Reserve credits, record the job and rank it in its user's line: one call (JobLifecycle.admit,
   * or intakeAdmit with the event's `claim` and the block check in front). 5. Enqueue, and with a
   * `claim`, write the answer over it in the same round trip.
   */
  private async admitAndQueue(req: ChatRequest, jobId: string, spec: GenerationSpec, reviewRequired: boolean, progress: IntakeProgress, claim?: IntakeClaim): Promise<IntakeResult | 'claimed'> {
    const { config, quota, queue, lifecycle } = this.deps;
    const userKey = userKeyOf(req.platform, req.userId);
    const tier = tierOf(config, userKey, req.roles);
    // Should the call fail, it may have run all the same (a lost reply): what it may have reserved
    // and recorded is released (abandon is a no-op for a job never admitted).
    progress.reserved = true;
    progress.recorded = true;
    const input = this.admitInput(req, jobId, spec, reviewRequired, tier);
    const { cost, createdAt } = input.record;
    let admitted: AdmitResult;
    if (claim === undefined) {
      admitted = await lifecycle.admit(input);
    } else {
      // Both round trips go through the queue connection's pipeline: the admissions and the enqueues
      // of one turn leave in one write.
      const out = await lifecycle.intakeAdmit(input, claim, await this.queuePipeline());
      if (out.outcome === 'claimed') {
        progress.reserved = false;
        progress.recorded = false;
        return 'claimed';
      }
      if (out.outcome === 'blocked') {
        progress.reserved = false;
        progress.recorded = false;
        return refusal('user_blocked', 'refusal.user_blocked');
      }
      admitted = out.admit;
    }
    const decision = quota.decide(tier, admitted.reserve);
    if (!decision.ok) return this.quotaRefusal(decision, cost);

    if (!admitted.admitted) {
      // A takeover of an intake that had already queued this job, which has since been settled:
      // answer with that job, enqueue nothing.
      return {
        status: 'accepted', jobId, position: 0, etaSeconds: 0, cost, creditsLeft: (await quota.show(userKey, tier, this.now())).available,
        reviewRequired, spec, message: tAll('intake.accepted_short', { jobId }), duplicate: true,
      };
    }
    // Reserved and recorded (a takeover of a crashed intake owns what it finds held): a failure
    // from here until the job is queued releases both (progress says so since before admit).

    // The place in line from what admit read (jobs enqueued meanwhile by others are not counted).
    const pos = await queue.positionFrom(admitted, spec.mode).catch(() => ({ position: 0, state: 'unknown' as const, etaSeconds: 0 }));
    const creditsLeft = decision.alreadyReserved
      ? await quota.show(userKey, tier, this.now()).then((q) => q.available, () => 0)
      : decision.dailyLeft + decision.bonusLeft;
    this.deps.logger?.info({ jobId, platform: req.platform, cost, tier, position: pos.position }, 'job accepted');
    const result = this.acceptedResult(jobId, { cost, reviewRequired, spec, position: pos.position, etaSeconds: pos.etaSeconds, creditsLeft }, false);

    // 5. Enqueue (the record is written, so a worker always finds it).
    const payload = { version: 2 as const, jobId, userKey, enqueuedAt: createdAt };
    if (claim === undefined) {
      await queue.add(payload, spec.mode, admitted.rank);
    } else {
      // The add and the answer in one pipeline on the queue's connection: the answer's script finds
      // the job queued (it runs after the add), else writes nothing and the answer is written after.
      const on = await this.queuePipeline();
      const added = queue.add(payload, spec.mode, admitted.rank, on);
      const write = this.answerWrite(claim.key, jobId, claim.value, { state: 'done', jobId, result });
      const answered = lifecycle.queuedAnswer(jobId, { type: 'queued', position: result.position, etaSeconds: result.etaSeconds }, write, on).catch(() => 'failed' as const);
      await added;
      progress.answered = (await answered) === 'written';
    }
    progress.enqueued = true;
    progress.spec = spec;
    return result;
  }

  /** The admission of one job: its record, its reservation, the user's settings and its place among the user's waiting jobs. */
  private admitInput(req: ChatRequest, jobId: string, spec: GenerationSpec, reviewRequired: boolean, tier: Tier): AdmitInput {
    const { config, quota, queue } = this.deps;
    const userKey = userKeyOf(req.platform, req.userId);
    const tenantKey = tenantKeyOf(req.platform, req.tenantId);
    const cost = costOf(spec);
    const createdAt = this.now();
    return {
      record: {
        version: 2, jobId, platform: req.platform, userKey, tenantKey, channelId: req.channelId,
        eventId: req.eventId, cost, spec, createdAt, reviewRequired, replyTarget: req.replyTarget, locale: req.locale ?? config.defaultLocale, tier,
      },
      reserve: quota.reserveCall({ jobId, userKey, tenantKey, cost, tier, now: createdAt }),
      // The user's choice, else the operator's default.
      settingsKey: this.keys.userSettings(userKey),
      defaultAllowDowngrade: config.env.FRAMECAST_OOM_DOWNGRADE,
      fairQueue: queue.admissionKeys(userKey, spec.mode),
    };
  }

  private queueConnection: Promise<TickBatcher> | undefined;

  /** Turns' pipelines on the generate queue's own connection, with the job scripts defined there. */
  private queuePipeline(): Promise<TickBatcher> {
    this.queueConnection ??= this.deps.queue.client().then(
      // BullMQ's client is ioredis behind its adapter: its pipelines take ioredis' commands and BullMQ's.
      (client) => this.deps.lifecycle.pipelineOn(client as unknown as Redis),
      (err: unknown) => {
        this.queueConnection = undefined;
        throw err;
      },
    );
    return this.queueConnection;
  }

}
