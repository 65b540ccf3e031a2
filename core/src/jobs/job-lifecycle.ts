import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { toWellFormed } from '../grammar/text-normalise.ts';
import { tAll, type LocalizedText } from '../i18n/messages.ts';
import type { GenerationSpec } from '../model/generation-spec.schema.ts';
import type { DeliveryQueues } from '../queue/delivery-queues.ts';
import { DeliveryJobDataSchema, type DeliveryJobData, type DeliveryOutcome, type VideoResult } from '../queue/job-payloads.schema.ts';
import { Keys } from '../redis/keys.ts';
import { TickBatcher } from '../redis/tick-batcher.ts';
import { INTAKE_IN_ONE_CALL, withJobScripts, type RedisWithJobScripts } from './job-scripts.ts';
import { RECORD_TTL_SECONDS, USER_LIST_MAX, JobRecordSchema, JobStore, toHash, type JobRecord, type JobRecordInput, type JobState } from './job-record.ts';
import { Ledger, RESERVATION_TTL_SECONDS } from './ledger.ts';
import { shareKeysOf } from './collab-ledger.ts';

/** Who asked for a change: the job's owner, or an admin. */
export interface Actor {
  userKey: string;
  isAdmin: boolean;
}

export interface JobLifecycleOptions {
  redis: Redis;
  keyPrefix: string;
  /** Where outcomes go once written (one BullMQ queue per platform). */
  deliveryQueues: DeliveryQueues;
  logger?: Logger;
  /** Progress events kept in the stream (approximate). Default 10,000. */
  streamMaxLen?: number;
  /** How long a video that could not be delivered stays readable (jobs show). Default 7 days. */
  undeliverableRetentionSeconds?: number;
  /** How long delivery records live. Default 30 days. */
  deliveryRecordSeconds?: number;
  now?: () => number;
}

export type FinishStatus = 'ok' | 'missing' | 'final' | 'conflict';
export interface FinishResult {
  status: FinishStatus;
  /** The outcome in force: this call's, an earlier attempt's promise, or 'cancelled' when a cancel won. */
  kind: DeliveryOutcome['kind'] | 'review' | 'none' | JobState | '';
  /** True when an earlier attempt's promise decided the outcome. */
  promised: boolean;
}

/** A step of a running job, or its post-processing phase (not a change of state). */
export type ProgressReport =
  | { type: 'queued'; position: number; etaSeconds: number }
  | { type: 'step'; step: number; totalSteps: number; previewRef?: string }
  | { type: 'encoding'; phase: 'encoding' | 'scanning' };

/** What JobLifecycle.admit needs: the record, the quota's reservation and the fair queue's keys. */
export interface AdmitInput {
  record: Omit<JobRecordInput, 'state' | 'allowDowngrade'>;
  /** QuotaService.reserveCall(…) for this job. */
  reserve: { keys: readonly string[]; args: readonly (string | number)[] };
  /** The user's settings hash (field allowDowngrade). */
  settingsKey: string;
  defaultAllowDowngrade: boolean;
  /** FairQueue.admissionKeys(…) for this job's user and mode. */
  fairQueue: { waitingSet: string; waitingSetTtl: number; prioritized: string; wait: string; active: string; durations: string; durationSamples: number };
}

export type AdmitResult =
  /** Not admitted: the reserve script's answer (a refusal, or a reservation already settled). */
  | { admitted: false; reserve: [string, string | number, string | number] }
  | {
      admitted: true;
      reserve: [string, string | number, string | number];
      /** The job's rank among its user's waiting jobs (the fair queue's priority). */
      rank: number;
      /** Waiting jobs that will run before it, jobs in the plain wait list, jobs running. */
      ahead: number;
      plain: number;
      running: number;
      /** Recent run times of its mode (ms). */
      durationsMs: number[];
    };

/** A text-only intake's claim of its platform event (JobLifecycle.intakeAdmit). */
export interface IntakeClaim {
  /** The event's idempotency record. */
  key: string;
  /** The pending record that claims it. */
  value: string;
  ttlSeconds: number;
}

export type IntakeAdmitResult =
  /** The event was claimed before: `record` is what holds it (pending or done); nothing written. */
  | { outcome: 'claimed'; record: string }
  /** The claim is written and the user is blocked: nothing else written. */
  | { outcome: 'blocked' }
  | { outcome: 'admit'; admit: AdmitResult };

export type IntakeOneResult =
  /** The event was claimed before: `record` is what holds it (pending or done); nothing written. */
  | { outcome: 'claimed'; record: string }
  /** The claim is written and the user is blocked: nothing else written. */
  | { outcome: 'blocked' }
  /** The claim is written and the reservation refused (reserve.lua's answer): nothing else written. */
  | { outcome: 'refused'; reserve: [string, string | number, string | number] }
  /** Admitted, queued, the 'queued' event sent and the answer's facts written over the claim. */
  | { outcome: 'accepted'; position: number; etaSeconds: number; creditsLeft: number; rank: number };

/** The intake's answer to write over its claim once its job is queued. */
export interface IntakeAnswerWrite {
  key: string;
  claim: string;
  answer: string;
  ttlSeconds: number;
  /** The job's hash in the generate queue (written only when it exists). */
  queuedJobKey: string;
}

const RUNNING: readonly JobState[] = ['queued', 'active'];
const CANCELLED_MESSAGE: LocalizedText = tAll('outcome.cancelled');
const UNDELIVERABLE_MESSAGE: LocalizedText = tAll('outcome.undeliverable');

/**
 * The one owner of a job's fate. Every change of a job's state, every charge and refund, and every
 * outcome promised to a user goes through here, each as one Lua script, so that the record (the
 * single source of truth), the credit ledger and the delivery record never disagree — whatever
 * runs twice, crashes half-way or races (a retried worker, a cancel, a review, a redelivery).
 */
export class JobLifecycle {
  private readonly keys: Keys;
  private readonly redis: RedisWithJobScripts;
  private readonly ledger: Ledger;
  private readonly store: JobStore;
  private readonly now: () => number;
  private readonly streamMaxLen: number;
  private readonly retention: number;
  private readonly deliveryTtl: number;
  /** Concurrent intakes' admissions and answers go to Redis together (one write per turn of the event loop). */
  private readonly batch: TickBatcher;

  constructor(private readonly o: JobLifecycleOptions) {
    this.keys = new Keys(o.keyPrefix);
    this.redis = withJobScripts(o.redis);
    this.ledger = new Ledger(o.redis, o.keyPrefix);
    this.store = new JobStore(o.redis, o.keyPrefix);
    this.now = o.now ?? Date.now;
    this.streamMaxLen = o.streamMaxLen ?? 10_000;
    this.retention = o.undeliverableRetentionSeconds ?? 7 * 24 * 3600;
    this.deliveryTtl = o.deliveryRecordSeconds ?? 30 * 24 * 3600;
    // At most 8 a pipeline: with more, Redis waits for this process to prepare the whole turn's
    // intakes, then this process waits for Redis to run them all (bench intake: ~15% more per second).
    this.batch = new TickBatcher(this.redis, 8);
  }

  /** Writes a new job's record (state `queued`); a second call for the same id changes nothing. */
  async create(input: JobRecordInput): Promise<boolean> {
    const rec = JobRecordSchema.parse({ ...input, state: 'queued' });
    const fields = Object.entries(toHash(rec)).flat();
    const written = await this.redis.fcJobCreate(
      this.keys.job(rec.jobId), this.keys.userJobs(rec.userKey), this.keys.jobStateCounts(),
      RECORD_TTL_SECONDS, rec.createdAt, rec.jobId, USER_LIST_MAX, ...fields,
    );
    return written === 1;
  }

  /**
   * The intake's admission in one Redis call: the credits reserved (the quota's reserve script,
   * given as `reserve`), the record written (state `queued`, as create) and the job ranked among its
   * user's waiting jobs, with what its place in line will be. Nothing is written unless the
   * reservation is made now or was held by an earlier try of the same intake (a takeover); a second
   * call for the same job changes nothing. The record's allowDowngrade is the user's setting, else
   * `defaultAllowDowngrade`.
   */
  async admit(input: AdmitInput): Promise<AdmitResult> {
    const call = this.admitCall(input);
    return this.admitResult(await this.batch.run<(string | number)[]>((p) => (p as unknown as RedisWithJobScripts).fcJobAdmit(...call.keys, ...call.args)));
  }

  /**
   * A text-only intake's claim of its platform event and its admission in one Redis call (its
   * parse and moderation need none): the claim is written unless the event was claimed before
   * ('claimed', with what holds it; nothing written), the user's block is read ('blocked': the
   * claim written, nothing else), then as admit. `on`: as queuedAnswer's (one pipeline per turn
   * for both steps of every intake: one socket write instead of two).
   */
  async intakeAdmit(input: AdmitInput, claim: IntakeClaim, on?: TickBatcher): Promise<IntakeAdmitResult> {
    const call = this.admitCall(input);
    const out = await (on ?? this.batch).run<(string | number)[]>((p) => (p as unknown as RedisWithJobScripts).fcIntakeAdmit(
      claim.key, this.keys.blockedUsers(), ...call.keys, claim.value, claim.ttlSeconds, input.record.userKey, ...call.args,
    ));
    if (out[0] === 'claimed') return { outcome: 'claimed', record: String(out[1] ?? '') };
    if (out[0] === 'blocked') return { outcome: 'blocked' };
    return { outcome: 'admit', admit: this.admitResult(out) };
  }

  /** Whether intakeOne can run here (this BullMQ's add script found: see queue/bullmq-add.ts). */
  get intakeInOneCall(): boolean {
    return INTAKE_IN_ONE_CALL;
  }

  /**
   * A text-only intake in one Redis call (intake-one-26.lua): the event claimed, the block read, the
   * admission (as admit), the job added to the generate queue by BullMQ's own script with the
   * priority of its rank, its 'queued' event, and the answer written over the claim: `answerHead`
   * (the 'done' record up to its place in line, which the script completes with position,
   * etaSeconds and creditsLeft). `enqueue`: FairQueue.oneCallAdd's. Only where INTAKE_IN_ONE_CALL.
   */
  async intakeOne(input: AdmitInput, claim: IntakeClaim, enqueue: { keys: string[]; args: (string | number)[] }, answerHead: string): Promise<IntakeOneResult> {
    // The ETA's mean run time comes with `enqueue` (cached): the run times are not read per call.
    const call = this.admitCall({ ...input, fairQueue: { ...input.fairQueue, durationSamples: 0 } });
    const r = input.record;
    const out = await this.batch.run<(string | number)[]>((p) => (p as unknown as RedisWithJobScripts).fcIntakeOne(
      claim.key, this.keys.blockedUsers(), ...call.keys, this.keys.progressStream(), ...enqueue.keys,
      // A Buffer argument makes ioredis write the command into one buffer instead of growing a
      // string (with a CJK prompt the pipeline's string is two-byte and costly to flatten and encode).
      claim.value, claim.ttlSeconds, r.userKey, ...call.args, this.streamMaxLen, r.platform, ...enqueue.args, Buffer.from(answerHead),
    ));
    switch (out[0]) {
      case 'claimed':
        return { outcome: 'claimed', record: String(out[1] ?? '') };
      case 'blocked':
        return { outcome: 'blocked' };
      case 'accepted':
        return { outcome: 'accepted', position: Number(out[1]), etaSeconds: Number(out[2]), creditsLeft: Number(out[3]), rank: Number(out[4]) };
      default:
        return { outcome: 'refused', reserve: [String(out[0]), out[1] ?? 0, out[2] ?? 0] };
    }
  }

  /** Keys and arguments of admit-14.lua. The record is the intake's own, built from parsed input: not parsed again. */
  private admitCall(input: AdmitInput): { keys: string[]; args: (string | number)[] } {
    const r = input.record;
    const rec: Partial<JobRecord> = {
      version: r.version, jobId: r.jobId, state: 'queued', platform: r.platform, userKey: r.userKey, tenantKey: r.tenantKey,
      channelId: r.channelId, eventId: r.eventId, cost: r.cost, spec: r.spec as GenerationSpec, createdAt: r.createdAt,
      attempts: r.attempts ?? 0, reviewRequired: r.reviewRequired ?? false,
      ...(r.replyTarget === undefined ? {} : { replyTarget: r.replyTarget as JobRecord['replyTarget'] }),
      ...(r.locale === undefined ? {} : { locale: r.locale }),
      ...(r.tier === undefined ? {} : { tier: r.tier }),
    };
    // The fields go as one JSON object of strings (one argument, not forty: ioredis and Redis pay
    // per argument). Lone surrogates become U+FFFD, as the UTF-8 of a separate argument made them
    // (Redis' cjson refuses the escape JSON gives a lone one).
    const hash = toHash(rec);
    for (const k of Object.keys(hash)) hash[k] = toWellFormed(hash[k] ?? '');
    const f = input.fairQueue;
    return {
      keys: [
        ...input.reserve.keys,
        this.keys.job(r.jobId), this.keys.userJobs(r.userKey), this.keys.jobStateCounts(),
        f.waitingSet, input.settingsKey, f.prioritized, f.wait, f.active, f.durations,
      ],
      args: [
        ...input.reserve.args,
        RECORD_TTL_SECONDS, r.createdAt, USER_LIST_MAX, f.waitingSetTtl, r.spec.mode === 'final' ? 1 : 0,
        String(input.defaultAllowDowngrade), f.durationSamples, JSON.stringify(hash),
      ],
    };
  }

  private admitResult(out: (string | number)[]): AdmitResult {
    const [status = '', n1 = 0, n2 = 0, rank = 0, ahead = 0, plain = 0, running = 0, ...durations] = out;
    const reserve: [string, string | number, string | number] = [String(status), n1, n2];
    if (out.length <= 3) return { admitted: false, reserve };
    return { admitted: true, reserve, rank: Number(rank), ahead: Number(ahead), plain: Number(plain), running: Number(running), durationsMs: durations.map(Number) };
  }

  /**
   * After the intake enqueued an admitted job: its 'queued' progress event, and the intake's answer
   * written over its claim of the platform event (only while the claim is as given, and only when
   * the job is in the queue). 'written', 'claim-changed' (a takeover answers instead) or 'not-queued'.
   * `on`: the pipeline to send it in (another connection's, where withJobScripts defined the job
   * scripts: the generate queue's, right after the job's add); this lifecycle's own otherwise.
   */
  async queuedAnswer(jobId: string, report: Extract<ProgressReport, { type: 'queued' }>, answer: IntakeAnswerWrite, on?: TickBatcher): Promise<'written' | 'claim-changed' | 'not-queued'> {
    const { type: _type, ...data } = report;
    void _type;
    const r = await (on ?? this.batch).run<number>((p) => (p as unknown as RedisWithJobScripts).fcIntakeQueued(
      this.keys.job(jobId), this.keys.progressStream(), answer.key, answer.queuedJobKey,
      this.streamMaxLen, JSON.stringify(data), answer.claim, answer.answer, answer.ttlSeconds,
    ));
    return r === 1 ? 'written' : r === 0 ? 'claim-changed' : 'not-queued';
  }

  /**
   * Turns' pipelines on another connection to the same Redis (the generate queue's own), with the
   * job scripts defined there: queuedAnswer's `on`, to answer in the same round trip as the add.
   */
  pipelineOn(connection: Redis): TickBatcher {
    return new TickBatcher(withJobScripts(connection));
  }

  /** A worker took the job: queued → active. False when it is no longer queued or active. */
  async start(jobId: string, attempt: number): Promise<boolean> {
    return this.transition(jobId, RUNNING, 'active', { type: 'started', data: { attempt } }, { startedAt: this.now(), attempts: attempt });
  }

  /** The job goes back to the queue (a retry after a transient failure, a throttled provider). */
  async requeue(jobId: string, error?: { code: string; message: string }): Promise<boolean> {
    return this.transition(jobId, RUNNING, 'queued', undefined, error === undefined ? {} : { error: { ...error, retryable: true } });
  }

  /** A final job that ran out of memory is retried once at draft size: the record's spec changes. */
  async downgrade(jobId: string, spec: GenerationSpec): Promise<boolean> {
    return this.transition(jobId, RUNNING, 'queued', undefined, { spec, downgradedFrom: 'final' });
  }

  /** A hosted API's task id, so that a retry resumes it instead of paying for a second one. */
  async setProviderTask(jobId: string, providerTaskId: string): Promise<boolean> {
    return this.transition(jobId, RUNNING, '', undefined, { providerTaskId });
  }

  /** Reports progress that is not a change of state (a step, encoding, a place in line). */
  async progress(jobId: string, report: ProgressReport): Promise<void> {
    const { type, ...data } = report;
    await this.transition(jobId, [...RUNNING, 'review'], '', { type, data }, {});
  }

  /**
   * Ends a running job with the outcome its user will be told, atomically with the charge (a
   * video) or the refund (anything else). An earlier attempt's promise wins; a cancel requested
   * meanwhile wins over a video. The outcome then goes to its platform's delivery queue.
   */
  async finish(jobId: string, outcome: DeliveryOutcome, error?: { code: string; message: string }): Promise<FinishResult> {
    return this.end(jobId, outcome, RUNNING, error);
  }

  /** Holds a made video for a moderator (review): nothing is charged or sent until a decision. */
  async hold(jobId: string, result: VideoResult): Promise<FinishResult> {
    return this.end(jobId, { kind: 'review', result }, RUNNING);
  }

  /** A moderator's decision on a held video: approved → sent and charged; rejected → refunded and told. */
  async decide(jobId: string, decision: 'approve' | 'reject', by: string): Promise<FinishResult> {
    const rec = await this.get(jobId);
    if (rec === undefined) return { status: 'missing', kind: '', promised: false };
    if (decision === 'approve') {
      if (rec.result === undefined) return { status: 'conflict', kind: rec.state, promised: false };
      return this.end(jobId, { kind: 'video', result: rec.result }, ['review']);
    }
    return this.end(
      jobId,
      { kind: 'blocked', code: 'review_rejected', message: tAll('outcome.review_rejected') },
      ['review'],
      { code: 'review_rejected', message: `rejected by ${by}` },
    );
  }

  /** Cancels a job that no worker holds (waiting, or held for review): told, refunded. */
  async cancelNow(jobId: string): Promise<FinishResult> {
    return this.end(jobId, { kind: 'cancelled', message: CANCELLED_MESSAGE }, ['queued', 'review'], { code: 'cancelled', message: 'cancelled by request' });
  }

  /** Asks the worker running a job to stop; it ends the job as cancelled at its next check. */
  async requestCancel(jobId: string, by: string): Promise<void> {
    await this.o.redis.set(this.keys.cancelFlag(jobId), by, 'EX', 24 * 3600);
  }

  async isCancelRequested(jobId: string): Promise<boolean> {
    return (await this.o.redis.exists(this.keys.cancelFlag(jobId))) === 1;
  }

  /**
   * An accepted request that could not be queued after all (the intake failed half-way): refunded,
   * recorded as failed if it was recorded, and nobody is sent anything (the intake answers).
   */
  async abandon(jobId: string, reason: string): Promise<void> {
    const res = await this.end(jobId, { kind: 'none' }, RUNNING, { code: 'internal', message: reason });
    if (res.status === 'missing') await this.ledger.refund(jobId);
  }

  /** The platform accepted the outcome: recorded once. False when it was recorded before. */
  async markDelivered(jobId: string, info: Record<string, string | number> = {}): Promise<boolean> {
    const fields = Object.entries(info).flatMap(([k, v]) => [k, String(v)]);
    const first = await this.redis.fcJobDelivered(
      this.keys.delivery(jobId), this.keys.deliveryOutbox(), this.keys.progressStream(), this.keys.job(jobId), this.keys.jobStateCounts(),
      this.now(), this.streamMaxLen, '{}', ...fields,
    );
    return first === 1;
  }

  /**
   * Gives up on delivering: the delivery is marked undeliverable, a video's charge is refunded,
   * and the video stays readable (jobs show) for the retention time.
   */
  async markUndeliverable(jobId: string, reason: string): Promise<'undeliverable' | 'delivered' | 'missing'> {
    const r = await this.ledger.keysOf(jobId);
    const shares = await shareKeysOf(this.o.redis, this.o.keyPrefix, jobId, this.ledger);
    const k = this.keys;
    return (await this.redis.fcJobUndeliverable(
      10 + shares.keys.length,
      k.job(jobId), k.delivery(jobId), k.deliveryOutbox(), r.reservation, r.userDay, r.bonus, r.tenantDay, r.active,
      k.progressStream(), k.jobStateCounts(), ...shares.keys,
      this.now(), RESERVATION_TTL_SECONDS, this.streamMaxLen, reason.slice(0, 500), this.retention,
      JSON.stringify({ code: 'undeliverable', message: UNDELIVERABLE_MESSAGE }), shares.kinds,
    )) as 'undeliverable' | 'delivered' | 'missing';
  }

  /**
   * An operator puts an undeliverable outcome back in line (after fixing the bot's permissions,
   * say). What was refunded stays refunded: the retry is on the house.
   */
  async redeliver(jobId: string): Promise<boolean> {
    const key = this.keys.delivery(jobId);
    const [state = null, payload = null] = await this.o.redis.hmget(key, 'state', 'payload');
    if (state !== 'undeliverable' || payload === null || payload === '') return false;
    const data = DeliveryJobDataSchema.parse(JSON.parse(payload));
    void data;
    // A fresh delivery job (the old one may still be held by a consumer): deliver-<jobId>-r<n>.
    await this.o.redis.multi().hset(key, 'state', 'enqueued', 'enqueuedAt', this.now(), 'attempts', 0).hincrby(key, 'redeliveries', 1).zadd(this.keys.deliveryOutbox(), 0, jobId).exec();
    return (await this.relay([jobId])) === 1;
  }

  /** Counts one delivery attempt; returns the attempt number and when the outcome was first written. */
  async noteDeliveryAttempt(jobId: string): Promise<{ attempt: number; enqueuedAt: number }> {
    const key = this.keys.delivery(jobId);
    const [[, attempt], [, enqueuedAt]] = (await this.o.redis.multi().hincrby(key, 'attempts', 1).hget(key, 'enqueuedAt').exec()) as [[null, number], [null, string | null]];
    return { attempt: Number(attempt), enqueuedAt: Number(enqueuedAt ?? this.now()) };
  }

  /**
   * Moves written outcomes into their platforms' delivery queues: the one just written, or every
   * one older than `olderThanMs` (a process died between writing and queueing). Idempotent: the
   * delivery job's id is the job's.
   */
  async relay(jobIds?: readonly string[], olderThanMs = 10_000): Promise<number> {
    const ids = jobIds ?? (await this.o.redis.zrangebyscore(this.keys.deliveryOutbox(), '-inf', this.now() - olderThanMs, 'LIMIT', 0, 500));
    let moved = 0;
    for (const jobId of ids) {
      const [payload = null, state = null, redeliveries = null] = await this.o.redis.hmget(this.keys.delivery(jobId), 'payload', 'state', 'redeliveries');
      if (payload === null || payload === '' || state === 'delivered' || state === 'undeliverable') {
        await this.o.redis.zrem(this.keys.deliveryOutbox(), jobId);
        // An outcome with nowhere to go (a record from before typed reply targets): given up.
        if (payload === '' && state !== 'delivered' && state !== 'undeliverable') await this.markUndeliverable(jobId, 'no reply target');
        continue;
      }
      let raw: unknown;
      try {
        raw = JSON.parse(payload);
      } catch {
        raw = undefined;
      }
      const parsed = DeliveryJobDataSchema.safeParse(raw);
      if (!parsed.success) {
        this.o.logger?.error({ jobId, issues: parsed.error.issues.length }, 'unreadable delivery payload: given up');
        await this.markUndeliverable(jobId, 'unreadable delivery payload');
        continue;
      }
      await this.o.deliveryQueues.add(parsed.data, redeliveries === null || redeliveries === '0' ? '' : `-r${redeliveries}`);
      await this.o.redis.zrem(this.keys.deliveryOutbox(), jobId);
      moved += 1;
    }
    return moved;
  }

  /** Jobs per state: live counts for queued/active/review, totals for final states. */
  async countsByState(): Promise<Record<string, number>> {
    const h = await this.o.redis.hgetall(this.keys.jobStateCounts());
    return Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Math.max(0, Number(v))]));
  }

  private get(jobId: string): Promise<JobRecord | undefined> {
    return this.store.get(jobId);
  }

  private async transition(
    jobId: string,
    from: readonly JobState[],
    to: JobState | '',
    event: { type: string; data: object } | undefined,
    patch: Partial<JobRecord>,
  ): Promise<boolean> {
    const fields = Object.entries(toHash(patch)).flat();
    const [status] = (await this.redis.fcJobTransition(
      this.keys.job(jobId), this.keys.jobStateCounts(), this.keys.progressStream(),
      from.join(','), to, this.streamMaxLen, event?.type ?? '', JSON.stringify(event?.data ?? {}), ...fields,
    )) as [string, string];
    return status === 'ok';
  }

  private async end(
    jobId: string,
    outcome: DeliveryOutcome | { kind: 'review'; result: VideoResult } | { kind: 'none' },
    from: readonly JobState[],
    error?: { code: string; message: string },
  ): Promise<FinishResult> {
    const rec = await this.get(jobId);
    const r = await this.ledger.keysOf(jobId);
    // A storyboard render's split shares or pool hold settle in the same step as the job.
    const shares = await shareKeysOf(this.o.redis, this.o.keyPrefix, jobId, this.ledger);
    const k = this.keys;
    const payloadOf = (o: DeliveryOutcome): string => {
      if (rec?.replyTarget === undefined) return '';
      const data: DeliveryJobData = DeliveryJobDataSchema.parse({
        version: 2, jobId, platform: rec.platform, userKey: rec.userKey, channelId: rec.channelId, locale: rec.locale ?? 'en',
        replyTarget: rec.replyTarget, outcome: o, spec: rec.spec,
      });
      return JSON.stringify(data);
    };
    const cancelled: DeliveryOutcome = { kind: 'cancelled', message: CANCELLED_MESSAGE };
    const payload = outcome.kind === 'review' || outcome.kind === 'none' ? '' : payloadOf(outcome);
    const eventData =
      outcome.kind === 'failed' || outcome.kind === 'blocked'
        ? { code: outcome.code, message: outcome.message }
        : outcome.kind === 'cancelled'
          ? { message: outcome.message }
          : outcome.kind === 'none'
            ? { code: 'internal', message: tAll('refusal.internal') }
            : {};
    const result = outcome.kind === 'video' || outcome.kind === 'review' ? JSON.stringify(outcome.result) : '';
    const [status, kind, how] = (await this.redis.fcJobFinish(
      11 + shares.keys.length,
      k.job(jobId), k.delivery(jobId), k.deliveryOutbox(), r.reservation, r.userDay, r.bonus, r.tenantDay, r.active,
      k.cancelFlag(jobId), k.progressStream(), k.jobStateCounts(), ...shares.keys,
      outcome.kind, from.join(','), this.now(), RESERVATION_TTL_SECONDS, this.streamMaxLen,
      payload, payloadOf(cancelled), error === undefined ? '' : JSON.stringify({ ...error, retryable: false }), result,
      JSON.stringify(eventData), JSON.stringify({ message: cancelled.message }), this.deliveryTtl, shares.kinds,
    )) as [FinishStatus, string, string];
    const res: FinishResult = { status, kind: kind as FinishResult['kind'], promised: how === 'promised' };
    if (status === 'ok' && kind !== 'review' && kind !== 'none') {
      // Straight into the platform's queue; if this process dies first, relay() finds it.
      await this.relay([jobId]).catch((err: unknown) => this.o.logger?.warn({ err, jobId }, 'delivery not queued yet; the outbox relay will'));
    }
    return res;
  }
}
