/**
 * The small part of the WeChat server API the remote checkers need: an access token cached until
 * it expires (single-flight, refreshed on 40001/42001/40014), and authenticated JSON POSTs.
 *
 * The base URL is configurable so tests point this real client at a fake WeChat on 127.0.0.1.
 * The app secret and tokens live in private fields (not visible to JSON.stringify or inspect) and
 * are scrubbed from every error message.
 */
import { z } from 'zod';
import { WeChatApiError, weChatErrorCodeFor } from './wechat-api-error.ts';

export const WECHAT_API_BASE_URL = 'https://api.weixin.qq.com';

export interface WeChatApiClientOptions {
  appId: string;
  appSecret: string;
  /** Default https://api.weixin.qq.com */
  baseUrl?: string;
  /** Use POST /cgi-bin/stable_token instead of GET /cgi-bin/token. */
  useStableToken?: boolean;
  /** Per HTTP request; default 10 s. */
  requestTimeoutMs?: number;
  /** Injectable clock (ms) for token expiry. */
  now?: () => number;
}

const TokenResponseSchema = z.object({
  access_token: z.string().min(1).optional(),
  expires_in: z.number().positive().optional(),
  errcode: z.number().optional(),
  errmsg: z.string().optional(),
});

/** Every checked response carries these; endpoints add their own fields. */
export const WeChatBaseResponseSchema = z.looseObject({
  errcode: z.number().optional(),
  errmsg: z.string().optional(),
});

const TOKEN_INVALID = new Set([40001, 42001, 40014]);
/** Refresh this long before WeChat's stated expiry. */
const EXPIRY_MARGIN_MS = 5 * 60_000;

export class WeChatApiClient {
  readonly appId: string;
  readonly baseUrl: string;
  readonly #appSecret: string;
  readonly #useStableToken: boolean;
  readonly #timeoutMs: number;
  readonly #now: () => number;
  #token: { value: string; expiresAt: number } | undefined;
  #inflight: Promise<string> | undefined;
  #tokenFetches = 0;

  constructor(opts: WeChatApiClientOptions) {
    if (!opts.appId || !opts.appSecret) throw new TypeError('appId and appSecret are required');
    this.appId = opts.appId;
    this.#appSecret = opts.appSecret;
    this.baseUrl = (opts.baseUrl ?? WECHAT_API_BASE_URL).replace(/\/+$/, '');
    this.#useStableToken = opts.useStableToken ?? false;
    this.#timeoutMs = opts.requestTimeoutMs ?? 10_000;
    this.#now = opts.now ?? Date.now;
  }

  /** How many times a token was requested from WeChat (for tests and metrics). */
  get tokenFetches(): number {
    return this.#tokenFetches;
  }

  toJSON(): Record<string, string> {
    return { appId: this.appId, baseUrl: this.baseUrl };
  }

  /** A valid access token, from the cache when it has not expired. */
  async getAccessToken(forceRefresh = false): Promise<string> {
    if (!forceRefresh && this.#token && this.#token.expiresAt > this.#now()) return this.#token.value;
    if (!this.#inflight) {
      this.#inflight = this.#fetchToken(forceRefresh).finally(() => {
        this.#inflight = undefined;
      });
    }
    return this.#inflight;
  }

  /** Drops the cached token if it is still `token` (another caller may have refreshed it already). */
  invalidateToken(token: string): void {
    if (this.#token?.value === token) this.#token = undefined;
  }

  async #fetchToken(forceRefresh: boolean): Promise<string> {
    this.#tokenFetches++;
    const endpoint = this.#useStableToken ? '/cgi-bin/stable_token' : '/cgi-bin/token';
    let json: unknown;
    if (this.#useStableToken) {
      json = await this.#http(endpoint, `${this.baseUrl}${endpoint}`, {
        method: 'POST',
        body: { grant_type: 'client_credential', appid: this.appId, secret: this.#appSecret, force_refresh: forceRefresh },
      });
    } else {
      const q = new URLSearchParams({ grant_type: 'client_credential', appid: this.appId, secret: this.#appSecret });
      json = await this.#http(endpoint, `${this.baseUrl}${endpoint}?${q.toString()}`, { method: 'GET' });
    }
    const parsed = TokenResponseSchema.safeParse(json);
    if (!parsed.success) throw new WeChatApiError('bad_response', endpoint, 'unexpected token response');
    const { access_token, expires_in, errcode, errmsg } = parsed.data;
    if (errcode !== undefined && errcode !== 0) {
      const code = weChatErrorCodeFor(errcode);
      throw new WeChatApiError(code === 'api_error' ? 'invalid_credentials' : code, endpoint, this.#scrub(errmsg ?? ''), errcode);
    }
    if (!access_token || !expires_in) throw new WeChatApiError('bad_response', endpoint, 'token response without access_token');
    const lifetimeMs = expires_in * 1000;
    const margin = Math.min(EXPIRY_MARGIN_MS, lifetimeMs / 2);
    this.#token = { value: access_token, expiresAt: this.#now() + lifetimeMs - margin };
    return access_token;
  }

  /**
   * POSTs JSON to `path?access_token=…`; retries once with a fresh token when WeChat says the
   * token is invalid or expired; throws WeChatApiError for any other non-zero errcode.
   */
  async post(path: string, body: unknown, signal?: AbortSignal): Promise<Record<string, unknown>> {
    for (let attempt = 0; ; attempt++) {
      const token = await this.getAccessToken(attempt > 0);
      const url = `${this.baseUrl}${path}?access_token=${encodeURIComponent(token)}`;
      const json = await this.#http(path, url, signal ? { method: 'POST', body, signal } : { method: 'POST', body });
      const parsed = WeChatBaseResponseSchema.safeParse(json);
      if (!parsed.success) throw new WeChatApiError('bad_response', path, 'response is not a JSON object');
      const errcode = parsed.data.errcode ?? 0;
      if (errcode === 0) return parsed.data;
      if (TOKEN_INVALID.has(errcode) && attempt === 0) {
        this.invalidateToken(token);
        continue;
      }
      throw new WeChatApiError(weChatErrorCodeFor(errcode), path, this.#scrub(parsed.data.errmsg ?? ''), errcode);
    }
  }

  #scrub(text: string): string {
    let out = text.replaceAll(this.#appSecret, '[secret]');
    if (this.#token) out = out.replaceAll(this.#token.value, '[token]');
    return out.slice(0, 200);
  }

  async #http(endpoint: string, url: string, init: { method: 'GET' | 'POST'; body?: unknown; signal?: AbortSignal }): Promise<unknown> {
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const signal = init.signal ? AbortSignal.any([timeout, init.signal]) : timeout;
    let res: Response;
    try {
      res = await fetch(url, {
        method: init.method,
        signal,
        ...(init.body === undefined
          ? {}
          : { body: JSON.stringify(init.body), headers: { 'content-type': 'application/json; charset=utf-8' } }),
      });
    } catch (err) {
      // The error text of fetch may contain the URL (and so the token): never pass it on.
      if (timeout.aborted) throw new WeChatApiError('timeout', endpoint, `no answer within ${this.#timeoutMs} ms`);
      const name = err instanceof Error ? err.name : 'unknown';
      throw new WeChatApiError('network', endpoint, `request failed (${name})`);
    }
    let text: string;
    try {
      text = await res.text();
    } catch {
      if (timeout.aborted) throw new WeChatApiError('timeout', endpoint, `no answer within ${this.#timeoutMs} ms`);
      throw new WeChatApiError('network', endpoint, 'response body interrupted');
    }
    if (!res.ok) throw new WeChatApiError('http_status', endpoint, `HTTP ${res.status}`);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new WeChatApiError('bad_response', endpoint, 'response is not JSON');
    }
  }
}
