import { describe, expect, it } from 'vitest';
import { loadConfig } from '@framecast/core';
import { isSlackConfigured } from './slack-adapter.ts';
import { extractFileLinks, localeOf, stripMentions, toChatRequest, unescapeSlack } from './slack-commands.ts';
import { parseSlackBody } from './slack-receiver.ts';
import { slackSignature, verifySlackSignature } from './slack-signature.ts';
import { commandTextOf, seedOf } from './slack-actions.ts';

describe('slack signatures', () => {
  const body = Buffer.from('token=x&command=%2Fvideo&text=a+cat');
  const now = 1_700_000_000;
  it('accepts what Slack signs and refuses anything else', () => {
    const signature = slackSignature('secret', now, body);
    expect(signature).toMatch(/^v0=[0-9a-f]{64}$/);
    expect(verifySlackSignature('secret', { signature, timestamp: String(now) }, body, now)).toEqual({ ok: true });
    expect(verifySlackSignature('other', { signature, timestamp: String(now) }, body, now)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verifySlackSignature('secret', { signature, timestamp: String(now) }, Buffer.from('token=x'), now)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verifySlackSignature('secret', { signature, timestamp: String(now) }, body, now + 301)).toEqual({ ok: false, reason: 'stale_timestamp' });
    expect(verifySlackSignature('secret', { signature: undefined, timestamp: String(now) }, body, now)).toEqual({ ok: false, reason: 'missing_headers' });
    expect(verifySlackSignature('secret', { signature, timestamp: 'soon' }, body, now)).toEqual({ ok: false, reason: 'missing_headers' });
  });
});

describe('slack payloads', () => {
  it('reads JSON events, slash command forms and interactivity payloads', () => {
    expect(parseSlackBody(Buffer.from('{"type":"event_callback"}'), 'application/json')).toEqual({ type: 'event_callback' });
    expect(parseSlackBody(Buffer.from('command=%2Fvideo&text=a+cat'), 'application/x-www-form-urlencoded')).toEqual({ command: '/video', text: 'a cat' });
    expect(parseSlackBody(Buffer.from(`payload=${encodeURIComponent('{"type":"block_actions"}')}`), 'application/x-www-form-urlencoded')).toEqual({ type: 'block_actions' });
    // Not an object where one is expected: refused (the receiver answers 400), never a crash later.
    for (const [b, ct] of [['null', 'application/json'], ['[1]', 'application/json'], ['7', 'application/json'], ['payload=null', 'application/x-www-form-urlencoded'], ['payload=%22x%22', 'application/x-www-form-urlencoded']] as const) {
      expect(() => parseSlackBody(Buffer.from(b), ct)).toThrow(SyntaxError);
    }
  });

  it('takes Slack file links out of the text, escaped or raw', () => {
    expect(extractFileLinks('a red wall <https://files.slack.com/files-pri/T01-F0ABC/red.png|red.png> --draft')).toEqual({ text: 'a red wall --draft', fileIds: ['F0ABC'] });
    expect(extractFileLinks('x https://acme.slack.com/files/U123/F0XYZ/cat.jpg y')).toEqual({ text: 'x y', fileIds: ['F0XYZ'] });
    expect(extractFileLinks('no links here <https://example.com/a.png>')).toEqual({ text: 'no links here <https://example.com/a.png>', fileIds: [] });
    expect(unescapeSlack('a &lt;b&gt; &amp; <https://x.y/z|z>')).toBe('a <b> & z');
    expect(stripMentions('<@UBOT> a  lighthouse <@U2|bob>')).toBe('a lighthouse');
  });

  it('maps Slack locales and builds a typed ChatRequest', () => {
    expect([localeOf('zh-CN'), localeOf('zh-TW'), localeOf('en-GB'), localeOf('fr-FR'), localeOf(undefined)]).toEqual(['zh-CN', 'zh-CN', 'en', undefined, undefined]);
    const req = toChatRequest({ kind: 'mention', teamId: 'T1', channelId: 'C1', userId: 'U1', eventId: 'evt:Ev1', text: 'a cat', threadTs: '1.2', files: [] }, [], 'en', '3.4');
    expect(req).toMatchObject({ platform: 'slack', tenantId: 'T1', eventId: 'evt:Ev1', replyTarget: { platform: 'slack', teamId: 'T1', channelId: 'C1', threadTs: '1.2', messageTs: '3.4' } });
  });

  it('a reroll asks for the same job from both payloads of a double click; an upscale keeps the seed', () => {
    expect(seedOf('j1|abc')).toBe(seedOf('j1|abc'));
    expect(seedOf('j1|abc')).not.toBe(seedOf('j1|abd'));
    const spec = { prompt: 'a cat', negativePrompt: 'blur', aspect: '16:9', durationSeconds: 3, seed: 5, mode: 'draft' } as Parameters<typeof commandTextOf>[0];
    expect(commandTextOf(spec, 9, 'final')).toBe('a cat --seed 9 --ar 16:9 --duration 3 --neg "blur"');
    expect(commandTextOf(spec, 5, 'draft')).toMatch(/--draft$/);
  });
});

describe('slack config', () => {
  const load = (env: Record<string, string>) => loadConfig({ FRAMECAST_TIMEZONE: 'Asia/Shanghai', ...env }, { dotenvPath: false });
  it('needs the bot token with a signing secret or an app token, and lists what is missing', () => {
    expect(isSlackConfigured(load({}))).toBe(false);
    expect(() => load({ SLACK_BOT_TOKEN: 'xoxb-1' })).toThrow(/SLACK_APP_TOKEN or SLACK_SIGNING_SECRET/);
    expect(() => load({ SLACK_SIGNING_SECRET: 's' })).toThrow(/SLACK_BOT_TOKEN: required/);
    expect(() => load({ SLACK_BOT_TOKEN: 'xoxp-user', SLACK_APP_TOKEN: 'xapp-1' })).toThrow(/xoxb-/);
    const socket = load({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1' });
    expect(isSlackConfigured(socket)).toBe(true);
    expect(socket.env.SLACK_API_BASE_URL).toBe('https://slack.com/api/');
    expect(load({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's', SLACK_API_BASE_URL: 'http://127.0.0.1:9/api/' }).env.SLACK_API_BASE_URL).toBe('http://127.0.0.1:9/api/');
  });
});
