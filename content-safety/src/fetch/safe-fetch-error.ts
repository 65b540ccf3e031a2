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

export interface LocalizedText {
  'zh-CN': string;
  en: string;
}

const USER_MESSAGES: Record<SafeFetchErrorCode, LocalizedText> = {
  bad_url: { 'zh-CN': '链接格式不正确。', en: 'The link is not a valid URL.' },
  bad_scheme: { 'zh-CN': '只支持 http 或 https 链接。', en: 'Only http and https links are supported.' },
  blocked_address: { 'zh-CN': '该链接指向内部或保留地址，已拒绝访问。', en: 'The link points to an internal or reserved address and was refused.' },
  dns_failed: { 'zh-CN': '无法解析链接中的域名。', en: 'The link’s host name could not be resolved.' },
  too_many_redirects: { 'zh-CN': '链接重定向次数过多。', en: 'The link redirected too many times.' },
  too_large: { 'zh-CN': '文件太大，已停止下载。', en: 'The file is too large; the download was stopped.' },
  timeout: { 'zh-CN': '下载超时，请稍后再试。', en: 'The download timed out; please try again later.' },
  http_status: { 'zh-CN': '对方服务器返回了错误状态。', en: 'The remote server answered with an error status.' },
  bad_content_type: { 'zh-CN': '链接的内容类型不受支持。', en: 'The link’s content type is not supported.' },
  network: { 'zh-CN': '下载时网络出错，请稍后再试。', en: 'A network error interrupted the download; please try again later.' },
  aborted: { 'zh-CN': '下载已取消。', en: 'The download was cancelled.' },
};

/**
 * A refused or failed fetch. `message` is a technical description for logs: it names the host at
 * most, never the path or query (signed URLs carry credentials there). `userMessage` is the
 * localised text to show a user.
 */
export class SafeFetchError extends Error {
  override readonly name = 'SafeFetchError';
  readonly code: SafeFetchErrorCode;
  /** The HTTP status for `http_status`. */
  readonly status: number | undefined;

  constructor(code: SafeFetchErrorCode, detail: string, opts: { status?: number; cause?: unknown } = {}) {
    super(`${code}: ${detail}`, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.status = opts.status;
  }

  get userMessage(): LocalizedText {
    return USER_MESSAGES[this.code];
  }

  localizedMessage(locale: 'zh-CN' | 'en'): string {
    return USER_MESSAGES[this.code][locale];
  }

  /** Worth retrying later (the URL itself is not the problem). */
  get transient(): boolean {
    return this.code === 'timeout' || this.code === 'network' || (this.code === 'http_status' && (this.status === undefined || this.status >= 500 || this.status === 429));
  }
}
