import { describe, expect, it } from 'vitest';
import { parseVideoCommand } from '@framecast/core';
import { commandTextOf, CreateJobBodySchema, mpStateOf } from './mp-jobs.ts';
import { MediaSigner } from './mp-media.ts';
import { localeFromHeader } from './mp-messages.ts';
import { loginFailureOf } from './wechat-mp-client.ts';
import { decide } from './mp-media-checks.ts';

describe('mini program API parts (no Redis, no network)', () => {
  it('picks the language from Accept-Language: zh-CN unless English is preferred', () => {
    expect(localeFromHeader(undefined)).toBe('zh-CN');
    expect(localeFromHeader('en-US,en;q=0.9')).toBe('en');
    expect(localeFromHeader('zh-CN,zh;q=0.9,en;q=0.8')).toBe('zh-CN');
    expect(localeFromHeader('fr-FR, en;q=0.5, zh;q=0.9')).toBe('zh-CN');
    expect(localeFromHeader('de-DE')).toBe('zh-CN');
    expect(localeFromHeader('zh;q=0, en')).toBe('en');
  });

  it('turns typed fields into the one grammar: the prompt stays prompt text, flags apply', () => {
    const text = commandTextOf({ prompt: '古镇黄昏 a sign reading --draft --seed 9', aspect: '9:16', duration: 2, draft: true, seed: 42 });
    const parsed = parseVideoCommand(text);
    expect(parsed).toMatchObject({ ok: true, spec: { aspect: '9:16', mode: 'draft', durationSeconds: 2, seed: 42 } });
    if (parsed.ok) expect(parsed.spec.prompt).toContain('a sign reading --draft --seed 9');
    const quotes = parseVideoCommand(commandTextOf({ prompt: 'he said "hi" “there” 「ok」 『yes』' }));
    expect(quotes.ok).toBe(true);
    if (quotes.ok) expect(quotes.spec.prompt).toContain('hi');
    const plain = parseVideoCommand(commandTextOf({ prompt: 'a night market', style: 'none' }));
    expect(plain).toMatchObject({ ok: true, spec: { prompt: 'a night market' } });
  });

  it('refuses bodies zod does not accept (unknown fields, bad aspect, seed out of range)', () => {
    expect(CreateJobBodySchema.safeParse({ prompt: 'x' }).success).toBe(true);
    expect(CreateJobBodySchema.safeParse({ prompt: '' }).success).toBe(false);
    expect(CreateJobBodySchema.safeParse({ prompt: 'x', aspect: '2:1' }).success).toBe(false);
    expect(CreateJobBodySchema.safeParse({ prompt: 'x', seed: -1 }).success).toBe(false);
    expect(CreateJobBodySchema.safeParse({ prompt: 'x', openid: 'o1' }).success).toBe(false);
    expect(CreateJobBodySchema.safeParse({ prompt: 'x', style: 'two words' }).success).toBe(false);
  });

  it('folds the core states into the six the mini program shows', () => {
    expect(['queued', 'active', 'review', 'succeeded', 'failed', 'cancelled', 'blocked', 'undeliverable'].map((s) => mpStateOf(s as Parameters<typeof mpStateOf>[0])))
      .toEqual(['queued', 'running', 'held', 'succeeded', 'failed', 'cancelled', 'failed', 'failed']);
  });

  it('signs media links that expire and cannot be moved to another job or kind', () => {
    let now = 1_800_000_000_000;
    const s = new MediaSigner('x'.repeat(32), () => now);
    const { query, expiresAt } = s.sign('j1', 'video', 60);
    const q = new URLSearchParams(query);
    expect(expiresAt).toBe(now + 60_000);
    expect(s.check('j1', 'video', q.get('exp'), q.get('sig'))).toBe('ok');
    expect(s.check('j2', 'video', q.get('exp'), q.get('sig'))).toBe('bad_signature');
    expect(s.check('j1', 'poster', q.get('exp'), q.get('sig'))).toBe('bad_signature');
    expect(s.check('j1', 'video', String(Number(q.get('exp')) + 1000), q.get('sig'))).toBe('bad_signature');
    now += 61_000;
    expect(s.check('j1', 'video', q.get('exp'), q.get('sig'))).toBe('expired');
  });

  it('maps code2Session error codes', () => {
    expect([40029, 40163, 45011, 40226, -1, 40013].map(loginFailureOf)).toEqual(['invalid_code', 'invalid_code', 'rate_limited', 'risky_user', 'unavailable', 'unavailable']);
  });
  it('decides a job from its WeChat image verdicts: any risky rejects, any review or another reason leaves it to a moderator, waits until the timeout', () => {
    expect(decide(['allow'], false, false)).toBe('approve');
    expect(decide(['allow'], true, false)).toBe('human');
    expect(decide(['block', undefined], false, false)).toBe('reject');
    expect(decide(['block'], true, true)).toBe('reject');
    expect(decide(['review'], false, false)).toBe('human');
    expect(decide([undefined], false, false)).toBe('wait');
    expect(decide([undefined], false, true)).toBe('human');
    expect(decide(['allow', undefined], false, false)).toBe('wait');
  });
});
