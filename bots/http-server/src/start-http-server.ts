import type { Router } from '@koa/router';
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import { createHttpApp, type HttpAppDeps } from './http-app.ts';
import { listen } from './listen.ts';

export interface StartHttpServerOptions {
  deps: HttpAppDeps;
  /** 0 binds any free port (the caller skips this function when FRAMECAST_HTTP_PORT is 0). */
  port: number;
  /** Default: every interface. */
  host?: string;
  /** Overrides `deps.logger`. */
  logger?: Logger;
  /** FRAMECAST_HTTP_BODY_LIMIT. Default 1 MiB. */
  bodyLimit?: number;
  /** FRAMECAST_UPLOAD_LIMIT: the routes given to `acceptUploads`. Default 10 MiB. */
  uploadLimit?: number;
  /** Adapter routes to mount at once; more can be mounted later with `mount`. */
  routes?: Array<Router | Middleware>;
}

export interface RunningHttpServer {
  readonly port: number;
  mount(...routes: Array<Router | Middleware>): void;
  /** See `HttpApp.acceptUploads`. */
  acceptUploads(...paths: RegExp[]): void;
  readonly uploadLimit: number;
  close(): Promise<void>;
}

/** `createHttpApp` + `listen`, logged: what `framecast start` runs when FRAMECAST_HTTP_PORT is not 0. */
export async function startHttpServer(options: StartHttpServerOptions): Promise<RunningHttpServer> {
  const logger = options.logger ?? options.deps.logger;
  const http = createHttpApp(
    { ...options.deps, ...(logger === undefined ? {} : { logger }) },
    {
      ...(options.bodyLimit === undefined ? {} : { bodyLimit: options.bodyLimit }),
      ...(options.uploadLimit === undefined ? {} : { uploadLimit: options.uploadLimit }),
    },
  );
  if (options.routes !== undefined) http.mount(...options.routes);
  const server = await listen(http, options.port, options.host);
  logger?.info({ port: server.port, host: options.host ?? '*' }, 'http server listening (/healthz, /readyz, /metrics)');
  return {
    port: server.port,
    mount: (...routes) => http.mount(...routes),
    acceptUploads: (...paths) => http.acceptUploads(...paths),
    uploadLimit: http.uploadLimit,
    async close() {
      await server.close();
      logger?.info({ port: server.port }, 'http server closed');
    },
  };
}
