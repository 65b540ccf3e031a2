import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aigcMetadataValue, buildAigcLabel, readAigcMetadata } from './aigc-label.ts';
import { findCjkFontFile } from './cjk-font.ts';
import { escapeFilterOptionValue } from './drawtext-escape.ts';
import { encodeVideo, labelGeometry } from './encode-video.ts';
import { VideoError } from './video-error.ts';
import { extractFrameRgb, gradientFrames, meanAbsDiff, runCapture } from './video-test-support.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'framecast-aigc-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('visible AIGC label', () => {
  it('shows the opening label for 2 s and the corner mark throughout', async () => {
    const W = 320;
    const H = 192;
    const FPS = 16;
    const frames = gradientFrames(W, H, 48); // 3 s
    const base = { kind: 'frames' as const, frames, width: W, height: H, fps: FPS };
    const labeled = await encodeVideo(base, {
      outputPath: path.join(dir, 'labeled.mp4'),
      aigc: { contentProducer: 'Framecast', produceId: 'job-label' },
      preset: 'veryfast',
      crf: 16,
    });
    // The unlabeled reference: the same frames through the same encoder settings, with no drawtext.
    const plainPath = path.join(dir, 'plain.mp4');
    const raw = path.join(dir, 'frames.rgb');
    await writeFile(raw, Buffer.concat(frames));
    await runCapture('ffmpeg', [
      '-v', 'error', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${W}x${H}`, '-framerate', String(FPS), '-i', raw,
      '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '16', '-pix_fmt', 'yuv420p', '-y', plainPath,
    ]);

    const g = labelGeometry(W, H);
    // Bottom band where the label box sits, and the top-right corner where the mark sits.
    const labelRect = { x: Math.round(W * 0.2), y: H - g.margin - g.labelFontSize * 2, w: Math.round(W * 0.6), h: g.labelFontSize };
    const cornerRect = { x: W - g.margin - g.cornerFontSize * 4, y: g.margin, w: g.cornerFontSize * 3, h: g.cornerFontSize };
    const leftRect = { x: 4, y: 60, w: 40, h: 40 }; // untouched content

    const diffAt = async (index: number) => {
      const a = await extractFrameRgb(labeled.path, index);
      const b = await extractFrameRgb(plainPath, index);
      expect(a.length).toBe(W * H * 3);
      return { label: meanAbsDiff(a, b, W, labelRect), corner: meanAbsDiff(a, b, W, cornerRect), left: meanAbsDiff(a, b, W, leftRect) };
    };

    const first = await diffAt(0);
    const lastLabeled = await diffAt(2 * FPS - 1); // t = 1.9375 s
    const after = await diffAt(2 * FPS + 4); // t = 2.25 s

    expect(first.label).toBeGreaterThan(25);
    expect(lastLabeled.label).toBeGreaterThan(25);
    expect(after.label).toBeLessThan(3);
    expect(first.corner).toBeGreaterThan(15);
    expect(after.corner).toBeGreaterThan(15);
    expect(first.left).toBeLessThan(3);
    expect(after.left).toBeLessThan(3);
  });

  it('sizes the label to stay inside portrait, landscape and tiny frames', () => {
    for (const [w, h] of [
      [480, 832],
      [1280, 704],
      [1920, 1080],
      [160, 96],
    ] as const) {
      const g = labelGeometry(w, h);
      // 21 characters ≈ 12.3 em at most
      expect(g.labelFontSize * 12.3).toBeLessThanOrEqual(w * 0.9);
      expect(g.labelFontSize).toBeGreaterThanOrEqual(10);
      expect(g.labelFontSize).toBeLessThanOrEqual(Math.max(10, h * 0.08)); // 10 px floor for tiny drafts
    }
  });
});

describe('label font', () => {
  it('finds Noto Sans CJK through fontconfig', async () => {
    expect(await findCjkFontFile()).toMatch(/NotoSansCJK.*\.tt[cf]$|NotoSansCJK/);
  });

  it('fails with code font_missing naming the Debian package when the font is absent', async () => {
    const err: unknown = await findCjkFontFile('/nonexistent/NotoSansCJK-Bold.ttc').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VideoError);
    expect((err as VideoError).code).toBe('font_missing');
    expect((err as VideoError).message).toContain('apt-get install fonts-noto-cjk');
  });
});

describe('drawtext escaping', () => {
  it("renders text with : ' , ; [ ] \\ % exactly as drawtext's textfile does", async () => {
    const font = await findCjkFontFile();
    const text = "AI生成 a:b'c,d\\e%{pts}[g];h";
    const textFile = path.join(dir, "label's:file.txt");
    await writeFile(textFile, text);
    const render = (opt: string) =>
      runCapture('ffmpeg', [
        '-v', 'error', '-f', 'lavfi', '-i', 'color=c=gray:s=480x64:d=0.1',
        '-filter_complex', `[0:v]drawtext=fontfile=${escapeFilterOptionValue(font)}:${opt}:expansion=none:fontsize=24:fontcolor=white:x=4:y=16[o]`,
        '-map', '[o]', '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'gray', 'pipe:1',
      ]);
    const viaText = await render(`text=${escapeFilterOptionValue(text)}`);
    const viaFile = await render(`textfile=${escapeFilterOptionValue(textFile)}`);
    const blank = await render(`text=${escapeFilterOptionValue(' ')}`);
    expect(viaText.equals(viaFile)).toBe(true);
    expect(viaText.equals(blank)).toBe(false);
  });
});

describe('implicit AIGC metadata', () => {
  it('round-trips through the mp4 container', async () => {
    const label = buildAigcLabel({ contentProducer: 'Framecast 帧播 "test"', produceId: 'job:42 x' });
    const out = path.join(dir, 'meta.mp4');
    await runCapture('ffmpeg', [
      '-v', 'error', '-f', 'lavfi', '-i', 'color=c=blue:s=64x64:d=0.2', '-c:v', 'libx264', '-preset', 'ultrafast',
      '-metadata', `AIGC=${aigcMetadataValue(label)}`, '-movflags', '+faststart+use_metadata_tags', '-y', out,
    ]);
    expect(await readAigcMetadata(out)).toEqual(label);
  });

  it('reads undefined without the tag and refuses a malformed one', async () => {
    const none = path.join(dir, 'none.mp4');
    const bad = path.join(dir, 'bad.mp4');
    const common = ['-v', 'error', '-f', 'lavfi', '-i', 'color=c=red:s=64x64:d=0.2', '-c:v', 'libx264', '-preset', 'ultrafast'];
    await runCapture('ffmpeg', [...common, '-y', none]);
    await runCapture('ffmpeg', [...common, '-metadata', 'AIGC={"Label":1}', '-movflags', '+use_metadata_tags', '-y', bad]);
    expect(await readAigcMetadata(none)).toBeUndefined();
    const err: unknown = await readAigcMetadata(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VideoError);
    expect((err as VideoError).code).toBe('bad_metadata');
  });
});
