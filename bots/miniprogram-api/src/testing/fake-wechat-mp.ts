/**
 * TEST ONLY: a fake of the WeChat server endpoints the mini program API and its checks use, on
 * node:http at 127.0.0.1, following the documented answers:
 * - GET /sns/jscode2session: 40013 bad appid, 40125 bad secret, 40029 unknown code, 40163 code
 *   already used; a code is made with `codeFor(openid)` and is good once.
 * - GET /cgi-bin/token, POST /cgi-bin/stable_token: access tokens (40013, 40125 as above).
 * - POST /wxa/msg_sec_check (v2): risky for 赌博 / casino, review for 加微信 / buy now; 61010 for
 *   an openid that has not logged in.
 * - POST /wxa/media_check_async (v2): a trace_id; like WeChat it downloads `media_url` (an image
 *   it cannot download gets errcode 1 in the event), then POSTs the verdict to `pushUrl` as the
 *   event `wxa_media_check`, signed as message push signs (`?signature=&timestamp=&nonce=` with
 *   `setPush({token})`), as JSON or XML. `setMediaVerdict` steers the verdict per openid
 *   (default: risky when the URL holds "nsfw", else pass; 'silent': no push at all).
 * - POST /cgi-bin/message/subscribe/send: records the message; 40001 for a bad token.
 * `failNext(path, errcode)` makes the next call of a path answer that errcode (45011, -1, …).
 */
import { createHash, randomBytes } from 'node:crypto';
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
  /** The session keys code2Session handed out (a test checks none leaks). */
  sessionKeys: string[];
  /** A fresh login code for this openid (good once). */
  codeFor(openid: string): string;
  failNext(path: string, errcode: number, times?: number): void;
  setPushUrl(url: string | undefined): void;
  /** The message push Token that signs pushes, and their format (default json). */
  setPush(o: { token?: string; format?: 'json' | 'xml' }): void;
  setMediaVerdict(f: ((openid: string, url: string) => MediaVerdict) | undefined): void;
  /** What the media check downloaded (status, bytes, content type). */
  downloads: Array<{ status: number; bytes: number; contentType: string }>;
  /** Every push sent: the URL with its signed query, the body and its content type, and the route's answer. */
  pushes: Array<{ url: string; body: string; contentType: string; status?: number; answer?: string }>;
  close(): Promise<void>;
}

export type MediaVerdict = 'pass' | 'risky' | 'review' | 'silent';

/** How WeChat signs a push: sha1 of token, timestamp and nonce sorted and joined. */
export function signPushQuery(token: string, timestamp = String(Math.floor(Date.now() / 1000)), nonce = randomBytes(6).toString('hex')): string {
  const signature = createHash('sha1').update([token, timestamp, nonce].sort().join('')).digest('hex');
  return `signature=${signature}&timestamp=${timestamp}&nonce=${nonce}`;
}

function toXml(event: Record<string, unknown>): string {
  const el = (k: string, v: unknown): string => {
    if (Array.isArray(v)) return v.map((x) => el(k, x)).join('');
    if (v !== null && typeof v === 'object') return `<${k}>${Object.entries(v).map(([a, b]) => el(a, b)).join('')}</${k}>`;
    return typeof v === 'number' ? `<${k}>${v}</${k}>` : `<${k}><![CDATA[${String(v)}]]></${k}>`;
  };
  return `<xml>${Object.entries(event).map(([k, v]) => el(k, v)).join('')}</xml>`;
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
  let push: { token?: string; format?: 'json' | 'xml' } = {};
  let mediaVerdict: ((openid: string, url: string) => MediaVerdict) | undefined;
  const timers = new Set<NodeJS.Timeout>();

  const fake: FakeWeChatMp = {
    baseUrl: '', appId, appSecret, calls: [], sent: [], tokensIssued: 0, sessionKeys: [], downloads: [], pushes: [],
    setPush(o) {
      push = o;
    },
    setMediaVerdict(f) {
      mediaVerdict = f;
    },
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
        const sessionKey = randomBytes(16).toString('base64');
        fake.sessionKeys.push(sessionKey);
        return send({ openid: c.openid, session_key: sessionKey });
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
        const openid = body.openid as string;
        const verdict = mediaVerdict?.(openid, url) ?? (url.includes('nsfw') ? 'risky' : 'pass');
        if (target !== undefined && verdict !== 'silent') {
          const timer = setTimeout(() => {
            timers.delete(timer);
            void (async () => {
              // WeChat fetches the image itself: the link must be public and good.
              let downloaded = false;
              try {
                const r = await fetch(url);
                const bytes = Buffer.from(await r.arrayBuffer());
                const contentType = r.headers.get('content-type') ?? '';
                fake.downloads.push({ status: r.status, bytes: bytes.length, contentType });
                downloaded = r.ok && contentType.startsWith('image/') && bytes.length > 0;
              } catch {
                fake.downloads.push({ status: 0, bytes: 0, contentType: '' });
              }
              const suggest = verdict;
              const label = suggest === 'risky' ? 20002 : suggest === 'review' ? 20012 : 100;
              const event: Record<string, unknown> = {
                ToUserName: 'gh_fake', FromUserName: openid, CreateTime: Math.floor(Date.now() / 1000), MsgType: 'event', Event: 'wxa_media_check',
                appid: appId, trace_id: id, version: 2, errcode: downloaded ? 0 : 1, errmsg: downloaded ? 'ok' : 'download media failed',
                ...(downloaded ? { result: { suggest, label } } : {}),
                detail: [{ strategy: 'content_model', errcode: downloaded ? 0 : 1, suggest, label, prob: 90 }],
              };
              const xml = push.format === 'xml';
              const payload = xml ? toXml(event) : JSON.stringify(event);
              const contentType = xml ? 'text/xml' : 'application/json';
              const signed = push.token === undefined ? target : `${target}${target.includes('?') ? '&' : '?'}${signPushQuery(push.token)}`;
              const record: FakeWeChatMp['pushes'][number] = { url: signed, body: payload, contentType };
              fake.pushes.push(record);
              try {
                const r = await fetch(signed, { method: 'POST', headers: { 'content-type': contentType }, body: payload });
                record.status = r.status;
                record.answer = await r.text();
              } catch {
                record.status = 0;
              }
            })();
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
