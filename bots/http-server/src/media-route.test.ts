import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createFramecastMetrics, LocalBlobStore, signMediaUrl } from '@framecast/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpApp, listen, mediaRouter, type ListeningServer } from './index.ts';

const SECRET = 'a'.repeat(64);
let dir: string;
let server: ListeningServer;
let base: string;
let store: LocalBlobStore;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'fc-media-'));
  const http = createHttpApp({ metrics: createFramecastMetrics({ defaultMetrics: false }), readiness: async () => ({ ok: true, checks: {} }) });
  server = await listen(http, 0, '127.0.0.1');
  base = `http://127.0.0.1:${server.port}`;
  store = new LocalBlobStore({ dir, publicUrl: { base, secret: SECRET } });
  http.mount(mediaRouter({ store, secret: SECRET }));
  await store.put('videos/j1.mp4', Buffer.from('not really an mp4'), 'video/mp4');
  await store.put('previews/j1.jpg', Buffer.from('a step preview'), 'image/jpeg');
  await store.put('previews/j1.png', Buffer.from('not a preview'), 'image/png');
  await store.put('uploads/private.png', Buffer.from('a user upload'), 'image/png');
});
afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

describe('GET /media/<key> (signed links to stored videos)', () => {
  it('serves a video through the link the local store makes, with its type', async () => {
    const url = await store.url('videos/j1.mp4', 600);
    expect(url.startsWith(`${base}/media/videos/j1.mp4?exp=`)).toBe(true);
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('video/mp4');
    expect(await res.text()).toBe('not really an mp4');
  });

  it('answers a Range with 206 and the bytes asked for, a range past the end with 416, and HEAD with the length only', async () => {
    const url = await store.url('videos/j1.mp4', 600);
    const part = await fetch(url, { headers: { Range: 'bytes=4-9' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe('bytes 4-9/17');
    expect(part.headers.get('content-length')).toBe('6');
    expect(await part.text()).toBe('really');
    const tail = await fetch(url, { headers: { Range: 'bytes=-3' } });
    expect(tail.status).toBe(206);
    expect(await tail.text()).toBe('mp4');
    const past = await fetch(url, { headers: { Range: 'bytes=17-' } });
    expect(past.status).toBe(416);
    expect(past.headers.get('content-range')).toBe('bytes */17');
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('17');
    expect(head.headers.get('accept-ranges')).toBe('bytes');
    expect(await head.text()).toBe('');
  });

  it('serves a step preview (previews/<name>.jpg) as a JPEG, and nothing else under previews/', async () => {
    const url = await store.url('previews/j1.jpg', 600);
    expect(url.startsWith(`${base}/media/previews/j1.jpg?exp=`)).toBe(true);
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    expect(await res.text()).toBe('a step preview');
    expect((await fetch(`${base}/media/previews/j1.jpg`)).status).toBe(403);
    expect((await fetch(signMediaUrl(base, 'previews/j1.png', Math.floor(Date.now() / 1000) + 600, SECRET))).status).toBe(404);
    expect((await fetch(signMediaUrl(base, 'previews/sub/j1.jpg', Math.floor(Date.now() / 1000) + 600, SECRET))).status).toBe(404);
  });

  it('refuses a tampered, foreign, expired or unsigned link, and anything but videos and posters', async () => {
    const good = new URL(await store.url('videos/j1.mp4', 600));
    const tampered = new URL(good);
    tampered.searchParams.set('exp', String(Number(good.searchParams.get('exp')) + 1));
    expect((await fetch(tampered)).status).toBe(403);
    expect((await fetch(signMediaUrl(base, 'videos/j1.mp4', Math.floor(Date.now() / 1000) + 600, 'b'.repeat(64)))).status).toBe(403);
    expect((await fetch(signMediaUrl(base, 'videos/j1.mp4', Math.floor(Date.now() / 1000) - 1, SECRET))).status).toBe(410);
    expect((await fetch(`${base}/media/videos/j1.mp4`)).status).toBe(403);
    // A signed link to a key outside videos/ is still refused (uploads are never served).
    expect((await fetch(signMediaUrl(base, 'uploads/private.png', Math.floor(Date.now() / 1000) + 600, SECRET))).status).toBe(404);
    expect((await fetch(`${base}/media/videos%2F..%2F..%2Fetc%2Fpasswd?exp=9999999999&sig=${'x'.repeat(43)}`)).status).toBe(404);
    // A missing video behind a valid signature: 404, not a crash.
    expect((await fetch(signMediaUrl(base, 'videos/nope.mp4', Math.floor(Date.now() / 1000) + 600, SECRET))).status).toBe(404);
  });
});
