import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobStoreContract } from './blob-store-contract.ts';
import { createBlobStore } from './create-blob-store.ts';
import { S3BlobStore } from './s3-blob-store.ts';

// A real S3-compatible server (s3rver, filesystem-backed) on 127.0.0.1 and a free port; the AWS SDK
// client talks to it over a real socket, signing requests with s3rver's fixed key pair. s3rver checks
// the access key id and the expiry of presigned URLs but not the V4 signature itself, so the tests
// below tamper with the credential, not the signature.
const BUCKET = 'framecast-test';
const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

let dir: string;
let server: S3rver;
let endpoint: string;
let store: S3BlobStore;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'framecast-s3rver-'));
  server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory: dir,
    configureBuckets: [{ name: BUCKET }],
  });
  const { port } = await server.run();
  endpoint = `http://127.0.0.1:${port}`;
  store = new S3BlobStore({ bucket: BUCKET, endpoint, forcePathStyle: true, credentials: CREDENTIALS, maxAttempts: 1 });
});

afterAll(async () => {
  store?.destroy();
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('S3BlobStore against s3rver', () => {
  blobStoreContract(() => store);

  it('presigns GET URLs with X-Amz-Expires that are refused when tampered with', async () => {
    const key = `presign/${randomUUID()}.mp4`;
    await store.put(key, Buffer.from('video bytes'), 'video/mp4');
    const url = new URL(await store.url(key, 120));
    expect(url.searchParams.get('X-Amz-Expires')).toBe('120');
    expect(url.pathname).toBe(`/${BUCKET}/${key}`);
    const ok = await fetch(url);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('video/mp4');
    const credential = url.searchParams.get('X-Amz-Credential') ?? '';
    expect(credential.startsWith('S3RVER/')).toBe(true);
    url.searchParams.set('X-Amz-Credential', credential.replace('S3RVER/', 'SOMEONE/'));
    expect((await fetch(url)).status).toBe(403);
  });

  it('applies a key prefix', async () => {
    const prefixed = new S3BlobStore({
      bucket: BUCKET,
      endpoint,
      forcePathStyle: true,
      credentials: CREDENTIALS,
      keyPrefix: 'tenant-a/',
    });
    try {
      await prefixed.put('x/y.txt', Buffer.from('hi'), 'text/plain');
      expect((await store.get('tenant-a/x/y.txt')).toString()).toBe('hi');
      expect(await prefixed.exists('x/y.txt')).toBe(true);
    } finally {
      prefixed.destroy();
    }
  });

  it('reports a missing bucket as a config error and bad credentials as a backend error', async () => {
    const noBucket = new S3BlobStore({ bucket: 'no-such-bucket', endpoint, forcePathStyle: true, credentials: CREDENTIALS });
    const badCreds = new S3BlobStore({
      bucket: BUCKET,
      endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: 'NOBODY', secretAccessKey: 'wrong' },
      maxAttempts: 1,
    });
    try {
      await expect(noBucket.put('a.txt', Buffer.from('x'), 'text/plain')).rejects.toMatchObject({ code: 'config' });
      await expect(badCreds.get('a.txt')).rejects.toMatchObject({ code: 'backend' });
    } finally {
      noBucket.destroy();
      badCreds.destroy();
    }
  });

  it('is chosen by createBlobStore with kind s3', () => {
    const s = createBlobStore({ kind: 's3', bucket: BUCKET, endpoint, forcePathStyle: true, credentials: CREDENTIALS });
    expect(s).toBeInstanceOf(S3BlobStore);
    expect(s.kind).toBe('s3');
    (s as S3BlobStore).destroy();
  });
});
