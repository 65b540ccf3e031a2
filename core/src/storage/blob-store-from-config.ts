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
  return createBlobStore({ kind: 'local', dir: path.join(config.dataDir, 'blobs') });
}
