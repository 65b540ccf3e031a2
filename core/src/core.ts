import type { ConnectionOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { FramecastConfig, Tier } from './config/config.ts';
import { Intake, type IntakeResult } from './intake/intake.ts';
import type { ReferenceImageIntake } from './intake/reference-image-intake.ts';
import { tierOf } from './intake/tiers.ts';
import { JobLifecycle, type Actor } from './jobs/job-lifecycle.ts';
import { JobStore, type JobRecord } from './jobs/job-record.ts';
import { JobSearch, type JobSearchQuery, type JobSearchResult } from './jobs/job-search.ts';
import { JobService, type CancelResult, type ReviewResult } from './jobs/job-service.ts';
import type { ChatRequestInput } from './model/chat-request.schema.ts';
import type { ContentModerator } from './moderation/content-moderator.ts';
import { RefusalLog, type RefusalEntry } from './moderation/refusal-log.ts';
import { ProgressFeed } from './progress/progress-feed.ts';
import { Deliveries, type DeliveryObserver } from './queue/delivery.ts';
import { DeliveryQueues } from './queue/delivery-queues.ts';
import { FairQueue, type QueuePosition } from './queue/fair-queue.ts';
import { GENERATE_QUEUE, deliveryQueueName } from './queue/job-payloads.schema.ts';
import { QuotaService, type QuotaSnapshot } from './quota/quota-service.ts';
import { Keys, userKeyOf } from './redis/keys.ts';
import { UserBlocks } from './users/user-blocks.ts';
import { UserSettingsStore } from './users/user-settings.ts';
import { RuntimeCapabilitiesRegistry } from './runtime/runtime-capabilities-registry.ts';
import { CollabService } from './collab/collab-service.ts';
import { CollabLedger } from './jobs/collab-ledger.ts';

/** How the core reports what it measures (the HTTP server's /metrics implements it). */
export interface CoreMetricsSink extends DeliveryObserver {
  intake?(platform: string, status: 'accepted' | 'refused', seconds: number): void;
  moderationVerdict?(source: 'text' | 'image' | 'video', action: 'allow' | 'review' | 'block'): void;
}

/** The moderator, with each verdict counted. */
function counted(m: ContentModerator, sink: CoreMetricsSink | undefined): ContentModerator {
  if (sink?.moderationVerdict === undefined) return m;
  const note = sink.moderationVerdict.bind(sink);
  const image = m.moderateImage;
  return {
    moderateText: async (text, ctx) => {
      const v = await m.moderateText(text, ctx);
      note('text', v.action);
      return v;
    },
    ...(image === undefined
      ? {}
      : {
          moderateImage: async (img, ctx) => {
            const v = await image.call(m, img, ctx);
            note('image', v.action);
            return v;
          },
        }),
  };
}

export interface CoreOptions {
  config: FramecastConfig;
  redis: Redis;
  moderator: ContentModerator;
  imageIntake?: ReferenceImageIntake;
  logger?: Logger;
  random?: () => number;
  /** For BullMQ queues and workers; default: the `redis` connection. */
  connection?: ConnectionOptions;
  metrics?: CoreMetricsSink;
}

export interface ReadinessReport {
  ok: boolean;
  checks: Record<string, { ok: boolean; detail?: string }>;
}

/** What the generate queue's workers need from the core (the worker knows no Redis key). */
export interface WorkQueue {
  readonly name: string;
  readonly bullPrefix: string;
  readonly connection: ConnectionOptions;
  /** A worker started the job: it leaves its user's line. */
  taken(userKey: string, jobId: string): Promise<void>;
  recordDuration(mode: 'draft' | 'final', ms: number): Promise<void>;
  workerCount(): Promise<number>;
}

/**
 * The core as every process uses it: adapters submit and read; workers run jobs through the
 * lifecycle; the HTTP server reads readiness and counts.
 */
export interface Core {
  readonly config: FramecastConfig;
  /** The one way in: a chat message becomes a queued job or a clear, localised refusal. */
  submit(request: ChatRequestInput): Promise<IntakeResult>;
  cancel(jobId: string, actor: Actor): Promise<CancelResult>;
  review(jobId: string, actor: Actor, decision: 'approve' | 'reject'): Promise<ReviewResult>;
  job(jobId: string): Promise<JobRecord | undefined>;
  listJobs(userKey: string, limit?: number): Promise<JobRecord[]>;
  /** Place in line and ETA of a waiting job. */
  position(jobId: string): Promise<QueuePosition>;
  readonly quota: {
    /** Credits left today; the tier from config and platform roles unless given. */
    show(userKey: string, opts?: { roles?: readonly string[]; tier?: Tier }): Promise<QuotaSnapshot>;
    grant(userKey: string, credits: number): Promise<number>;
    tierOf(userKey: string, roles?: readonly string[]): Tier;
  };
  readonly settings: UserSettingsStore;
  readonly progress: ProgressFeed;
  readonly deliveries: Deliveries;
  /** For workers: every change of a job's state and credits. */
  readonly lifecycle: JobLifecycle;
  readonly workQueue: WorkQueue;
  /** What the live workers render (workers publish; submit fits each spec to it). */
  readonly runtimes: RuntimeCapabilitiesRegistry;
  /** Counts a moderation verdict reached outside intake (the worker's output scan). */
  observeModeration(source: 'text' | 'image' | 'video', action: 'allow' | 'review' | 'block'): void;
  /** Redis and the queues reachable. */
  readiness(): Promise<ReadinessReport>;
  /** Operators' tools (the admin console): find jobs, block users, read recent refusals. */
  readonly admin: {
    searchJobs(q: JobSearchQuery): Promise<JobSearchResult>;
    readonly blocks: UserBlocks;
    /** Refusals by moderation or a block, newest first (a capped log; no prompt text). */
    recentRefusals(limit?: number): Promise<RefusalEntry[]>;
  };
  /** Group-chat collaborative storyboards (see core/src/collab). */
  readonly collab: CollabService;
  /** Jobs per state, and each queue's counts (for /metrics). */
  stats(): Promise<{ jobsByState: Record<string, number>; queues: Array<{ queue: string; counts: Record<string, number> }> }>;
  close(): Promise<void>;
}

/** Refusals that the moderation log keeps. */
const LOGGED_REFUSALS: ReadonlySet<string> = new Set(['moderation_blocked', 'image_blocked', 'user_blocked']);

const PLATFORM_QUEUES = ['discord', 'slack', 'wechat', 'miniprogram', 'web', 'cli'] as const;

/** Wires the core's services over one Redis connection. */
export function createCore(opts: CoreOptions): Core {
  const { config, redis } = opts;
  const connection = opts.connection ?? redis;
  const keys = new Keys(config.keyPrefix);
  const quota = new QuotaService(redis, config);
  const jobs = new JobStore(redis, config.keyPrefix);
  const queue = new FairQueue(redis, config.keyPrefix, connection, config.env.FRAMECAST_RETRY_BACKOFF_MS);
  const deliveryQueues = new DeliveryQueues(connection, config.keyPrefix);
  const lifecycle = new JobLifecycle({
    redis, keyPrefix: config.keyPrefix, deliveryQueues,
    undeliverableRetentionSeconds: config.env.FRAMECAST_UNDELIVERABLE_KEEP_DAYS * 24 * 3600,
    ...(opts.logger === undefined ? {} : { logger: opts.logger }),
  });
  const deliveries = new Deliveries(redis, config.keyPrefix, lifecycle, deliveryQueues, connection, opts.logger, opts.metrics, {
    giveUpAfterMs: config.env.FRAMECAST_DELIVERY_RETRY_HOURS * 3600_000,
  });
  const progress = new ProgressFeed(redis, config.keyPrefix, opts.logger);
  const jobService = new JobService(jobs, queue, lifecycle);
  const settings = new UserSettingsStore(redis, config.keyPrefix);
  const refusals = new RefusalLog(redis, config.keyPrefix);
  const search = new JobSearch(redis, config.keyPrefix, jobs);
  const blocks = new UserBlocks(redis, config.keyPrefix);
  const runtimes = new RuntimeCapabilitiesRegistry(redis, { prefix: config.keyPrefix });
  const intake = new Intake({
    config, redis, moderator: counted(opts.moderator, opts.metrics), queue, lifecycle, quota, capabilities: runtimes,
    ...(opts.imageIntake === undefined ? {} : { imageIntake: opts.imageIntake }),
    ...(opts.logger === undefined ? {} : { logger: opts.logger }),
    ...(opts.random === undefined ? {} : { random: opts.random }),
  });

  const collab = new CollabService({
    config, redis, moderator: counted(opts.moderator, opts.metrics), quota, lifecycle, ledger: new CollabLedger(redis, config.keyPrefix), queue,
    runtimes, connection, bullPrefix: keys.bullPrefix,
    ...(opts.imageIntake === undefined ? {} : { imageIntake: opts.imageIntake }),
    ...(opts.logger === undefined ? {} : { logger: opts.logger }),
    ...(opts.random === undefined ? {} : { random: opts.random }),
  });

  return {
    config,
    collab,
    async submit(request) {
      const t0 = performance.now();
      const res = await intake.intake(request);
      opts.metrics?.intake?.(typeof request.platform === 'string' ? request.platform : 'unknown', res.status, (performance.now() - t0) / 1000);
      if (res.status === 'refused' && !res.duplicate && LOGGED_REFUSALS.has(res.reason)) {
        const category = typeof res.detail?.category === 'string' ? res.detail.category : '';
        await refusals
          .record({ platform: String(request.platform), userKey: userKeyOf(String(request.platform), String(request.userId)), reason: res.reason, category })
          .catch((err: unknown) => opts.logger?.warn({ err }, 'refusal not logged'));
      }
      return res;
    },
    cancel: (jobId, actor) => jobService.cancel(jobId, actor),
    review: (jobId, actor, decision) => jobService.review(jobId, actor, decision),
    job: (jobId) => jobs.get(jobId),
    listJobs: (userKey, limit) => jobs.listByUser(userKey, limit),
    async position(jobId) {
      const rec = await jobs.get(jobId);
      return queue.position(jobId, rec?.spec.mode ?? 'draft');
    },
    quota: {
      show: (userKey, o = {}) => quota.show(userKey, o.tier ?? tierOf(config, userKey, o.roles ?? [])),
      grant: (userKey, credits) => quota.grant(userKey, credits),
      tierOf: (userKey, roles = []) => tierOf(config, userKey, roles),
    },
    settings,
    progress,
    deliveries,
    lifecycle,
    runtimes,
    admin: {
      searchJobs: (q) => search.search(q),
      blocks,
      recentRefusals: (limit) => refusals.recent(limit),
    },
    observeModeration: (source, action) => opts.metrics?.moderationVerdict?.(source, action),
    workQueue: {
      name: GENERATE_QUEUE,
      bullPrefix: keys.bullPrefix,
      connection,
      taken: (userKey, jobId) => queue.taken(userKey, jobId),
      recordDuration: (mode, ms) => queue.recordDuration(mode, ms),
      workerCount: async () => (await queue.queue.getWorkers()).length,
    },
    async readiness() {
      const checks: ReadinessReport['checks'] = {};
      const timed = <T,>(p: Promise<T>) => Promise.race([p, new Promise<never>((_, rej) => setTimeout(() => rej(new Error('timed out after 2 s')), 2000).unref())]);
      try {
        checks.redis = (await timed(redis.ping())) === 'PONG' ? { ok: true } : { ok: false, detail: 'no PONG' };
      } catch (err) {
        opts.logger?.warn({ err }, 'readiness: redis not reachable');
        checks.redis = { ok: false, detail: 'not reachable' };
      }
      try {
        await timed(queue.queue.getJobCounts('waiting'));
        checks.queues = { ok: true };
      } catch (err) {
        opts.logger?.warn({ err }, 'readiness: queues not reachable');
        checks.queues = { ok: false, detail: 'not reachable' };
      }
      return { ok: Object.values(checks).every((c) => c.ok), checks };
    },
    async stats() {
      const states = ['waiting', 'active', 'delayed', 'failed', 'prioritized'] as const;
      const queues = [
        { queue: GENERATE_QUEUE, counts: await queue.queue.getJobCounts(...states) },
        ...(await Promise.all(PLATFORM_QUEUES.map(async (p) => ({ queue: deliveryQueueName(p), counts: await deliveryQueues.queue(p).getJobCounts(...states) })))),
      ];
      return { jobsByState: await lifecycle.countsByState(), queues };
    },
    async close() {
      await Promise.all([deliveries.close(), progress.close(), collab.close()]);
      await Promise.all([queue.close(), deliveryQueues.close()]);
    },
  };
}
