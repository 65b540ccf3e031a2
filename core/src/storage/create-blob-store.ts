import { z } from 'zod';
import { BlobStoreError } from './blob-store-error.ts';
import type { BlobStore } from './blob-store.ts';
import { DEFAULT_LOCAL_BLOB_DIR, LocalBlobStore } from './local-blob-store.ts';
import { S3BlobStore } from './s3-blob-store.ts';

export const LocalBlobStoreConfigSchema = z.object({
  kind: z.literal('local'),
  dir: z.string().min(1).default(DEFAULT_LOCAL_BLOB_DIR),
  publicUrl: z.object({ base: z.url(), secret: z.string().min(32) }).optional(),
});

export const S3BlobStoreConfigSchema = z.object({
  kind: z.literal('s3'),
  bucket: z.string().min(1),
  endpoint: z.url().optional(),
  region: z.string().min(1).optional(),
  forcePathStyle: z.boolean().optional(),
  credentials: z
    .object({
      accessKeyId: z.string().min(1),
      secretAccessKey: z.string().min(1),
      sessionToken: z.string().min(1).optional(),
    })
    .optional(),
  keyPrefix: z.string().optional(),
  defaultUrlExpirySeconds: z.number().int().positive().max(7 * 24 * 3600).optional(),
  partSizeBytes: z.number().int().min(5 * 1024 * 1024).optional(),
  maxAttempts: z.number().int().positive().optional(),
});

export const BlobStoreConfigSchema = z.discriminatedUnion('kind', [LocalBlobStoreConfigSchema, S3BlobStoreConfigSchema]);
export type BlobStoreConfig = z.input<typeof BlobStoreConfigSchema>;

/** Chooses the store from config: a local directory (default `./data/blobs`) or an S3-compatible bucket. */
export function createBlobStore(config: BlobStoreConfig = { kind: 'local' }): BlobStore {
  const parsed = BlobStoreConfigSchema.safeParse(config);
  if (!parsed.success) {
    // Issues name paths, never values: the config carries a secret key.
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new BlobStoreError('config', `invalid blob store config: ${issues}`);
  }
  const c = parsed.data;
  if (c.kind === 'local') return new LocalBlobStore({ dir: c.dir, ...(c.publicUrl === undefined ? {} : { publicUrl: c.publicUrl }) });
  const { kind: _kind, ...rest } = c;
  // zod output has `undefined` for absent optionals; exactOptionalPropertyTypes wants them absent.
  const options = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
  return new S3BlobStore(options as unknown as ConstructorParameters<typeof S3BlobStore>[0]);
}
