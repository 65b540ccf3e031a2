/**
 * Safe intake of user-supplied images (reference images for image-to-video, images to moderate).
 *
 * Decisions, and why:
 * - Format by magic bytes only; JPEG, PNG and WebP are decoded. GIF is refused: chat stickers
 *   are its main use, it is an animation container with a palette, and the first frame of a GIF
 *   is rarely what a user means as a reference photo; refusing it keeps the decoder surface small.
 *   SVG (scriptable, can reference external URLs — an SSRF path inside a renderer), PDF, HEIF/AVIF,
 *   TIFF, BMP and anything unknown are refused with a code that says which.
 * - Polyglots: the first bytes decide. A JPEG with bytes appended (a ZIP, HTML or a script) is
 *   decoded as the JPEG it starts as and re-encoded from pixels, so nothing after the image
 *   survives into `normalized`. A file that starts as a GIF (a GIFAR), a ZIP or anything else not
 *   accepted is refused.
 * - Dimensions are read with `metadata()` (headers only) and refused before any pixel is decoded;
 *   the decoder also carries `limitInputPixels` in case a header lies.
 * - `failOn: 'warning'`: a truncated or damaged file is refused rather than decoded with grey or
 *   garbage filling the missing part. A half-decoded image would be moderated and used as a first
 *   frame in a state the user never saw; asking them to send it again is the better outcome.
 * - `animated: false`: an animated WebP (or APNG) yields its first frame.
 * - EXIF orientation is applied, then all metadata is dropped: `normalized` is re-encoded from
 *   raw RGB pixels, so no EXIF (GPS!), ICC or XMP from the upload reaches storage or a model.
 * - Colour: CMYK, greyscale, 16-bit and palette inputs are converted to 8-bit sRGB; alpha is
 *   flattened onto white.
 */
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import type { Metadata, OutputInfo, Sharp } from 'sharp';
import type { SafeFetcher } from '../fetch/safe-fetcher.ts';
import { SafeFetchError } from '../fetch/safe-fetch-error.ts';
import { tAll, type LocalizedText } from '@framecast/core';
import type { SafeFetchErrorCode } from '../fetch/safe-fetch-error.ts';
import { isAcceptedFormat, sniffImageFormat } from './image-format-sniffer.ts';
import type { AcceptedImageFormat } from './image-format-sniffer.ts';

export interface DecodeImageOptions {
  /** Largest width × height accepted; default 40e6. */
  maxPixels?: number;
  /** Largest file accepted; default 20 MiB. */
  maxBytes?: number;
  /** Longest side accepted; default 16384. */
  maxSide?: number;
}

export type SafeImageErrorCode =
  | 'empty'
  | 'too_large'
  | 'unsupported_format'
  | 'svg'
  | 'pdf'
  | 'too_many_pixels'
  | 'side_too_long'
  | 'corrupt'
  /** Only from fetchImageSafely: the URL could not be fetched (see fetchCode). */
  | 'fetch_failed';

export interface SafeImageOk {
  ok: true;
  /** Packed 8-bit sRGB, width × height × 3 bytes, orientation applied. */
  rgb: Buffer;
  width: number;
  height: number;
  /** The format the upload was in. */
  format: AcceptedImageFormat;
  /** SHA-256 (hex) of `normalized`. */
  sha256: string;
  /** A clean re-encoding from pixels, with no metadata: JPEG for JPEG uploads, PNG otherwise. */
  normalized: Buffer;
  normalizedFormat: 'jpeg' | 'png';
  /** Frames in the upload (> 1 for an animated WebP/PNG; only the first was decoded). */
  pages: number;
}

export interface SafeImageRefused {
  ok: false;
  code: SafeImageErrorCode;
  message: LocalizedText;
  /** For code 'fetch_failed' (and 'too_large' found while downloading). */
  fetchCode?: SafeFetchErrorCode;
}

export type SafeImageResult = SafeImageOk | SafeImageRefused;

export const DEFAULT_MAX_PIXELS = 40_000_000;
export const DEFAULT_MAX_IMAGE_BYTES = 20 * 1024 * 1024;
export const DEFAULT_MAX_SIDE = 16_384;
/** libvips gives up on one image after this long (a guard against pathological files). */
const DECODE_TIMEOUT_SECONDS = 30;

function mib(n: number): string {
  return `${Math.round((n / 1024 / 1024) * 10) / 10} MB`;
}

function refuse(code: SafeImageErrorCode, message: LocalizedText, fetchCode?: SafeFetchErrorCode): SafeImageRefused {
  return fetchCode === undefined ? { ok: false, code, message } : { ok: false, code, message, fetchCode };
}

/** What the user is told, from the catalogue. */
const MESSAGES = {
  empty: (): LocalizedText => tAll('image.empty'),
  tooLarge: (max: number): LocalizedText => tAll('image.too_large', { max: mib(max) }),
  unsupported: (): LocalizedText => tAll('image.unsupported'),
  svg: (): LocalizedText => tAll('image.svg'),
  pdf: (): LocalizedText => tAll('image.pdf'),
  pixels: (w: number, h: number, max: number): LocalizedText => tAll('image.too_many_pixels', { width: w, height: h, megapixels: Math.round(max / 1e6) }),
  side: (w: number, h: number, max: number): LocalizedText => tAll('image.side_too_long', { width: w, height: h, max }),
  corrupt: (): LocalizedText => tAll('image.corrupt'),
};

function sharpInput(input: Buffer, maxPixels: number): Sharp {
  return sharp(input, {
    failOn: 'warning',
    limitInputPixels: maxPixels,
    animated: false,
    sequentialRead: true,
  }).timeout({ seconds: DECODE_TIMEOUT_SECONDS });
}

export async function decodeImageSafely(input: Buffer, opts: DecodeImageOptions = {}): Promise<SafeImageResult> {
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_IMAGE_BYTES;
  const maxSide = opts.maxSide ?? DEFAULT_MAX_SIDE;

  if (input.length === 0) return refuse('empty', MESSAGES.empty());
  if (input.length > maxBytes) return refuse('too_large', MESSAGES.tooLarge(maxBytes));

  const sniffed = sniffImageFormat(input);
  if (sniffed === 'svg') return refuse('svg', MESSAGES.svg());
  if (sniffed === 'pdf') return refuse('pdf', MESSAGES.pdf());
  if (!isAcceptedFormat(sniffed)) return refuse('unsupported_format', MESSAGES.unsupported());

  // Headers only: refuse oversized images before a single pixel is decoded.
  let meta: Metadata;
  try {
    meta = await sharp(input, { failOn: 'warning', limitInputPixels: false, animated: false }).metadata();
  } catch {
    return refuse('corrupt', MESSAGES.corrupt());
  }
  if (meta.format !== sniffed) return refuse('corrupt', MESSAGES.corrupt());
  const w = meta.width;
  const h = meta.height;
  if (!w || !h) return refuse('corrupt', MESSAGES.corrupt());
  if (w * h > maxPixels) return refuse('too_many_pixels', MESSAGES.pixels(w, h, maxPixels));
  if (Math.max(w, h) > maxSide) return refuse('side_too_long', MESSAGES.side(w, h, maxSide));

  let decoded: { data: Buffer; info: OutputInfo };
  try {
    decoded = await sharpInput(input, maxPixels)
      .autoOrient()
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    const text = err instanceof Error ? err.message : '';
    if (/pixel limit/i.test(text)) return refuse('too_many_pixels', MESSAGES.pixels(w, h, maxPixels));
    return refuse('corrupt', MESSAGES.corrupt());
  }
  const { data, info } = decoded;
  if (info.channels !== 3 || data.length !== info.width * info.height * 3) return refuse('corrupt', MESSAGES.corrupt());

  const normalizedFormat = sniffed === 'jpeg' ? 'jpeg' : 'png';
  const clean = sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } });
  const normalized = await (normalizedFormat === 'jpeg'
    ? clean.jpeg({ quality: 90 })
    : clean.png({ compressionLevel: 6 })
  ).toBuffer();

  return {
    ok: true,
    rgb: data,
    width: info.width,
    height: info.height,
    format: sniffed,
    sha256: createHash('sha256').update(normalized).digest('hex'),
    normalized,
    normalizedFormat,
    pages: meta.pages ?? 1,
  };
}

export interface FetchImageOptions extends DecodeImageOptions {
  signal?: AbortSignal;
}

/**
 * Downloads a user-supplied image URL through the SSRF-guarded fetcher, then decodes it safely.
 * Refusals (blocked address, too large, not an image…) are values; only programming errors throw.
 * The download is capped by the fetcher's own `maxBytes` and by `opts.maxBytes`.
 */
export async function fetchImageSafely(
  url: string,
  fetcher: Pick<SafeFetcher, 'fetchBuffer'>,
  opts: FetchImageOptions = {},
): Promise<SafeImageResult> {
  let body: Buffer;
  try {
    body = (await fetcher.fetchBuffer(url, opts.signal ? { signal: opts.signal } : undefined)).body;
  } catch (err) {
    if (err instanceof SafeFetchError) {
      if (err.code === 'too_large') return refuse('too_large', MESSAGES.tooLarge(opts.maxBytes ?? DEFAULT_MAX_IMAGE_BYTES), err.code);
      return refuse('fetch_failed', err.userMessage, err.code);
    }
    throw err;
  }
  return decodeImageSafely(body, opts);
}
