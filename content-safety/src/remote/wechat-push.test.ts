import { describe, expect, it } from 'vitest';
import { parseWeChatPushBody, verifyWeChatPushSignature, WeChatPushParseError, wechatPushSignature } from './wechat-push.ts';
import { WxaMediaCheckEventSchema } from './wechat-media-check.ts';
import { collectMediaChecks, MEDIA_CHECK_PENDING_CATEGORY, noteVerdict, pendingMediaCheckVerdict } from './media-check-scope.ts';

describe('WeChat message push', () => {
  it('signs as WeChat documents: sha1 of token, timestamp and nonce sorted and joined', () => {
    // sorted: ['1409659813', '1372623149', 'AAAAA'] → '13726231491409659813AAAAA'
    expect(wechatPushSignature('AAAAA', '1409659813', '1372623149')).toBe('aea4bea485da97e0dd0c1fdae5f4c542858bffb9');
    const sig = wechatPushSignature('tok123', '1700000000', 'n0nce');
    expect(sig).toMatch(/^[0-9a-f]{40}$/);
    expect(verifyWeChatPushSignature('tok123', { signature: sig, timestamp: '1700000000', nonce: 'n0nce' })).toBe(true);
    expect(verifyWeChatPushSignature('tok123', { signature: sig.toUpperCase(), timestamp: '1700000000', nonce: 'n0nce' })).toBe(true);
    expect(verifyWeChatPushSignature('tok124', { signature: sig, timestamp: '1700000000', nonce: 'n0nce' })).toBe(false);
    expect(verifyWeChatPushSignature('tok123', { signature: sig, timestamp: '1700000001', nonce: 'n0nce' })).toBe(false);
    expect(verifyWeChatPushSignature('tok123', { signature: sig })).toBe(false);
    expect(verifyWeChatPushSignature('tok123', { signature: [sig], timestamp: '1700000000', nonce: 'n0nce' })).toBe(false);
    expect(verifyWeChatPushSignature('tok123', { signature: 'zz', timestamp: '1700000000', nonce: 'n0nce' })).toBe(false);
  });

  it('parses a media-check event as XML (CDATA, nested result, one detail as a list) and as JSON', () => {
    const xml = '<xml><ToUserName><![CDATA[gh_38cc49f9733b]]></ToUserName><FromUserName><![CDATA[oH1fu0FdHqpToe2T6gBj0WyB8iS1]]></FromUserName>'
      + '<CreateTime>1626959646</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[wxa_media_check]]></Event>'
      + '<appid><![CDATA[wx8f16a5e0a4d1bcb4]]></appid><trace_id><![CDATA[60f96f1d-3845297a-1976a3ce]]></trace_id><version>2</version>'
      + '<detail><strategy><![CDATA[content_model]]></strategy><errcode>0</errcode><suggest><![CDATA[pass]]></suggest><label>100</label><prob>90</prob></detail>'
      + '<errcode>0</errcode><errmsg><![CDATA[ok]]></errmsg><result><suggest><![CDATA[pass]]></suggest><label>100</label></result></xml>';
    const ev = parseWeChatPushBody(Buffer.from(xml), 'text/xml');
    expect(ev).toMatchObject({ CreateTime: 1626959646, trace_id: '60f96f1d-3845297a-1976a3ce', version: 2, result: { suggest: 'pass', label: 100 }, detail: [{ strategy: 'content_model', prob: 90 }] });
    expect(WxaMediaCheckEventSchema.safeParse(ev).success).toBe(true);
    // An all-digit trace_id stays text.
    expect(parseWeChatPushBody('<xml><trace_id>12345</trace_id><a>x &amp; y</a></xml>')).toEqual({ trace_id: '12345', a: 'x & y' });
    expect(parseWeChatPushBody('{"Event":"wxa_media_check","trace_id":"t"}', 'application/json')).toEqual({ Event: 'wxa_media_check', trace_id: 't' });
  });

  it('refuses what is not a plain push body: DTDs, other roots, broken XML, JSON that is not an object, too much', () => {
    for (const bad of ['<!DOCTYPE x [<!ENTITY a "b">]><xml><a>&a;</a></xml>', '<root><a>1</a></root>', '<xml><a>1</b></xml>', '<xml><a>1</a>', '[1,2]', 'null', 'hello', `{"a":"${'x'.repeat(70_000)}"}`]) {
      expect(() => parseWeChatPushBody(bad), bad.slice(0, 40)).toThrow(WeChatPushParseError);
    }
  });
});

describe('collectMediaChecks', () => {
  it('collects the checks submitted inside it and whether anything else asked for a review', async () => {
    const a = await collectMediaChecks(async () => {
      const v = pendingMediaCheckVerdict('trace-1', 'wechat');
      noteVerdict(v);
      return v.hits[0]?.category;
    });
    expect(a).toEqual({ value: MEDIA_CHECK_PENDING_CATEGORY, traces: ['trace-1'], otherReview: false });
    const b = await collectMediaChecks(async () => {
      await new Promise((ok) => setTimeout(ok, 5));
      noteVerdict({ action: 'review', hits: [{ category: 'ads', match: 'buy now' }, { category: MEDIA_CHECK_PENDING_CATEGORY, match: 'x' }], source: 'x' });
      noteVerdict({ action: 'allow', hits: [], source: 'y' });
    });
    expect(b).toMatchObject({ traces: [], otherReview: true });
    // Outside a scope nothing is noted, and nothing throws.
    expect(pendingMediaCheckVerdict('trace-2', 'wechat').action).toBe('review');
  });
});
