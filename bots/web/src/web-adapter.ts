import type { BlobStore, ConsumeOptions, Core, DeliveryConsumer, FramecastConfig } from '@framecast/core';
import type { Redis } from 'ioredis';
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import { createPlaygroundRouter, PLAYGROUND_UPLOAD_PATH } from './playground-router.ts';
import { webDeliveryHandler } from './web-delivery.ts';

export interface WebAdapterOptions {
  core: Core;
  store: BlobStore;
  /** The process's Redis connection (playground sessions). */
  redis: Redis;
  logger: Logger;
  config: FramecastConfig;
  /** The one HTTP server: the playground mounts `/`, `/assets/*` and `/api/web/*` on it. */
  http: {
    mount(...routes: Middleware[]): void;
    /** The HTTP server's upload routes (FRAMECAST_UPLOAD_LIMIT): the submit route is one. */
    acceptUploads?(...paths: RegExp[]): void;
    readonly uploadLimit?: number;
  };
  /** Passed to core.deliveries.consume('web', …). */
  consume?: ConsumeOptions;
  /** Largest reference image (default 10 MiB, capped by the HTTP server's upload limit). */
  maxImageBytes?: number;
}

export interface WebAdapter {
  /** The playground's path on the HTTP server. */
  readonly path: '/';
  close(): Promise<void>;
}

/** Whether `framecast start` serves the playground: FRAMECAST_WEB (default on) and an HTTP server. */
export function isWebEnabled(config: FramecastConfig): boolean {
  return config.env.FRAMECAST_WEB && config.env.FRAMECAST_HTTP_PORT !== 0;
}

/**
 * Starts the playground (platform `web`): mounts its page and JSON API on the HTTP server and
 * consumes the web deliveries (the video becomes playable; open pages hear it over their event
 * streams). The routes stay mounted after close(); the HTTP server's own close ends them.
 */
export async function startWebAdapter(opts: WebAdapterOptions): Promise<WebAdapter> {
  const logger = opts.logger.child({ platform: 'web' });
  const router = createPlaygroundRouter({
    core: opts.core, store: opts.store, redis: opts.redis, logger, config: opts.config,
    ...(opts.maxImageBytes === undefined ? {} : { maxImageBytes: opts.maxImageBytes }),
    // The submit route takes the upload limit when the server has one for it, else the body limit.
    ...(opts.http.acceptUploads !== undefined && opts.http.uploadLimit !== undefined ? { bodyLimit: opts.http.uploadLimit } : {}),
  });
  opts.http.acceptUploads?.(PLAYGROUND_UPLOAD_PATH);
  opts.http.mount(router.routes() as Middleware, router.allowedMethods() as Middleware);
  const consumer: DeliveryConsumer = opts.core.deliveries.consume('web', webDeliveryHandler({ store: opts.store, logger }), opts.consume);
  logger.info('web playground started');
  let closed = false;
  return {
    path: '/',
    async close() {
      if (closed) return;
      closed = true;
      await consumer.close();
    },
  };
}
