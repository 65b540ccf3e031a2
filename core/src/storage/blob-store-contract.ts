/**
 * The behaviour every BlobStore must have, as one vitest suite run against each implementation
 * (local-blob-store.test.ts, s3-blob-store.test.ts). Not exported from the package.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BlobStoreError } from './blob-store-error.ts';
import type { BlobStore } from './blob-store.ts';

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/** Reads what a platform would fetch from `url()`: the file for file://, an HTTP GET otherwise. */
async function fetchUrl(url: string): Promise<{ status: number; body: Buffer }> {
  if (url.startsWith('file://')) {
    try {
      return { status: 200, body: await readFile(fileURLToPath(url)) };
    } catch {
      return { status: 404, body: Buffer.alloc(0) };
    }
  }
  const res = await fetch(url);
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
}

/** A stream of `total` pseudo-random bytes in uneven chunks, with its sha256. */
function randomStream(total: number): { stream: Readable; sha256: string } {
  const data = randomBytes(total);
  const sha256 = createHash('sha256').update(data).digest('hex');
  let offset = 0;
  const stream = new Readable({
    read() {
      if (offset >= total) {
        this.push(null);
        return;
      }
      const n = Math.min(total - offset, 64 * 1024 + (offset % 7919));
      this.push(data.subarray(offset, offset + n));
      offset += n;
    },
  });
  return { stream, sha256 };
}

export function blobStoreContract(getStore: () => BlobStore): void {
  const key = (name: string) => `contract/${randomUUID()}/${name}`;

  describe('BlobStore contract', () => {
    it('puts a buffer and reads it back with get, stream and exists', async () => {
      const store = getStore();
      const k = key('poster.jpg');
      const data = Buffer.from('not really a jpeg \u0000\u00ff bytes', 'utf8');
      expect(await store.exists(k)).toBe(false);
      const stored = await store.put(k, data, 'image/jpeg');
      expect(stored).toEqual({ key: k, size: data.length, contentType: 'image/jpeg' });
      expect(await store.exists(k)).toBe(true);
      expect((await store.get(k)).equals(data)).toBe(true);
      expect((await collect(await store.stream(k))).equals(data)).toBe(true);
    });

    it('tells a blob\'s size and streams a byte range of it (the end clamped to the blob); a range past the end is invalid_range', async () => {
      const store = getStore();
      const k = key('ranged.mp4');
      const data = randomBytes(10_000);
      await store.put(k, data, 'video/mp4');
      expect(await store.size(k)).toBe(10_000);
      expect((await collect(await store.stream(k, { start: 0, end: 1 }))).equals(data.subarray(0, 2))).toBe(true);
      expect((await collect(await store.stream(k, { start: 1234, end: 5677 }))).equals(data.subarray(1234, 5678))).toBe(true);
      expect((await collect(await store.stream(k, { start: 9_990, end: 1_000_000 }))).equals(data.subarray(9_990))).toBe(true);
      await expect(store.stream(k, { start: 10_000, end: 10_010 })).rejects.toMatchObject({ code: 'invalid_range' });
      await expect(store.stream(k, { start: 5, end: 4 })).rejects.toMatchObject({ code: 'invalid_range' });
      await expect(store.size(key('missing.bin'))).rejects.toMatchObject({ code: 'not_found' });
    });

    it('overwrites an existing key', async () => {
      const store = getStore();
      const k = key('a.txt');
      await store.put(k, Buffer.from('first version, longer'), 'text/plain');
      await store.put(k, Buffer.from('second'), 'text/plain');
      expect((await store.get(k)).toString()).toBe('second');
    });

    it('stores an empty blob', async () => {
      const store = getStore();
      const k = key('empty.bin');
      expect((await store.put(k, Buffer.alloc(0), 'application/octet-stream')).size).toBe(0);
      expect((await store.get(k)).length).toBe(0);
    });

    it('streams a large-ish body in (multipart on S3) and out unchanged', async () => {
      const store = getStore();
      const k = key('video.mp4');
      const total = 11 * 1024 * 1024 + 12345; // more than two 5 MiB parts
      const { stream, sha256 } = randomStream(total);
      const stored = await store.put(k, stream, 'video/mp4');
      expect(stored.size).toBe(total);
      const back = await collect(await store.stream(k));
      expect(back.length).toBe(total);
      expect(createHash('sha256').update(back).digest('hex')).toBe(sha256);
    });

    it('fails a put whose source stream errors, and leaves no blob behind', async () => {
      const store = getStore();
      const k = key('broken.mp4');
      let sent = 0;
      const failing = new Readable({
        read() {
          if (sent >= 3) {
            this.destroy(new Error('source died'));
            return;
          }
          sent += 1;
          this.push(Buffer.alloc(64 * 1024, sent));
        },
      });
      await expect(store.put(k, failing, 'video/mp4')).rejects.toThrow();
      expect(await store.exists(k)).toBe(false);
    });

    it('deletes, and deleting a missing key is a no-op', async () => {
      const store = getStore();
      const k = key('gone.txt');
      await store.put(k, Buffer.from('x'), 'text/plain');
      await store.delete(k);
      expect(await store.exists(k)).toBe(false);
      await expect(store.delete(k)).resolves.toBeUndefined();
    });

    it('gives a URL that fetches the blob', async () => {
      const store = getStore();
      const k = key('clip.mp4');
      const data = randomBytes(4096);
      await store.put(k, data, 'video/mp4');
      const url = await store.url(k, 600);
      expect(url).toMatch(store.kind === 'local' ? /^file:\/\// : /^https?:\/\//);
      const res = await fetchUrl(url);
      expect(res.status).toBe(200);
      expect(res.body.equals(data)).toBe(true);
    });

    it('reports a missing key as BlobStoreError code not_found from get and stream', async () => {
      const store = getStore();
      const k = key('missing.mp4');
      for (const op of [() => store.get(k), () => store.stream(k)]) {
        const err: unknown = await op().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(BlobStoreError);
        expect((err as BlobStoreError).code).toBe('not_found');
        expect((err as BlobStoreError).message).toContain('missing.mp4');
      }
    });

    it('refuses invalid keys with code invalid_key before touching the backend', async () => {
      const store = getStore();
      const bad = [
        '',
        '../etc/passwd',
        'a/../../b',
        '/abs/path',
        'C:/windows',
        'a//b',
        'a/',
        'nul\u0000byte',
        '.hidden',
        'a/./b',
        'space here',
        'back\\slash',
        'emoji-😀',
        'x'.repeat(1025),
      ];
      for (const k of bad) {
        for (const op of [
          () => store.put(k, Buffer.from('x'), 'text/plain'),
          () => store.get(k),
          () => store.stream(k),
          () => store.exists(k),
          () => store.delete(k),
          () => store.url(k),
        ]) {
          const err: unknown = await op().then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(err, JSON.stringify(k.slice(0, 20))).toBeInstanceOf(BlobStoreError);
          expect((err as BlobStoreError).code).toBe('invalid_key');
        }
      }
    });
  });
}
