import { PassThrough } from 'node:stream';
import { readRawBody } from '@framecast/http-server';
import type { Context } from 'koa';
import type { z } from 'zod';
import { MpError } from './mp-error.ts';

/** Largest JSON body of the API's routes. */
export const JSON_BODY_LIMIT = 16 * 1024;

/** The fields a zod error names, for `400 bad_request`. */
export function zodFields(err: z.ZodError): string {
  return [...new Set(err.issues.map((i) => (i.path.length === 0 ? '(body)' : i.path.join('.'))))].slice(0, 8).join(', ');
}

/** Parses a body or query, or throws `400 bad_request` naming the fields. */
export function parseWith<T>(schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value);
  if (!r.success) throw MpError.of(400, 'bad_request', 'bad_request', { fields: zodFields(r.error) });
  return r.data;
}

/** The request's JSON body (`{}` when empty); `400 bad_request` when it is not JSON. */
export async function jsonBody(ctx: Context): Promise<unknown> {
  const raw = await readRawBody(ctx, JSON_BODY_LIMIT);
  if (raw.length === 0) return {};
  try {
    return JSON.parse(raw.toString('utf8')) as unknown;
  } catch {
    throw MpError.of(400, 'bad_request', 'bad_request', { fields: '(body: not JSON)' });
  }
}

/** A route parameter (`:id`, `:n`). */
export function paramOf(ctx: Context, name = 'id'): string | undefined {
  return (ctx as Context & { params?: Record<string, string | undefined> }).params?.[name];
}

/** A server-sent event stream opened as the answer: `send` writes one event (nothing once it ended). */
export interface EventStream {
  stream: PassThrough;
  send(event: string, data: unknown, id?: string): void;
}

/** Answers `text/event-stream` (no timeout, no buffering by proxies) and returns the stream to write. */
export function openEventStream(ctx: Context): EventStream {
  const stream = new PassThrough();
  ctx.req.socket.setTimeout(0);
  ctx.req.socket.setNoDelay(true);
  ctx.set('Content-Type', 'text/event-stream; charset=utf-8');
  ctx.set('Cache-Control', 'no-cache, no-transform');
  ctx.set('X-Accel-Buffering', 'no');
  ctx.status = 200;
  ctx.body = stream;
  return {
    stream,
    send(event, data, id) {
      if (stream.writableEnded) return;
      stream.write(`${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
  };
}
