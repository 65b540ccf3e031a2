/**
 * Pure tensor helpers of the Wan pipeline, on Float32Array in C order (NCFHW with N = 1): latent
 * geometry, latent (de)normalisation, classifier-free guidance, image conditioning tensors,
 * decoded video → RGB24 frames, and the cheap latent→RGB preview.
 */
import { RuntimeError } from '../video-runtime.ts';

export interface LatentGeometry {
  channels: number;
  frames: number;
  height: number;
  width: number;
}

export interface GeometryRules {
  latentChannels: number;
  spatialFactor: number;
  temporalFactor: number;
  /** Transformer patch (t, h, w): the latent's H', W' must be multiples of ph, pw. */
  patchSize: readonly [number, number, number];
  limits?: { maxWidth: number; maxHeight: number; maxFrames: number } | undefined;
}

/** Latent shape for a video of width×height×frames; throws RuntimeError('bad_input') when invalid. */
export function latentGeometry(rules: GeometryRules, width: number, height: number, frames: number): LatentGeometry {
  const multiple = rules.spatialFactor * Math.max(rules.patchSize[1], rules.patchSize[2]);
  const t = rules.temporalFactor;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0)
    throw new RuntimeError('bad_input', `width and height must be positive integers, got ${width}×${height}`);
  if (width % multiple !== 0 || height % multiple !== 0)
    throw new RuntimeError('bad_input', `width and height must be multiples of ${multiple}, got ${width}×${height}`);
  if (!Number.isInteger(frames) || frames < 1 || (frames - 1) % t !== 0)
    throw new RuntimeError('bad_input', `frames must be ${t}k+1, got ${frames}`);
  const lim = rules.limits;
  if (lim !== undefined && (width > lim.maxWidth || height > lim.maxHeight || frames > lim.maxFrames))
    throw new RuntimeError('bad_input', `${width}×${height}×${frames} exceeds the model's limits ${lim.maxWidth}×${lim.maxHeight}×${lim.maxFrames}`);
  const latentFrames = (frames - 1) / t + 1;
  if (latentFrames % rules.patchSize[0] !== 0)
    throw new RuntimeError('bad_input', `latent frames ${latentFrames} not a multiple of the temporal patch ${rules.patchSize[0]}`);
  return { channels: rules.latentChannels, frames: latentFrames, height: height / rules.spatialFactor, width: width / rules.spatialFactor };
}

export function geometrySize(g: LatentGeometry): number {
  return g.channels * g.frames * g.height * g.width;
}

export function tokenCount(g: LatentGeometry, patch: readonly [number, number, number]): number {
  return (g.frames / patch[0]) * (g.height / patch[1]) * (g.width / patch[2]);
}

/** decode side: z·std + mean per channel (in a copy). */
export function denormalizeLatents(latent: Float32Array, g: LatentGeometry, mean: readonly number[], std: readonly number[]): Float32Array {
  const out = new Float32Array(latent.length);
  const per = g.frames * g.height * g.width;
  for (let c = 0; c < g.channels; c++) {
    const m = mean[c] ?? 0;
    const s = std[c] ?? 1;
    for (let i = c * per, end = i + per; i < end; i++) out[i] = (latent[i] as number) * s + m;
  }
  return out;
}

/** encode side: (z − mean)/std per channel, in place; `channels` is the channel count of `latent`. */
export function normalizeLatentsInPlace(latent: Float32Array, channels: number, mean: readonly number[], std: readonly number[]): Float32Array {
  const per = latent.length / channels;
  for (let c = 0; c < channels; c++) {
    const m = mean[c] ?? 0;
    const s = std[c] ?? 1;
    for (let i = c * per, end = i + per; i < end; i++) latent[i] = ((latent[i] as number) - m) / s;
  }
  return latent;
}

/** uncond + g·(cond − uncond), in place into `cond`. */
export function applyGuidanceInPlace(cond: Float32Array, uncond: Float32Array, scale: number): Float32Array {
  for (let i = 0; i < cond.length; i++) {
    const u = uncond[i] as number;
    cond[i] = u + scale * ((cond[i] as number) - u);
  }
  return cond;
}

/** RGB24 (interleaved) → one video frame in [-1, 1], planar [3, H, W]. */
export function rgbToPlanar(rgb: Uint8Array, width: number, height: number): Float32Array {
  const plane = width * height;
  const out = new Float32Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    out[p] = (rgb[3 * p] as number) / 127.5 - 1;
    out[plane + p] = (rgb[3 * p + 1] as number) / 127.5 - 1;
    out[2 * plane + p] = (rgb[3 * p + 2] as number) / 127.5 - 1;
  }
  return out;
}

/** Video tensor [1, 3, frames, H, W]: the image as frame 0, zeros after (Wan I2V's VAE input). */
export function imageVideoTensor(rgb: Uint8Array, width: number, height: number, frames: number): Float32Array {
  const plane = width * height;
  const first = rgbToPlanar(rgb, width, height);
  const out = new Float32Array(3 * frames * plane);
  for (let c = 0; c < 3; c++) out.set(first.subarray(c * plane, (c + 1) * plane), c * frames * plane);
  return out;
}

/**
 * Wan I2V (concat) mask: [1, t, F', H', W'] with all t channels 1 on latent frame 0 and 0 elsewhere
 * (the per-pixel-frame mask [1 for frame 0, 0 after], its first frame repeated t times, folded into
 * t channels per latent frame).
 */
export function firstFrameMask(g: LatentGeometry, temporalFactor: number): Float32Array {
  const per = g.frames * g.height * g.width;
  const plane = g.height * g.width;
  const out = new Float32Array(temporalFactor * per);
  for (let c = 0; c < temporalFactor; c++) out.fill(1, c * per, c * per + plane);
  return out;
}

/** Concatenates NCFHW tensors (N = 1) along C. */
export function concatChannels(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** TI2V: latent frame 0 of every channel ← the condition's (one latent frame) values; in place. */
export function replaceFirstFrameInPlace(latent: Float32Array, g: LatentGeometry, cond: Float32Array): Float32Array {
  const plane = g.height * g.width;
  const per = g.frames * plane;
  for (let c = 0; c < g.channels; c++) latent.set(cond.subarray(c * plane, (c + 1) * plane), c * per);
  return latent;
}

/** Decoded video [1, 3, F, H, W] in [-1, 1] → F frames of RGB24. */
export function videoToRgbFrames(video: Float32Array, frames: number, height: number, width: number): Uint8Array[] {
  const plane = height * width;
  const channelStride = frames * plane;
  if (video.length !== 3 * channelStride) throw new RuntimeError('transient', `decoder returned ${video.length} values, expected ${3 * channelStride}`);
  const out: Uint8Array[] = [];
  for (let f = 0; f < frames; f++) {
    const frame = new Uint8Array(3 * plane);
    for (let c = 0; c < 3; c++) {
      const base = c * channelStride + f * plane;
      for (let p = 0; p < plane; p++) frame[3 * p + c] = toByte(video[base + p] as number);
    }
    out.push(frame);
  }
  return out;
}

function toByte(v: number): number {
  // (v + 1) / 2 clamped to [0, 1], ×255 rounded; NaN → 0.
  const x = Math.round(((v + 1) / 2) * 255);
  return x > 255 ? 255 : x >= 0 ? x : 0;
}

export interface PreviewProjection {
  rgbFactors: readonly (readonly [number, number, number])[];
  rgbBias: readonly [number, number, number];
}

/**
 * The middle latent frame projected to RGB with a z×3 matrix + bias, upscaled nearest by an
 * integer factor so the longer side is at most `maxSide` (at least ×1).
 */
export function latentPreview(latent: Float32Array, g: LatentGeometry, proj: PreviewProjection, maxSide: number): { rgb: Uint8Array; width: number; height: number } {
  const f = Math.floor(g.frames / 2);
  const plane = g.height * g.width;
  const per = g.frames * plane;
  const small = new Float32Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    let r = proj.rgbBias[0];
    let gg = proj.rgbBias[1];
    let b = proj.rgbBias[2];
    for (let c = 0; c < g.channels; c++) {
      const v = latent[c * per + f * plane + p] as number;
      const k = proj.rgbFactors[c];
      if (k === undefined) continue;
      r += v * k[0];
      gg += v * k[1];
      b += v * k[2];
    }
    small[3 * p] = r;
    small[3 * p + 1] = gg;
    small[3 * p + 2] = b;
  }
  const scale = Math.max(1, Math.floor(maxSide / Math.max(g.width, g.height)));
  const width = g.width * scale;
  const height = g.height * scale;
  const rgb = new Uint8Array(3 * width * height);
  for (let y = 0; y < height; y++) {
    const sy = Math.floor(y / scale);
    for (let x = 0; x < width; x++) {
      const sp = sy * g.width + Math.floor(x / scale);
      const o = 3 * (y * width + x);
      rgb[o] = toByte(small[3 * sp] as number);
      rgb[o + 1] = toByte(small[3 * sp + 1] as number);
      rgb[o + 2] = toByte(small[3 * sp + 2] as number);
    }
  }
  return { rgb, width, height };
}

/** x0 = x − σ·v (what previews show). */
export function predictX0(sample: Float32Array, velocity: Float32Array, sigma: number): Float32Array {
  const out = new Float32Array(sample.length);
  for (let i = 0; i < sample.length; i++) out[i] = (sample[i] as number) - sigma * (velocity[i] as number);
  return out;
}

/** float32 → IEEE half bits (round to nearest even). */
export function toFloat16Bits(src: Float32Array): Uint16Array {
  const out = new Uint16Array(src.length);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < src.length; i++) {
    f[0] = src[i] as number;
    const x = u[0] as number;
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    let mant = x & 0x7fffff;
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
      continue;
    }
    const e = exp - 127 + 15;
    if (e >= 0x1f) {
      out[i] = sign | 0x7c00;
      continue;
    }
    if (e <= 0) {
      if (e < -10) {
        out[i] = sign;
        continue;
      }
      mant |= 0x800000;
      const shift = 14 - e;
      let half = mant >>> shift;
      const rem = mant & ((1 << shift) - 1);
      const mid = 1 << (shift - 1);
      if (rem > mid || (rem === mid && (half & 1) === 1)) half++;
      out[i] = sign | half;
      continue;
    }
    let half = (e << 10) | (mant >>> 13);
    const rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem === 0x1000 && (half & 1) === 1)) half++;
    out[i] = sign | half;
  }
  return out;
}

/** IEEE half bits → float32. */
export function fromFloat16Bits(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const h = src[i] as number;
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) out[i] = sign * mant * 2 ** -24;
    else if (exp === 0x1f) out[i] = mant !== 0 ? NaN : sign * Infinity;
    else out[i] = sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  return out;
}
