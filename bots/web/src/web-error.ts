import type { Locale } from '@framecast/core';
import { WEB_TEXT, type WebTextId } from './web-messages.ts';

/** What a playground API refusal says: a stable code for scripts, a text in each language for people. */
export type WebErrorCode =
  | 'no_session'
  | 'forbidden_origin'
  | 'not_found'
  | 'bad_request'
  | 'image_too_large'
  | 'image_type'
  | 'empty_command'
  | 'range_not_satisfiable'
  | 'in_progress';

const TEXT_OF: Record<WebErrorCode, WebTextId> = {
  no_session: 'error_session',
  forbidden_origin: 'error_forbidden',
  not_found: 'error_not_found',
  bad_request: 'error_bad_request',
  image_too_large: 'error_image_too_large',
  image_type: 'error_image_type',
  empty_command: 'error_empty',
  range_not_satisfiable: 'error_bad_request',
  in_progress: 'error_in_progress',
};

/** A refusal of a playground API request: answered as `{error, message, messages}` with `status`. */
export class WebError extends Error {
  readonly expose = true;
  constructor(
    readonly status: number,
    readonly code: WebErrorCode,
    readonly vars: Record<string, string | number> = {},
  ) {
    super(code);
    this.name = 'WebError';
  }

  /** The message in each language. */
  messages(): Record<Locale, string> {
    const fill = (s: string): string => s.replace(/\{(\w+)\}/g, (m, k: string) => (this.vars[k] === undefined ? m : String(this.vars[k])));
    const text = WEB_TEXT[TEXT_OF[this.code]];
    return { 'zh-CN': fill(text['zh-CN']), en: fill(text.en) };
  }
}
