import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFfmpeg, writeAll } from './ffmpeg-run.ts';
import { VideoError } from './video-error.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'framecast-ffmpeg-run-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const caught = (p: Promise<unknown>) => p.then(() => { throw new Error('expected a failure'); }, (err: unknown) => err as VideoError);

describe('runFfmpeg (the ffmpeg CLI, spawned directly)', () => {
  it('names what failed: encode_failed quoting the log (or not, for people\'s text), bad_input for a foreign file it cannot decode', async () => {
    const bad = ['-hide_banner', '-v', 'error', '-f', 'lavfi', '-i', 'color=s=16x16:d=0.1', '-vf', 'nosuchfilter', '-f', 'null', '-'];
    const quoted = await caught(runFfmpeg(bad));
    expect(quoted).toMatchObject({ code: 'encode_failed', message: expect.stringMatching(/^ffmpeg exited with 1: \S/) as string });
    expect(quoted.ffmpegLog).toContain('nosuchfilter');
    const kept = await caught(runFfmpeg(bad, { quoteLog: false }));
    expect(kept).toMatchObject({ code: 'encode_failed', message: 'ffmpeg exited with 1' });
    expect(kept.ffmpegLog).toContain('nosuchfilter');
    const junk = path.join(dir, 'junk.mp4');
    await writeFile(junk, Buffer.alloc(4096, 7));
    expect(await caught(runFfmpeg(['-v', 'error', '-i', junk, '-f', 'null', '-'], { inputIsForeign: true }))).toMatchObject({ code: 'bad_input' });
  });

  it('feeds stdin with backpressure, and a writer whose ffmpeg stops early does not hang', async () => {
    const frame = new Uint8Array(64 * 64 * 3).fill(90);
    const frames = Array.from({ length: 40 }, () => frame);
    const out = path.join(dir, 'fed.mp4');
    await runFfmpeg(['-v', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', '64x64', '-r', '16', '-i', 'pipe:0', '-c:v', 'libx264', '-preset', 'ultrafast', out], { stdin: (w) => writeAll(w, frames) });
    // ffmpeg takes one frame and exits while 2,000 more (24 MB) are still being written.
    const many = Array.from({ length: 2000 }, () => frame);
    await runFfmpeg(['-v', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', '64x64', '-i', 'pipe:0', '-frames:v', '1', '-f', 'null', '-'], { stdin: (w) => writeAll(w, many) });
  }, 30_000);

  it('an aborted signal kills ffmpeg: cancelled', async () => {
    const ac = new AbortController();
    const run = runFfmpeg(['-v', 'error', '-re', '-f', 'lavfi', '-i', 'color=s=16x16:d=60', '-f', 'null', '-'], { signal: ac.signal });
    setTimeout(() => ac.abort(), 300);
    expect(await caught(run)).toMatchObject({ code: 'cancelled' });
  }, 30_000);
});
