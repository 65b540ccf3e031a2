import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobStoreContract } from './blob-store-contract.ts';
import { createBlobStore } from './create-blob-store.ts';
import { LocalBlobStore } from './local-blob-store.ts';

let dir: string;
let store: LocalBlobStore;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'framecast-blobs-'));
  store = new LocalBlobStore({ dir });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('LocalBlobStore', () => {
  blobStoreContract(() => store);

  it('maps keys to files under its directory', async () => {
    await store.put('videos/job-1/out.mp4', Buffer.from('mp4'), 'video/mp4');
    expect((await stat(path.join(dir, 'videos', 'job-1', 'out.mp4'))).size).toBe(3);
    expect(await store.url('videos/job-1/out.mp4')).toBe(`file://${path.join(dir, 'videos/job-1/out.mp4')}`);
  });

  it('writes atomically: a reader never sees a half-written blob, a failed write leaves no temp file', async () => {
    await store.put('atomic/a.bin', Buffer.from('old'), 'application/octet-stream');
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let step = 0;
    const slow = new Readable({
      read() {
        step += 1;
        if (step === 1) this.push(Buffer.alloc(1024, 1));
        else if (step === 2) void gate.then(() => this.push(Buffer.alloc(1024, 2)));
        else this.push(null);
      },
    });
    const writing = store.put('atomic/a.bin', slow, 'application/octet-stream');
    await new Promise((r) => setTimeout(r, 50));
    // Mid-write the old content is still what readers get.
    expect((await store.get('atomic/a.bin')).toString()).toBe('old');
    release();
    expect((await writing).size).toBe(2048);
    expect((await store.get('atomic/a.bin')).length).toBe(2048);
    expect(await readdir(path.join(dir, '.tmp'))).toEqual([]);
  });

  it('treats a folder of keys as not a blob', async () => {
    await store.put('folder/inner.txt', Buffer.from('x'), 'text/plain');
    expect(await store.exists('folder')).toBe(false);
    await expect(store.get('folder')).rejects.toMatchObject({ code: 'not_found' });
  });

  it('is chosen by createBlobStore with kind local, defaulting to ./data/blobs', () => {
    const s = createBlobStore({ kind: 'local', dir });
    expect(s).toBeInstanceOf(LocalBlobStore);
    expect((s as LocalBlobStore).dir).toBe(dir);
    expect((createBlobStore() as LocalBlobStore).dir).toBe(path.resolve('data/blobs'));
  });

  it('rejects a bad config listing the problem', () => {
    expect(() => createBlobStore({ kind: 's3', bucket: '' })).toThrow(/bucket/);
  });
});
