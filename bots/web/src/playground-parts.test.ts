import { parseVideoCommand, type GenerationSpec, type JobRecord } from '@framecast/core';
import { describe, expect, it } from 'vitest';
import { commandTextOf, jobView, seedOf } from './web-jobs.ts';
import { pickLocale } from './web-messages.ts';
import { escapeHtml, jsonForScript, megabytes, renderPlaygroundPage } from './web-page.ts';

function specOf(text: string): GenerationSpec {
  const r = parseVideoCommand(text);
  if (!r.ok) throw new Error(`does not parse: ${text}`);
  return r.spec;
}

function record(state: JobRecord['state'], spec: GenerationSpec, withResult: boolean): JobRecord {
  return {
    version: 2, jobId: 'jabc123', state, platform: 'web', userKey: 'web:0123456789abcdef01234567', tenantKey: 'web:playground', channelId: 'c', eventId: 'e',
    cost: 3, spec, createdAt: 1, attempts: 1, reviewRequired: state === 'review', allowDowngrade: true,
    ...(withResult ? { result: { videoRef: 'videos/jabc123.mp4', posterRef: 'videos/jabc123.jpg', bytes: 1000, width: 208, height: 128, frames: 49, fps: 16, durationSec: 3, needsLink: false, downgraded: false } } : {}),
  };
}

describe('pickLocale', () => {
  it('takes the explicit choice, then Accept-Language by weight, then the default', () => {
    expect(pickLocale('en', 'zh-CN,zh;q=0.9', 'zh-CN')).toBe('en');
    expect(pickLocale(undefined, 'fr-FR,fr;q=0.9,zh-TW;q=0.8,en;q=0.7', 'en')).toBe('zh-CN');
    expect(pickLocale(undefined, 'en;q=0.2,zh-Hans-CN;q=0.9', 'en')).toBe('zh-CN');
    expect(pickLocale(undefined, 'fr, de', 'en')).toBe('en');
    expect(pickLocale('xx', undefined, 'zh-CN')).toBe('zh-CN');
    expect(pickLocale(undefined, 'zh;q=0, en', 'zh-CN')).toBe('en');
  });
});

describe('commandTextOf (reroll and upscale)', () => {
  it('makes the same spec again with the new seed and mode, style phrases not doubled', () => {
    const spec = specOf('/video a fox in the snow --style ink-wash --neg "blurry" --ar 9:16 --duration 2 --draft --seed 5');
    const again = specOf(commandTextOf(spec, 99, 'draft'));
    expect(again).toEqual({ ...spec, seed: 99 });
    const final = specOf(commandTextOf(spec, spec.seed, 'final'));
    expect(final.mode).toBe('final');
    expect(final.seed).toBe(5);
    expect(final.prompt).toBe(spec.prompt);
    expect(final.style).toBe('ink-wash');
  });

  it('keeps a spec without a style without one', () => {
    const spec = specOf('/video a paper boat --draft --seed 1');
    expect(specOf(commandTextOf(spec, 2, 'draft'))).toEqual({ ...spec, seed: 2 });
  });

  it('derives a reroll seed from the click id, the same for the same click', () => {
    expect(seedOf('j1|a')).toBe(seedOf('j1|a'));
    expect(seedOf('j1|a')).not.toBe(seedOf('j1|b'));
  });
});

describe('jobView', () => {
  const spec = specOf('/video a lighthouse --draft --seed 3');
  it('shows the video of a finished job, never of one held for review', () => {
    expect(jobView(record('succeeded', spec, true)).video?.url).toBe('/api/web/jobs/jabc123/video');
    expect(jobView(record('review', spec, true)).video).toBeUndefined();
    expect(jobView(record('blocked', spec, true)).video).toBeUndefined();
    expect(jobView(record('active', spec, false)).previewUrl).toBe('/api/web/jobs/jabc123/preview');
    expect(jobView(record('queued', spec, false), { position: 2, etaSeconds: 41.6 })).toMatchObject({ position: 2, etaSeconds: 42 });
    expect(JSON.stringify(jobView(record('succeeded', spec, true)))).not.toContain('web:');
  });
});

describe('the page', () => {
  it('escapes text and keeps its JSON config inert', () => {
    expect(escapeHtml('<a href="x">\'&')).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;');
    expect(jsonForScript({ s: '</script><script>alert(1)</script>' })).not.toContain('</script>');
    expect(JSON.parse(jsonForScript({ s: '</script>&\u2028' }))).toEqual({ s: '</script>&\u2028' });
    expect(megabytes(10 * 1048576)).toBe('10');
    expect(megabytes(1048576 - 65536)).toBe('0.9');
  });

  it('has a label for every input, no inline script and no inline style', () => {
    for (const locale of ['en', 'zh-CN'] as const) {
      const html = renderPlaygroundPage({ locale, maxImageBytes: 983040 });
      const ids = [...html.matchAll(/<(?:input|textarea|select)[^>]*\sid="([^"]+)"/g)].map((m) => m[1]);
      expect(ids.length).toBeGreaterThanOrEqual(2);
      for (const id of ids) expect(html).toContain(`<label for="${id}">`);
      expect(html).not.toMatch(/<script(?![^>]*(type="application\/json"|src="\/assets\/playground\.js"))/);
      expect(html).not.toMatch(/\sstyle="/);
      expect(html).not.toMatch(/\son[a-z]+="/);
      expect(html).toContain(`<html lang="${locale}">`);
    }
  });
});
