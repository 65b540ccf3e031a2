import { FramecastError, tAll, type LocalizedText, type MessageId } from '@framecast/core';

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

/** The catalogue message a user is told; any other failure is told 'wechat.unavailable'. */
const USER_MESSAGES: Partial<Record<WeChatApiErrorCode, MessageId>> = {
  openid_required: 'wechat.openid_required',
  openid_not_recent: 'wechat.openid_not_recent',
  busy: 'wechat.busy',
  quota: 'wechat.quota',
};

/**
 * A failed call to WeChat. The message names the endpoint path and errcode/errmsg only: never
 * the access token (it travels in the query string) or the app secret.
 */
export class WeChatApiError extends FramecastError {
  override readonly name = 'WeChatApiError';
  declare readonly code: WeChatApiErrorCode;
  readonly errcode: number | undefined;
  /** e.g. /wxa/msg_sec_check */
  readonly endpoint: string;

  constructor(code: WeChatApiErrorCode, endpoint: string, detail: string, errcode?: number) {
    super(code, `${endpoint}: ${code}${errcode === undefined ? '' : ` (errcode ${errcode})`}: ${detail}`, { messageId: USER_MESSAGES[code] ?? 'wechat.unavailable' });
    this.endpoint = endpoint;
    this.errcode = errcode;
  }

  get retryable(): boolean {
    return RETRYABLE.has(this.code);
  }

  get userMessage(): LocalizedText {
    return tAll(USER_MESSAGES[this.code] ?? 'wechat.unavailable');
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
