import { FramecastError, t, tAll, type LocalizedText, type MessageId } from '@framecast/core';

export type SafeFetchErrorCode =
  | 'bad_url'
  | 'bad_scheme'
  | 'blocked_address'
  | 'dns_failed'
  | 'too_many_redirects'
  | 'too_large'
  | 'timeout'
  | 'http_status'
  | 'bad_content_type'
  | 'network'
  /** The caller's AbortSignal fired. */
  | 'aborted';

export type { LocalizedText } from '@framecast/core';

/** The catalogue message a user is told for each failure. */
const USER_MESSAGES: Record<SafeFetchErrorCode, MessageId> = {
  bad_url: 'fetch.bad_url',
  bad_scheme: 'fetch.bad_scheme',
  blocked_address: 'fetch.blocked_address',
  dns_failed: 'fetch.dns_failed',
  too_many_redirects: 'fetch.too_many_redirects',
  too_large: 'fetch.too_large',
  timeout: 'fetch.timeout',
  http_status: 'fetch.http_status',
  bad_content_type: 'fetch.bad_content_type',
  network: 'fetch.network',
  aborted: 'fetch.aborted',
};

/**
 * A refused or failed fetch. `message` is a technical description for logs: it names the host at
 * most, never the path or query (signed URLs carry credentials there). `userMessage` is the
 * localised text to show a user.
 */
export class SafeFetchError extends FramecastError {
  override readonly name = 'SafeFetchError';
  declare readonly code: SafeFetchErrorCode;
  /** The HTTP status for `http_status`. */
  readonly status: number | undefined;

  constructor(code: SafeFetchErrorCode, detail: string, opts: { status?: number; cause?: unknown } = {}) {
    super(code, `${code}: ${detail}`, { messageId: USER_MESSAGES[code], ...(opts.cause === undefined ? {} : { cause: opts.cause }) });
    this.status = opts.status;
  }

  get userMessage(): LocalizedText {
    return tAll(USER_MESSAGES[this.code]);
  }

  localizedMessage(locale: 'zh-CN' | 'en'): string {
    return t(USER_MESSAGES[this.code], locale);
  }

  /** Worth retrying later (the URL itself is not the problem). */
  get transient(): boolean {
    return this.code === 'timeout' || this.code === 'network' || (this.code === 'http_status' && (this.status === undefined || this.status >= 500 || this.status === 429));
  }
}
