/**
 * The first pass that decides which sliding windows get scored (skin-toned area, or a suspicious
 * fixed crop), against `exhaustive: true`, which scores every window: the prior must skip windows
 * on benign images and never lose what the windows exist to find.
 *
 * The held-out cases were not used to choose NSFW_WINDOW_MIN_SKIN (the collage tests in
 * nsfw-classifier.test.ts were): other seeds of the skin-blob generator as the explicit inset,
 * other backgrounds, sizes and positions, and a portrait frame.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NsfwClassifier, ensureNsfwModel, skinFraction, skinMap, type NsfwRgbImage } from '@framecast/content-safety';
import { collage, highRiskImage, neutralScene } from './fixtures/nsfw/risk-images.ts';
import { photoTexture, skinBlobs, type SyntheticImage } from './fixtures/nsfw/synthetic-images.ts';

let classifier: NsfwClassifier;
let exhaustive: NsfwClassifier;
let fixedOnly: NsfwClassifier;

beforeAll(async () => {
  classifier = await NsfwClassifier.load({ modelPath: await ensureNsfwModel() });
  exhaustive = classifier.withOptions({ exhaustive: true });
  fixedOnly = classifier.withOptions({ windows: false });
});
afterAll(async () => {
  for (const c of [fixedOnly, exhaustive, classifier]) await c?.release();
});

/** `picture` pasted into a copy of `background` with its top-left corner at (x, y). */
function withInset(background: SyntheticImage, picture: SyntheticImage, x: number, y: number): NsfwRgbImage {
  const data = Uint8Array.from(background.data);
  for (let row = 0; row < picture.height; row++) {
    data.set(picture.data.subarray(row * picture.width * 3, (row + 1) * picture.width * 3), ((y + row) * background.width + x) * 3);
  }
  return { data, width: background.width, height: background.height };
}

const overlapShare = (a: { x: number; y: number; width: number; height: number }, b: typeof a): number =>
  (Math.max(0, Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x)) * Math.max(0, Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y))) /
  (b.width * b.height);

describe('skin map', () => {
  it('finds the skin-toned blocks of the high-risk picture and none in a neutral scene', () => {
    const calm = neutralScene(640, 480);
    expect(skinFraction(skinMap(calm.data, 640, 480), { x: 0, y: 0, width: 640, height: 480 })).toBe(0);
    const risk = highRiskImage(320, 240);
    expect(skinFraction(skinMap(risk.data, 320, 240), { x: 0, y: 0, width: 320, height: 240 })).toBeGreaterThan(0.8);
    // In a 4×4 collage only the windows over the high-risk tile see skin.
    const img = collage(4, 4, [[3, 3]], 640, 480);
    const map = skinMap(img.data, 640, 480);
    expect(skinFraction(map, { x: 480, y: 360, width: 160, height: 120 })).toBeGreaterThan(0.8);
    expect(skinFraction(map, { x: 0, y: 0, width: 480, height: 360 })).toBe(0);
    expect(skinFraction(map, { x: 700, y: 0, width: 10, height: 10 })).toBe(0); // outside the image
  });
});

describe('the first pass of moderateRgb', () => {
  it('sends a small explicit inset inside a benign large picture to the windows', async () => {
    const cases = [
      // The high-risk fixture, 160×120, in the lower right of a 640×480 photo-like texture (whose
      // own colours are partly skin-toned: the skin prior picks 22 of its 50 windows), and 110×90
      // near the bottom of a 360×640 neutral portrait frame (where the fixed crops score 0.25,
      // half the block threshold: suspicious, so all its windows are scored).
      { image: withInset(photoTexture('texture', 640, 480, 161), highRiskImage(160, 120), 420, 300), at: { x: 420, y: 300, width: 160, height: 120 }, skips: true },
      { image: withInset(neutralScene(360, 640, 5), highRiskImage(110, 90), 30, 470), at: { x: 30, y: 470, width: 110, height: 90 }, skips: false },
    ];
    for (const { image, at, skips } of cases) {
      // Precondition: the whole image and the fixed crops alone let it through.
      expect((await fixedOnly.moderateRgb(image.data, image.width, image.height)).action).toBe('allow');
      const v = await classifier.moderateRgb(image.data, image.width, image.height);
      const all = await exhaustive.moderateRgb(image.data, image.width, image.height);
      expect(v.action).not.toBe('allow');
      expect(v.action).toBe(all.action);
      expect(v.decidedBy).toMatch(/^window-/);
      const win = v.crops.find((c) => c.crop === v.decidedBy)?.rect;
      expect(win && overlapShare(win, at)).toBeGreaterThan(0.5);
      // The deciding window scored the same as in the exhaustive check; where the prior chose by
      // skin, windows were skipped.
      if (skips) expect(v.windowsSkipped).toBeGreaterThan(0);
      expect(v.crops.length + v.windowsSkipped).toBe(all.crops.length);
      expect(v.blockScore).toBeCloseTo(all.blockScore, 4);
    }
  });

  it('sends a greyscale inset to the windows too (no skin tone in it, but mid-tone grey)', async () => {
    const inset = highRiskImage(160, 120);
    const grey = Uint8Array.from(inset.data);
    for (let i = 0; i < grey.length; i += 3) grey.fill(Math.round(0.299 * (grey[i] ?? 0) + 0.587 * (grey[i + 1] ?? 0) + 0.114 * (grey[i + 2] ?? 0)), i, i + 3);
    // Precondition: the model sees it whole (0.98 measured) but not among the fixed crops.
    const alone = await classifier.classifyRgb(grey, 160, 120);
    expect(alone.Porn + alone.Hentai).toBeGreaterThan(0.9);
    const image = withInset(neutralScene(640, 360), { ...inset, name: 'grey', data: grey }, 460, 220);
    expect((await fixedOnly.moderateRgb(image.data, 640, 360)).action).toBe('allow');
    const v = await classifier.moderateRgb(image.data, 640, 360);
    expect(v.action).toBe('block');
    expect(v.decidedBy).toMatch(/^window-/);
    expect(v.windowsSkipped).toBeGreaterThan(0);
    const win = v.crops.find((c) => c.crop === v.decidedBy)?.rect;
    expect(win && overlapShare(win, { x: 460, y: 220, width: 160, height: 120 })).toBeGreaterThan(0.5);
  });

  it('scores no window of a benign picture with no skin-toned area, and skips windows once a fixed crop blocks', async () => {
    const calm = neutralScene(640, 480, 3);
    const v = await classifier.moderateRgb(calm.data, 640, 480);
    expect(v.action).toBe('allow');
    expect(v.crops.every((c) => !c.crop.startsWith('window-'))).toBe(true);
    expect(v.windowsSkipped).toBeGreaterThan(40);
    const risk = highRiskImage(640, 480);
    const blocked = await classifier.moderateRgb(risk.data, 640, 480);
    expect(blocked.action).toBe('block');
    expect(blocked.decidedBy).toBe('whole');
    expect(blocked.crops.every((c) => !c.crop.startsWith('window-'))).toBe(true);
  });

  // Held out: insets drawn by the skin-blob generator with other seeds and backgrounds than the
  // fixture's, at other sizes and places. Measured (exhaustive → first pass): the same action in all
  // 24 combinations tried of 8 seeds × 3 layouts; these 6 span block, review and allow.
  const heldOut = [
    { seed: 141, bg: [120, 60, 70], layout: 'portrait' },
    { seed: 149, bg: [40, 30, 30], layout: 'texture' },
    { seed: 149, bg: [120, 60, 70], layout: 'portrait' },
    { seed: 154, bg: [120, 60, 70], layout: 'portrait' },
    { seed: 161, bg: [40, 30, 30], layout: 'portrait' },
    { seed: 161, bg: [40, 30, 30], layout: 'texture' },
  ] as const;
  it.each(heldOut)('reaches the exhaustive verdict on a held-out inset (seed $seed, $layout)', async ({ seed, bg, layout }) => {
    const image =
      layout === 'portrait'
        ? withInset(neutralScene(360, 640, 5), skinBlobs('inset', 110, 90, seed, 6, [...bg]), 30, 470)
        : withInset(photoTexture('background', 640, 480, seed), skinBlobs('inset', 120, 90, seed, 6, [...bg]), 420, 330);
    const all = await exhaustive.moderateRgb(image.data, image.width, image.height);
    const v = await classifier.moderateRgb(image.data, image.width, image.height);
    expect(v.action).toBe(all.action);
    if (all.action !== 'allow' && all.decidedBy?.startsWith('window-') === true) expect(v.blockScore).toBeGreaterThanOrEqual(Math.min(all.blockScore, 0.5));
    expect(v.windowsSkipped).toBeGreaterThan(0);
  });
});
