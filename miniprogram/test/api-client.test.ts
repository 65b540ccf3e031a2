import { describe, expect, it } from 'vitest';
import { costOf } from '@framecast/core';
import { estimateCost, parseError, parseGallery, parseJob, parseProgressEvent, parseQuota, parseSession } from '../src/api/types.ts';
import { SseParser, Utf8Stream } from '../src/utils/sse.ts';
import { en, zhCN } from '../src/i18n/messages.ts';

describe('mini program API shapes', () => {
  it('parses the job the API answers, and refuses one without an id or a known state', () => {
    expect(parseJob({ id: 'a', state: 'running', position: 0, etaSeconds: 12, cost: 3, progress: { step: 4, total: 20 }, createdAt: '2026-01-01T00:00:00Z', extra: 1 }))
      .toEqual({ id: 'a', state: 'running', position: 0, etaSeconds: 12, cost: 3, progress: { step: 4, total: 20 }, createdAt: Date.parse('2026-01-01T00:00:00Z') });
    expect(parseJob({ job: { id: 'b', state: 'queued' } })).toEqual({ id: 'b', state: 'queued' });
    expect(() => parseJob({ id: 'c', state: 'exploded' })).toThrow(/invalid job/);
    expect(() => parseJob({ state: 'queued' })).toThrow(/invalid job/);
    // Links that are not http(s) are dropped, never handed to <video>.
    expect(parseJob({ id: 'd', state: 'succeeded', video: { url: 'javascript:alert(1)', posterUrl: '/api/mp/jobs/d/poster' } })).toEqual({ id: 'd', state: 'succeeded', posterUrl: '/api/mp/jobs/d/poster' });
  });

  it('parses progress events: the job, steps, and the job an ending event carries', () => {
    expect(parseProgressEvent('job', JSON.stringify({ id: 'a', state: 'queued', position: 2 }))).toEqual({ type: 'job', state: 'queued', job: { id: 'a', state: 'queued', position: 2 } });
    expect(parseProgressEvent('step', JSON.stringify({ type: 'step', jobId: 'a', at: 1, state: 'running', step: 4, totalSteps: 20 }))).toEqual({ type: 'step', state: 'running', step: 4, totalSteps: 20 });
    expect(parseProgressEvent('delivered', JSON.stringify({ type: 'delivered', state: 'succeeded', job: { id: 'a', state: 'succeeded' } }))?.job).toEqual({ id: 'a', state: 'succeeded' });
    expect(parseProgressEvent('step', 'not json')).toBeUndefined();
  });

  it('parses sessions, gallery items, quota and errors', () => {
    expect(parseSession({ token: 't', expiresAt: '2026-01-01T00:00:00Z' })).toEqual({ token: 't', expiresAt: Date.parse('2026-01-01T00:00:00Z') });
    expect(() => parseSession({ token: '' , expiresAt: 1 })).toThrow();
    expect(parseGallery({ items: [{ id: 'g', caption: '古镇', likes: 3, liked: true, mine: false, publishedAt: 5, videoUrl: '/api/mp/jobs/g/video?exp=1&sig=x', expiresAt: 9 }], nextCursor: '20' }))
      .toEqual({ items: [{ id: 'g', prompt: '古镇', likes: 3, liked: true, mine: false, createdAt: 5, videoUrl: '/api/mp/jobs/g/video?exp=1&sig=x', expiresAt: 9 }], nextCursor: '20' });
    // A protocol-relative or odd link is dropped.
    expect(parseGallery({ items: [{ id: 'g', likes: 0, videoUrl: '//evil.example/v.mp4' }] }).items[0]?.videoUrl).toBeUndefined();
    expect(parseQuota({ user: 'u', tier: 'free', quota: { available: 7, dailyCredits: 10, spent: 3, held: 0, bonus: 0, active: 0 } })).toEqual({ available: 7, dailyCredits: 10, spent: 3, held: 0, bonus: 0 });
    expect(parseError({ code: 'quota_exceeded', message: 'no credits' })).toEqual({ code: 'quota_exceeded', message: 'no credits' });
    expect(parseError({ error: { code: 'x' } })).toEqual({ code: 'x' });
    expect(parseError('<html>')).toBeUndefined();
  });

  it('estimates the cost the way the core charges it (16:9 draft at 848×480, final at 1280×720)', () => {
    for (let seconds = 1; seconds <= 10; seconds++) {
      if (seconds <= 5) expect(estimateCost(seconds, true)).toBe(costOf({ mode: 'draft', durationSeconds: seconds, width: 848, height: 480 }));
      expect(estimateCost(seconds, false)).toBe(costOf({ mode: 'final', durationSeconds: seconds, width: 1280, height: 720 }));
    }
  });

  it('has every string in zh-CN and en, with the same parameters', () => {
    const params = (s: string): string[] => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1] ?? '').sort();
    expect(Object.keys(en).sort()).toEqual(Object.keys(zhCN).sort());
    for (const key of Object.keys(zhCN) as (keyof typeof zhCN)[]) {
      expect(zhCN[key].trim(), key).not.toBe('');
      expect(en[key].trim(), key).not.toBe('');
      expect(params(en[key]), key).toEqual(params(zhCN[key]));
    }
  });

  it('decodes UTF-8 split anywhere between chunks and parses SSE frames across them', () => {
    const text = 'event: step\ndata: {"message":"生成中 ✓ 😀"}\n\n: ping\n\nevent: job\r\ndata: {"a":1}\r\n\r\n';
    const bytes = Buffer.from(text, 'utf8');
    for (let cut = 1; cut < bytes.length; cut += 3) {
      const decoder = new Utf8Stream();
      const parser = new SseParser();
      const events = [...parser.push(decoder.push(bytes.subarray(0, cut))), ...parser.push(decoder.push(bytes.subarray(cut)))];
      expect(events).toEqual([{ event: 'step', data: '{"message":"生成中 ✓ 😀"}' }, { event: 'job', data: '{"a":1}' }]);
    }
  });
});
