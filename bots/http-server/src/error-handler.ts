import { randomUUID } from 'node:crypto';
import type { Context, Middleware } from 'koa';
import type { Logger } from 'pino';
import { statusCode } from './http-error.ts';

/** What every request carries in `ctx.state`, for the routes that adapters mount. */
export interface HttpState {
  /** The caller's `X-Request-Id` when it is a sane token, otherwise a new UUID; echoed in the response. */
  requestId: string;
  /** The app's logger with `requestId` bound. */
  log: Logger;
  /** The body limit in bytes that `readRawBody` applies by default. */
  bodyLimit: number;
}

/** Reads the HttpState the app's first middleware put on a context. */
export function httpState(ctx: Context): HttpState {
  return ctx.state as HttpState;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The parts of a thrown value that decide the answer; nothing else of it reaches the client. */
interface ErrorAnswer {
  status: number;
  expose: boolean;
  code: string | undefined;
  message: string;
  headers: Record<string, string>;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

function validStatus(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) && v >= 400 && v <= 599 ? v : undefined;
}

/**
 * The answer to a thrown value: its `status` (or `statusCode`) when it is an HTTP error status,
 * else 400 for an exposed error (a user's mistake the core chose to explain) and 500 for anything
 * else. Only `expose: true` lets the message and the code through.
 */
function toAnswer(err: unknown): ErrorAnswer {
  if (!isRecord(err)) return { status: 500, expose: false, code: undefined, message: '', headers: {} };
  const expose = err.expose === true;
  const status = validStatus(err.status) ?? validStatus(err.statusCode) ?? (expose ? 400 : 500);
  const code = typeof err.code === 'string' && /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/.test(err.code) ? err.code : undefined;
  const message = typeof err.message === 'string' ? err.message : '';
  const headers: Record<string, string> = {};
  if (isRecord(err.headers)) {
    for (const [k, v] of Object.entries(err.headers)) if (typeof v === 'string' || typeof v === 'number') headers[k] = String(v);
  }
  return { status, expose, code, message, headers };
}

/**
 * The app's first middleware: gives each request an id and a child logger, turns anything thrown
 * downstream into a JSON answer that never carries a stack trace or an unexposed message, and
 * answers JSON for error statuses that no route gave a body (404 for an unknown route, 405).
 */
export function errorHandler(logger: Logger, bodyLimit: number): Middleware {
  return async (ctx, next) => {
    const given = ctx.get('X-Request-Id');
    const requestId = REQUEST_ID.test(given) ? given : randomUUID();
    const log = logger.child({ requestId });
    const state: HttpState = { requestId, log, bodyLimit };
    Object.assign(ctx.state, state);
    ctx.set('X-Request-Id', requestId);
    const started = performance.now();
    try {
      await next();
      if (ctx.status >= 400 && ctx.body == null) {
        const status = ctx.status;
        ctx.body = { error: statusCode(status), requestId };
        ctx.status = status; // setting a body would otherwise turn koa's default 404 into 200
      }
    } catch (err) {
      answerError(ctx, err, log, requestId);
    } finally {
      // A body nobody read (an early answer, a route that ignores it) is not drained for keep-alive.
      if (!ctx.req.complete && !ctx.headerSent) ctx.set('Connection', 'close');
      log.debug({ method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(performance.now() - started) }, 'http request');
    }
  };
}

function answerError(ctx: Context, err: unknown, log: Logger, requestId: string): void {
  const answer = toAnswer(err);
  if (answer.status >= 500) log.error({ err, status: answer.status, method: ctx.method, path: ctx.path }, 'http request failed');
  else log.info({ status: answer.status, code: answer.code, method: ctx.method, path: ctx.path }, 'http request refused');
  if (ctx.headerSent || !ctx.writable) {
    // Part of the answer is already on the wire: cut it, so the client sees a broken response, not a wrong one.
    ctx.res.destroy();
    return;
  }
  // Nothing a route set before it threw (content type, cookies, CORS) survives into the error answer.
  for (const name of ctx.res.getHeaderNames()) ctx.res.removeHeader(name);
  ctx.set('X-Request-Id', requestId);
  if (answer.expose) ctx.set(answer.headers);
  ctx.status = answer.status;
  ctx.body = answer.expose
    ? { error: answer.code ?? statusCode(answer.status), message: answer.message, requestId }
    : { error: answer.status >= 500 ? 'internal' : statusCode(answer.status), requestId };
}
