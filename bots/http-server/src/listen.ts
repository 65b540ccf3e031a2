import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import type { HttpApp } from './http-app.ts';

export interface ListeningServer {
  /** The bound port (the one the system chose when asked for 0). */
  readonly port: number;
  readonly server: Server;
  /**
   * Stops accepting connections, closes idle keep-alive ones, lets requests in flight finish for
   * up to `closeGraceMs`, then cuts what is left. Safe to call more than once.
   */
  close(): Promise<void>;
}

export interface ListenOptions {
  /** How long `close()` waits for requests in flight. Default 5000 ms. */
  closeGraceMs?: number;
}

/** Serves a koa app (or a `createHttpApp` result) on `port` (0: any free port) and `host` (default: every interface). */
export function listen(app: Koa | HttpApp, port: number, host?: string, options: ListenOptions = {}): Promise<ListeningServer> {
  const { closeGraceMs } = { closeGraceMs: 5000, ...options };
  const server = createServer(app.callback());
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, ...(host === undefined ? {} : { host }) }, () => {
      server.off('error', reject);
      const bound = (server.address() as AddressInfo).port;
      let closing: Promise<void> | undefined;
      resolve({
        port: bound,
        server,
        close() {
          closing ??= new Promise<void>((done, fail) => {
            const cut = setTimeout(() => server.closeAllConnections(), closeGraceMs);
            cut.unref();
            server.close((err) => {
              clearTimeout(cut);
              if (err) fail(err);
              else done();
            });
            server.closeIdleConnections();
          });
          return closing;
        },
      });
    });
  });
}
