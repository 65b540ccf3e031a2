import type { LocalizedText, Locale } from '@framecast/core';
import type { Middleware } from 'koa';
import { localeFromHeader, mtAll, type MpTextId } from './mp-messages.ts';

/**
 * A refusal of the mini program API: an HTTP status, a stable `code` the client can branch on,
 * and a message in each language (the answer carries the caller's). Follows koa's convention
 * (`status`, `expose`), so anything else the error handler sees stays a bare 500.
 */
export class MpError extends Error {
  readonly expose = true;
  readonly headers: Record<string, string>;

  constructor(
    readonly status: number,
    readonly code: string,
    readonly text: LocalizedText,
    headers: Record<string, string> = {},
  ) {
    super(text.en);
    this.name = 'MpError';
    this.headers = headers;
  }

  static of(status: number, code: string, id: MpTextId, vars: Record<string, string | number> = {}, headers: Record<string, string> = {}): MpError {
    return new MpError(status, code, mtAll(id, vars), headers);
  }
}

/** What each request under /api/mp carries in `ctx.state.mp`. */
export interface MpRequestState {
  locale: Locale;
  requestId: string;
}

export function mpState(ctx: { state: unknown }): MpRequestState {
  return (ctx.state as { mp: MpRequestState }).mp;
}

/**
 * The API's error answers: `{code, message, requestId}` with the message in the caller's language
 * (Accept-Language; zh-CN unless English is preferred). Unknown failures are logged by the HTTP
 * server's handler and answered `{code:"internal"}` with a localised message, never a stack.
 */
export function mpErrors(prefix: string): Middleware {
  return async (ctx, next) => {
    if (!ctx.path.startsWith(prefix)) return next();
    const requestId = (ctx.state as { requestId?: string }).requestId ?? '';
    const locale = localeFromHeader(ctx.get('Accept-Language') || undefined);
    (ctx.state as { mp: MpRequestState }).mp = { locale, requestId };
    ctx.vary('Accept-Language');
    try {
      await next();
      if (ctx.status === 404 && ctx.body == null) throw MpError.of(404, 'not_found', 'not_found');
      if (ctx.status === 405 && ctx.body == null) throw new MpError(405, 'method_not_allowed', { en: 'Method not allowed.', 'zh-CN': '不支持该请求方法。' });
    } catch (err) {
      if (!(err instanceof MpError)) {
        // A 413 from the body limit or the HTTP server's own errors: keep their status, localise.
        const status = (err as { status?: unknown }).status;
        if (typeof status === 'number' && status >= 400 && status < 500 && (err as { expose?: unknown }).expose === true) {
          const code = typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : 'bad_request';
          answer(ctx, status, code, (err as Error).message, requestId);
          return;
        }
        (ctx.state as { log?: { error(o: unknown, m: string): void } }).log?.error({ err }, 'mini program API request failed');
        answer(ctx, 500, 'internal', mtAll('internal')[locale], requestId);
        return;
      }
      if (ctx.headerSent || !ctx.writable) {
        ctx.res.destroy();
        return;
      }
      ctx.set(err.headers);
      answer(ctx, err.status, err.code, err.text[locale], requestId);
    }
  };
}

function answer(ctx: Parameters<Middleware>[0], status: number, code: string, message: string, requestId: string): void {
  if (ctx.headerSent || !ctx.writable) {
    ctx.res.destroy();
    return;
  }
  ctx.status = status;
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { code, message, requestId };
}
