/**
 * The WeChat remote checkers (msgSecCheck v2, mediaCheckAsync v2) with their real HTTP client
 * against a fake WeChat on 127.0.0.1 that follows the documented behaviour: token issue, expiry
 * and revocation, quota and busy errors, the 2-hour openid rule, slow answers, and pushed
 * media-check events delivered by a real HTTP POST to a receiver that calls handlePushEvent.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import {
  createWeChatModerator,
  splitForMsgSecCheck,
  WeChatApiClient,
  WeChatApiError,
  WeChatMediaCheck,
  WeChatMsgSecCheckModerator,
  type PushEventOutcome,
} from '@framecast/content-safety';
import { startFakeWeChatServer, type FakeWeChat } from '../content-safety/src/remote/testing/fake-wechat-server.ts';

const OPENID = 'o_recent_user';
let wx: FakeWeChat;
let receiver: http.Server;
let onPush: (payload: unknown) => PushEventOutcome | undefined = () => undefined;
const pushOutcomes: PushEventOutcome[] = [];

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const outcome = onPush(JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown);
      if (outcome) pushOutcomes.push(outcome);
      res.end('success');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
});

afterAll(async () => {
  await new Promise((r) => receiver.close(r));
});

beforeEach(async () => {
  wx = await startFakeWeChatServer({ pushUrl: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/wechat/push` });
  pushOutcomes.length = 0;
});

afterEach(async () => {
  await wx.close();
});

function client(extra: Partial<ConstructorParameters<typeof WeChatApiClient>[0]> = {}): WeChatApiClient {
  return new WeChatApiClient({ appId: wx.appId, appSecret: wx.appSecret, baseUrl: wx.baseUrl, ...extra });
}

async function errorOf(p: Promise<unknown>): Promise<WeChatApiError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof WeChatApiError) return e;
    throw e;
  }
  throw new Error('expected a WeChatApiError');
}

const checkCalls = (): Array<Record<string, unknown>> => wx.calls.filter((c) => c.path === '/wxa/msg_sec_check').map((c) => c.body ?? {});

describe('msgSecCheck v2', () => {
  it('maps pass / review / risky to allow / review / block, with category and keyword offsets', async () => {
    const m = new WeChatMsgSecCheckModerator({ client: client(), scene: 3 });
    expect(await m.moderateText('一只猫在海边散步', { openid: OPENID })).toEqual({ action: 'allow', hits: [], source: 'wechat-msgseccheck' });
    const review = await m.moderateText('想要更多视频请加微信', { openid: OPENID });
    expect(review.action).toBe('review');
    expect(review.hits[0]).toMatchObject({ category: 'ads', match: '加微信' });
    const text = 'a video about an online casino night';
    const block = await m.moderateText(text, { openid: OPENID });
    expect(block.action).toBe('block');
    const hit = block.hits[0];
    expect(hit).toMatchObject({ category: 'illegal', match: 'casino' });
    expect(text.slice(hit?.start, hit?.end)).toBe('casino');
    expect(checkCalls()[0]).toMatchObject({ version: 2, openid: OPENID, scene: 3 });
  });

  it('caches the token: many checks, one token request', async () => {
    const c = client();
    const m = new WeChatMsgSecCheckModerator({ client: c });
    await Promise.all(Array.from({ length: 5 }, (_, i) => m.moderateText(`hello ${i}`, { openid: OPENID })));
    expect(wx.tokensIssued).toBe(1);
    expect(c.tokenFetches).toBe(1);
  });

  it('refreshes on 42001 (expired) and 40001 (revoked), once', async () => {
    const c = client();
    const m = new WeChatMsgSecCheckModerator({ client: c });
    await m.moderateText('hello', { openid: OPENID });
    wx.expireAllTokens();
    expect((await m.moderateText('hello again', { openid: OPENID })).action).toBe('allow');
    expect(wx.tokensIssued).toBe(2);
    wx.revokeAllTokens();
    expect((await m.moderateText('and again', { openid: OPENID })).action).toBe('allow');
    expect(wx.tokensIssued).toBe(3);
    // a token that stays invalid after one refresh is an error, not a loop
    wx.failNext('/wxa/msg_sec_check', 40001, 5);
    const e = await errorOf(m.moderateText('x', { openid: OPENID }));
    expect([e.code, e.errcode]).toEqual(['invalid_token', 40001]);
    expect(wx.tokensIssued).toBe(4);
  });

  it('refreshes a cached token when the clock passes its expiry', async () => {
    let now = 1_000_000;
    const c = client({ now: () => now });
    const m = new WeChatMsgSecCheckModerator({ client: c });
    await m.moderateText('one', { openid: OPENID });
    now += 60 * 60_000;
    await m.moderateText('two', { openid: OPENID });
    expect(wx.tokensIssued).toBe(1);
    now += 2 * 60 * 60_000;
    await m.moderateText('three', { openid: OPENID });
    expect(wx.tokensIssued).toBe(2);
  });

  it('works with the stable_token endpoint', async () => {
    const m = new WeChatMsgSecCheckModerator({ client: client({ useStableToken: true }) });
    expect((await m.moderateText('hello', { openid: OPENID })).action).toBe('allow');
    expect(wx.calls.some((c) => c.method === 'POST' && c.path === '/cgi-bin/stable_token')).toBe(true);
  });

  it('splits text over 2500 characters and finds a risky word in a later chunk', async () => {
    const filler = '今天天气很好，我们去公园散步。'.repeat(400); // 6000 chars
    const text = `${filler}然后讨论赌博的事情。`;
    const m = new WeChatMsgSecCheckModerator({ client: client() });
    const v = await m.moderateText(text, { openid: OPENID });
    expect(v.action).toBe('block');
    const hit = v.hits[0];
    expect(hit?.category).toBe('illegal');
    expect(text.slice(hit?.start, hit?.end)).toBe('赌博');
    const sent = checkCalls().map((b) => String(b.content));
    expect(sent.length).toBe(3);
    expect(sent.every((s) => Array.from(s).length <= 2500)).toBe(true);
    expect(sent.join('')).toBe(text);
  });

  it('stops at the first blocking chunk', async () => {
    const text = `casino ${'x '.repeat(3000)}`;
    const v = await new WeChatMsgSecCheckModerator({ client: client() }).moderateText(text, { openid: OPENID });
    expect(v.action).toBe('block');
    expect(checkCalls().length).toBe(1);
  });

  it('splitForMsgSecCheck never cuts a surrogate pair', () => {
    const text = '😀'.repeat(3000);
    const parts = splitForMsgSecCheck(text);
    expect(parts.map((p) => Array.from(p.text).length)).toEqual([2500, 500]);
    expect(parts[1]?.offset).toBe(5000);
    expect(parts.map((p) => p.text).join('')).toBe(text);
  });

  it('quota (45009) and busy (-1) are retryable errors', async () => {
    const m = new WeChatMsgSecCheckModerator({ client: client() });
    wx.failNext('/wxa/msg_sec_check', 45009);
    const quota = await errorOf(m.moderateText('hi', { openid: OPENID }));
    expect([quota.code, quota.errcode, quota.retryable]).toEqual(['quota', 45009, true]);
    wx.failNext('/wxa/msg_sec_check', -1);
    const busy = await errorOf(m.moderateText('hi', { openid: OPENID }));
    expect([busy.code, busy.errcode, busy.retryable]).toEqual(['busy', -1, true]);
    expect((await m.moderateText('hi', { openid: OPENID })).action).toBe('allow');
  });

  it('needs an openid, and explains 61010 (not opened in 2 h) to the user', async () => {
    const m = new WeChatMsgSecCheckModerator({ client: client() });
    const missing = await errorOf(m.moderateText('hi', {}));
    expect(missing.code).toBe('openid_required');
    expect(wx.calls.length).toBe(0);
    const stale = await errorOf(m.moderateText('hi', { openid: 'o_stale_user' }));
    expect([stale.code, stale.errcode, stale.retryable]).toEqual(['openid_not_recent', 61010, false]);
    expect(stale.userMessage['zh-CN']).toContain('两小时');
    expect(stale.userMessage.en).toContain('2 hours');
    const bad = await errorOf(m.moderateText('hi', { openid: 'not-an-openid' }));
    expect(bad.code).toBe('invalid_openid');
  });

  it('times out a slow answer', async () => {
    wx.delay('/wxa/msg_sec_check', 2000);
    const m = new WeChatMsgSecCheckModerator({ client: client({ requestTimeoutMs: 200 }) });
    const e = await errorOf(m.moderateText('hi', { openid: OPENID }));
    expect([e.code, e.retryable]).toEqual(['timeout', true]);
  });

  it('refuses bad credentials, and never shows the secret or a token', async () => {
    const bad = new WeChatApiClient({ appId: wx.appId, appSecret: 'wrong-secret-value', baseUrl: wx.baseUrl });
    const e = await errorOf(new WeChatMsgSecCheckModerator({ client: bad }).moderateText('hi', { openid: OPENID }));
    expect([e.code, e.errcode]).toEqual(['invalid_credentials', 40125]);
    const good = client({ requestTimeoutMs: 200 });
    await new WeChatMsgSecCheckModerator({ client: good }).moderateText('hi', { openid: OPENID });
    const token = await good.getAccessToken();
    wx.delay('/wxa/msg_sec_check', 2000);
    const slow = await errorOf(new WeChatMsgSecCheckModerator({ client: good }).moderateText('hi', { openid: OPENID }));
    for (const shown of [inspect(e), String(e.stack), inspect(slow), String(slow.stack), JSON.stringify(good), inspect(good)]) {
      expect(shown).not.toContain('wrong-secret-value');
      expect(shown).not.toContain(wx.appSecret);
      expect(shown).not.toContain(token);
    }
  });
});

describe('mediaCheckAsync v2', () => {
  function media(timeoutMs = 5000): WeChatMediaCheck {
    const m = new WeChatMediaCheck({ client: client(), resultTimeoutMs: timeoutMs });
    onPush = (p) => m.handlePushEvent(p);
    return m;
  }

  it('submit returns a trace_id; the pushed event resolves the verdict', async () => {
    const m = media();
    const traceId = await m.submit({ mediaUrl: 'https://cdn.example.com/u/nsfw-1.jpg', openid: OPENID });
    expect(traceId).toMatch(/\w+-\w+-\w+/);
    const v = await m.waitForVerdict(traceId);
    expect(v).toMatchObject({ action: 'block', source: 'wechat-mediacheckasync' });
    expect(v.hits[0]).toMatchObject({ category: 'sexual', match: 'wechat-label:20002', score: 0.9 });
    expect(m.verdictFor(traceId)).toEqual(v);
    const sent = wx.calls.find((c) => c.path === '/wxa/media_check_async')?.body;
    expect(sent).toMatchObject({ media_url: 'https://cdn.example.com/u/nsfw-1.jpg', media_type: 2, version: 2, scene: 2, openid: OPENID });
    expect(pushOutcomes.map((o) => o.matched)).toEqual([true]);
  });

  it('pass and review verdicts; a failed download becomes review', async () => {
    const m = media();
    expect((await m.check({ mediaUrl: 'https://cdn.example.com/cat.jpg', openid: OPENID })).action).toBe('allow');
    expect((await m.check({ mediaUrl: 'https://cdn.example.com/borderline.jpg', openid: OPENID })).action).toBe('review');
    const failed = await m.check({ mediaUrl: 'https://cdn.example.com/download-fails.jpg', openid: OPENID });
    expect(failed.action).toBe('review');
    expect(failed.hits[0]?.category).toBe('remote-error');
  });

  it('answers review when no push arrives in time', async () => {
    const m = media(300);
    const v = await m.check({ mediaUrl: 'https://cdn.example.com/never-answer.jpg', openid: OPENID });
    expect(v.action).toBe('review');
    expect(v.hits[0]?.category).toBe('remote-timeout');
    expect(m.pendingCount).toBe(0);
  });

  it('keeps a verdict that arrives before anyone waits', async () => {
    const m = media();
    const traceId = await m.submit({ mediaUrl: 'https://cdn.example.com/nsfw-early.jpg', openid: OPENID });
    await expect.poll(() => m.verdictFor(traceId)?.action, { timeout: 5000 }).toBe('block');
    expect((await m.waitForVerdict(traceId)).action).toBe('block');
  });

  it('ignores other events, other appids and malformed payloads', () => {
    const m = media();
    expect(m.handlePushEvent({ MsgType: 'event', Event: 'subscribe' })).toEqual({ matched: false, reason: 'not_media_check' });
    expect(m.handlePushEvent('<xml/>')).toEqual({ matched: false, reason: 'not_media_check' });
    const other = m.handlePushEvent({ MsgType: 'event', Event: 'wxa_media_check', appid: 'wxsomeoneelse', trace_id: 't1', result: { suggest: 'pass', label: 100 } });
    expect(other).toEqual({ matched: false, reason: 'other_appid', traceId: 't1' });
    expect(m.verdictFor('t1')).toBeUndefined();
    expect(m.handlePushEvent({ MsgType: 'event', Event: 'wxa_media_check', appid: wx.appId, trace_id: 't2', result: { suggest: 'risky', label: 20001 } })).toEqual({
      matched: false,
      reason: 'unknown_trace',
      traceId: 't2',
    });
    expect(m.verdictFor('t2')?.action).toBe('block');
  });

  it('needs an openid and a public-style URL; maps submit errors', async () => {
    const m = media();
    expect((await errorOf(m.submit({ mediaUrl: 'https://cdn.example.com/a.jpg', openid: undefined }))).code).toBe('openid_required');
    await expect(m.submit({ mediaUrl: 'file:///etc/passwd', openid: OPENID })).rejects.toThrow(TypeError);
    wx.failNext('/wxa/media_check_async', 45009);
    expect((await errorOf(m.submit({ mediaUrl: 'https://cdn.example.com/a.jpg', openid: OPENID }))).code).toBe('quota');
    expect((await errorOf(m.submit({ mediaUrl: 'https://cdn.example.com/a.jpg', openid: 'o_stale' }))).code).toBe('openid_not_recent');
  });
});

describe('createWeChatModerator', () => {
  it('is off by default, and refuses to enable without credentials', () => {
    expect(createWeChatModerator({})).toBeUndefined();
    expect(() => createWeChatModerator({ enabled: true })).toThrow(/appId and appSecret/);
  });

  it('moderates text and (with a publisher) decoded images', async () => {
    const published: Buffer[] = [];
    const mod = createWeChatModerator(
      { enabled: true, appId: wx.appId, appSecret: wx.appSecret, baseUrl: wx.baseUrl, mediaResultTimeoutMs: 5000 },
      {
        publishImage: async (jpeg) => {
          published.push(jpeg);
          return `https://cdn.example.com/moderation/nsfw-${published.length}.jpg`;
        },
      },
    );
    if (!mod) throw new Error('expected a moderator');
    onPush = (p) => mod.mediaCheck?.handlePushEvent(p);
    expect((await mod.moderateText('porn video', { openid: OPENID })).action).toBe('block');
    const rgb = new Uint8Array(16 * 16 * 3).fill(200);
    const v = await mod.moderateImage({ data: rgb, width: 16, height: 16 }, { openid: OPENID });
    expect(v.action).toBe('block');
    expect(published[0]?.subarray(0, 3)).toEqual(Buffer.from([0xff, 0xd8, 0xff]));
  });
});
