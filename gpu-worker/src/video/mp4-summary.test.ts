import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeVideo } from './encode-video.ts';
import { probeVideo } from './ffprobe.ts';
import { readMp4Summary } from './mp4-summary.ts';
import { gradientFrames, runCapture } from './video-test-support.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'framecast-mp4-summary-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const aigc = { contentProducer: 'Framecast', produceId: 'job-summary-1' };

/** The fields both readers give, ffprobe's duration to its 6 printed decimals. */
async function fromFfprobe(file: string) {
  const p = await probeVideo(file);
  return { codec: p.codec, codecTag: p.codecTag, profile: p.profile, level: p.level, pixFmt: p.pixFmt, width: p.width, height: p.height, frames: p.frames, fps: p.fps, durationSec: p.durationSec, hasAudio: p.hasAudio };
}

describe('readMp4Summary', () => {
  it('reads what ffprobe reads from our encodes (frames at 16 and 25 fps, odd size, a re-encoded file with audio) and a foreign Baseline mp4 at 29.97 fps', async () => {
    const files: string[] = [];
    for (const [w, h, n, fps] of [[208, 128, 49, 16], [161, 97, 9, 25]] as const) {
      const v = await encodeVideo({ kind: 'frames', frames: gradientFrames(w, h, n), width: w, height: h, fps }, { outputPath: path.join(dir, `f${w}.mp4`), aigc, preset: 'ultrafast' });
      files.push(v.path);
    }
    const mkv = path.join(dir, 'in.mkv');
    await runCapture('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=240x136:rate=25:duration=1.2', '-c:v', 'mpeg4', '-y', mkv]);
    files.push((await encodeVideo({ kind: 'file', path: mkv }, { outputPath: path.join(dir, 'file.mp4'), aigc, preset: 'ultrafast', silentAudio: true })).path);
    const baseline = path.join(dir, 'baseline.mp4');
    await runCapture('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=240x136:rate=30000/1001:duration=1.2', '-c:v', 'libx264', '-profile:v', 'baseline', '-y', baseline]);
    files.push(baseline);
    for (const file of files) {
      const expected = await fromFfprobe(file);
      const got = await readMp4Summary(file);
      expect(got, path.basename(file)).toMatchObject({ ...expected, durationSec: expect.closeTo(expected.durationSec, 5) as number });
    }
    expect((await readMp4Summary(files[2]!))?.hasAudio).toBe(true);
    expect((await readMp4Summary(baseline))?.profile).toBe('Constrained Baseline');
  }, 60_000);

  it('is undefined for what it does not follow: an mkv, a truncated header, a text file', async () => {
    await runCapture('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=64x64:rate=8:duration=0.5', '-c:v', 'mpeg4', '-y', path.join(dir, 'x.mkv')]);
    expect(await readMp4Summary(path.join(dir, 'x.mkv'))).toBeUndefined();
    const cut = Buffer.alloc(24);
    cut.writeUInt32BE(4096, 0);
    cut.write('moov', 4, 'latin1');
    await writeFile(path.join(dir, 'cut.mp4'), cut);
    expect(await readMp4Summary(path.join(dir, 'cut.mp4'))).toBeUndefined();
    await writeFile(path.join(dir, 'text.mp4'), 'not a video at all, just words');
    expect(await readMp4Summary(path.join(dir, 'text.mp4'))).toBeUndefined();
  });
});
