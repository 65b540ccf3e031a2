import { crc32, deflateSync } from 'node:zlib';

function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const tail = Buffer.alloc(4);
  tail.writeUInt32BE(crc32(body));
  return Buffer.concat([head, body, tail]);
}

/**
 * An RGB PNG with a diagonal gradient between two colours: a reference image for the playground's
 * tests that real decoders read, made without an image library. `noise` adds pseudo-random bytes
 * (from a seed) so that the file does not compress: a way to make an image of a wanted size.
 */
export function gradientPng(width: number, height: number, from: [number, number, number], to: [number, number, number], noise = 0): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  const raw = Buffer.alloc(height * (1 + width * 3));
  let s = 0x9e3779b9;
  for (let y = 0; y < height; y++) {
    const row = y * (1 + width * 3);
    for (let x = 0; x < width; x++) {
      const f = (x + y) / Math.max(1, width + height - 2);
      for (let c = 0; c < 3; c++) {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        const jitter = noise === 0 ? 0 : ((s >>> 24) % (2 * noise + 1)) - noise;
        const v = Math.round((from[c] as number) * (1 - f) + (to[c] as number) * f) + jitter;
        raw[row + 1 + x * 3 + c] = Math.max(0, Math.min(255, v));
      }
    }
  }
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([sig, pngChunk('IHDR', ihdr), pngChunk('IDAT', deflateSync(raw)), pngChunk('IEND', Buffer.alloc(0))]);
}
