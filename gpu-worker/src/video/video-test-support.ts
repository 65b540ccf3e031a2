/** Helpers for the video tests (not exported from the package). */
import { spawn } from 'node:child_process';

/** Smooth moving gradients with a moving square: content a codec keeps close to the source. */
export function gradientFrames(width: number, height: number, count: number): Uint8Array[] {
  const frames: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const f = new Uint8Array(width * height * 3);
    const sx = (i * 5) % Math.max(1, width - 40);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const o = (y * width + x) * 3;
        const inSquare = x >= sx && x < sx + 32 && y >= 20 && y < 52;
        f[o] = inSquare ? 230 : Math.round((x / width) * 200 + 20);
        f[o + 1] = inSquare ? 40 : Math.round((y / height) * 180 + 40);
        f[o + 2] = inSquare ? 60 : (100 + i * 3) & 255;
      }
    }
    frames.push(f);
  }
  return frames;
}

/** Pseudo-random noise frames (deterministic): incompressible, for byte-budget tests. */
export function noiseFrames(width: number, height: number, count: number, seed = 1): Uint8Array[] {
  let s = seed >>> 0;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s >>> 24;
  };
  return Array.from({ length: count }, () => {
    const f = new Uint8Array(width * height * 3);
    for (let i = 0; i < f.length; i++) f[i] = next();
    return f;
  });
}

/** Decodes frame `index` of a video to RGB24 with the ffmpeg CLI. */
export function extractFrameRgb(file: string, index: number): Promise<Buffer> {
  return runCapture('ffmpeg', [
    '-v', 'error', '-i', file, '-vf', `select=eq(n\\,${index})`, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1',
  ]);
}

export function runCapture(cmd: string, args: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`${cmd} exit ${code}: ${Buffer.concat(err).toString()}`)),
    );
  });
}

/** Mean absolute difference of two RGB24 images over a rectangle. */
export function meanAbsDiff(
  a: Uint8Array,
  b: Uint8Array,
  width: number,
  rect: { x: number; y: number; w: number; h: number },
): number {
  let sum = 0;
  let n = 0;
  for (let y = rect.y; y < rect.y + rect.h; y++) {
    for (let x = rect.x; x < rect.x + rect.w; x++) {
      const o = (y * width + x) * 3;
      for (let c = 0; c < 3; c++) {
        sum += Math.abs(a[o + c]! - b[o + c]!);
        n++;
      }
    }
  }
  return sum / n;
}

/** Top-level mp4 box types in file order. */
export function topLevelBoxes(data: Buffer): string[] {
  const boxes: string[] = [];
  let off = 0;
  while (off + 8 <= data.length) {
    let size = data.readUInt32BE(off);
    const type = data.toString('latin1', off + 4, off + 8);
    if (size === 1) size = Number(data.readBigUInt64BE(off + 8));
    else if (size === 0) size = data.length - off;
    boxes.push(type);
    if (size < 8) break;
    off += size;
  }
  return boxes;
}
