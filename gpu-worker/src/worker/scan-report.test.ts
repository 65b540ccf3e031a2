import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalBlobStore, parseScanReport, SCAN_REPORT_MAX_FRAMES, scanReportKey } from '@framecast/core';
import { encodeVideo } from '../video/encode-video.ts';
import { gradientFrames } from '../video/video-test-support.ts';
import type { OutputScanFrame, OutputScanVerdict } from './output-scanner.ts';
import { pickReportFrames, writeScanReport } from './scan-report.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'framecast-scan-report-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const frame = (timeSec: number, sexy = 0.1): OutputScanFrame => ({
  timeSec, scores: { Drawing: 0.1, Hentai: 0.01, Neutral: 0.78 - sexy + 0.1, Porn: 0.01, Sexy: sexy }, action: sexy >= 0.7 ? 'review' : 'allow',
});

describe('pickReportFrames', () => {
  it('keeps every frame when there are few; otherwise the deciding frames and an even spread, in time order, at most max', () => {
    const few = [frame(0), frame(1), frame(2)];
    expect(pickReportFrames(few, [], 16)).toEqual(few);
    const many = Array.from({ length: 64 }, (_, i) => frame(i));
    const picked = pickReportFrames(many, [37, 38], 16);
    expect(picked).toHaveLength(16);
    const times = picked.map((f) => f.timeSec);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(new Set(times).size).toBe(16);
    expect(times).toEqual(expect.arrayContaining([0, 37, 38, 63]));
  });
});

describe('writeScanReport (real ffmpeg, real JPEG decoding)', () => {
  it('stores a thumbnail ≤ 320 px wide per listed frame, the last frame included, then a report the schema accepts', async () => {
    const video = await encodeVideo({ kind: 'frames', frames: gradientFrames(640, 352, 16), width: 640, height: 352, fps: 8 }, {
      outputPath: path.join(dir, 'in.mp4'), aigc: { contentProducer: 'Framecast', produceId: 'job-scan-1' }, preset: 'ultrafast',
    });
    const store = new LocalBlobStore({ dir: path.join(dir, 'blobs') });
    const verdict: OutputScanVerdict = {
      action: 'review', decidingFrames: [1, 1.875], category: 'nsfw-image',
      frames: [frame(0), frame(1, 0.8), frame(1.875, 0.9)],
      thresholds: { block: { classes: ['Porn', 'Hentai'], min: 0.5 }, review: { classes: ['Sexy'], min: 0.7 } },
    };
    const report = await writeScanReport(store, 'job-scan-1', video.path, verdict, { now: () => 1_700_000_000_000 });
    expect(report.frames).toHaveLength(3);
    expect(report.scannedFrames).toBe(3);
    const stored = parseScanReport((await store.get(scanReportKey('job-scan-1'))).toString('utf8'));
    expect(stored).toEqual(report);
    expect(stored).toMatchObject({ version: 1, jobId: 'job-scan-1', verdict: 'review', decidingFrames: [1, 1.875], createdAt: 1_700_000_000_000 });
    expect(stored?.frames[1]).toMatchObject({ index: 1, timeSec: 1, action: 'review', key: 'scans/job-scan-1/frame-1.jpg', scores: { Sexy: 0.8 } });
    for (const f of report.frames) {
      expect(f.key).toBe(`scans/job-scan-1/frame-${f.index}.jpg`);
      const meta = await sharp(await store.get(f.key ?? '')).metadata();
      expect(meta.format).toBe('jpeg');
      expect(meta.width).toBe(320);
      expect(meta.height).toBe(176);
    }
  }, 30_000);

  it('lists at most SCAN_REPORT_MAX_FRAMES frames; a frame it cannot decode keeps its scores without an image; a report of a bad verdict is refused', async () => {
    const store = new LocalBlobStore({ dir: path.join(dir, 'blobs2') });
    const frames = Array.from({ length: 40 }, (_, i) => frame(i / 8));
    const report = await writeScanReport(store, 'job-scan-2', path.join(dir, 'missing.mp4'), { action: 'allow', decidingFrames: [], frames }, { timeoutMs: 5_000 });
    expect(report.frames).toHaveLength(SCAN_REPORT_MAX_FRAMES);
    expect(report.scannedFrames).toBe(40);
    expect(report.frames.every((f) => f.key === undefined)).toBe(true);
    expect(parseScanReport((await store.get(scanReportKey('job-scan-2'))).toString('utf8'))?.frames).toHaveLength(SCAN_REPORT_MAX_FRAMES);
    await expect(writeScanReport(store, '../escape', path.join(dir, 'missing.mp4'), { action: 'allow', decidingFrames: [] })).rejects.toThrow();
    expect(parseScanReport('{"version":1}')).toBeUndefined();
    expect(parseScanReport('not json')).toBeUndefined();
  }, 60_000);
});
