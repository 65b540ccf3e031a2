import { describe, expect, it } from 'vitest';
import { costOf } from '@framecast/core';
import { estimateCost, parseError, parseGallery, parseJob, parseQuota, parseSession } from '../src/api/types.ts';
import { en, zhCN } from '../src/i18n/messages.ts';

describe('mini program API shapes', () => {
  it('parses the job the API answers, and refuses one without an id or a known state', () => {
    expect(parseJob({ id: 'a', state: 'running', position: 0, etaSeconds: 12, cost: 3, progress: { step: 4, total: 20 }, createdAt: '2026-01-01T00:00:00Z', extra: 1 }))
      .toEqual({ id: 'a', state: 'running', position: 0, etaSeconds: 12, cost: 3, progress: { step: 4, total: 20 }, createdAt: Date.parse('2026-01-01T00:00:00Z') });
    expect(parseJob({ job: { id: 'b', state: 'queued' } })).toEqual({ id: 'b', state: 'queued' });
    expect(() => parseJob({ id: 'c', state: 'exploded' })).toThrow(/invalid job/);
    expect(() => parseJob({ state: 'queued' })).toThrow(/invalid job/);
    // Links that are not http(s) are dropped, never handed to <video>.
    expect(parseJob({ id: 'd', state: 'succeeded', videoUrl: 'javascript:alert(1)', posterUrl: 'https://cdn.example/p.jpg' })).toEqual({ id: 'd', state: 'succeeded', posterUrl: 'https://cdn.example/p.jpg' });
  });

  it('parses sessions, gallery items, quota and errors', () => {
    expect(parseSession({ token: 't', expiresAt: '2026-01-01T00:00:00Z' })).toEqual({ token: 't', expiresAt: Date.parse('2026-01-01T00:00:00Z') });
    expect(() => parseSession({ token: '' , expiresAt: 1 })).toThrow();
    expect(parseGallery({ items: [{ id: 'g', likes: 3, liked: true }] })).toEqual([{ id: 'g', likes: 3, liked: true }]);
    expect(parseQuota({ available: 7, dailyCredits: 10 })).toEqual({ available: 7, dailyCredits: 10 });
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
});
