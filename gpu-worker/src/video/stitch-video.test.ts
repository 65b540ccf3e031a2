import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { findCjkFontFile } from './cjk-font.ts';
import { probeVideo } from './ffprobe.ts';
import { planStitch, stitchVideo, writeClip } from './stitch-video.ts';

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
});
