import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAigcMetadata } from './aigc-label.ts';
import { encodeVideo, type EncodedVideo } from './encode-video.ts';
import { probeVideo } from './ffprobe.ts';
import { fitToBudget } from './fit-to-budget.ts';
import { noiseFrames } from './video-test-support.ts';

let dir: string;
let noisy: EncodedVideo;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'framecast-budget-'));
  // 2 s of RGB noise: about 1 MB at CRF 20, far over the budgets below.
  noisy = await encodeVideo(
    { kind: 'frames', frames: noiseFrames(320, 192, 32), width: 320, height: 192, fps: 16 },
    { outputPath: path.join(dir, 'noise.mp4'), aigc: { contentProducer: 'Framecast', produceId: 'job-noise' }, preset: 'veryfast' },
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('fitToBudget', () => {
  it('leaves a video that already fits untouched', async () => {
    const r = await fitToBudget(noisy, noisy.bytes);
    expect(r).toEqual({ fits: true, reencoded: false, video: noisy, attempts: [] });
  });

  it('re-encodes a noisy video under a small budget, keeping size, frames, poster and AIGC metadata', async () => {
    expect(noisy.bytes).toBeGreaterThan(500_000);
    const budget = 150_000;
    const r = await fitToBudget(noisy, budget, { preset: 'veryfast' });
    if (!r.fits || !r.reencoded) throw new Error(`expected a re-encode that fits, got ${JSON.stringify(r)}`);
    expect(r.video.bytes).toBeLessThanOrEqual(budget);
    expect(r.video.path).toBe(path.join(dir, 'noise.fit.mp4'));
    expect(r.video).toMatchObject({ width: 320, height: 192, frames: 32, fps: 16, codec: 'h264', posterPath: noisy.posterPath });
    expect((await probeVideo(r.video.path)).pixFmt).toBe('yuv420p');
    expect((await readAigcMetadata(r.video.path))?.ProduceID).toBe('job-noise');
    expect(r.attempts.length).toBeGreaterThanOrEqual(1);
    expect(r.attempts.length).toBeLessThanOrEqual(2);
    expect(r.attempts.at(-1)?.bytes).toBe(r.video.bytes);
    // The first try's bitrate comes from the duration: 0.9 × 150 000 B × 8 / 2 s.
    expect(r.attempts[0]?.videoKbps).toBe(540);
  });

  it('tries twice at full size, then scales down, then asks for a link', async () => {
    const r = await fitToBudget(noisy, 1200, {
      preset: 'veryfast',
      minVideoKbps: 1,
      minSide: 64,
      outputPath: path.join(dir, 'tiny.mp4'),
    });
    expect(r.fits).toBe(false);
    if (r.fits) return;
    expect(r.needsLink).toBe(true);
    expect(r.video).toBe(noisy);
    expect(r.attempts.map((a) => [a.width, a.height])).toEqual([
      [320, 192],
      [320, 192],
      [240, 144],
      [160, 96],
    ]);
    for (const a of r.attempts) expect(a.bytes).toBeGreaterThan(1200);
    const left = await readdir(dir);
    expect(left.filter((f) => f.startsWith('tiny'))).toEqual([]);
  });

  it('asks for a link at once when the bitrate would be below the floor', async () => {
    const r = await fitToBudget(noisy, 3000);
    expect(r).toMatchObject({ fits: false, needsLink: true, attempts: [] });
  });
});
