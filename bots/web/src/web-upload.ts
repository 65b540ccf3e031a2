import busboy from 'busboy';
import type { Context } from 'koa';
import { WebError } from './web-error.ts';
import { megabytes } from './web-page.ts';

/** Image types the playground accepts (the core's image intake decodes and checks them again). */
export const WEB_IMAGE_TYPES: ReadonlySet<string> = new Set(['image/jpeg', 'image/png', 'image/webp']);

export interface UploadedImage {
  bytes: Buffer;
  contentType: string;
  name: string;
}

export interface SubmitForm {
  fields: Record<string, string>;
  image?: UploadedImage;
}

export interface ParseFormOptions {
  /** Largest image in bytes (413 `image_too_large` past it). */
  maxImageBytes: number;
  /** Largest text field in bytes. */
  maxFieldBytes: number;
  /** Field names kept; others are ignored. */
  fields: readonly string[];
}

/**
 * A `multipart/form-data` submission (text fields and at most one file field `image`), read with
 * busboy under limits: one file, a few fields, each bounded; an image past `maxImageBytes` or not
 * a JPEG/PNG/WebP is refused as soon as that is known, without buffering the rest.
 */
export function parseSubmitForm(ctx: Context, opts: ParseFormOptions): Promise<SubmitForm> {
  if (!ctx.is('multipart/form-data')) return Promise.reject(new WebError(415, 'bad_request'));
  return new Promise<SubmitForm>((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({
        headers: ctx.req.headers,
        limits: { fileSize: opts.maxImageBytes, files: 1, fields: 8, parts: 10, fieldSize: opts.maxFieldBytes, fieldNameSize: 64 },
      });
    } catch {
      reject(new WebError(400, 'bad_request'));
      return;
    }
    const fields: Record<string, string> = {};
    let image: UploadedImage | undefined;
    let failed = false;
    let pending = 0;
    let closed = false;
    const mb = megabytes(opts.maxImageBytes);
    const fail = (err: WebError): void => {
      if (failed) return;
      failed = true;
      ctx.req.unpipe(bb);
      ctx.req.resume();
      reject(err);
    };
    const done = (): void => {
      if (!failed && closed && pending === 0) resolve(image === undefined ? { fields } : { fields, image });
    };
    bb.on('field', (name, value, info) => {
      if (info.valueTruncated) return fail(new WebError(400, 'bad_request'));
      if (opts.fields.includes(name)) fields[name] = value;
    });
    bb.on('file', (name, stream, info) => {
      // A file input with no file chosen sends a part with an empty filename: no image.
      if (name !== 'image' || image !== undefined || info.filename === undefined || info.filename === '') {
        stream.resume();
        return;
      }
      const type = info.mimeType.toLowerCase();
      if (!WEB_IMAGE_TYPES.has(type)) {
        stream.resume();
        return fail(new WebError(415, 'image_type'));
      }
      pending += 1;
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on('data', (c: Buffer) => {
        size += c.length;
        chunks.push(c);
      });
      stream.on('limit', () => fail(new WebError(413, 'image_too_large', { mb })));
      stream.on('end', () => {
        pending -= 1;
        if (failed) return;
        if (size > 0) image = { bytes: Buffer.concat(chunks, size), contentType: type, name: (info.filename ?? 'image').slice(0, 200) };
        done();
      });
    });
    bb.on('filesLimit', () => fail(new WebError(400, 'bad_request')));
    bb.on('fieldsLimit', () => fail(new WebError(400, 'bad_request')));
    bb.on('partsLimit', () => fail(new WebError(400, 'bad_request')));
    bb.on('error', () => fail(new WebError(400, 'bad_request')));
    bb.on('close', () => {
      closed = true;
      done();
    });
    ctx.req.on('aborted', () => fail(new WebError(400, 'bad_request')));
    ctx.req.pipe(bb);
  });
}
