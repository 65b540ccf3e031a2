// The public surface of @framecast/core: what adapters (bots), the worker, the CLI and the HTTP
// server use. Everything else is internal; ESLint refuses deep imports into core/src from outside.

// Start-up and the core itself.
export { bootstrap, type BootstrapOptions, type Bootstrapped, type PortContext } from './bootstrap.ts';
export { createCore, type Core, type CoreOptions, type CoreMetricsSink, type ReadinessReport, type WorkQueue } from './core.ts';
export { loadConfig, ConfigError, type FramecastConfig, type Env, type Tier, type TierLimits, type LoadConfigOptions } from './config/config.ts';
export { createLogger } from './util/logger.ts';
export { dayIn } from './util/day.ts';

// The way in.
export * from './model/chat-request.schema.ts';
export * from './model/reply-target.schema.ts';
export * from './model/generation-spec.schema.ts';
export type { IntakeResult, RefusalReason } from './intake/intake.ts';
export * from './grammar/index.ts';
export { costOf } from './quota/cost.ts';
export type { QuotaSnapshot } from './quota/quota-service.ts';
export { UserBlockSchema, type UserBlock, type UserBlocks } from './users/user-blocks.ts';
export type { RefusalEntry } from './moderation/refusal-log.ts';
export type { JobSearchQuery, JobSearchResult } from './jobs/job-search.ts';
export { USER_SETTING_NAMES, type UserSettings, type UserSettingName, type UserSettingsStore } from './users/user-settings.ts';

// Jobs, as adapters and workers read them.
export { JOB_STATES, FINAL_STATES, JobStateSchema, JobRecordSchema, type JobRecord, type JobState } from './jobs/job-record.ts';
export type { JobLifecycle, Actor, FinishResult, ProgressReport } from './jobs/job-lifecycle.ts';
export type { CancelResult, ReviewResult } from './jobs/job-service.ts';
export type { QueuePosition } from './queue/fair-queue.ts';
export {
  GENERATE_QUEUE, GenerateJobDataSchema, VideoResultSchema, DeliveryOutcomeSchema, DeliveryJobDataSchema, TierSchema,
  type GenerateJobData, type VideoResult, type DeliveryOutcome, type DeliveryJobData,
} from './queue/job-payloads.schema.ts';

// The way out: deliveries and progress.
export {
  DEFAULT_DELIVERY_RETRY, deliveryBackoff,
  type Deliveries, type DeliveryHandler, type DeliveryHandlerResult, type DeliveryContext, type DeliveryRetryPolicy,
  type ConsumeOptions, type DeliveryConsumer, type DeliveryState,
} from './queue/delivery.ts';
export { ProgressEventSchema, TERMINAL_EVENTS, isTerminalEvent, type ProgressEvent, type ProgressEventType, type TerminalEvent } from './progress/progress-event.schema.ts';
export type { ProgressFeed, ProgressFilter, ProgressHandler, SubscribeOptions, Unsubscribe } from './progress/progress-feed.ts';
export { EditFence, DEFAULT_FENCE_WINDOW_MS } from './progress/edit-fence.ts';

// The message catalogue.
export { MESSAGES, t, tAll, format, formatEta, type LocalizedText, type MessageId, type MessageVars } from './i18n/messages.ts';
export { FramecastError, asFramecastError, isFramecastError, ERROR_CODES, type ErrorCode, type FramecastErrorOptions } from './errors/framecast-error.ts';

// Ports other packages implement.
export type { ContentModerator, ModerationAction, ModerationContext, ModerationHit, ModerationVerdict } from './moderation/content-moderator.ts';
export type { ReferenceImageIntake, ReferenceImageOutcome } from './intake/reference-image-intake.ts';
export * from './storage/index.ts';

// Metrics: Prometheus instruments on a private registry (the HTTP server's /metrics; pass the
// object to createCore/bootstrap as `metrics`).
export {
  createFramecastMetrics, INTAKE_DURATION_BUCKETS, INTAKE_METRIC_STATUSES, QUEUE_DEPTH_METRIC_STATES,
  type FramecastMetrics, type FramecastMetricsOptions, type FramecastMetricsSources,
  type IntakeMetricStatus, type ModerationMetricSource, type DeliveryMetricResult, type QueueDepthMetricState,
} from './metrics/framecast-metrics.ts';

// What the runtimes render (workers publish it; intake fits each spec to it).
export * from './model/runtime-capabilities.schema.ts';
// The output scan's report beside a held video (worker writes, admin console reads).
export * from './model/scan-report.schema.ts';
export * from './runtime/runtime-capabilities-registry.ts';
export * from './collab/index.ts';
export { parseCollabCommand, COLLAB_TEXT_MAX, COLLAB_SHOT_NUMBER_MAX, type CollabCommand, type CollabParseResult, type CollabStartOptions, type CollabParseErrorCode } from './grammar/collab-command.ts';
