import { randomBytes } from 'node:crypto';
import busboy from 'busboy';
import type { Attachment, BlobStore } from '@framecast/core';
import { decodeImageSafely } from '@framecast/content-safety';
import type { Redis } from 'ioredis';
import type { Context } from 'koa';
import { z } from 'zod';
import { MpError } from './mp-error.ts';

/** Largest reference image accepted (WeChat's own image check takes at most 10 MB). */
export const MP_UPLOAD_MAX_BYTES = 10 * 1024 * 1024;
/** The upload route, for the HTTP server's `acceptUploads` (its larger body limit). */
export const MP_UPLOAD_PATH = /^\/api\/mp\/uploads$/;
/** What the multipart framing around the photo may take of the HTTP server's upload limit. */
export const MULTIPART_ALLOWANCE_BYTES = 64 * 1024;
/** An upload not used by a job within this is forgotten. */
export const MP_UPLOAD_TTL_SECONDS = 24 * 3600;

const UploadRecordSchema = z.object({
  v: z.literal(1),
  owner: z.string(),
  ref: z.string(),
  contentType: z.string(),
  size: z.number().int().nonnegative(),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
});
export type UploadRecord = z.infer<typeof UploadRecordSchema>;

const IMAGE_ID = /^img_[A-Za-z0-9_-]{16,64}$/;

/**
 * Reads the one file of a multipart body (field `file`), stopping as soon as it passes `maxBytes`
 * (the rest of the body is not kept; the connection is closed after the answer).
 */
export function readMultipartFile(ctx: Context, maxBytes: number): Promise<Buffer> {
  const type = ctx.get('Content-Type');
  if (!/^multipart\/form-data/i.test(type)) return Promise.reject(MpError.of(415, 'not_multipart', 'upload_not_multipart'));
  return new Promise<Buffer>((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: ctx.req.headers, limits: { fileSize: maxBytes, files: 1, fields: 10, fieldSize: 1024, parts: 12, headerPairs: 50 } });
    } catch {
      reject(MpError.of(400, 'bad_multipart', 'upload_not_multipart'));
      return;
    }
    let settled = false;
    const fail = (e: MpError): void => {
      if (settled) return;
      settled = true;
      ctx.req.unpipe(bb);
      ctx.req.resume();
      reject(e);
    };
    let file: Buffer | undefined;
    let pending: Promise<void> | undefined;
    bb.on('file', (name, stream) => {
      if (name !== 'file' || file !== undefined || pending !== undefined) {
        stream.resume();
        return;
      }
      pending = new Promise<void>((done) => {
        const chunks: Buffer[] = [];
        let size = 0;
        stream.on('data', (c: Buffer) => {
          size += c.length;
          chunks.push(c);
        });
        stream.on('limit', () => fail(MpError.of(413, 'upload_too_large', 'upload_too_large', { mb: Math.round(maxBytes / 1048576) })));
        stream.on('end', () => {
          file = Buffer.concat(chunks, size);
          done();
        });
        stream.on('error', () => done());
      });
    });
    bb.on('filesLimit', () => fail(MpError.of(400, 'too_many_files', 'upload_too_many')));
    bb.on('partsLimit', () => fail(MpError.of(400, 'too_many_files', 'upload_too_many')));
    bb.on('error', () => fail(MpError.of(400, 'bad_multipart', 'upload_not_multipart')));
    bb.on('close', () => {
      void (pending ?? Promise.resolve()).then(() => {
        if (settled) return;
        settled = true;
        if (file === undefined) reject(MpError.of(400, 'upload_missing', 'upload_missing'));
        else resolve(file);
      });
    });
    ctx.req.on('aborted', () => fail(MpError.of(400, 'request_aborted', 'upload_not_multipart')));
    ctx.req.pipe(bb);
  });
}

/**
 * Reference images of mini program users: decoded by content-safety's image guard at upload (a
 * bad file is refused at once, with its reason), re-encoded clean without metadata, kept in the
 * blob store under `uploads/` and remembered for a day by an opaque id bound to its uploader.
 * The core's image intake checks it again (NSFW, WeChat's check) when a job uses it.
 */
export class MpUploads {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly store: BlobStore,
  ) {}

  private key(imageId: string): string {
    return `${this.prefix}:mp:upload:${imageId}`;
  }

  async accept(owner: string, bytes: Buffer, maxBytes: number): Promise<{ imageId: string; width: number; height: number }> {
    const decoded = await decodeImageSafely(bytes, { maxBytes });
    if (!decoded.ok) throw new MpError(decoded.code === 'too_large' ? 413 : 422, `image_${decoded.code}`, decoded.message);
    const imageId = `img_${randomBytes(16).toString('base64url')}`;
    const ext = decoded.normalizedFormat === 'jpeg' ? 'jpg' : 'png';
    const ref = `uploads/mp-${imageId}.${ext}`;
    const contentType = `image/${decoded.normalizedFormat}`;
    await this.store.put(ref, decoded.normalized, contentType);
    const rec: UploadRecord = { v: 1, owner, ref, contentType, size: decoded.normalized.length, width: decoded.width, height: decoded.height };
    await this.redis.set(this.key(imageId), JSON.stringify(rec), 'EX', MP_UPLOAD_TTL_SECONDS);
    return { imageId, width: decoded.width, height: decoded.height };
  }

  /** The attachment for a job: only the uploader's own, unexpired image. */
  async attachment(owner: string, imageId: string): Promise<Attachment> {
    if (!IMAGE_ID.test(imageId)) throw MpError.of(404, 'image_not_found', 'image_not_found');
    const raw = await this.redis.get(this.key(imageId));
    const rec = raw === null ? undefined : UploadRecordSchema.safeParse(JSON.parse(raw));
    if (rec === undefined || !rec.success || rec.data.owner !== owner) throw MpError.of(404, 'image_not_found', 'image_not_found');
    return { kind: 'image', storageRef: rec.data.ref, contentType: rec.data.contentType, size: rec.data.size };
  }
}
