import type { Context, Middleware } from 'koa';
import { HttpError } from './http-error.ts';

/** 1 MiB: a Slack or Discord event, a mini program JSON call. Uploads get their own, larger limit. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;
/** 10 MiB: a phone photo sent as a reference image, on the routes that take uploads. */
export const DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024;

function tooLarge(limit: number): HttpError {
  return new HttpError(413, 'payload_too_large', `The request body is larger than ${limit} bytes.`);
}

/** The declared Content-Length, or undefined when the body is chunked or absent. */
function declaredLength(ctx: Context): number | undefined {
  const raw = ctx.get('Content-Length');
  if (raw === '') return undefined;
  if (!/^\d{1,15}$/.test(raw)) throw new HttpError(400, 'bad_content_length', 'The Content-Length header is not a number.');
  return Number(raw);
}

/**
 * Refuses, before any route runs, a request whose declared Content-Length is over the limit for
 * its path (the upload routes have a larger one), and records that limit in `ctx.state.bodyLimit`
 * for `readRawBody` and the routes' own streaming readers. A chunked body has no length up front;
 * those readers enforce the limit on it while it streams.
 */
export function bodyLimit(limitFor: (ctx: Context) => number): Middleware {
  return async (ctx, next) => {
    const limit = limitFor(ctx);
    (ctx.state as { bodyLimit?: number }).bodyLimit = limit;
    const declared = declaredLength(ctx);
    if (declared !== undefined && declared > limit) throw tooLarge(limit);
    await next();
  };
}

const bodies = new WeakMap<object, Promise<Buffer>>();

/**
 * The request body as the bytes that arrived (no decoding, no parsing), for routes that verify a
 * signature over it (Slack, Discord) before they parse it. Rejects with a 413 `HttpError` as soon
 * as more than `limit` bytes have come (default: the app's body limit), without buffering the
 * rest. Calling it again for the same request returns the same bytes.
 */
export function readRawBody(ctx: Context, limit?: number): Promise<Buffer> {
  const known = bodies.get(ctx.req);
  if (known !== undefined) return known;
  const max = limit ?? (ctx.state as { bodyLimit?: number }).bodyLimit ?? DEFAULT_BODY_LIMIT;
  const body = collect(ctx, max);
  bodies.set(ctx.req, body);
  return body;
}

async function collect(ctx: Context, limit: number): Promise<Buffer> {
  const declared = declaredLength(ctx);
  if (declared !== undefined && declared > limit) throw tooLarge(limit);
  const req = ctx.req;
  if (req.readableEnded) throw new HttpError(500, 'body_consumed', 'The request body was already read by another middleware.');
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    function onData(chunk: Buffer): void {
      received += chunk.length;
      if (received > limit) {
        // Stop keeping bytes; the stream keeps flowing into nothing until the answer closes the connection.
        cleanup();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    }
    function onEnd(): void {
      cleanup();
      resolve(Buffer.concat(chunks, received));
    }
    function onError(err: Error): void {
      cleanup();
      reject(new HttpError(400, 'request_aborted', 'The request body could not be read.', { cause: err }));
    }
    function onClose(): void {
      cleanup();
      reject(new HttpError(400, 'request_aborted', 'The client closed the connection before the body was complete.'));
    }
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}
