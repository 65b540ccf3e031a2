import { readRawBody } from '@framecast/http-server';
import { LogLevel, type App, type Logger as SlackLogger, type Receiver, type ReceiverEvent } from '@slack/bolt';
import { SocketModeClient } from '@slack/socket-mode';
import type { Context, Middleware } from 'koa';
import type { Logger } from 'pino';
import { verifySlackSignature } from './slack-signature.ts';

/** The path Slack posts events, slash commands, interactions and options to. */
export const SLACK_EVENTS_PATH = '/slack/events';
/** Slack waits 3 s for an answer; the receiver answers a little before, acknowledged or not. */
const ACK_DEADLINE_MS = 2_800;

type AckResponse = string | Record<string, unknown> | undefined;

/** One acknowledgement per request: the first call wins; later calls are ignored. */
function oneAck(): { ack: (r?: AckResponse) => Promise<void>; acked: Promise<AckResponse> } {
  let resolve: (r: AckResponse) => void = () => undefined;
  const acked = new Promise<AckResponse>((r) => {
    resolve = r;
  });
  let done = false;
  return {
    acked,
    ack: async (r) => {
      if (done) return;
      done = true;
      resolve(r);
    },
  };
}

/**
 * The body of a Slack request: JSON (events), a form (slash commands), or a form with a JSON
 * `payload` (interactivity). Throws on anything that is not a JSON object where one is expected
 * (`null`, a number, an array), which the receiver answers with 400.
 */
export function parseSlackBody(raw: Buffer, contentType: string): Record<string, unknown> {
  const text = raw.toString('utf8');
  if (/application\/json/i.test(contentType)) return jsonObject(text);
  const form = new URLSearchParams(text);
  const payload = form.get('payload');
  if (payload !== null) return jsonObject(payload);
  return Object.fromEntries(form.entries());
}

function jsonObject(text: string): Record<string, unknown> {
  const v = JSON.parse(text) as unknown;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new SyntaxError('a Slack body must be a JSON object');
  return v as Record<string, unknown>;
}

export interface SlackHttpReceiverOptions {
  signingSecret: string;
  logger: Logger;
  path?: string;
  /** Clock, in seconds (tests). */
  nowSeconds?: () => number;
}

/**
 * Bolt's transport in HTTP mode, as a koa middleware on the one HTTP server: checks Slack's
 * signature over the raw body (401 on a bad one or a timestamp older than 5 min), answers
 * url_verification, hands every other request to Bolt with an `ack` and answers with what was
 * acknowledged, within Slack's 3 s. Retries keep their `X-Slack-Retry-Num` (the handlers make one job
 * per event id whatever the number).
 */
export class SlackHttpReceiver implements Receiver {
  private app: App | undefined;
  private readonly path: string;

  constructor(private readonly opts: SlackHttpReceiverOptions) {
    this.path = opts.path ?? SLACK_EVENTS_PATH;
  }

  init(app: App): void {
    this.app = app;
  }

  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  /** Mount this on the HTTP server. */
  middleware(): Middleware {
    return async (ctx, next) => {
      if (ctx.path !== this.path) return next();
      if (ctx.method !== 'POST') {
        ctx.status = 405;
        ctx.set('Allow', 'POST');
        ctx.body = { error: 'method_not_allowed' };
        return;
      }
      await this.handle(ctx);
    };
  }

  private async handle(ctx: Context): Promise<void> {
    const log = this.opts.logger;
    const raw = await readRawBody(ctx);
    const check = verifySlackSignature(
      this.opts.signingSecret,
      { signature: ctx.get('X-Slack-Signature') || undefined, timestamp: ctx.get('X-Slack-Request-Timestamp') || undefined },
      raw,
      this.opts.nowSeconds?.(),
    );
    if (!check.ok) {
      log.warn({ reason: check.reason }, 'slack request refused');
      ctx.status = 401;
      ctx.body = { error: 'invalid_signature', message: 'The request is not signed by Slack, or is too old.' };
      return;
    }
    let body: Record<string, unknown>;
    try {
      body = parseSlackBody(raw, ctx.get('Content-Type'));
    } catch {
      ctx.status = 400;
      ctx.body = { error: 'bad_body' };
      return;
    }
    if (body.type === 'url_verification' && typeof body.challenge === 'string') {
      ctx.body = { challenge: body.challenge };
      return;
    }
    if (body.ssl_check !== undefined) {
      ctx.body = '';
      return;
    }
    const app = this.app;
    if (app === undefined) throw new Error('SlackHttpReceiver: init(app) was not called');
    const { ack, acked } = oneAck();
    const retryNum = Number(ctx.get('X-Slack-Retry-Num') || NaN);
    const retryReason = ctx.get('X-Slack-Retry-Reason');
    const event: ReceiverEvent = {
      body,
      ack,
      ...(Number.isInteger(retryNum) ? { retryNum } : {}),
      ...(retryReason === '' ? {} : { retryReason }),
    };
    // Bolt runs the listeners; the answer goes out as soon as one of them acknowledges.
    void app.processEvent(event).catch((err: unknown) => log.error({ err }, 'slack listener failed'));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((r) => {
      timer = setTimeout(() => r('late'), ACK_DEADLINE_MS);
    });
    const answer = await Promise.race([acked, late]);
    clearTimeout(timer);
    if (answer === 'late') {
      log.warn('slack request not acknowledged within 3 s: answered empty');
      await ack();
      ctx.status = 200;
      ctx.body = '';
      return;
    }
    ctx.status = 200;
    if (answer === undefined || answer === '') ctx.body = '';
    else if (typeof answer === 'string') ctx.body = answer;
    else ctx.body = answer;
  }
}

export interface SlackSocketReceiverOptions {
  appToken: string;
  /** The Web API base (apps.connections.open), with a trailing slash. */
  slackApiUrl: string;
  logger: Logger;
}

/**
 * Bolt's transport in Socket Mode: @slack/socket-mode's client (apps.connections.open, then a
 * WebSocket), each envelope handed to Bolt with an `ack` that answers on the socket.
 */
export class SlackSocketReceiver implements Receiver {
  readonly client: SocketModeClient;
  private app: App | undefined;

  constructor(opts: SlackSocketReceiverOptions) {
    this.client = new SocketModeClient({
      appToken: opts.appToken,
      clientOptions: { slackApiUrl: opts.slackApiUrl, retryConfig: { retries: 3, minTimeout: 200, maxTimeout: 2000 } },
      logger: boltLogger(opts.logger),
    });
    this.client.on('slack_event', (args: { ack: (r?: AckResponse) => Promise<void>; body: Record<string, unknown>; retry_num?: number; retry_reason?: string }) => {
      const app = this.app;
      if (app === undefined) return;
      const { ack } = oneAckOf(args.ack);
      const event: ReceiverEvent = {
        body: args.body,
        ack,
        ...(typeof args.retry_num === 'number' ? { retryNum: args.retry_num } : {}),
        ...(typeof args.retry_reason === 'string' ? { retryReason: args.retry_reason } : {}),
      };
      void app.processEvent(event).catch((err: unknown) => opts.logger.error({ err }, 'slack listener failed'));
    });
  }

  init(app: App): void {
    this.app = app;
  }

  async start(): Promise<void> {
    await this.client.start();
  }

  async stop(): Promise<void> {
    await this.client.disconnect();
  }
}

function oneAckOf(send: (r?: AckResponse) => Promise<void>): { ack: (r?: AckResponse) => Promise<void> } {
  let done = false;
  return {
    ack: async (r) => {
      if (done) return;
      done = true;
      await send(r);
    },
  };
}

/** pino, as the Slack SDKs' logger interface. */
export function boltLogger(log: Logger): SlackLogger {
  const line = (m: unknown[]) => m.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(' ');
  return {
    debug: (...m: unknown[]) => log.debug(line(m)),
    info: (...m: unknown[]) => log.info(line(m)),
    warn: (...m: unknown[]) => log.warn(line(m)),
    error: (...m: unknown[]) => log.error(line(m)),
    setLevel: () => undefined,
    getLevel: () => LogLevel.INFO,
    setName: () => undefined,
  };
}
