/**
 * TEST ONLY (not exported from the package): a fake of the WeChat server endpoints the remote
 * checkers use, on node:http at 127.0.0.1, following the documented behaviour:
 * - GET /cgi-bin/token and POST /cgi-bin/stable_token: errcode 40013 (bad appid), 40125 (bad
 *   secret), 40002 (bad grant_type); tokens expire after `tokenTtlSeconds`.
 * - POST /wxa/msg_sec_check and /wxa/media_check_async: 41001 (no token), 40001 (unknown or
 *   revoked token), 42001 (expired), 43302 (not POST), 47001 (bad JSON / format), 44002 (empty),
 *   40003 (bad openid), 61010 (openid not seen in 2 h), 40129 (bad scene), 45009 (quota), -1 (busy).
 * - mediaCheckAsync pushes `wxa_media_check` to `pushUrl` (a real HTTP POST) after `pushDelayMs`.
 * Verdicts come from simple rules on the content or URL so tests can steer them.
 * Guessed where WeChat documents nothing: content over 2500 characters answers 47001.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';

export interface FakeWeChatOptions {
  appId?: string;
  appSecret?: string;
  tokenTtlSeconds?: number;
  /** Openids that "opened the mini program in the last 2 hours". */
  recentOpenids?: string[];
  /** Where media-check results are POSTed. */
  pushUrl?: string;
  pushDelayMs?: number;
}

interface IssuedToken {
  expiresAt: number;
  revoked: boolean;
}

export interface FakeWeChat {
  baseUrl: string;
  appId: string;
  appSecret: string;
  /** Every request: path and (for POST) parsed body; the token is not recorded. */
  calls: Array<{ method: string; path: string; body?: Record<string, unknown> }>;
  tokensIssued: number;
  recentOpenids: Set<string>;
  /** Next N calls of this path answer this errcode. */
  failNext(path: string, errcode: number, times?: number): void;
  /** Delay answers on a path (slow responses). */
  delay(path: string, ms: number): void;
  expireAllTokens(): void;
  revokeAllTokens(): void;
  setPushUrl(url: string): void;
  close(): Promise<void>;
}

const RULES: Array<{ re: RegExp; suggest: 'risky' | 'review'; label: number; keyword: string }> = [
  { re: /赌博/, suggest: 'risky', label: 20006, keyword: '赌博' },
  { re: /casino/i, suggest: 'risky', label: 20006, keyword: 'casino' },
  { re: /porn/i, suggest: 'risky', label: 20002, keyword: 'porn' },
  { re: /加微信/, suggest: 'review', label: 10001, keyword: '加微信' },
  { re: /buy now/i, suggest: 'review', label: 10001, keyword: 'buy now' },
];

export async function startFakeWeChatServer(opts: FakeWeChatOptions = {}): Promise<FakeWeChat> {
  const appId = opts.appId ?? 'wxfake0123456789';
  const appSecret = opts.appSecret ?? `secret-${randomBytes(8).toString('hex')}`;
  const ttl = opts.tokenTtlSeconds ?? 7200;
  const tokens = new Map<string, IssuedToken>();
  const failures = new Map<string, { errcode: number; times: number }>();
  const delays = new Map<string, number>();
  let pushUrl = opts.pushUrl;
  const pushDelayMs = opts.pushDelayMs ?? 20;
  const pushTimers = new Set<NodeJS.Timeout>();

  const fake: FakeWeChat = {
    baseUrl: '',
    appId,
    appSecret,
    calls: [],
    tokensIssued: 0,
    recentOpenids: new Set(opts.recentOpenids ?? ['o_recent_user']),
    failNext(path, errcode, times = 1) {
      failures.set(path, { errcode, times });
    },
    delay(path, ms) {
      delays.set(path, ms);
    },
    expireAllTokens() {
      for (const t of tokens.values()) t.expiresAt = 0;
    },
    revokeAllTokens() {
      for (const t of tokens.values()) t.revoked = true;
    },
    setPushUrl(url) {
      pushUrl = url;
    },
    close: async () => undefined,
  };

  const issue = (): { access_token: string; expires_in: number } => {
    const token = `tok_${randomBytes(12).toString('hex')}`;
    tokens.set(token, { expiresAt: Date.now() + ttl * 1000, revoked: false });
    fake.tokensIssued++;
    return { access_token: token, expires_in: ttl };
  };

  const checkCreds = (grant: unknown, id: unknown, secret: unknown): Record<string, unknown> => {
    if (grant !== 'client_credential') return { errcode: 40002, errmsg: 'invalid grant_type' };
    if (id !== appId) return { errcode: 40013, errmsg: 'invalid appid' };
    if (secret !== appSecret) return { errcode: 40125, errmsg: 'invalid appsecret' };
    return issue();
  };

  const checkToken = (token: string | null): Record<string, unknown> | undefined => {
    if (!token) return { errcode: 41001, errmsg: 'access_token missing' };
    const t = tokens.get(token);
    if (!t || t.revoked) return { errcode: 40001, errmsg: 'invalid credential, access_token is invalid or not latest' };
    if (t.expiresAt <= Date.now()) return { errcode: 42001, errmsg: 'access_token expired' };
    return undefined;
  };

  const checkUser = (body: Record<string, unknown>): Record<string, unknown> | undefined => {
    if (body.version !== 2) return { errcode: 47001, errmsg: 'data format error' };
    if (typeof body.openid !== 'string' || body.openid === '') return { errcode: 44002, errmsg: 'empty post data' };
    if (!body.openid.startsWith('o')) return { errcode: 40003, errmsg: 'invalid openid' };
    if (!fake.recentOpenids.has(body.openid)) return { errcode: 61010, errmsg: 'code is expired' };
    if (![1, 2, 3, 4].includes(body.scene as number)) return { errcode: 40129, errmsg: 'invalid scene' };
    return undefined;
  };

  const traceId = (): string => `${randomBytes(4).toString('hex')}-${randomBytes(4).toString('hex')}-${randomBytes(4).toString('hex')}`;

  const msgSecCheck = (body: Record<string, unknown>): Record<string, unknown> => {
    const content = body.content;
    if (typeof content !== 'string' || content === '') return { errcode: 44002, errmsg: 'empty post data' };
    if (Array.from(content).length > 2500) return { errcode: 47001, errmsg: 'data format error: content too long' };
    const rule = RULES.find((r) => r.re.test(content));
    const suggest = rule?.suggest ?? 'pass';
    const label = rule?.label ?? 100;
    const detail: Array<Record<string, unknown>> = [{ strategy: 'content_model', errcode: 0, suggest, label, prob: rule ? 90 : 0 }];
    if (rule) detail.push({ strategy: 'keyword', errcode: 0, suggest, label, level: 20, keyword: rule.keyword });
    return { errcode: 0, errmsg: 'ok', trace_id: traceId(), result: { suggest, label }, detail };
  };

  const push = (event: Record<string, unknown>): void => {
    if (!pushUrl) return;
    const target = pushUrl;
    const timer = setTimeout(() => {
      pushTimers.delete(timer);
      fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(event) }).catch(() => undefined);
    }, pushDelayMs);
    pushTimers.add(timer);
  };

  const mediaCheckAsync = (body: Record<string, unknown>): Record<string, unknown> => {
    const url = body.media_url;
    if (typeof url !== 'string' || !/^https?:\/\//.test(url)) return { errcode: 47001, errmsg: 'data format error' };
    if (body.media_type !== 1 && body.media_type !== 2) return { errcode: 47001, errmsg: 'invalid media_type' };
    const id = traceId();
    if (!url.includes('never-answer')) {
      const failed = url.includes('download-fails');
      const suggest = url.includes('nsfw') ? 'risky' : url.includes('borderline') ? 'review' : 'pass';
      const label = suggest === 'risky' ? 20002 : suggest === 'review' ? 20012 : 100;
      push({
        ToUserName: 'gh_fake',
        FromUserName: body.openid,
        CreateTime: Math.floor(Date.now() / 1000),
        MsgType: 'event',
        Event: 'wxa_media_check',
        appid: appId,
        trace_id: id,
        version: 2,
        detail: [{ strategy: 'content_model', errcode: failed ? 1 : 0, suggest, label, prob: 90 }],
        errcode: failed ? 1 : 0,
        errmsg: failed ? 'download media failed' : 'ok',
        ...(failed ? {} : { result: { suggest, label } }),
      });
    }
    return { errcode: 0, errmsg: 'ok', trace_id: id };
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://fake');
      const path = u.pathname;
      const send = (obj: Record<string, unknown>, status = 200): void => {
        const wait = delays.get(path) ?? 0;
        const out = (): void => {
          if (res.destroyed) return;
          res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
          res.end(JSON.stringify(obj));
        };
        if (wait > 0) setTimeout(out, wait);
        else out();
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
      const recorded = body ? { ...body } : undefined;
      if (recorded && 'secret' in recorded) recorded.secret = '[redacted]';
      fake.calls.push(recorded ? { method: req.method ?? '', path, body: recorded } : { method: req.method ?? '', path });

      const fail = failures.get(path);
      if (fail && fail.times > 0) {
        fail.times--;
        send({ errcode: fail.errcode, errmsg: fail.errcode === -1 ? 'system error' : fail.errcode === 45009 ? 'reach max api daily quota limit' : 'error' });
        return;
      }

      if (path === '/cgi-bin/token') {
        if (req.method !== 'GET') return send({ errcode: 43001, errmsg: 'require GET method' });
        return send(checkCreds(u.searchParams.get('grant_type'), u.searchParams.get('appid'), u.searchParams.get('secret')));
      }
      if (path === '/cgi-bin/stable_token') {
        if (req.method !== 'POST') return send({ errcode: 43002, errmsg: 'require POST method' });
        if (!body) return send({ errcode: 47001, errmsg: 'data format error' });
        return send(checkCreds(body.grant_type, body.appid, body.secret));
      }
      if (path === '/wxa/msg_sec_check' || path === '/wxa/media_check_async') {
        const tokenError = checkToken(u.searchParams.get('access_token'));
        if (tokenError) return send(tokenError);
        if (req.method !== 'POST') return send({ errcode: 43302, errmsg: 'require POST method' });
        if (!body) return send({ errcode: 47001, errmsg: 'data format error' });
        const userError = checkUser(body);
        if (userError) return send(userError);
        return send(path === '/wxa/msg_sec_check' ? msgSecCheck(body) : mediaCheckAsync(body));
      }
      send({ errcode: 404, errmsg: 'not found' }, 404);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.close = async () => {
    for (const t of pushTimers) clearTimeout(t);
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  };
  return fake;
}
