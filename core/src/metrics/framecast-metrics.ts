import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { ModerationAction } from '../moderation/content-moderator.ts';

/**
 * Framecast's Prometheus instruments, on a registry of their own (never prom-client's global one,
 * so that two cores in one process, or a test, never share or collide on a metric).
 *
 * The metric names and label sets are a public contract (README, "Metrics"): dashboards and alerts
 * are built on them. Add labels or metrics; never rename or drop one.
 */

/** Intake outcomes: `error` is an intake that threw (Redis down, a bug), not a refusal. */
export const INTAKE_METRIC_STATUSES = ['accepted', 'refused', 'error'] as const;
export type IntakeMetricStatus = (typeof INTAKE_METRIC_STATUSES)[number];

/** The BullMQ states reported per queue; any other count a source returns is ignored. */
export const QUEUE_DEPTH_METRIC_STATES = ['waiting', 'active', 'delayed', 'failed', 'prioritized'] as const;
export type QueueDepthMetricState = (typeof QUEUE_DEPTH_METRIC_STATES)[number];

export type ModerationMetricSource = 'text' | 'image' | 'video';
export type DeliveryMetricResult = 'delivered' | 'undeliverable';

/** Seconds: 1 ms … 10 s, the range between a refused prompt and a slow image fetch. */
export const INTAKE_DURATION_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Where the gauges read their values, at scrape time. */
export interface FramecastMetricsSources {
  /** Number of job records by state (`queued`, `active`, `review`, …). */
  jobsByState?: () => Promise<Record<string, number>>;
  /** Per queue, BullMQ's job counts (`getJobCounts()`); only {@link QUEUE_DEPTH_METRIC_STATES} are kept. */
  queueDepths?: () => Promise<Array<{ queue: string; counts: Record<string, number> }>>;
}

export interface FramecastMetricsOptions {
  /** Node's process metrics (CPU, memory, event loop lag, GC), prefixed `framecast_`. Default true. */
  defaultMetrics?: boolean;
  /** Gauge sources; may also be attached later with `setSources`. */
  sources?: FramecastMetricsSources;
  /** Where a failing source is reported. Default: nowhere (the error counter still counts). */
  logger?: Pick<Logger, 'warn'>;
  /** A source that has not answered by then is skipped for this scrape. Default 2000 ms. */
  sourceTimeoutMs?: number;
  /** Labels added to every metric of this registry (e.g. `{ process: 'worker' }`). */
  defaultLabels?: Record<string, string>;
}

export interface FramecastMetrics {
  /** The private registry; `metrics()` and `contentType` are enough for an HTTP endpoint. */
  readonly registry: Registry;
  /** The exposition format's content type (Prometheus text 0.0.4). */
  readonly contentType: string;
  /** Runs the gauges' sources and renders every metric in the text format. Never rejects because of a source. */
  metrics(): Promise<string>;
  /** Attaches (or replaces) gauge sources; a source left out keeps its current value. */
  setSources(sources: FramecastMetricsSources): void;
  /** Where failing sources are reported from now on (the logger often exists only after start-up). */
  setLogger(logger: Pick<Logger, 'warn'>): void;
  // The three recorders below are named after the core's metrics sink (`CoreMetricsSink`:
  // `intake`, and the delivery observer's `retried` / `finished`), so this object can be passed to
  // `createCore({ metrics })` / `bootstrap(env, { metrics })` as it is.
  /** One intake's duration in seconds, by platform and outcome. */
  intake(platform: string, status: IntakeMetricStatus, seconds: number): void;
  /** A delivery attempt failed and will be retried. */
  retried(platform: string): void;
  /** A delivery reached its end: delivered, or given up on (undeliverable). */
  finished(platform: string, result: DeliveryMetricResult): void;
  /** Starts timing an intake; call the returned function once with its outcome. */
  startIntakeTimer(platform: string): (status: IntakeMetricStatus) => void;
  /** One moderation verdict: what was checked (prompt text, reference image, output video) and the action. */
  moderationVerdict(source: ModerationMetricSource, action: ModerationAction): void;
}

const DEFAULTS = { defaultMetrics: true, sourceTimeoutMs: 2000 } as const;

type SourceName = keyof FramecastMetricsSources;

/** Creates the instruments on a new private registry. */
export function createFramecastMetrics(options: FramecastMetricsOptions = {}): FramecastMetrics {
  const opts = { ...DEFAULTS, ...options };
  let logger = opts.logger;
  const registry = new Registry();
  if (opts.defaultLabels !== undefined) registry.setDefaultLabels(opts.defaultLabels);
  let sources: FramecastMetricsSources = { ...opts.sources };

  /** Reads of the scrape in progress; the error counter waits for them so it counts this scrape's failures. */
  const inFlight = new Set<Promise<unknown>>();
  // Registered after the gauges (below): the registry starts every metric's collect in
  // registration order, so the gauges' reads are in flight by the time this one waits for them.
  const sourceErrors = new Counter({
    name: 'framecast_metrics_source_errors_total',
    help: 'Gauge sources that threw or timed out during a scrape (their gauge is left empty for that scrape).',
    labelNames: ['source'] as const,
    registers: [],
    async collect() {
      await Promise.allSettled([...inFlight]);
    },
  });

  /** Calls a source with a deadline; undefined (logged and counted) when it fails. */
  function read<T>(name: SourceName, fn: () => Promise<T>): Promise<T | undefined> {
    const p = readWithDeadline(name, fn);
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
    return p;
  }

  async function readWithDeadline<T>(name: SourceName, fn: () => Promise<T>): Promise<T | undefined> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${opts.sourceTimeoutMs} ms`)), opts.sourceTimeoutMs);
        timer.unref();
      });
      return await Promise.race([fn(), deadline]);
    } catch (err) {
      sourceErrors.inc({ source: name });
      logger?.warn({ err, source: name }, 'metrics source failed; its gauge is skipped for this scrape');
      return undefined;
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  const intakeDuration = new Histogram({
    name: 'framecast_intake_duration_seconds',
    help: 'Time from a chat request to its answer (accepted into the queue, refused, or error).',
    labelNames: ['platform', 'status'] as const,
    buckets: [...INTAKE_DURATION_BUCKETS],
    registers: [registry],
  });

  new Gauge({
    name: 'framecast_jobs',
    help: 'Job records by state.',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      const source = sources.jobsByState;
      if (source === undefined) return;
      const byState = await read('jobsByState', source);
      // Reset first: a state that has emptied, or a source that failed, shows no stale number.
      this.reset();
      if (byState === undefined) return;
      for (const [state, n] of Object.entries(byState)) {
        if (Number.isFinite(n)) this.set({ state }, n);
      }
    },
  });

  const depthStates: ReadonlySet<string> = new Set(QUEUE_DEPTH_METRIC_STATES);
  new Gauge({
    name: 'framecast_queue_depth',
    help: 'Jobs in each BullMQ queue by state.',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      const source = sources.queueDepths;
      if (source === undefined) return;
      const queues = await read('queueDepths', source);
      this.reset();
      if (queues === undefined) return;
      for (const { queue, counts } of queues) {
        for (const [state, n] of Object.entries(counts)) {
          if (depthStates.has(state) && Number.isFinite(n)) this.set({ queue, state }, n);
        }
      }
    },
  });

  const verdicts = new Counter({
    name: 'framecast_moderation_verdicts_total',
    help: 'Moderation verdicts by what was checked and the action taken.',
    labelNames: ['source', 'action'] as const,
    registers: [registry],
  });

  const deliveryRetries = new Counter({
    name: 'framecast_delivery_retries_total',
    help: 'Delivery attempts that failed and were scheduled again.',
    labelNames: ['platform'] as const,
    registers: [registry],
  });

  const deliveries = new Counter({
    name: 'framecast_deliveries_total',
    help: 'Deliveries that reached an end: delivered, or undeliverable after the last retry.',
    labelNames: ['platform', 'result'] as const,
    registers: [registry],
  });

  registry.registerMetric(sourceErrors);

  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'framecast_' });

  return {
    registry,
    contentType: registry.contentType,
    metrics: () => registry.metrics(),
    setSources(next) {
      sources = { ...sources, ...next };
    },
    setLogger(next) {
      logger = next;
    },
    intake(platform, status, seconds) {
      intakeDuration.observe({ platform, status }, seconds);
    },
    startIntakeTimer(platform) {
      const end = intakeDuration.startTimer({ platform });
      let done = false;
      return (status) => {
        if (done) return;
        done = true;
        end({ status });
      };
    },
    moderationVerdict(source, action) {
      verdicts.inc({ source, action });
    },
    retried(platform) {
      deliveryRetries.inc({ platform });
    },
    finished(platform, result) {
      deliveries.inc({ platform, result });
    },
  };
}
