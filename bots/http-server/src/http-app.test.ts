import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { Router } from '@koa/router';
import { createFramecastMetrics, type FramecastMetrics } from '@framecast/core';
import { pino, type Logger } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpApp, HttpError, httpState, listen, readinessChecks, readRawBody, startHttpServer, type HttpApp, type HttpAppDeps, type HttpAppOptions } from './index.ts';

/** A pino logger writing JSON lines into an array. */
function capturingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), lines };
}

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()?.();
});

/** The handler on a throwaway server: `app.callback()` on `http.createServer`, port 0. */
async function serve(http: HttpApp): Promise<string> {
  const server: Server = createServer(http.app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function deps(overrides: Partial<HttpAppDeps> = {}): HttpAppDeps & { metrics: FramecastMetrics } {
  return {
    metrics: createFramecastMetrics({ defaultMetrics: false }),
    readiness: async () => ({ ok: true, checks: { redis: { ok: true }, queues: { ok: true } } }),
    ...overrides,
  } as HttpAppDeps & { metrics: FramecastMetrics };
}

async function app(d: HttpAppDeps = deps(), opts: HttpAppOptions = {}): Promise<{ http: HttpApp; base: string }> {
  const http = createHttpApp(d, opts);
  return { http, base: await serve(http) };
}

/** A POST whose body has no Content-Length (chunked), so only streaming can enforce the limit. */
function chunkedPost(url: string, totalBytes: number, chunkBytes = 64 * 1024): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/octet-stream' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    // The server answers (and closes) before all of it is sent; a write error after that is expected.
    req.on('error', reject);
    let sent = 0;
    const pump = (): void => {
      while (sent < totalBytes) {
        const n = Math.min(chunkBytes, totalBytes - sent);
        sent += n;
        if (!req.write(Buffer.alloc(n, 0x61))) {
          req.once('drain', pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}

describe('createHttpApp', () => {
  it('GET /healthz answers 200 {status:"ok"} without calling any dependency', async () => {
    let readinessCalls = 0;
    const { base } = await app(deps({ readiness: async () => { readinessCalls += 1; return { ok: false, checks: {} }; } }));
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(await res.json()).toEqual({ status: 'ok' });
    expect(readinessCalls).toBe(0);
  });

  it('GET /readyz answers 200 with the checks when ready', async () => {
    const { base } = await app();
    const res = await fetch(`${base}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, checks: { redis: { ok: true }, queues: { ok: true } } });
  });

  it('GET /readyz answers 503 with the failing check, and 503 when readiness() throws or hangs', async () => {
    const failing = await app(deps({ readiness: readinessChecks({ redis: async () => { throw new Error('connect ECONNREFUSED 10.0.0.5:6379 password=hunter2'); }, queues: async () => 1 }) }));
    let res = await fetch(`${failing.base}/readyz`);
    expect(res.status).toBe(503);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ ok: false, checks: { redis: { ok: false, detail: 'failed' }, queues: { ok: true } } });
    expect(text).not.toContain('hunter2');

    const throwing = await app(deps({ readiness: async () => { throw new Error('boom'); } }));
    res = await fetch(`${throwing.base}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ ok: false, checks: { readiness: { ok: false, detail: 'failed' } } });

    const hanging = await app(deps({ readiness: () => new Promise(() => {}) }), { readinessTimeoutMs: 50 });
    res = await fetch(`${hanging.base}/readyz`);
    expect(res.status).toBe(503);

    const slowProbe = await app(deps({ readiness: readinessChecks({ redis: () => new Promise(() => {}) }, { timeoutMs: 30 }) }));
    res = await fetch(`${slowProbe.base}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ ok: false, checks: { redis: { ok: false, detail: 'timed out' } } });
  });

  it('GET /metrics serves the Prometheus text with the instruments after observations', async () => {
    const d = deps();
    d.metrics.setSources({
      jobsByState: async () => ({ queued: 3, active: 1 }),
      queueDepths: async () => [{ queue: 'generate', counts: { waiting: 3, active: 1 } }],
    });
    d.metrics.intake('discord', 'accepted', 0.02);
    d.metrics.moderationVerdict('image', 'block');
    d.metrics.retried('slack');
    d.metrics.finished('slack', 'delivered');
    const { base } = await app(d);
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();
    expect(text).toContain('framecast_intake_duration_seconds_count{platform="discord",status="accepted"} 1');
    expect(text).toContain('framecast_jobs{state="queued"} 3');
    expect(text).toContain('framecast_queue_depth{queue="generate",state="waiting"} 3');
    expect(text).toContain('framecast_moderation_verdicts_total{source="image",action="block"} 1');
    expect(text).toContain('framecast_delivery_retries_total{platform="slack"} 1');
    expect(text).toContain('framecast_deliveries_total{platform="slack",result="delivered"} 1');
  });

  it('unknown routes are a JSON 404; a wrong method on a known route is a JSON 405', async () => {
    const { base } = await app();
    let res = await fetch(`${base}/nope`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toMatchObject({ error: 'not_found' });
    res = await fetch(`${base}/healthz`, { method: 'POST', body: 'x' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toContain('GET');
    expect(await res.json()).toMatchObject({ error: 'method_not_allowed' });
  });

  describe('body limit and readRawBody', () => {
    async function echoApp(opts: HttpAppOptions = {}): Promise<string> {
      const router = new Router();
      router.post('/slack/events', async (ctx) => {
        const raw = await readRawBody(ctx);
        const again = await readRawBody(ctx);
        ctx.body = { bytes: raw.length, same: raw === again };
      });
      const { http, base } = await app(deps(), opts);
      http.mount(router); // after the server is listening
      return base;
    }

    it('a mounted POST route reads the raw body under the limit', async () => {
      const base = await echoApp({ bodyLimit: 1000 });
      const res = await fetch(`${base}/slack/events`, { method: 'POST', body: 'a'.repeat(1000) });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ bytes: 1000, same: true });
    });

    it('413 JSON for a declared Content-Length over the limit, on any route', async () => {
      const base = await echoApp({ bodyLimit: 1000 });
      for (const path of ['/slack/events', '/not-a-route']) {
        const res = await fetch(`${base}${path}`, { method: 'POST', body: 'a'.repeat(1001) });
        expect(res.status).toBe(413);
        expect(await res.json()).toMatchObject({ error: 'payload_too_large', message: 'The request body is larger than 1000 bytes.' });
      }
    });

    it('413 JSON for a chunked body that streams past the limit (default 1 MiB), closing the connection', async () => {
      const base = await echoApp();
      const small = await chunkedPost(`${base}/slack/events`, 1024 * 1024);
      expect(small.status).toBe(200);
      expect(JSON.parse(small.body)).toEqual({ bytes: 1024 * 1024, same: true });

      const big = await chunkedPost(`${base}/slack/events`, 1024 * 1024 + 1);
      expect(big.status).toBe(413);
      expect(big.headers.connection).toBe('close');
      expect(JSON.parse(big.body)).toMatchObject({ error: 'payload_too_large' });
    });

    it('an upload route takes bodies up to the upload limit, declared or chunked; every other route keeps the body limit', async () => {
      const router = new Router();
      for (const p of ['/api/mp/uploads', '/slack/events']) {
        router.post(p, async (ctx) => {
          const raw = await readRawBody(ctx);
          ctx.body = { bytes: raw.length, limit: httpState(ctx).bodyLimit };
        });
      }
      const { http, base } = await app(deps(), { bodyLimit: 1000, uploadLimit: 5000 });
      http.mount(router);
      http.acceptUploads(/^\/api\/mp\/uploads$/);
      expect(http.uploadLimit).toBe(5000);

      const ok = await fetch(`${base}/api/mp/uploads`, { method: 'POST', body: 'a'.repeat(5000) });
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ bytes: 5000, limit: 5000 });
      const declared = await fetch(`${base}/api/mp/uploads`, { method: 'POST', body: 'a'.repeat(5001) });
      expect(declared.status).toBe(413);
      expect(await declared.json()).toMatchObject({ error: 'payload_too_large', message: 'The request body is larger than 5000 bytes.' });
      const chunked = await chunkedPost(`${base}/api/mp/uploads`, 5001);
      expect(chunked.status).toBe(413);
      // Not a prefix match: another path keeps the ordinary limit.
      const other = await fetch(`${base}/slack/events`, { method: 'POST', body: 'a'.repeat(1001) });
      expect(other.status).toBe(413);
      const near = await fetch(`${base}/api/mp/uploads/x`, { method: 'POST', body: 'a'.repeat(1001) });
      expect(near.status).toBe(413);
    });

    it('the upload limit is never below the body limit', async () => {
      const { http } = await app(deps(), { bodyLimit: 1000, uploadLimit: 10 });
      expect(http.uploadLimit).toBe(1000);
    });
  });

  describe('errors', () => {
    async function throwingApp(thrown: () => unknown): Promise<{ base: string; lines: Array<Record<string, unknown>> }> {
      const { logger, lines } = capturingLogger();
      const router = new Router();
      router.get('/boom', (ctx) => {
        ctx.set('Content-Type', 'text/html');
        ctx.set('Set-Cookie', 'session=1');
        throw thrown();
      });
      const { http, base } = await app(deps({ logger }));
      http.mount(router);
      return { base, lines };
    }

    it('an internal error is a 500 {"error":"internal"} with no message or stack; the log has it with the request id', async () => {
      const { base, lines } = await throwingApp(() => new Error('SELECT * FROM secrets failed at /srv/app/x.ts'));
      const res = await fetch(`${base}/boom`, { headers: { 'X-Request-Id': 'req-42' } });
      expect(res.status).toBe(500);
      expect(res.headers.get('x-request-id')).toBe('req-42');
      expect(res.headers.get('set-cookie')).toBeNull();
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      const text = await res.text();
      expect(JSON.parse(text)).toEqual({ error: 'internal', requestId: 'req-42' });
      expect(text).not.toMatch(/secrets|at \/|\.ts/);
      const logged = lines.find((l) => l.msg === 'http request failed');
      expect(logged).toMatchObject({ requestId: 'req-42', status: 500, path: '/boom' });
      expect((logged?.err as { message: string; stack: string }).message).toContain('SELECT');
    });

    it('a thrown non-Error, or an error with a status but no expose, shows nothing either', async () => {
      let r = await throwingApp(() => 'a string');
      let res = await fetch(`${r.base}/boom`);
      expect(res.status).toBe(500);
      expect(await res.json()).toMatchObject({ error: 'internal' });

      r = await throwingApp(() => Object.assign(new Error('upstream password=x'), { status: 503, expose: false }));
      res = await fetch(`${r.base}/boom`);
      expect(res.status).toBe(503);
      const text = await res.text();
      expect(JSON.parse(text)).toMatchObject({ error: 'internal' });
      expect(text).not.toContain('password');
    });

    it('an exposed error shows its message and code, with its status', async () => {
      const r = await throwingApp(() => new HttpError(429, 'rate_limited', 'Slow down: 3 requests a second.'));
      let res = await fetch(`${r.base}/boom`);
      expect(res.status).toBe(429);
      expect(await res.json()).toMatchObject({ error: 'rate_limited', message: 'Slow down: 3 requests a second.' });

      // koa's http-errors convention (ctx.throw) and a coded error with expose but no status.
      const router = new Router();
      router.get('/thrown', (ctx) => ctx.throw(422, 'The prompt is empty.'));
      router.get('/coded', () => { throw Object.assign(new Error('Unknown style "noir2".'), { code: 'unknown_style', expose: true }); });
      router.get('/state', (ctx) => { ctx.body = { requestId: httpState(ctx).requestId, limit: httpState(ctx).bodyLimit }; });
      const { http, base } = await app();
      http.mount(router);
      res = await fetch(`${base}/thrown`);
      expect(res.status).toBe(422);
      expect(await res.json()).toMatchObject({ error: 'unprocessable_entity', message: 'The prompt is empty.' });
      res = await fetch(`${base}/coded`);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'unknown_style', message: 'Unknown style "noir2".' });
      res = await fetch(`${base}/state`, { headers: { 'X-Request-Id': 'bad id with spaces' } });
      const state = (await res.json()) as { requestId: string; limit: number };
      expect(state.requestId).toMatch(/^[0-9a-f-]{36}$/);
      expect(state.limit).toBe(1024 * 1024);
    });
  });
});

describe('listen and startHttpServer', () => {
  it('listen resolves with the bound port and close() stops it, even with a keep-alive connection open', async () => {
    const http = createHttpApp(deps());
    const server = await listen(http, 0, '127.0.0.1');
    expect(server.port).toBeGreaterThan(0);
    const res = await fetch(`http://127.0.0.1:${server.port}/healthz`);
    expect(res.status).toBe(200);
    await res.text();
    const started = Date.now();
    await server.close();
    await server.close(); // twice is fine
    expect(Date.now() - started).toBeLessThan(2000);
    await expect(fetch(`http://127.0.0.1:${server.port}/healthz`)).rejects.toThrow();
  });

  it('startHttpServer serves health and metrics, mounts routes given and later, logs, and closes', async () => {
    const { logger, lines } = capturingLogger();
    const d = deps();
    d.metrics.retried('wechat');
    const early = new Router();
    early.get('/api/mp/ping', (ctx) => { ctx.body = { pong: true }; });
    const running = await startHttpServer({ deps: d, port: 0, host: '127.0.0.1', logger, bodyLimit: 10, routes: [early] });
    closers.push(() => running.close());
    const base = `http://127.0.0.1:${running.port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${base}/metrics`)).text()).toContain('framecast_delivery_retries_total{platform="wechat"} 1');
    expect(await (await fetch(`${base}/api/mp/ping`)).json()).toEqual({ pong: true });
    running.mount(async (ctx, next) => {
      if (ctx.path !== '/discord/interactions') return next();
      ctx.body = { type: 1 };
    });
    expect(await (await fetch(`${base}/discord/interactions`)).json()).toEqual({ type: 1 });
    expect((await fetch(`${base}/discord/interactions`, { method: 'POST', body: '12345678901' })).status).toBe(413);
    expect(lines.some((l) => l.msg?.toString().startsWith('http server listening') && l.port === running.port)).toBe(true);
  });
});
