/**
 * The bad-input corpus for image intake: every file here is either refused with a clear code and
 * a message in both languages, or accepted and re-encoded cleanly. Nothing throws, nothing hangs,
 * nothing fetches. Fixtures are generated here with real sharp (big and corrupt ones included);
 * the two committed ones in fixtures/bad-input are a few hundred bytes.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import { deflateSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import {
  createSafeFetcher,
  decodeImageSafely,
  fetchImageSafely,
  resizeForConditioning,
  sniffImageFormat,
  type SafeImageResult,
  type SafeImageOk,
} from '@framecast/content-safety';

const MB = 1024 * 1024;
const fixture = (name: string): Promise<Buffer> => readFile(fileURLToPath(new URL(`./fixtures/bad-input/${name}`, import.meta.url)));

function expectRefused(r: SafeImageResult, code: string): void {
  if (r.ok) throw new Error(`expected refusal ${code}, got ok ${r.width}x${r.height}`);
  expect(r.code).toBe(code);
  expect(r.message.en.length).toBeGreaterThan(5);
  expect(r.message['zh-CN']).toMatch(/[\u4e00-\u9fff]/);
}

function expectOk(r: SafeImageResult): SafeImageOk {
  if (!r.ok) throw new Error(`expected ok, got ${r.code}: ${r.message.en}`);
  expect(r.rgb.length).toBe(r.width * r.height * 3);
  return r;
}

function pixel(r: { rgb: Buffer; width: number }, x: number, y: number): number[] {
  const i = (y * r.width + x) * 3;
  return [r.rgb[i] ?? -1, r.rgb[i + 1] ?? -1, r.rgb[i + 2] ?? -1];
}

function near(actual: number[], expected: number[], tol = 12): boolean {
  return actual.every((v, i) => Math.abs(v - (expected[i] ?? 0)) <= tol);
}

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = (crcTable[(c ^ b) & 0xff] ?? 0) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
/** A PNG whose header claims width × height but carries only a few KB of compressed rows. */
function hugePngHeaderOnly(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const rows = deflateSync(Buffer.alloc((width * 3 + 1) * 4)); // 4 rows of zeros, then nothing
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk('IHDR', ihdr), pngChunk('IDAT', rows), pngChunk('IEND', Buffer.alloc(0))]);
}

/** A deterministic PRNG, so a failing fuzz case can be reproduced. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

let photoJpeg: Buffer;
let photoPng: Buffer;
let halvesJpeg: Buffer; // 40×20: left half red, right half blue

beforeAll(async () => {
  const noise = sharp({ create: { width: 320, height: 240, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } } });
  photoJpeg = await noise.clone().jpeg({ quality: 85 }).toBuffer();
  photoPng = await noise.clone().png().toBuffer();
  const halves = Buffer.alloc(40 * 20 * 3);
  for (let y = 0; y < 20; y++)
    for (let x = 0; x < 40; x++) halves.set(x < 20 ? [255, 0, 0] : [0, 0, 255], (y * 40 + x) * 3);
  halvesJpeg = await sharp(halves, { raw: { width: 40, height: 20, channels: 3 } }).jpeg({ quality: 95 }).toBuffer();
});

describe('refused', () => {
  it('a 0-byte file', async () => {
    expectRefused(await decodeImageSafely(Buffer.alloc(0)), 'empty');
  });

  it('truncated JPEG and PNG', async () => {
    for (const cut of [0.3, 0.5, 0.9]) {
      expectRefused(await decodeImageSafely(photoJpeg.subarray(0, Math.floor(photoJpeg.length * cut))), 'corrupt');
      expectRefused(await decodeImageSafely(photoPng.subarray(0, Math.floor(photoPng.length * cut))), 'corrupt');
    }
    expectRefused(await decodeImageSafely(photoJpeg.subarray(0, 3)), 'corrupt');
    expectRefused(await decodeImageSafely(photoPng.subarray(0, 8)), 'corrupt');
  });

  it('corrupt bytes behind a valid magic, and random bytes', async () => {
    const r = prng(7);
    const garbage = Buffer.from(Array.from({ length: 4096 }, () => Math.floor(r() * 256)));
    expectRefused(await decodeImageSafely(Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), garbage])), 'corrupt');
    expectRefused(await decodeImageSafely(Buffer.concat([photoPng.subarray(0, 8), garbage])), 'corrupt');
    expectRefused(await decodeImageSafely(garbage), 'unsupported_format');
  });

  it('a 20000×20000 PNG, refused from its header before decoding', async () => {
    const png = hugePngHeaderOnly(20000, 20000);
    expect(png.length).toBeLessThan(200_000);
    expectRefused(await decodeImageSafely(png), 'too_many_pixels');
    // a generous pixel budget still meets the side limit
    expectRefused(await decodeImageSafely(png, { maxPixels: 1e9 }), 'side_too_long');
  });

  it('a JPEG whose header lies about its size', async () => {
    const lying = Buffer.from(photoJpeg);
    // find the SOF0 marker and claim 30000×30000
    const sof = lying.indexOf(Buffer.from([0xff, 0xc0]));
    expect(sof).toBeGreaterThan(0);
    lying.writeUInt16BE(30000, sof + 5);
    lying.writeUInt16BE(30000, sof + 7);
    expectRefused(await decodeImageSafely(lying), 'too_many_pixels');
    // and within the pixel budget, the body does not match the header
    lying.writeUInt16BE(3000, sof + 5);
    lying.writeUInt16BE(3000, sof + 7);
    expectRefused(await decodeImageSafely(lying), 'corrupt');
  });

  it('an SVG with external references: refused without rendering or fetching anything', async () => {
    let hits = 0;
    const server = http.createServer((_req, res) => {
      hits++;
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const committed = await fixture('external-ref.svg');
      expect(committed.toString()).toContain('169.254.169.254');
      expectRefused(await decodeImageSafely(committed), 'svg');
      const local = Buffer.from(
        `\uFEFF  <?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><image href="http://127.0.0.1:${port}/x.png" width="10" height="10"/></svg>`,
      );
      expectRefused(await decodeImageSafely(local), 'svg');
      expect(hits).toBe(0);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('a PDF renamed to .png, and other formats that are not accepted', async () => {
    expectRefused(await decodeImageSafely(await fixture('renamed-pdf.png')), 'pdf');
    const gif = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#00ff00' } }).gif().toBuffer();
    expectRefused(await decodeImageSafely(gif), 'unsupported_format');
    const tiff = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#00ff00' } }).tiff().toBuffer();
    expectRefused(await decodeImageSafely(tiff), 'unsupported_format');
    const avif = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#00ff00' } }).avif().toBuffer();
    expect(sniffImageFormat(avif)).toBe('avif');
    expectRefused(await decodeImageSafely(avif), 'unsupported_format');
    expectRefused(await decodeImageSafely(Buffer.from('<!doctype html><script>alert(1)</script>')), 'unsupported_format');
  });

  it('polyglots whose first bytes are not an accepted image (GIFAR, a ZIP holding a JPEG)', async () => {
    const gif = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#00ff00' } }).gif().toBuffer();
    const zipLocalHeader = Buffer.from('504b0304140000000000', 'hex');
    const gifar = Buffer.concat([gif, zipLocalHeader, Buffer.from('META-INF/MANIFEST.MF evil.class')]);
    expect(sniffImageFormat(gifar)).toBe('gif');
    expectRefused(await decodeImageSafely(gifar), 'unsupported_format');
    const zipWithJpeg = Buffer.concat([zipLocalHeader, Buffer.from('photo.jpg'), photoJpeg]);
    expectRefused(await decodeImageSafely(zipWithJpeg), 'unsupported_format');
  });

  it('a 50 MB buffer by maxBytes, before any decoding', async () => {
    const big = Buffer.alloc(50 * MB);
    photoJpeg.copy(big);
    expectRefused(await decodeImageSafely(big), 'too_large');
  });

  it('a 50 MB download, stopped while streaming from a local server', async () => {
    let written = 0;
    let finished = false;
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'image/jpeg' });
      const chunk = Buffer.alloc(256 * 1024, 0x11);
      photoJpeg.copy(chunk);
      const pump = (): void => {
        while (written < 50 * MB) {
          written += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        finished = true;
        res.end();
      };
      pump();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const fetcher = createSafeFetcher({ maxBytes: 20 * MB, timeoutMs: 20_000, allowPrivateCidrs: ['127.0.0.1/32'] });
      const r = await fetchImageSafely(`http://127.0.0.1:${port}/upload.jpg`, fetcher);
      expectRefused(r, 'too_large');
      expect(r.ok === false && r.fetchCode).toBe('too_large');
      expect(finished).toBe(false);
      expect(written).toBeLessThan(50 * MB);
      // and the guard still applies: without the test-only trust the same URL is refused
      const strict = createSafeFetcher({ maxBytes: 20 * MB, timeoutMs: 20_000 });
      const blocked = await fetchImageSafely(`http://127.0.0.1:${port}/upload.jpg`, strict);
      expectRefused(blocked, 'fetch_failed');
      expect(blocked.ok === false && blocked.fetchCode).toBe('blocked_address');
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('never throws on randomly damaged JPEG and PNG files', async () => {
    const r = prng(42);
    const outcomes = new Map<string, number>();
    for (const base of [photoJpeg, photoPng]) {
      for (let i = 0; i < 40; i++) {
        const damaged = Buffer.from(base);
        const flips = 1 + Math.floor(r() * 20);
        for (let k = 0; k < flips; k++) damaged[8 + Math.floor(r() * (damaged.length - 8))] = Math.floor(r() * 256);
        const res = await decodeImageSafely(damaged);
        const key = res.ok ? 'ok' : res.code;
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
        if (res.ok) expect(res.rgb.length).toBe(res.width * res.height * 3);
      }
    }
    expect([...outcomes.keys()].every((k) => ['ok', 'corrupt', 'too_many_pixels', 'side_too_long'].includes(k))).toBe(true);
    expect(outcomes.get('corrupt') ?? 0).toBeGreaterThan(0);
  });
});

describe('accepted and cleaned', () => {
  it('a JPEG followed by a ZIP and by an HTML/JS payload: decoded, re-encoded without the payload', async () => {
    const clean = expectOk(await decodeImageSafely(photoJpeg));
    for (const payload of [Buffer.concat([Buffer.from('504b0304', 'hex'), Buffer.from('evil.zip-entry PAYLOAD-MARKER')]), Buffer.from('<html><script>alert("PAYLOAD-MARKER")</script></html>')]) {
      const poly = Buffer.concat([photoJpeg, payload]);
      const r = expectOk(await decodeImageSafely(poly));
      expect(r.format).toBe('jpeg');
      expect(r.normalized.includes('PAYLOAD-MARKER')).toBe(false);
      expect(r.normalized.includes(Buffer.from('504b0304', 'hex'))).toBe(false);
      expect(r.rgb.equals(clean.rgb)).toBe(true);
      expect(r.sha256).toBe(clean.sha256);
    }
  });

  it('an animated WebP: first frame only', async () => {
    const frame = (rgb: number[]): Buffer => Buffer.alloc(16 * 16 * 3).fill(Buffer.from(rgb));
    const frames = Buffer.concat([frame([255, 0, 0]), frame([0, 255, 0]), frame([0, 0, 255])]);
    const webp = await sharp(frames, { raw: { width: 16, height: 48, channels: 3, pageHeight: 16 } }).webp({ loop: 0, delay: [100, 100, 100], lossless: true }).toBuffer();
    expect((await sharp(webp, { animated: true }).metadata()).pages).toBe(3);
    const r = expectOk(await decodeImageSafely(webp));
    expect(r.format).toBe('webp');
    expect(r.pages).toBe(3);
    expect([r.width, r.height]).toEqual([16, 16]);
    expect(near(pixel(r, 8, 8), [255, 0, 0])).toBe(true);
    expect(r.normalizedFormat).toBe('png');
  });

  it('an EXIF-rotated JPEG: orientation applied, EXIF gone', async () => {
    const rotated = await sharp(halvesJpeg).withExif({ IFD0: { Copyright: 'EXIF-OWNER-MARKER' } }).withMetadata({ orientation: 6 }).jpeg({ quality: 95 }).toBuffer();
    const before = await sharp(rotated).metadata();
    expect(before.orientation).toBe(6);
    expect(rotated.includes('EXIF-OWNER-MARKER')).toBe(true);
    const r = expectOk(await decodeImageSafely(rotated));
    // orientation 6 = rotate 90° clockwise to display: the left (red) half ends up on top
    expect([r.width, r.height]).toEqual([20, 40]);
    expect(near(pixel(r, 10, 5), [255, 0, 0], 40)).toBe(true);
    expect(near(pixel(r, 10, 35), [0, 0, 255], 40)).toBe(true);
    const after = await sharp(r.normalized).metadata();
    expect(after.exif).toBeUndefined();
    expect(after.orientation).toBeUndefined();
    expect(r.normalized.includes('EXIF-OWNER-MARKER')).toBe(false);
  });

  it('a CMYK JPEG: converted to RGB', async () => {
    const cmyk = await sharp({ create: { width: 24, height: 24, channels: 3, background: '#ff0000' } }).toColourspace('cmyk').jpeg().toBuffer();
    expect((await sharp(cmyk).metadata()).space).toBe('cmyk');
    const r = expectOk(await decodeImageSafely(cmyk));
    expect(near(pixel(r, 12, 12), [255, 0, 0], 40)).toBe(true);
  });

  it('a 16-bit PNG with alpha: flattened on white, 8-bit RGB', async () => {
    // left half opaque green, right half fully transparent; written as 16 bits per sample
    const rgba8 = await sharp({ create: { width: 4, height: 8, channels: 4, background: { r: 0, g: 255, b: 0, alpha: 1 } } })
      .extend({ right: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } })
      .png()
      .toBuffer();
    const png16 = await sharp(rgba8).toColourspace('rgb16').png().toBuffer();
    // IHDR: bit depth 16, colour type 6 (RGBA)
    expect([png16[24], png16[25]]).toEqual([16, 6]);
    const r = expectOk(await decodeImageSafely(png16));
    expect(near(pixel(r, 1, 1), [0, 255, 0])).toBe(true);
    expect(near(pixel(r, 6, 6), [255, 255, 255])).toBe(true);
  });

  it('greyscale and palette PNGs and a lossy WebP: 3-channel RGB', async () => {
    const grey = await sharp(Buffer.alloc(64, 100), { raw: { width: 8, height: 8, channels: 1 } }).png().toBuffer();
    expect(pixel(expectOk(await decodeImageSafely(grey)), 3, 3)).toEqual([100, 100, 100]);
    const palette = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#0000ff' } }).png({ palette: true }).toBuffer();
    expect(near(pixel(expectOk(await decodeImageSafely(palette)), 3, 3), [0, 0, 255])).toBe(true);
    const webp = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#ffff00' } }).webp().toBuffer();
    expect(expectOk(await decodeImageSafely(webp)).format).toBe('webp');
  });

  it('fetchImageSafely: a good URL from a trusted local server', async () => {
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'image/jpeg' });
      res.end(halvesJpeg);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const fetcher = createSafeFetcher({ maxBytes: 5 * MB, timeoutMs: 10_000, allowPrivateCidrs: ['127.0.0.1/32'], allowedContentTypes: ['image/*'] });
      const r = expectOk(await fetchImageSafely(`http://127.0.0.1:${port}/a.jpg`, fetcher));
      expect([r.width, r.height]).toEqual([40, 20]);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

describe('resizeForConditioning', () => {
  it('cover-crops around the centre to exactly width × height RGB24', async () => {
    const src = expectOk(await decodeImageSafely(halvesJpeg)); // 40×20, red | blue
    const square = await resizeForConditioning(src, 10, 10);
    expect(square.length).toBe(10 * 10 * 3);
    // centre crop keeps columns 10..29: the left half stays red, the right half blue
    expect(near(pixel({ rgb: square, width: 10 }, 1, 5), [255, 0, 0], 40)).toBe(true);
    expect(near(pixel({ rgb: square, width: 10 }, 8, 5), [0, 0, 255], 40)).toBe(true);
    const tall = await resizeForConditioning(src, 9, 16);
    expect(tall.length).toBe(9 * 16 * 3);
    const up = await resizeForConditioning(src, 832, 480);
    expect(up.length).toBe(832 * 480 * 3);
    await expect(resizeForConditioning(src, 0, 10)).rejects.toThrow(RangeError);
    await expect(resizeForConditioning({ rgb: Buffer.alloc(5), width: 2, height: 2 }, 4, 4)).rejects.toThrow(RangeError);
  });
});

