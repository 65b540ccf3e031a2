import type { RequestListener } from 'node:http';
import { Router } from '@koa/router';
import type { FramecastMetrics } from '@framecast/core';
import Koa from 'koa';
import type { Middleware } from 'koa';
import compose from 'koa-compose';
import { pino, type Logger } from 'pino';
import { errorHandler, httpState } from './error-handler.ts';
import { bodyLimit, DEFAULT_BODY_LIMIT, DEFAULT_UPLOAD_LIMIT } from './raw-body.ts';
import type { Readiness } from './readiness.ts';

/** What the HTTP server needs from the process that runs it; nothing more. */
export interface HttpAppDeps {
  /** Rendered on `GET /metrics` (a `createFramecastMetrics()` object). */
  metrics: Pick<FramecastMetrics, 'metrics' | 'contentType'>;
  /** Whether this process can serve: Redis and the queues reachable. See `readinessChecks`. */
  readiness(): Promise<Readiness>;
  /** Default: silent. Each request logs through a child with its `requestId`. */
  logger?: Logger;
}

export interface HttpAppOptions {
  /** Largest request body in bytes, for every route but the upload routes (413 above it). Default 1 MiB. */
  bodyLimit?: number;
  /** Largest request body on the routes given to `acceptUploads` (FRAMECAST_UPLOAD_LIMIT). Default 10 MiB, never below `bodyLimit`. */
  uploadLimit?: number;
  /** `/readyz` answers 503 when `readiness()` has not answered by then. Default 5000 ms. */
  readinessTimeoutMs?: number;
  /** Trust `X-Forwarded-*` headers (behind a load balancer). Default false. */
  proxy?: boolean;
}

const DEFAULTS = { bodyLimit: DEFAULT_BODY_LIMIT, uploadLimit: DEFAULT_UPLOAD_LIMIT, readinessTimeoutMs: 5000, proxy: false } as const;

export interface HttpApp {
  /** The koa application, not listening: `listen(app)`, or `app.callback()` on a server of your own. */
  readonly app: Koa;
  /**
   * Adds an adapter's routes (a `@koa/router` Router, or any koa middleware), behind the request
   * id, body limit and error handler. May be called before or after the server listens.
   */
  mount(...routes: Array<Router | Middleware>): void;
  /**
   * Gives the paths that match (an image upload route) the upload limit instead of the body limit:
   * refused early by Content-Length, and `ctx.state.bodyLimit` set to it for the route's reader.
   */
  acceptUploads(...paths: RegExp[]): void;
  /** The upload routes' limit in bytes. */
  readonly uploadLimit: number;
  /** `app.callback()`. */
  callback(): RequestListener;
}

/**
 * The one HTTP server of a Framecast process: `GET /healthz` (the process is alive, no I/O),
 * `GET /readyz` (200 or 503 with each check), `GET /metrics` (Prometheus text), and the routes
 * that adapters mount (Slack `/slack/events`, Discord `/discord/interactions`, `/api/mp/*`).
 * Unknown routes get a JSON 404; any error a JSON answer without a stack trace.
 */
export function createHttpApp(deps: HttpAppDeps, options: HttpAppOptions = {}): HttpApp {
  const opts = { ...DEFAULTS, ...options };
  if (!Number.isSafeInteger(opts.bodyLimit) || opts.bodyLimit < 0) throw new RangeError(`bodyLimit must be a whole number of bytes, got ${opts.bodyLimit}`);
  if (!Number.isSafeInteger(opts.uploadLimit) || opts.uploadLimit < 0) throw new RangeError(`uploadLimit must be a whole number of bytes, got ${opts.uploadLimit}`);
  const uploadLimit = Math.max(opts.uploadLimit, opts.bodyLimit);
  const uploadPaths: RegExp[] = [];
  const logger = deps.logger ?? pino({ level: 'silent' });
  const app = new Koa({ proxy: opts.proxy });
  // Errors that escape the middleware (a response stream failing mid-way) go to the log, not to
  // koa's default printer on stderr.
  app.on('error', (err: unknown) => logger.error({ err }, 'http response failed'));

  const builtIn = new Router();
  builtIn.get('/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });
  builtIn.get('/readyz', async (ctx) => {
    const readiness = await checkReadiness(deps, opts.readinessTimeoutMs, httpState(ctx).log);
    ctx.set('Cache-Control', 'no-store');
    ctx.status = readiness.ok ? 200 : 503;
    ctx.body = readiness;
  });
  builtIn.get('/metrics', async (ctx) => {
    const text = await deps.metrics.metrics();
    ctx.set('Cache-Control', 'no-store');
    ctx.set('Content-Type', deps.metrics.contentType);
    ctx.body = text;
  });

  // Mounted routes are composed again on each mount, so mounting after listen() takes effect.
  const mounted: Middleware[] = [];
  let dispatch: compose.ComposedMiddleware<Koa.ParameterizedContext> = compose([]);

  app.use(errorHandler(logger, opts.bodyLimit));
  app.use(bodyLimit((ctx) => (uploadPaths.some((re) => re.test(ctx.path)) ? uploadLimit : opts.bodyLimit)));
  app.use(builtIn.routes());
  app.use(builtIn.allowedMethods());
  app.use((ctx, next) => dispatch(ctx, next));

  return {
    app,
    mount(...routes) {
      for (const r of routes) {
        if (r instanceof Router) mounted.push(r.routes() as Middleware, r.allowedMethods() as Middleware);
        else mounted.push(r);
      }
      dispatch = compose([...mounted]);
    },
    acceptUploads(...paths) {
      uploadPaths.push(...paths);
    },
    uploadLimit,
    callback: () => app.callback(),
  };
}

async function checkReadiness(deps: HttpAppDeps, timeoutMs: number, log: Logger): Promise<Readiness> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`readiness() did not answer within ${timeoutMs} ms`)), timeoutMs);
      timer.unref();
    });
    const r = await Promise.race([deps.readiness(), deadline]);
    // Only the documented fields reach the client.
    const checks: Readiness['checks'] = {};
    for (const [name, c] of Object.entries(r.checks)) checks[name] = c.detail === undefined ? { ok: c.ok === true } : { ok: c.ok === true, detail: String(c.detail) };
    return { ok: r.ok === true, checks };
  } catch (err) {
    log.warn({ err }, 'readiness check failed');
    return { ok: false, checks: { readiness: { ok: false, detail: 'failed' } } };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
