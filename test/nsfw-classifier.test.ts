/**
 * NsfwClassifier on onnxruntime-node: decoding with sharp, the crop rules, thresholds, batching,
 * and the ContentModerator adapter. Inputs are synthetic images that the model itself scores.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import {
  NsfwClassifier,
  NsfwError,
  createNsfwImageModerator,
  decodeImageRgb,
  ensureNsfwModel,
  findContentBox,
  NSFW_MAX_INPUT_PIXELS,
} from '@framecast/content-safety';
import { framed, highRiskImage, neutralScene } from './fixtures/nsfw/risk-images.ts';
import { prng, type SyntheticImage } from './fixtures/nsfw/synthetic-images.ts';

let classifier: NsfwClassifier;

beforeAll(async () => {
  classifier = await NsfwClassifier.load({ modelPath: await ensureNsfwModel() });
});
afterAll(async () => {
  await classifier?.release();
});

const png = (img: SyntheticImage): Promise<Buffer> =>
  sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels } }).png().toBuffer();

/** A frame with a little noise, as a re-encoded screenshot would have. */
function noisyFrame(inner: SyntheticImage, width: number, height: number): SyntheticImage {
  const f = framed(inner, width, height);
  const rand = prng(99);
  const ox = Math.floor((width - inner.width) / 2);
  const oy = Math.floor((height - inner.height) / 2);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      if (x >= ox && x < ox + inner.width && y >= oy && y < oy + inner.height) continue;
      for (let c = 0; c < 3; c++) {
        const i = (y * width + x) * 3 + c;
        f.data[i] = Math.max(0, Math.min(255, (f.data[i] ?? 0) + Math.round((rand() - 0.5) * 8)));
      }
    }
  return f;
}

describe('NsfwClassifier', () => {
  it('scores the synthetic high-risk image above the block threshold and a neutral scene as allowed', async () => {
    const risk = highRiskImage();
    const s = await classifier.classifyRgb(risk.data, risk.width, risk.height);
    expect(s.Porn + s.Hentai).toBeGreaterThan(0.9);
    const sum = Object.values(s).reduce((a, b) => a + b, 0);
    expect(sum).toBeCloseTo(1, 5);

    const v = await classifier.moderateImage(await png(risk));
    expect(v.action).toBe('block');
    expect(v.decidedBy).toBe('whole');

    const calm = await classifier.moderateImage(await png(neutralScene()));
    expect(calm.action).toBe('allow');
    expect(calm.decidedBy).toBeNull();
    expect(calm.blockScore).toBeLessThan(0.1);
  });

  it('is not fooled by a wide frame around the picture: a crop decides', async () => {
    const f = noisyFrame(highRiskImage(), 960, 720);
    const whole = await classifier.classifyRgb(f.data, f.width, f.height);
    expect(whole.Porn + whole.Hentai).toBeLessThan(0.5); // the frame hides it from the whole-image score
    const box = findContentBox(f.data, f.width, f.height);
    expect(box).toEqual({ x: 320, y: 240, width: 320, height: 240 });
    const v = await classifier.moderateRgb(f.data, f.width, f.height);
    expect(v.action).toBe('block');
    expect(v.decidedBy).toBe('content');
    expect(v.crops[0]?.crop).toBe('whole');
    expect(v.blockScore).toBeGreaterThan(0.9);
    // Also through a JPEG file, decoded by sharp.
    const jpeg = await sharp(f.data, { raw: { width: f.width, height: f.height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
    expect((await classifier.moderateImage(jpeg)).action).toBe('block');
  });

  it('batches crops and frames: one batch gives the same scores as one image at a time', async () => {
    const imgs = [highRiskImage(), neutralScene(), neutralScene(200, 300, 20)];
    const batch = await classifier.classifyBatch(imgs.map((i) => ({ data: i.data, width: i.width, height: i.height })));
    for (const [k, img] of imgs.entries()) {
      const single = await classifier.classifyRgb(img.data, img.width, img.height);
      for (const c of ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'] as const) expect(batch[k]?.[c]).toBeCloseTo(single[c], 5);
    }
  });

  it('applies configured thresholds (review rule, then allow)', async () => {
    const risk = highRiskImage();
    const reviewOnly = await NsfwClassifier.load({
      thresholds: { block: { classes: ['Porn'], min: 0.99 }, review: { classes: ['Hentai', 'Porn'], min: 0.6 } },
      crops: 'none',
    });
    try {
      const v = await reviewOnly.moderateRgb(risk.data, risk.width, risk.height);
      expect(v.action).toBe('review');
      expect(v.crops).toHaveLength(1);
      const lenient = await NsfwClassifier.load({ thresholds: { block: { classes: ['Porn'], min: 0.99 }, review: { classes: ['Sexy'], min: 0.99 } } });
      expect((await lenient.moderateRgb(risk.data, risk.width, risk.height)).action).toBe('allow');
      await lenient.release();
    } finally {
      await reviewOnly.release();
    }
    await expect(NsfwClassifier.load({ thresholds: { block: { classes: ['Gore' as never], min: 0.5 } } })).rejects.toMatchObject({
      code: 'invalid_thresholds',
    });
  });

  it('decodes alpha, greyscale and palette images to RGB, and refuses broken or oversized ones', async () => {
    const rgba = new Uint8Array(40 * 30 * 4).map((_, i) => (i % 4 === 3 ? 128 : (i * 7) % 256));
    const withAlpha = await sharp(rgba, { raw: { width: 40, height: 30, channels: 4 } }).png().toBuffer();
    const a = await decodeImageRgb(withAlpha);
    expect([a.width, a.height, a.data.length]).toEqual([40, 30, 40 * 30 * 3]);
    expect(Array.from(a.data.subarray(0, 3))).toEqual([0, 7, 14]); // alpha dropped, colour kept

    const grey = await sharp(neutralScene().data, { raw: { width: 320, height: 240, channels: 3 } }).greyscale().jpeg().toBuffer();
    const g = await decodeImageRgb(grey);
    expect(g.data.length).toBe(320 * 240 * 3);
    expect((await classifier.moderateImage(grey)).action).toBe('allow');

    const good = await png(neutralScene());
    await expect(classifier.moderateImage(good.subarray(0, good.length / 2))).rejects.toMatchObject({ code: 'image_decode_failed' });
    await expect(classifier.moderateImage(Buffer.from('not an image at all'))).rejects.toBeInstanceOf(NsfwError);
    await expect(decodeImageRgb(good, 320 * 240 - 1)).rejects.toMatchObject({ code: 'image_too_large' });
    expect(NSFW_MAX_INPUT_PIXELS).toBe(40_000_000);
    await expect(classifier.moderateRgb(new Uint8Array(10), 5, 5)).rejects.toMatchObject({ code: 'invalid_image' });
  });

  it('serves the core ContentModerator port', async () => {
    const moderator = createNsfwImageModerator(classifier);
    const risk = highRiskImage();
    const blocked = await moderator.moderateImage({ data: risk.data, width: risk.width, height: risk.height });
    expect(blocked.action).toBe('block');
    expect(blocked.source).toBe('nsfw-onnx');
    expect(blocked.hits.map((h) => h.match).sort()).toEqual(['Hentai', 'Porn']);
    expect(blocked.hits.every((h) => h.category === 'nsfw-image' && typeof h.score === 'number')).toBe(true);
    const calm = neutralScene();
    expect(await moderator.moderateImage({ data: calm.data, width: calm.width, height: calm.height })).toEqual({
      action: 'allow',
      hits: [],
      source: 'nsfw-onnx',
    });
  });
});
