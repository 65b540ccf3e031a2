import { Writable } from 'node:stream';
import { pino } from 'pino';
import { register as globalRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createFramecastMetrics } from './framecast-metrics.ts';

/** A pino logger writing JSON lines into an array. */
function capturingLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level: 'warn' }, sink), lines };
}

/** The value of one sample line, e.g. `framecast_jobs{state="queued"}`; undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('createFramecastMetrics', () => {
  it('declares every instrument of the contract, with help and type, on a private registry', async () => {
    const m = createFramecastMetrics({ defaultMetrics: false });
    const text = await m.metrics();
    for (const [name, type] of [
      ['framecast_intake_duration_seconds', 'histogram'],
      ['framecast_jobs', 'gauge'],
      ['framecast_queue_depth', 'gauge'],
      ['framecast_moderation_verdicts_total', 'counter'],
      ['framecast_delivery_retries_total', 'counter'],
      ['framecast_deliveries_total', 'counter'],
    ]) {
      expect(text).toContain(`# TYPE ${name} ${type}`);
      expect(text).toMatch(new RegExp(`# HELP ${name} \\S`));
    }
    expect(m.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await globalRegistry.metrics()).not.toContain('framecast_');
    // Two instances in one process do not collide (no global registration).
    expect(() => createFramecastMetrics({ defaultMetrics: false })).not.toThrow();
  });

  it('records intake durations in buckets from 1 ms to 10 s, by platform and status', async () => {
    const m = createFramecastMetrics({ defaultMetrics: false });
    m.intake('discord', 'accepted', 0.0004);
    m.intake('discord', 'accepted', 0.3);
    m.intake('slack', 'refused', 12);
    const stop = m.startIntakeTimer('wechat');
    stop('error');
    stop('accepted'); // a second call is ignored
    const text = await m.metrics();
    const h = 'framecast_intake_duration_seconds';
    expect(sample(text, `${h}_bucket{le="0.001",platform="discord",status="accepted"}`)).toBe(1);
    expect(sample(text, `${h}_bucket{le="0.5",platform="discord",status="accepted"}`)).toBe(2);
    expect(sample(text, `${h}_bucket{le="10",platform="slack",status="refused"}`)).toBe(0);
    expect(sample(text, `${h}_bucket{le="+Inf",platform="slack",status="refused"}`)).toBe(1);
    expect(sample(text, `${h}_count{platform="discord",status="accepted"}`)).toBe(2);
    expect(sample(text, `${h}_count{platform="wechat",status="error"}`)).toBe(1);
    expect(sample(text, `${h}_count{platform="wechat",status="accepted"}`)).toBeUndefined();
  });

  it('counts moderation verdicts and deliveries', async () => {
    const m = createFramecastMetrics({ defaultMetrics: false });
    m.moderationVerdict('text', 'block');
    m.moderationVerdict('text', 'block');
    m.moderationVerdict('video', 'review');
    m.retried('slack');
    m.retried('slack');
    m.retried('slack');
    m.finished('slack', 'delivered');
    m.finished('discord', 'undeliverable');
    const text = await m.metrics();
    expect(sample(text, 'framecast_moderation_verdicts_total{source="text",action="block"}')).toBe(2);
    expect(sample(text, 'framecast_moderation_verdicts_total{source="video",action="review"}')).toBe(1);
    expect(sample(text, 'framecast_delivery_retries_total{platform="slack"}')).toBe(3);
    expect(sample(text, 'framecast_deliveries_total{platform="slack",result="delivered"}')).toBe(1);
    expect(sample(text, 'framecast_deliveries_total{platform="discord",result="undeliverable"}')).toBe(1);
  });

  it('reads jobs by state and queue depths from sources attached after construction, at each scrape', async () => {
    const m = createFramecastMetrics({ defaultMetrics: false });
    expect(await m.metrics()).not.toContain('framecast_jobs{');
    let queued = 4;
    m.setSources({ jobsByState: async () => ({ queued, active: 1, review: 0 }) });
    m.setSources({
      queueDepths: async () => [
        { queue: 'generate', counts: { waiting: 7, active: 1, delayed: 0, failed: 2, prioritized: 3, completed: 99, paused: 0 } },
        { queue: 'deliver:slack', counts: { waiting: 1 } },
      ],
    });
    let text = await m.metrics();
    expect(sample(text, 'framecast_jobs{state="queued"}')).toBe(4);
    expect(sample(text, 'framecast_jobs{state="active"}')).toBe(1);
    expect(sample(text, 'framecast_jobs{state="review"}')).toBe(0);
    expect(sample(text, 'framecast_queue_depth{queue="generate",state="waiting"}')).toBe(7);
    expect(sample(text, 'framecast_queue_depth{queue="generate",state="prioritized"}')).toBe(3);
    expect(sample(text, 'framecast_queue_depth{queue="deliver:slack",state="waiting"}')).toBe(1);
    // Only the contract's states: no completed/paused series.
    expect(text).not.toContain('state="completed"');
    expect(text).not.toContain('state="paused"');

    queued = 2;
    text = await m.metrics();
    expect(sample(text, 'framecast_jobs{state="queued"}')).toBe(2);
  });

  it('a source that throws or hangs is logged and skipped; the rest of /metrics still renders', async () => {
    const { logger, lines } = capturingLogger();
    const m = createFramecastMetrics({ defaultMetrics: false, sourceTimeoutMs: 50 });
    m.setLogger(logger);
    let fail = false;
    m.setSources({
      jobsByState: async () => {
        if (fail) throw new Error('redis is down');
        return { queued: 5 };
      },
      queueDepths: () => new Promise(() => {}), // never answers
    });
    m.retried('discord');
    let text = await m.metrics();
    expect(sample(text, 'framecast_jobs{state="queued"}')).toBe(5);

    fail = true;
    text = await m.metrics();
    // No stale value from the scrape before.
    expect(sample(text, 'framecast_jobs{state="queued"}')).toBeUndefined();
    expect(text).toContain('# TYPE framecast_jobs gauge');
    expect(sample(text, 'framecast_delivery_retries_total{platform="discord"}')).toBe(1);
    expect(sample(text, 'framecast_metrics_source_errors_total{source="jobsByState"}')).toBe(1);
    expect(sample(text, 'framecast_metrics_source_errors_total{source="queueDepths"}')).toBe(2);
    expect(lines.some((l) => l.source === 'jobsByState' && (l.err as { message?: string }).message === 'redis is down')).toBe(true);
    expect(lines.some((l) => l.source === 'queueDepths' && /no answer within 50 ms/.test((l.err as { message?: string }).message ?? ''))).toBe(true);
  });

  it('adds Node process metrics with the framecast_ prefix, on its own registry only', async () => {
    const a = createFramecastMetrics();
    const b = createFramecastMetrics({ defaultLabels: { process: 'worker' } });
    const text = await a.metrics();
    expect(text).toContain('framecast_process_cpu_user_seconds_total');
    expect(text).toContain('framecast_nodejs_heap_size_used_bytes');
    expect(await b.metrics()).toMatch(/framecast_process_resident_memory_bytes\{process="worker"\}|framecast_nodejs_heap_size_used_bytes\{process="worker"\}/);
    expect(await globalRegistry.metrics()).not.toContain('framecast_');
  });
});
