/**
 * TEST ONLY: a fake of the WeChat server endpoints the mini program API and its checks use, on
 * node:http at 127.0.0.1, following the documented answers:
 * - GET /sns/jscode2session: 40013 bad appid, 40125 bad secret, 40029 unknown code, 40163 code
 *   already used; a code is made with `codeFor(openid)` and is good once.
 * - GET /cgi-bin/token, POST /cgi-bin/stable_token: access tokens (40013, 40125 as above).
 * - POST /wxa/msg_sec_check (v2): risky for 赌博 / casino, review for 加微信 / buy now; 61010 for
 *   an openid that has not logged in.
 * - POST /wxa/media_check_async (v2): a trace_id; the verdict is POSTed to `pushUrl` as the event
 *   `wxa_media_check` (risky when the URL holds "nsfw").
 * - POST /cgi-bin/message/subscribe/send: records the message; 40001 for a bad token.
 * `failNext(path, errcode)` makes the next call of a path answer that errcode (45011, -1, …).
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeWeChatMp {
  baseUrl: string;
  appId: string;
  appSecret: string;
  /** Every call: method, path and (for POST) the JSON body; secrets and codes are not kept. */
  calls: Array<{ method: string; path: string; body?: Record<string, unknown> }>;
  /** subscribeMessage.send bodies that were accepted. */
  sent: Array<Record<string, unknown>>;
  tokensIssued: number;
  /** A fresh login code for this openid (good once). */
  codeFor(openid: string): string;
  failNext(path: string, errcode: number, times?: number): void;
  setPushUrl(url: string | undefined): void;
  close(): Promise<void>;
}

const RULES: Array<{ re: RegExp; suggest: 'risky' | 'review'; label: number; keyword: string }> = [
  { re: /赌博/, suggest: 'risky', label: 20006, keyword: '赌博' },
  { re: /casino/i, suggest: 'risky', label: 20006, keyword: 'casino' },
  { re: /加微信/, suggest: 'review', label: 10001, keyword: '加微信' },
  { re: /buy now/i, suggest: 'review', label: 10001, keyword: 'buy now' },
];

export async function startFakeWeChatMp(opts: { appId?: string; appSecret?: string } = {}): Promise<FakeWeChatMp> {
  const appId = opts.appId ?? 'wxfakeminiprogram01';
  const appSecret = opts.appSecret ?? `secret-${randomBytes(8).toString('hex')}`;
  const codes = new Map<string, { openid: string; used: boolean }>();
  const tokens = new Set<string>();
  const loggedIn = new Set<string>();
  const failures = new Map<string, { errcode: number; times: number }>();
  let pushUrl: string | undefined;
  const timers = new Set<NodeJS.Timeout>();

  const fake: FakeWeChatMp = {
    baseUrl: '', appId, appSecret, calls: [], sent: [], tokensIssued: 0,
    codeFor(openid) {
      const code = `code_${randomBytes(9).toString('hex')}`;
      codes.set(code, { openid, used: false });
      return code;
    },
    failNext(path, errcode, times = 1) {
      failures.set(path, { errcode, times });
    },
    setPushUrl(url) {
      pushUrl = url;
    },
    close: async () => undefined,
  };

  const issue = (id: unknown, secret: unknown): Record<string, unknown> => {
    if (id !== appId) return { errcode: 40013, errmsg: 'invalid appid' };
    if (secret !== appSecret) return { errcode: 40125, errmsg: 'invalid appsecret' };
    const token = `tok_${randomBytes(12).toString('hex')}`;
    tokens.add(token);
    fake.tokensIssued++;
    return { access_token: token, expires_in: 7200 };
  };
  const traceId = (): string => randomBytes(8).toString('hex');

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://fake');
      const path = u.pathname;
      const send = (obj: Record<string, unknown>, status = 200): void => {
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify(obj));
      };
      let body: Record<string, unknown> | undefined;
      if (req.method === 'POST') {
        try {
          const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null');
          body = parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : undefined;
        } catch {
          body = undefined;
        }
      }
      const recorded = body === undefined ? undefined : { ...body };
      if (recorded !== undefined && 'secret' in recorded) recorded.secret = '[redacted]';
      fake.calls.push(recorded === undefined ? { method: req.method ?? '', path } : { method: req.method ?? '', path, body: recorded });

      const fail = failures.get(path);
      if (fail !== undefined && fail.times > 0) {
        fail.times--;
        send({ errcode: fail.errcode, errmsg: fail.errcode === 45011 ? 'api minute-quota reach limit' : fail.errcode === -1 ? 'system error' : 'error' });
        return;
      }
      const q = u.searchParams;
      if (path === '/sns/jscode2session') {
        if (q.get('appid') !== appId) return send({ errcode: 40013, errmsg: 'invalid appid' });
        if (q.get('secret') !== appSecret) return send({ errcode: 40125, errmsg: 'invalid appsecret' });
        if (q.get('grant_type') !== 'authorization_code') return send({ errcode: 40002, errmsg: 'invalid grant_type' });
        const c = codes.get(q.get('js_code') ?? '');
        if (c === undefined) return send({ errcode: 40029, errmsg: 'invalid code' });
        if (c.used) return send({ errcode: 40163, errmsg: 'code been used' });
        c.used = true;
        loggedIn.add(c.openid);
        return send({ openid: c.openid, session_key: `sk_${randomBytes(12).toString('base64')}` });
      }
      if (path === '/cgi-bin/token') return send(q.get('grant_type') === 'client_credential' ? issue(q.get('appid'), q.get('secret')) : { errcode: 40002, errmsg: 'invalid grant_type' });
      if (path === '/cgi-bin/stable_token') return send(body?.grant_type === 'client_credential' ? issue(body.appid, body.secret) : { errcode: 40002, errmsg: 'invalid grant_type' });
      const token = q.get('access_token');
      if (token === null) return send({ errcode: 41001, errmsg: 'access_token missing' });
      if (!tokens.has(token)) return send({ errcode: 40001, errmsg: 'invalid credential' });
      if (body === undefined) return send({ errcode: 47001, errmsg: 'data format error' });
      if (path === '/wxa/msg_sec_check') {
        if (body.version !== 2 || typeof body.content !== 'string') return send({ errcode: 47001, errmsg: 'data format error' });
        if (typeof body.openid !== 'string' || !loggedIn.has(body.openid)) return send({ errcode: 61010, errmsg: 'code is expired' });
        const rule = RULES.find((r) => r.re.test(body.content as string));
        const suggest = rule?.suggest ?? 'pass';
        const label = rule?.label ?? 100;
        const detail: Array<Record<string, unknown>> = [{ strategy: 'content_model', errcode: 0, suggest, label, prob: rule === undefined ? 0 : 90 }];
        if (rule !== undefined) detail.push({ strategy: 'keyword', errcode: 0, suggest, label, level: 20, keyword: rule.keyword });
        return send({ errcode: 0, errmsg: 'ok', trace_id: traceId(), result: { suggest, label }, detail });
      }
      if (path === '/wxa/media_check_async') {
        const url = body.media_url;
        if (typeof url !== 'string' || !/^https?:\/\//.test(url) || body.version !== 2) return send({ errcode: 47001, errmsg: 'data format error' });
        if (typeof body.openid !== 'string' || !loggedIn.has(body.openid)) return send({ errcode: 61010, errmsg: 'code is expired' });
        const id = traceId();
        const target = pushUrl;
        if (target !== undefined) {
          const suggest = url.includes('nsfw') ? 'risky' : 'pass';
          const event = {
            ToUserName: 'gh_fake', FromUserName: body.openid, CreateTime: Math.floor(Date.now() / 1000), MsgType: 'event', Event: 'wxa_media_check',
            appid: appId, trace_id: id, version: 2, errcode: 0, errmsg: 'ok', result: { suggest, label: suggest === 'risky' ? 20002 : 100 },
            detail: [{ strategy: 'content_model', errcode: 0, suggest, label: suggest === 'risky' ? 20002 : 100, prob: 90 }],
          };
          const timer = setTimeout(() => {
            timers.delete(timer);
            fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(event) }).catch(() => undefined);
          }, 20);
          timers.add(timer);
        }
        return send({ errcode: 0, errmsg: 'ok', trace_id: id });
      }
      if (path === '/cgi-bin/message/subscribe/send') {
        if (typeof body.touser !== 'string' || typeof body.template_id !== 'string' || typeof body.data !== 'object') return send({ errcode: 47003, errmsg: 'argument invalid' });
        fake.sent.push(body);
        return send({ errcode: 0, errmsg: 'ok', msgid: Date.now() });
      }
      send({ errcode: 404, errmsg: 'not found' }, 404);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.close = async () => {
    for (const t of timers) clearTimeout(t);
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  };
  return fake;
}
