import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { FramecastConfig } from '../config/config.ts';
import type { BlobStore } from './blob-store.ts';
import { createBlobStore } from './create-blob-store.ts';

/** The blob store named by config: a local folder under the data dir, or S3-compatible storage. */
export function blobStoreFromConfig(config: FramecastConfig): BlobStore {
  const e = config.env;
  if (e.FRAMECAST_STORAGE === 's3') {
    return createBlobStore({
      kind: 's3',
      bucket: e.S3_BUCKET ?? '',
      ...(e.S3_ENDPOINT === undefined ? {} : { endpoint: e.S3_ENDPOINT }),
      region: e.S3_REGION,
      forcePathStyle: e.S3_FORCE_PATH_STYLE,
      credentials: { accessKeyId: e.S3_ACCESS_KEY_ID ?? '', secretAccessKey: e.S3_SECRET_ACCESS_KEY ?? '' },
    });
  }
  const publicBase = e.FRAMECAST_PUBLIC_URL;
  return createBlobStore({
    kind: 'local',
    dir: path.join(config.dataDir, 'blobs'),
    ...(publicBase === undefined ? {} : { publicUrl: { base: publicBase, secret: mediaSecret(config) } }),
  });
}

/**
 * The secret that signs media links: FRAMECAST_MEDIA_SECRET, or one made once and kept (mode 0600)
 * in the data folder, so every process on this machine signs and checks with the same one.
 */
export function mediaSecret(config: FramecastConfig): string {
  if (config.env.FRAMECAST_MEDIA_SECRET !== undefined) return config.env.FRAMECAST_MEDIA_SECRET;
  const file = path.join(config.dataDir, 'media-secret');
  try {
    const s = readFileSync(file, 'utf8').trim();
    if (s.length >= 32) return s;
  } catch {
    // Not made yet.
  }
  mkdirSync(config.dataDir, { recursive: true });
  const fresh = randomBytes(32).toString('hex');
  try {
    writeFileSync(file, `${fresh}\n`, { mode: 0o600, flag: 'wx' });
    return fresh;
  } catch {
    // Another process made it first: use theirs.
    return readFileSync(file, 'utf8').trim();
  }
}
