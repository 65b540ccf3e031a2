import { Readable, Transform } from 'node:stream';
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { assertValidBlobKey } from './blob-key.ts';
import { BlobStoreError } from './blob-store-error.ts';
import type { BlobStore, ByteRange, StoredBlob } from './blob-store.ts';

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

/**
 * The AWS SDK takes ~0.4 s to import; load it on the first S3 call so that importing @framecast/core
 * (every bot, every test) does not pay for it when the local store is in use.
 */
interface Sdk {
  s3: typeof import('@aws-sdk/client-s3');
  upload: typeof import('@aws-sdk/lib-storage');
  presigner: typeof import('@aws-sdk/s3-request-presigner');
}
let sdkPromise: Promise<Sdk> | undefined;
function loadSdk(): Promise<Sdk> {
  sdkPromise ??= Promise.all([
    import('@aws-sdk/client-s3'),
    import('@aws-sdk/lib-storage'),
    import('@aws-sdk/s3-request-presigner'),
  ]).then(([s3, upload, presigner]) => ({ s3, upload, presigner }));
  return sdkPromise;
}

function httpStatus(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null || !('$metadata' in err)) return undefined;
  const meta = (err as { $metadata?: { httpStatusCode?: number } }).$metadata;
  return meta?.httpStatusCode;
}

function errorName(err: unknown): string {
  return err instanceof Error ? err.name : 'error';
}

function isNotFound(err: unknown): boolean {
  const name = errorName(err);
  if (name === 'NoSuchKey' || name === 'NotFound') return true;
  return httpStatus(err) === 404 && name !== 'NoSuchBucket';
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
  private readonly clientConfig: S3ClientConfig;
  private clientPromise: Promise<{ sdk: Sdk; client: S3Client }> | undefined;
  private createdClient: S3Client | undefined;
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
    this.clientConfig = config;
  }

  /** The SDK and this store's client, created on first use. */
  private connect(): Promise<{ sdk: Sdk; client: S3Client }> {
    this.clientPromise ??= loadSdk().then((sdk) => {
      const client = new sdk.s3.S3Client(this.clientConfig);
      this.createdClient = client;
      return { sdk, client };
    });
    return this.clientPromise;
  }

  /** The underlying S3Client (for bucket set-up, lifecycle rules and other admin calls). */
  async s3Client(): Promise<S3Client> {
    return (await this.connect()).client;
  }

  private objectKey(key: string): string {
    return this.keyPrefix + assertValidBlobKey(key);
  }

  async put(key: string, data: Buffer | Readable, contentType: string): Promise<StoredBlob> {
    const Key = this.objectKey(key);
    try {
      const { sdk, client } = await this.connect();
      if (Buffer.isBuffer(data)) {
        await client.send(
          new sdk.s3.PutObjectCommand({
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
      const upload = new sdk.upload.Upload({
        client,
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
      const { sdk, client } = await this.connect();
      const out = await client.send(new sdk.s3.GetObjectCommand({ Bucket: this.bucket, Key }));
      if (!out.Body) throw new BlobStoreError('backend', 'S3 GetObject returned no body', { key });
      return Buffer.from(await out.Body.transformToByteArray());
    } catch (err) {
      throw this.mapError(err, key, 'get');
    }
  }

  async stream(key: string, range?: ByteRange): Promise<Readable> {
    const Key = this.objectKey(key);
    if (range !== undefined && !(Number.isSafeInteger(range.start) && Number.isSafeInteger(range.end) && range.start >= 0 && range.end >= range.start)) {
      throw new BlobStoreError('invalid_range', `byte range ${range.start}-${range.end} is not a range`, { key });
    }
    try {
      const { sdk, client } = await this.connect();
      const out = await client.send(new sdk.s3.GetObjectCommand({ Bucket: this.bucket, Key, ...(range === undefined ? {} : { Range: `bytes=${range.start}-${range.end}` }) }));
      const body = out.Body;
      if (!body) throw new BlobStoreError('backend', 'S3 GetObject returned no body', { key });
      // In Node the body is an http.IncomingMessage (a Readable) mixed with SDK helpers.
      if (body instanceof Readable) return body;
      return Readable.fromWeb(body.transformToWebStream() as Parameters<typeof Readable.fromWeb>[0]);
    } catch (err) {
      throw this.mapError(err, key, 'stream');
    }
  }

  async size(key: string): Promise<number> {
    const Key = this.objectKey(key);
    try {
      const { sdk, client } = await this.connect();
      const out = await client.send(new sdk.s3.HeadObjectCommand({ Bucket: this.bucket, Key }));
      if (out.ContentLength === undefined) throw new BlobStoreError('backend', 'S3 HeadObject returned no length', { key });
      return out.ContentLength;
    } catch (err) {
      throw this.mapError(err, key, 'size');
    }
  }

  async exists(key: string): Promise<boolean> {
    const Key = this.objectKey(key);
    try {
      const { sdk, client } = await this.connect();
      await client.send(new sdk.s3.HeadObjectCommand({ Bucket: this.bucket, Key }));
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw this.mapError(err, key, 'exists');
    }
  }

  async delete(key: string): Promise<void> {
    const Key = this.objectKey(key);
    try {
      const { sdk, client } = await this.connect();
      await client.send(new sdk.s3.DeleteObjectCommand({ Bucket: this.bucket, Key }));
    } catch (err) {
      if (isNotFound(err)) return;
      throw this.mapError(err, key, 'delete');
    }
  }

  /** A presigned GET URL, valid for `expiresInSeconds` (default from options; at most 7 days). */
  async url(key: string, expiresInSeconds?: number): Promise<string> {
    const Key = this.objectKey(key);
    const expiresIn = Math.min(MAX_PRESIGN_SECONDS, Math.max(1, Math.floor(expiresInSeconds ?? this.defaultExpiry)));
    const { sdk, client } = await this.connect();
    return sdk.presigner.getSignedUrl(client, new sdk.s3.GetObjectCommand({ Bucket: this.bucket, Key }), { expiresIn });
  }

  /** Closes the client's sockets. */
  destroy(): void {
    this.createdClient?.destroy();
  }

  private mapError(err: unknown, key: string, op: string): BlobStoreError {
    if (err instanceof BlobStoreError) return err;
    if (isNotFound(err)) {
      return new BlobStoreError('not_found', `no blob under key ${JSON.stringify(key)}`, { key, cause: err });
    }
    const name = errorName(err);
    if (name === 'InvalidRange' || httpStatus(err) === 416) {
      return new BlobStoreError('invalid_range', `byte range outside the blob ${JSON.stringify(key)}`, { key, cause: err });
    }
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
