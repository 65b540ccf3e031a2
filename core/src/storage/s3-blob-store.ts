import { Readable, Transform } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { assertValidBlobKey } from './blob-key.ts';
import { BlobStoreError } from './blob-store-error.ts';
import type { BlobStore, StoredBlob } from './blob-store.ts';

export interface S3BlobStoreOptions {
  bucket: string;
  /** e.g. `https://oss-cn-hangzhou.aliyuncs.com`, `http://127.0.0.1:9000`; AWS's own when absent. */
  endpoint?: string;
  /** Default `us-east-1` (most S3-compatible servers accept anything). */
  region?: string;
  /** Path-style URLs (`endpoint/bucket/key`): needed by MinIO and most self-hosted servers. */
  forcePathStyle?: boolean;
  /** Static credentials; when absent the SDK's default chain (env, profile, instance role) is used. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Prepended to every key (`framecast/` → `framecast/videos/x.mp4`); must itself be a valid key + '/'. */
  keyPrefix?: string;
  /** Default lifetime of `url()` links in seconds (default 3600; S3 caps presigned URLs at 7 days). */
  defaultUrlExpirySeconds?: number;
  /** Multipart part size for streamed uploads, bytes (default 8 MiB; S3's minimum is 5 MiB). */
  partSizeBytes?: number;
  /** Attempts per request (SDK default 3). */
  maxAttempts?: number;
}

export const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

function httpStatus(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null || !('$metadata' in err)) return undefined;
  const meta = (err as { $metadata?: { httpStatusCode?: number } }).$metadata;
  return meta?.httpStatusCode;
}

function isNotFound(err: unknown): boolean {
  if (err instanceof S3ServiceException && (err.name === 'NoSuchKey' || err.name === 'NotFound')) return true;
  return httpStatus(err) === 404 && !(err instanceof S3ServiceException && err.name === 'NoSuchBucket');
}

/**
 * Blobs in an S3-compatible bucket (AWS S3, Alibaba OSS, Tencent COS, MinIO, Cloudflare R2) through the
 * AWS SDK v3. Buffers go up with one PutObject; streams with lib-storage's `Upload` (multipart above
 * one part), so a large video is never held whole in memory. `url()` is a presigned GET.
 *
 * Request checksums are computed only when an operation requires them: the SDK's newer default
 * (CRC32 trailers on every upload, aws-chunked encoding) is refused by many S3-compatible servers.
 */
export class S3BlobStore implements BlobStore {
  readonly kind = 's3';
  readonly bucket: string;
  readonly client: S3Client;
  private readonly keyPrefix: string;
  private readonly defaultExpiry: number;
  private readonly partSize: number;

  constructor(options: S3BlobStoreOptions) {
    if (!options.bucket) throw new BlobStoreError('config', 'S3BlobStore needs a bucket');
    this.bucket = options.bucket;
    this.keyPrefix = options.keyPrefix ?? '';
    if (this.keyPrefix !== '') {
      if (!this.keyPrefix.endsWith('/')) throw new BlobStoreError('config', 'S3 keyPrefix must end with "/"');
      assertValidBlobKey(this.keyPrefix.slice(0, -1));
    }
    this.defaultExpiry = options.defaultUrlExpirySeconds ?? 3600;
    this.partSize = Math.max(5 * 1024 * 1024, options.partSizeBytes ?? 8 * 1024 * 1024);
    const config: S3ClientConfig = {
      region: options.region ?? 'us-east-1',
      forcePathStyle: options.forcePathStyle ?? false,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    };
    if (options.endpoint !== undefined) config.endpoint = options.endpoint;
    if (options.credentials !== undefined) config.credentials = options.credentials;
    if (options.maxAttempts !== undefined) config.maxAttempts = options.maxAttempts;
    this.client = new S3Client(config);
  }

  private objectKey(key: string): string {
    return this.keyPrefix + assertValidBlobKey(key);
  }

  async put(key: string, data: Buffer | Readable, contentType: string): Promise<StoredBlob> {
    const Key = this.objectKey(key);
    try {
      if (Buffer.isBuffer(data)) {
        await this.client.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key,
            Body: data,
            ContentType: contentType,
            ContentLength: data.length,
          }),
        );
        return { key, size: data.length, contentType };
      }
      // Count bytes on the way through: the size of a stream is known only at its end.
      let size = 0;
      const counted = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          size += chunk.length;
          callback(null, chunk);
        },
      });
      data.on('error', (err) => counted.destroy(err));
      data.pipe(counted);
      const upload = new Upload({
        client: this.client,
        params: { Bucket: this.bucket, Key, Body: counted, ContentType: contentType },
        partSize: this.partSize,
        queueSize: 2,
        leavePartsOnError: false,
      });
      await upload.done();
      return { key, size, contentType };
    } catch (err) {
      throw this.mapError(err, key, 'put');
    }
  }

  async get(key: string): Promise<Buffer> {
    const Key = this.objectKey(key);
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key }));
      if (!out.Body) throw new BlobStoreError('backend', 'S3 GetObject returned no body', { key });
      return Buffer.from(await out.Body.transformToByteArray());
    } catch (err) {
      throw this.mapError(err, key, 'get');
    }
  }

  async stream(key: string): Promise<Readable> {
    const Key = this.objectKey(key);
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key }));
      const body = out.Body;
      if (!body) throw new BlobStoreError('backend', 'S3 GetObject returned no body', { key });
      // In Node the body is an http.IncomingMessage (a Readable) mixed with SDK helpers.
      if (body instanceof Readable) return body;
      return Readable.fromWeb(body.transformToWebStream() as Parameters<typeof Readable.fromWeb>[0]);
    } catch (err) {
      throw this.mapError(err, key, 'stream');
    }
  }

  async exists(key: string): Promise<boolean> {
    const Key = this.objectKey(key);
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key }));
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw this.mapError(err, key, 'exists');
    }
  }

  async delete(key: string): Promise<void> {
    const Key = this.objectKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key }));
    } catch (err) {
      if (isNotFound(err)) return;
      throw this.mapError(err, key, 'delete');
    }
  }

  /** A presigned GET URL, valid for `expiresInSeconds` (default from options; at most 7 days). */
  async url(key: string, expiresInSeconds?: number): Promise<string> {
    const Key = this.objectKey(key);
    const expiresIn = Math.min(MAX_PRESIGN_SECONDS, Math.max(1, Math.floor(expiresInSeconds ?? this.defaultExpiry)));
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key }), { expiresIn });
  }

  /** Closes the client's sockets. */
  destroy(): void {
    this.client.destroy();
  }

  private mapError(err: unknown, key: string, op: string): BlobStoreError {
    if (err instanceof BlobStoreError) return err;
    if (isNotFound(err)) {
      return new BlobStoreError('not_found', `no blob under key ${JSON.stringify(key)}`, { key, cause: err });
    }
    const name = err instanceof Error ? err.name : 'error';
    if (name === 'NoSuchBucket') {
      return new BlobStoreError('config', `S3 bucket ${JSON.stringify(this.bucket)} does not exist`, { key, cause: err });
    }
    const status = httpStatus(err);
    return new BlobStoreError('backend', `S3 ${op} failed: ${name}${status ? ` (HTTP ${status})` : ''}`, {
      key,
      cause: err,
    });
  }
}
