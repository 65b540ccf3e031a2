/**
 * The WeChat server calls of the mini program API: `code2Session` (login) and
 * `subscribeMessage.send` (the completion notice). The access token comes from content-safety's
 * WeChatApiClient (cached until it expires, single-flight, `stable_token`), shared with nothing
 * else in this process. The app secret, session_key and tokens never reach a log or an error text.
 */
import { WeChatApiClient, WeChatApiError } from '@framecast/content-safety';
import { z } from 'zod';

const Code2SessionSchema = z.looseObject({
  openid: z.string().min(1).max(128).optional(),
  session_key: z.string().min(1).max(256).optional(),
  unionid: z.string().min(1).max(128).optional(),
  errcode: z.number().optional(),
  errmsg: z.string().optional(),
});

/** Why code2Session said no, as the API answers it. */
export type LoginFailure =
  /** 40029 invalid code, 40163 code already used. */
  | 'invalid_code'
  /** 45011: more than 100 logins a minute for one user. */
  | 'rate_limited'
  /** 40226: WeChat thinks the user is risky. */
  | 'risky_user'
  /** -1 busy, network failures, anything else. */
  | 'unavailable';

export class LoginError extends Error {
  constructor(
    readonly reason: LoginFailure,
    readonly errcode: number | undefined,
  ) {
    super(`code2Session failed: ${reason}${errcode === undefined ? '' : ` (errcode ${errcode})`}`);
    this.name = 'LoginError';
  }
}

export function loginFailureOf(errcode: number): LoginFailure {
  if (errcode === 40029 || errcode === 40163) return 'invalid_code';
  if (errcode === 45011) return 'rate_limited';
  if (errcode === 40226) return 'risky_user';
  return 'unavailable';
}

export interface WeChatMpClientOptions {
  appId: string;
  appSecret: string;
  baseUrl: string;
  /** Per request; default 10 s. */
  requestTimeoutMs?: number;
}

export interface SubscribeMessage {
  touser: string;
  templateId: string;
  /** The mini program page opened from the notice, with its query. */
  page: string;
  data: Record<string, { value: string }>;
  /** developer | trial | formal; default formal. */
  state?: 'developer' | 'trial' | 'formal';
  lang?: 'zh_CN' | 'en_US';
}

/** What subscribeMessage.send did: sent, or refused for a reason that retrying will not fix. */
export type SubscribeOutcome = { sent: true } | { sent: false; errcode: number };

/** 43101: the user did not accept (or used up) the subscription; 40003 bad openid; 40037 bad template; 47003 bad data. */
const SUBSCRIBE_PERMANENT = new Set([43101, 40003, 40037, 47003, 41030]);

export class WeChatMpClient {
  readonly appId: string;
  readonly #appSecret: string;
  readonly #baseUrl: string;
  readonly #timeoutMs: number;
  readonly api: WeChatApiClient;

  constructor(o: WeChatMpClientOptions) {
    this.appId = o.appId;
    this.#appSecret = o.appSecret;
    this.#baseUrl = o.baseUrl.replace(/\/+$/, '');
    this.#timeoutMs = o.requestTimeoutMs ?? 10_000;
    this.api = new WeChatApiClient({ appId: o.appId, appSecret: o.appSecret, baseUrl: this.#baseUrl, useStableToken: true, requestTimeoutMs: this.#timeoutMs });
  }

  toJSON(): Record<string, string> {
    return { appId: this.appId, baseUrl: this.#baseUrl };
  }

  /** `wx.login`'s code → the user's openid (and unionid). session_key is read and dropped. */
  async code2Session(code: string): Promise<{ openid: string; unionid?: string }> {
    const q = new URLSearchParams({ appid: this.appId, secret: this.#appSecret, js_code: code, grant_type: 'authorization_code' });
    let res: Response;
    try {
      res = await fetch(`${this.#baseUrl}/sns/jscode2session?${q.toString()}`, { signal: AbortSignal.timeout(this.#timeoutMs) });
    } catch {
      // fetch's error text may hold the URL, and so the secret: never passed on.
      throw new LoginError('unavailable', undefined);
    }
    if (!res.ok) throw new LoginError('unavailable', undefined);
    let json: unknown;
    try {
      json = await res.json();
    } catch {
      throw new LoginError('unavailable', undefined);
    }
    const parsed = Code2SessionSchema.safeParse(json);
    if (!parsed.success) throw new LoginError('unavailable', undefined);
    const { openid, unionid, errcode } = parsed.data;
    if (errcode !== undefined && errcode !== 0) throw new LoginError(loginFailureOf(errcode), errcode);
    if (openid === undefined) throw new LoginError('unavailable', undefined);
    return unionid === undefined ? { openid } : { openid, unionid };
  }

  /**
   * subscribeMessage.send. Resolves `{sent:false}` for refusals that retrying will not change (the
   * user did not allow it, a bad template); throws WeChatApiError when WeChat is busy or unreachable.
   */
  async sendSubscribeMessage(m: SubscribeMessage): Promise<SubscribeOutcome> {
    try {
      await this.api.post('/cgi-bin/message/subscribe/send', {
        touser: m.touser, template_id: m.templateId, page: m.page, data: m.data,
        miniprogram_state: m.state ?? 'formal', lang: m.lang ?? 'zh_CN',
      });
      return { sent: true };
    } catch (err) {
      if (err instanceof WeChatApiError && err.errcode !== undefined && SUBSCRIBE_PERMANENT.has(err.errcode)) return { sent: false, errcode: err.errcode };
      throw err;
    }
  }
}
