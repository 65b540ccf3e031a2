import type { LocalizedText } from '../fetch/safe-fetch-error.ts';

export type WeChatApiErrorCode =
  /** errcode -1: WeChat is busy; retry with backoff. */
  | 'busy'
  /** errcode 45009: the appid's quota is spent; retry later. */
  | 'quota'
  /** the access token stayed invalid after one refresh (40001/42001/40014). */
  | 'invalid_token'
  /** appid or secret refused when asking for a token (40013, 40125, 40164 …). */
  | 'invalid_credentials'
  /** no openid was given; WeChat's v2 checks need one. */
  | 'openid_required'
  /** errcode 61010: the user has not opened the mini program in the last 2 hours. */
  | 'openid_not_recent'
  /** errcode 40003 or 43104: the openid is not valid for this appid. */
  | 'invalid_openid'
  | 'timeout'
  | 'network'
  | 'http_status'
  | 'bad_response'
  /** any other errcode. */
  | 'api_error';

const RETRYABLE = new Set<WeChatApiErrorCode>(['busy', 'quota', 'timeout', 'network', 'http_status', 'bad_response']);

const USER_MESSAGES: Partial<Record<WeChatApiErrorCode, LocalizedText>> = {
  openid_required: { 'zh-CN': '内容检测需要微信用户身份，请在小程序内操作。', en: 'Content checks need your WeChat identity; please use the mini program.' },
  openid_not_recent: {
    'zh-CN': '请先打开一次小程序（微信要求近两小时内访问过），然后再试。',
    en: 'Please open the mini program first (WeChat requires a visit in the last 2 hours), then try again.',
  },
  busy: { 'zh-CN': '微信内容检测繁忙，请稍后再试。', en: 'WeChat’s content check is busy; please try again shortly.' },
  quota: { 'zh-CN': '今日内容检测次数已用完，请稍后再试。', en: 'The content-check quota is used up for now; please try again later.' },
};
const FALLBACK: LocalizedText = { 'zh-CN': '内容检测暂时不可用，请稍后再试。', en: 'The content check is unavailable right now; please try again later.' };

/**
 * A failed call to WeChat. The message names the endpoint path and errcode/errmsg only: never
 * the access token (it travels in the query string) or the app secret.
 */
export class WeChatApiError extends Error {
  override readonly name = 'WeChatApiError';
  readonly code: WeChatApiErrorCode;
  readonly errcode: number | undefined;
  /** e.g. /wxa/msg_sec_check */
  readonly endpoint: string;

  constructor(code: WeChatApiErrorCode, endpoint: string, detail: string, errcode?: number) {
    super(`${endpoint}: ${code}${errcode === undefined ? '' : ` (errcode ${errcode})`}: ${detail}`);
    this.code = code;
    this.endpoint = endpoint;
    this.errcode = errcode;
  }

  get retryable(): boolean {
    return RETRYABLE.has(this.code);
  }

  get userMessage(): LocalizedText {
    return USER_MESSAGES[this.code] ?? FALLBACK;
  }
}

/** Maps a non-zero errcode from a checked endpoint to an error code. */
export function weChatErrorCodeFor(errcode: number): WeChatApiErrorCode {
  switch (errcode) {
    case -1:
      return 'busy';
    case 45009:
      return 'quota';
    case 40001:
    case 42001:
    case 40014:
      return 'invalid_token';
    case 61010:
      return 'openid_not_recent';
    case 40003:
    case 43104:
      return 'invalid_openid';
    case 40013:
    case 40125:
    case 40164:
    case 40243:
      return 'invalid_credentials';
    default:
      return 'api_error';
  }
}
