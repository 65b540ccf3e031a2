import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAigcMetadata } from './aigc-label.ts';
import { encodeVideo } from './encode-video.ts';
import { probeVideo } from './ffprobe.ts';
import { h264LevelFor } from './h264-level.ts';
import { VideoError } from './video-error.ts';
import { gradientFrames, topLevelBoxes } from './video-test-support.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'framecast-encode-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const aigc = { contentProducer: 'Framecast', produceId: 'job-encode-1' };

describe('encodeVideo', () => {
  it('encodes RGB24 frames to a faststart H.264 High yuv420p mp4 with AIGC metadata and a poster', async () => {
    const frames = gradientFrames(320, 192, 33);
    const out = path.join(dir, 'frames.mp4');
    const v = await encodeVideo({ kind: 'frames', frames, width: 320, height: 192, fps: 16 }, { outputPath: out, aigc, preset: 'veryfast' });

    expect(v).toMatchObject({ path: out, width: 320, height: 192, frames: 33, fps: 16, codec: 'h264', profile: 'High', level: 41, hasAudio: false });
    expect(v.durationSec).toBeCloseTo(33 / 16, 2);
    const bytes = await readFile(out);
    expect(v.bytes).toBe(bytes.length);
    expect(v.sha256).toMatch(/^[0-9a-f]{64}$/);

    const probe = await probeVideo(out);
    expect(probe.pixFmt).toBe('yuv420p');
    expect(probe.codecTag).toBe('avc1');

    // faststart: the moov box comes before mdat.
    const boxes = topLevelBoxes(bytes);
    expect(boxes).toContain('moov');
    expect(boxes).toContain('mdat');
    expect(boxes.indexOf('moov')).toBeLessThan(boxes.indexOf('mdat'));

    expect(await readAigcMetadata(out)).toEqual({
      Label: '1',
      ContentProducer: 'Framecast',
      ProduceID: 'job-encode-1',
      ReservedCode1: '',
      ContentPropagator: '',
      PropagateID: '',
      ReservedCode2: '',
    });

    // The poster is a JPEG of the full frame, taken from the middle.
    expect(v.posterPath).toBe(path.join(dir, 'frames.jpg'));
    expect(v.posterFrame).toBe(16);
    const jpeg = await readFile(v.posterPath);
    expect(jpeg.subarray(0, 3).equals(Buffer.from([0xff, 0xd8, 0xff]))).toBe(true);
    const poster = await probeVideo(v.posterPath);
    expect([poster.codec, poster.width, poster.height, poster.frames]).toEqual(['mjpeg', 320, 192, 1]);
  });

  it('crops odd sizes to even ones', async () => {
    const frames = gradientFrames(161, 97, 9);
    const v = await encodeVideo(
      { kind: 'frames', frames, width: 161, height: 97, fps: 8 },
      { outputPath: path.join(dir, 'odd.mp4'), aigc, preset: 'ultrafast' },
    );
    expect([v.width, v.height, v.frames]).toEqual([160, 96, 9]);
  });

  it('re-encodes a file input (dropping its metadata), and can add a silent AAC track', async () => {
    // A "ComfyUI output": mpeg4 in an mkv with a prompt in its metadata, 25 fps, odd width.
    const src = path.join(dir, 'comfy-output.mkv');
    const { runCapture } = await import('./video-test-support.ts');
    await runCapture('ffmpeg', [
      '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=241x136:rate=25:duration=1.2',
      '-c:v', 'mpeg4', '-metadata', 'comment=prompt: a secret prompt', '-y', src,
    ]);
    const v = await encodeVideo({ kind: 'file', path: src }, { outputPath: path.join(dir, 'file.mp4'), aigc, preset: 'ultrafast', silentAudio: true });
    expect(v).toMatchObject({ width: 240, height: 136, frames: 30, fps: 25, codec: 'h264', hasAudio: true });
    const probe = await probeVideo(v.path);
    expect(JSON.stringify(probe.tags)).not.toContain('secret prompt');
    expect((await readAigcMetadata(v.path))?.ProduceID).toBe('job-encode-1');
  });

  it('refuses a corrupt input file with code bad_input and leaves no output', async () => {
    const bad = path.join(dir, 'corrupt.mp4');
    const good = await readFile(path.join(dir, 'frames.mp4'));
    // Half an mp4 with its header overwritten: no decodable stream.
    const broken = Buffer.from(good.subarray(0, Math.floor(good.length / 2)));
    broken.fill(0x5a, 0, 64);
    await writeFile(bad, broken);
    const out = path.join(dir, 'corrupt-out.mp4');
    const err: unknown = await encodeVideo({ kind: 'file', path: bad }, { outputPath: out, aigc, preset: 'ultrafast' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VideoError);
    expect((err as VideoError).code).toBe('bad_input');
    await expect(stat(out)).rejects.toMatchObject({ code: 'ENOENT' });

    // A faststart mp4 cut short: its index still lists every frame, but most cannot be decoded.
    const truncated = path.join(dir, 'truncated.mp4');
    await writeFile(truncated, good.subarray(0, Math.floor(good.length * 0.6)));
    const err2: unknown = await encodeVideo({ kind: 'file', path: truncated }, { outputPath: out, aigc, preset: 'ultrafast' }).catch(
      (e: unknown) => e,
    );
    expect(err2).toBeInstanceOf(VideoError);
    expect((err2 as VideoError).code).toBe('bad_input');
    expect((err2 as VideoError).message).toMatch(/truncated or corrupt: \d+ of 33 frames are readable/);
    await expect(stat(out)).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await readdir(dir)).filter((f) => f.includes('.part'))).toEqual([]);

    const empty = path.join(dir, 'empty.mp4');
    await writeFile(empty, '');
    await expect(encodeVideo({ kind: 'file', path: empty }, { outputPath: out, aigc })).rejects.toMatchObject({ code: 'bad_input' });
  });

  it('refuses frames of the wrong byte length with code bad_input', async () => {
    const frames = gradientFrames(64, 32, 3);
    frames[1] = new Uint8Array(10);
    await expect(
      encodeVideo({ kind: 'frames', frames, width: 64, height: 32, fps: 8 }, { outputPath: path.join(dir, 'x.mp4'), aigc }),
    ).rejects.toMatchObject({ name: 'VideoError', code: 'bad_input', message: expect.stringContaining('frame 1') });
  });

  it('stops with code cancelled when aborted', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(
      encodeVideo(
        { kind: 'frames', frames: gradientFrames(64, 32, 3), width: 64, height: 32, fps: 8 },
        { outputPath: path.join(dir, 'c.mp4'), aigc, signal: ac.signal },
      ),
    ).rejects.toMatchObject({ code: 'cancelled' });
  });

  it('picks level 4.1 up to 1080p30 and higher levels beyond', () => {
    expect(h264LevelFor(320, 192, 16)).toBe('4.1');
    expect(h264LevelFor(1920, 1080, 30)).toBe('4.1');
    expect(h264LevelFor(1920, 1080, 60)).toBe('4.2');
    expect(h264LevelFor(2560, 1440, 30)).toBe('5.0');
    expect(h264LevelFor(3840, 2160, 30)).toBe('5.1');
  });
});
