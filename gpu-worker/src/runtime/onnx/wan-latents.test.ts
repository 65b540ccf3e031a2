import { describe, expect, it } from 'vitest';
import { RuntimeError } from '../video-runtime.ts';
import {
  applyGuidanceInPlace,
  denormalizeLatents,
  firstFrameMask,
  fromFloat16Bits,
  latentGeometry,
  latentPreview,
  normalizeLatentsInPlace,
  replaceFirstFrameInPlace,
  toFloat16Bits,
  tokenCount,
  videoToRgbFrames,
} from './wan-latents.ts';

const A14B = { latentChannels: 16, spatialFactor: 8, temporalFactor: 4, patchSize: [1, 2, 2] as const };
const TI2V5B = { latentChannels: 48, spatialFactor: 16, temporalFactor: 4, patchSize: [1, 2, 2] as const };

describe('latent geometry', () => {
  it('follows (z, (F−1)/4+1, H/s, W/s)', () => {
    expect(latentGeometry(A14B, 832, 480, 81)).toEqual({ channels: 16, frames: 21, height: 60, width: 104 });
    expect(latentGeometry(TI2V5B, 1280, 704, 121)).toEqual({ channels: 48, frames: 31, height: 44, width: 80 });
    expect(latentGeometry(A14B, 256, 144, 1)).toEqual({ channels: 16, frames: 1, height: 18, width: 32 });
    expect(tokenCount(latentGeometry(A14B, 832, 480, 81), [1, 2, 2])).toBe(21 * 30 * 52);
  });

  it('rejects sizes that are not multiples and frame counts that are not 4k+1', () => {
    const bad: [number, number, number][] = [
      [830, 480, 81],
      [832, 488, 81],
      [1280, 720, 121], // 720 is not a multiple of 32 for the 5B model
      [832, 480, 80],
      [832, 480, 0],
      [0, 480, 81],
    ];
    for (const [w, h, f] of bad) {
      const rules = w === 1280 ? TI2V5B : A14B;
      expect(() => latentGeometry(rules, w, h, f)).toThrow(RuntimeError);
    }
    expect(() => latentGeometry({ ...A14B, limits: { maxWidth: 512, maxHeight: 512, maxFrames: 33 } }, 832, 480, 81)).toThrow(/limits/);
  });
});

describe('tensor helpers', () => {
  it('builds the I2V mask as diffusers does (frame-0 mask repeated ×4, folded into 4 channels)', () => {
    const g = { channels: 16, frames: 3, height: 2, width: 2 };
    // Independent construction: per-pixel-frame mask of 1 + 4·(F'−1) frames, frame 0 repeated 4 times.
    const pixelFrames = 1 + 4 * (g.frames - 1);
    const perFrame = [1, 1, 1, 1, ...new Array<number>(pixelFrames - 1).fill(0)];
    const mask = firstFrameMask(g, 4);
    const plane = g.height * g.width;
    for (let c = 0; c < 4; c++)
      for (let f = 0; f < g.frames; f++)
        for (let p = 0; p < plane; p++) expect(mask[(c * g.frames + f) * plane + p]).toBe(perFrame[f * 4 + c]);
  });

  it('normalise and denormalise are inverses', () => {
    const g = { channels: 2, frames: 1, height: 1, width: 3 };
    const x = Float32Array.of(1, 2, 3, -1, 0, 1);
    const mean = [0.5, -2];
    const std = [2, 0.25];
    const d = denormalizeLatents(x, g, mean, std);
    expect(Array.from(d)).toEqual([2.5, 4.5, 6.5, -2.25, -2, -1.75]);
    expect(Array.from(normalizeLatentsInPlace(d, 2, mean, std))).toEqual(Array.from(x));
  });

  it('classifier-free guidance is uncond + g·(cond − uncond)', () => {
    expect(Array.from(applyGuidanceInPlace(Float32Array.of(1, 2), Float32Array.of(0, 4), 3))).toEqual([3, -2]);
    expect(Array.from(applyGuidanceInPlace(Float32Array.of(1, 2), Float32Array.of(0, 4), 1))).toEqual([1, 2]);
  });

  it('replaces latent frame 0 of every channel', () => {
    const g = { channels: 2, frames: 2, height: 1, width: 2 };
    const x = new Float32Array(8).fill(9);
    replaceFirstFrameInPlace(x, g, Float32Array.of(1, 2, 3, 4));
    expect(Array.from(x)).toEqual([1, 2, 9, 9, 3, 4, 9, 9]);
  });

  it('turns [1, 3, F, H, W] in [-1, 1] into interleaved RGB24 frames', () => {
    // 2 frames of 1×2: R plane, G plane, B plane.
    const v = Float32Array.of(-1, 1, 0, 0.5, /* G */ 1, 1, -1, -1, /* B */ 0, 0, 2, -2);
    const frames = videoToRgbFrames(v, 2, 1, 2);
    expect(Array.from(frames[0]!)).toEqual([0, 255, 128, 255, 255, 128]);
    expect(Array.from(frames[1]!)).toEqual([128, 0, 255, 191, 0, 0]);
  });

  it('previews the middle latent frame through the RGB factors, upscaled nearest', () => {
    const g = { channels: 2, frames: 3, height: 1, width: 2 };
    const x = new Float32Array(12);
    x.set([0.5, -0.5], 2); // channel 0, frame 1
    x.set([1, 0], 8); // channel 1, frame 1
    const p = latentPreview(x, g, { rgbFactors: [[1, 0, 0], [0, 1, -1]], rgbBias: [0, 0, 0] }, 5);
    expect([p.width, p.height]).toEqual([4, 2]);
    // pixel (0,0) from latent (0,0): r = 0.5, g = 1, b = −1; pixel (3,1) from latent (0,1): r = −0.5, g = 0, b = 0.
    expect(Array.from(p.rgb.subarray(0, 3))).toEqual([191, 255, 0]);
    expect(Array.from(p.rgb.subarray(3 * 7, 3 * 8))).toEqual([64, 128, 128]);
  });

  it('converts float16 both ways (round to nearest even, subnormals, overflow)', () => {
    const src = Float32Array.of(1, -2, 0.5, 65504, 1e-8, 2 ** -24, 1 / 3, 70000, 0);
    const bits = toFloat16Bits(src);
    expect(Array.from(bits)).toEqual([0x3c00, 0xc000, 0x3800, 0x7bff, 0, 1, 0x3555, 0x7c00, 0]);
    const back = fromFloat16Bits(bits);
    expect(back[6]).toBeCloseTo(0.33325195, 7);
    expect(back[7]).toBe(Infinity);
  });
});
