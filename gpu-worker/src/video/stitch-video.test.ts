import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readAigcMetadata } from './aigc-label.ts';
import { findCjkFontFile } from './cjk-font.ts';
import { probeVideo } from './ffprobe.ts';
import { planStitch, stitchLabelledVideo, stitchVideo, writeClip } from './stitch-video.ts';
import { extractFrameRgb, meanAbsDiff } from './video-test-support.ts';

const clip = (d: number, subtitle = '') => ({ path: `/x/${d}.mp4`, durationSec: d, subtitle });

describe('planStitch', () => {
  it('overlaps each pair by the transition, clamped to half the shortest clip', () => {
    const p = planStitch({ clips: [clip(2), clip(3), clip(1)], width: 64, height: 64, fps: 16, transitionSeconds: 0.8, fontFile: '/f.ttc' });
    expect(p.transitionSeconds).toBe(0.5);
    expect(p.offsets).toEqual([1.5, 4]);
    expect(p.durationSec).toBeCloseTo(2 + 3 + 1 - 2 * 0.5);
  });
  it('cuts without overlap at 0 s, adds the end card, escapes subtitles for the filter graph', () => {
    const p = planStitch({
      clips: [clip(1, "it's 50% off: [sale], now"), clip(1)], width: 64, height: 64, fps: 16, transitionSeconds: 0, fontFile: '/f.ttc',
      endCard: { title: 'Made together by', names: ['A', 'B', 'C', 'D'], seconds: 2 },
    });
    expect(p.durationSec).toBe(4);
    expect(p.filterGraph).toContain('concat=n=2');
    expect(p.filterGraph).not.toContain('xfade');
    expect(p.endCardLines).toEqual(['Made together by', 'A · B · C', 'D']);
    expect(p.filterGraph).toContain("text=it\\\\\\'s 50% off\\\\: \\[sale\\]\\, now");
  });
});

describe('stitchVideo (real ffmpeg)', () => {
  it('joins two clips with a cross-fade and an end card: the length ffprobe reads is the plan\'s', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'stitch-'));
    try {
      const frame = (v: number) => new Uint8Array(32 * 32 * 3).fill(v);
      await writeClip(Array.from({ length: 17 }, (_, i) => frame(i * 10)), 32, 32, 16, path.join(dir, 'a.mp4'));
      await writeClip(Array.from({ length: 17 }, (_, i) => frame(250 - i * 10)), 32, 32, 16, path.join(dir, 'b.mp4'));
      const plan = await stitchVideo({
        clips: [{ path: path.join(dir, 'a.mp4'), durationSec: 17 / 16, subtitle: '第一个镜头' }, { path: path.join(dir, 'b.mp4'), durationSec: 17 / 16 }],
        width: 32, height: 32, fps: 16, transitionSeconds: 0.5, fontFile: await findCjkFontFile(), outputPath: path.join(dir, 'out.mp4'),
        endCard: { title: '共同创作', names: ['小明', 'Alice'], seconds: 1 },
      });
      const probe = await probeVideo(path.join(dir, 'out.mp4'));
      expect(Math.abs(probe.durationSec - plan.durationSec)).toBeLessThanOrEqual(1 / 16 + 1e-6);
      expect(plan.durationSec).toBeCloseTo(2 * (17 / 16) - 0.5 + 1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('stitches and labels in one pass: the same length and frames as stitch-then-encode, the AIGC labels drawn, metadata and poster written', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'stitch-'));
    try {
      const W = 160;
      const H = 96;
      const frame = (v: number) => new Uint8Array(W * H * 3).fill(v);
      await writeClip(Array.from({ length: 17 }, (_, i) => frame(60 + i * 4)), W, H, 16, path.join(dir, 'a.mp4'));
      await writeClip(Array.from({ length: 17 }, (_, i) => frame(200 - i * 4)), W, H, 16, path.join(dir, 'b.mp4'));
      const options = {
        clips: [{ path: path.join(dir, 'a.mp4'), durationSec: 17 / 16 }, { path: path.join(dir, 'b.mp4'), durationSec: 17 / 16 }],
        width: W, height: H, fps: 16, transitionSeconds: 0.5, fontFile: await findCjkFontFile(),
        endCard: { title: '共同创作', names: ['小明', 'Alice'], seconds: 1 },
      };
      const bare = path.join(dir, 'bare.mp4');
      await stitchVideo({ ...options, outputPath: bare });
      const out = path.join(dir, 'out.mp4');
      const { plan, video } = await stitchLabelledVideo({ ...options, outputPath: out }, { aigc: { contentProducer: 'Framecast', produceId: 'job-stitch-1' } });

      const [probe, bareProbe] = await Promise.all([probeVideo(out), probeVideo(bare)]);
      expect(video).toMatchObject({ path: out, width: W, height: H, fps: 16, codec: 'h264', profile: 'High', hasAudio: false, frames: bareProbe.frames });
      expect([probe.pixFmt, probe.codecTag, probe.frames]).toEqual(['yuv420p', 'avc1', bareProbe.frames]);
      expect(Math.abs(probe.durationSec - plan.durationSec)).toBeLessThanOrEqual(1 / 16 + 1e-6);
      expect(await readAigcMetadata(out)).toMatchObject({ Label: '1', ContentProducer: 'Framecast', ProduceID: 'job-stitch-1' });
      const poster = await probeVideo(video.posterPath);
      expect([poster.codec, poster.width, poster.height]).toEqual(['mjpeg', W, H]);
      expect(Math.abs(video.posterFrame - bareProbe.frames / 2)).toBeLessThanOrEqual(1);

      // The opening label (bottom centre) is on the first frame and gone after 2 s; the middle of the frame is untouched.
      const [first, bareFirst] = await Promise.all([extractFrameRgb(out, 0), extractFrameRgb(bare, 0)]);
      expect(meanAbsDiff(first, bareFirst, W, { x: 40, y: H - 16, w: 80, h: 8 })).toBeGreaterThan(20);
      expect(meanAbsDiff(first, bareFirst, W, { x: 40, y: 36, w: 80, h: 20 })).toBeLessThan(4);
      const late = Math.round(2.5 * 16);
      const [lateFrame, bareLate] = await Promise.all([extractFrameRgb(out, late), extractFrameRgb(bare, late)]);
      expect(meanAbsDiff(lateFrame, bareLate, W, { x: 40, y: H - 16, w: 80, h: 8 })).toBeLessThan(6);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
