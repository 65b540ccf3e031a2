import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalBlobStore, type BlobStore } from '@framecast/core';
import { createHttpApp, listen, type ListeningServer } from '@framecast/http-server';
import type { Middleware } from 'koa';
import { mpErrors } from './mp-error.ts';
import { serveBlob } from './mp-media.ts';

// serveBlob on a real HTTP server: a local store answers Range itself; any other store (S3) is a
// redirect to its presigned URL, which the object store serves with Range.
let dir: string;
let server: ListeningServer;
let local: LocalBlobStore;
const video = randomBytes(5000);
const presigned: Array<{ key: string; ttl: number | undefined }> = [];
const s3Like: BlobStore = {
  kind: 's3',
  put: async (key, _data, contentType) => ({ key, size: 0, contentType }),
  get: async () => Buffer.alloc(0),
  stream: async () => Readable.from([]),
  size: async () => 0,
  exists: async () => true,
  delete: async () => undefined,
  url: async (key, ttl) => {
    presigned.push({ key, ttl });
    return `https://bucket.example/${key}?X-Amz-Expires=${ttl ?? 0}&X-Amz-Signature=abc`;
  },
};

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'framecast-mp-media-'));
  local = new LocalBlobStore({ dir });
  await local.put('videos/j1.mp4', video, 'video/mp4');
  const http = createHttpApp({ metrics: { metrics: async () => '', contentType: 'text/plain' }, readiness: async () => ({ ok: true, checks: {} }) });
  const route: Middleware = async (ctx, next) => {
    if (ctx.path === '/api/mp/local') return serveBlob(ctx, local, 'videos/j1.mp4', 'video', 300);
    if (ctx.path === '/api/mp/missing') return serveBlob(ctx, local, 'videos/none.mp4', 'video', 300);
    if (ctx.path === '/api/mp/s3') return serveBlob(ctx, s3Like, 'videos/j1.mp4', 'video', 300);
    return next();
  };
  const errors = mpErrors('/api/mp');
  http.mount((ctx, next) => errors(ctx, () => route(ctx, next)));
  server = await listen(http, 0, '127.0.0.1');
});
afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

const url = (p: string): string => `http://127.0.0.1:${server.port}${p}`;

describe('serving a stored video', () => {
  it('from local storage: whole, one range, HEAD, several ranges as the whole file, 416, 404', async () => {
    const whole = await fetch(url('/api/mp/local'));
    expect(whole.status).toBe(200);
    expect(whole.headers.get('content-length')).toBe('5000');
    expect(Buffer.from(await whole.arrayBuffer()).equals(video)).toBe(true);
    const part = await fetch(url('/api/mp/local'), { headers: { Range: 'bytes=4990-' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe('bytes 4990-4999/5000');
    expect(Buffer.from(await part.arrayBuffer()).equals(video.subarray(4990))).toBe(true);
    const head = await fetch(url('/api/mp/local'), { method: 'HEAD', headers: { Range: 'bytes=0-99' } });
    expect(head.status).toBe(206);
    expect(head.headers.get('content-length')).toBe('100');
    expect((await fetch(url('/api/mp/local'), { headers: { Range: 'bytes=0-1,10-11' } })).status).toBe(200);
    const bad = await fetch(url('/api/mp/local'), { headers: { Range: 'bytes=6000-7000', 'Accept-Language': 'en' } });
    expect(bad.status).toBe(416);
    expect(bad.headers.get('content-range')).toBe('bytes */5000');
    expect(await bad.json()).toMatchObject({ code: 'range_not_satisfiable', message: 'The requested range is outside the file.' });
    expect((await fetch(url('/api/mp/missing'))).status).toBe(404);
  });

  it('from S3: a redirect to a short-lived presigned URL', async () => {
    const res = await fetch(url('/api/mp/s3'), { redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('https://bucket.example/videos/j1.mp4?X-Amz-Expires=300&X-Amz-Signature=abc');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(presigned).toEqual([{ key: 'videos/j1.mp4', ttl: 300 }]);
  });
});
