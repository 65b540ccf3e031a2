import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { highRiskImage, neutralScene } from './fixtures/nsfw/risk-images.ts';
import type { SyntheticImage } from './fixtures/nsfw/synthetic-images.ts';
import { testRedisUrl, uniquePrefix } from './support/redis.ts';

const run = promisify(execFile);
const CLI = path.resolve(import.meta.dirname, '..', 'bin', 'framecast.mjs');
let dir: string;
let env: Record<string, string>;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'fc-cli-'));
  env = { ...(process.env as Record<string, string>), REDIS_URL: testRedisUrl(), FRAMECAST_KEY_PREFIX: uniquePrefix(), FRAMECAST_DATA_DIR: dir, LOG_LEVEL: 'silent' };
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const r = await run(process.execPath, [CLI, ...args], { env, cwd: dir, timeout: 60_000 });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: x.code ?? -1, out: x.stdout ?? '', err: x.stderr ?? '' };
  }
}

describe('the framecast CLI (real binary, test Redis)', () => {
  it('parse prints the spec, or the localised error with exit code 1', async () => {
    const ok = await cli('parse', '／视频 一只猫 ——ar １６：９ ——seed ４２ ——draft');
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out)).toMatchObject({ ok: true, spec: { prompt: '一只猫', aspect: '16:9', seed: 42, mode: 'draft' } });
    const bad = await cli('parse', '/video a cat --ar 21:9');
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.out)).toMatchObject({ ok: false, error: { code: 'out_of_range', param: 'ar' } });
  });

  it('quota grant then show; jobs show of an unknown id; a malformed user', async () => {
    const g = await cli('quota', 'grant', 'discord:42', '7');
    expect(g.code).toBe(0);
    expect(JSON.parse(g.out)).toMatchObject({ granted: 7, bonus: 7 });
    const s = await cli('quota', 'show', 'discord:42');
    expect(JSON.parse(s.out)).toMatchObject({ user: 'discord:42', tier: 'free', bonus: 7, available: 37 });
    const j = await cli('jobs', 'show', 'nope');
    expect(j.code).toBe(1);
    expect(JSON.parse(j.out)).toEqual({ error: 'not_found', jobId: 'nope' });
    const u = await cli('quota', 'show', 'alice');
    expect(u.code).toBe(2);
    expect(u.err).toContain('platform:userId');
  });

  it('moderate text gives the verdict with categories and original offsets, and exits 4 on block, 3 on review; moderate image refuses a non-image', async () => {
    const t = await cli('moderate', 'text', 'a poster of 屠 杀 in the city');
    const v = JSON.parse(t.out) as { verdict: string; hits: { category: string; start: number; end: number; matchedText: string }[] };
    expect(v.verdict).toBe('block');
    expect(t.code).toBe(4);
    expect(v.hits[0]).toMatchObject({ category: 'violence', start: 12, end: 15, matchedText: '屠 杀' });
    const r = await cli('moderate', 'text', 'a video about 洗钱');
    expect(JSON.parse(r.out)).toMatchObject({ verdict: 'review', hits: [{ category: 'fraud' }] });
    expect(r.code).toBe(3);
    // An evasion names the rule that caught it (here the pinyin of 屠杀).
    const p = await cli('moderate', 'text', 'a poster of tu sha in the city');
    expect(JSON.parse(p.out)).toMatchObject({ verdict: 'block', hits: [{ word: '屠杀', category: 'violence', matchedText: 'tu sha', rule: 'pinyin' }] });
    const fake = path.join(dir, 'fake.png');
    await writeFile(fake, '%PDF-1.7\n1 0 obj <<>> endobj\n');
    const i = await cli('moderate', 'image', fake);
    expect(i.code).toBe(1);
    expect(JSON.parse(i.out)).toMatchObject({ verdict: 'refused', code: 'pdf' });
  });

  it('moderate image prints a short verdict (class scores, the worst crop), every crop with --verbose, and exits 0 on allow, 4 on block', async () => {
    const png = async (name: string, img: SyntheticImage) => {
      const file = path.join(dir, name);
      await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } }).png().toFile(file);
      return file;
    };
    const calm = await png('calm.png', neutralScene());
    const risky = await png('risky.png', highRiskImage());
    interface Short {
      verdict: string;
      decidedBy: string | null;
      scores: Record<string, number>;
      worst: { crop: string; rect: object; blockScore: number; reviewScore: number; scores: Record<string, number> };
      blockScore: number;
      cropsScored: number;
      crops?: { crop: string; rect: object; scores: Record<string, number> }[];
    }

    const allowed = await cli('moderate', 'image', calm);
    expect(allowed.code).toBe(0);
    const a = JSON.parse(allowed.out) as Short;
    expect(a).toMatchObject({ verdict: 'allow', decidedBy: null });
    expect(Object.keys(a.scores).sort()).toEqual(['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy']);
    expect(a.worst.blockScore).toBe(a.blockScore); // for allow: the crop closest to the block rule
    expect(a.worst.blockScore).toBeLessThan(0.5);
    expect(a.cropsScored).toBeGreaterThanOrEqual(6); // the whole image and fixed crops; no window (no skin-toned area)
    expect(a.crops).toBeUndefined();
    expect(allowed.out.split('\n').length).toBeLessThan(30);

    const blocked = await cli('moderate', 'image', risky, '--verbose');
    expect(blocked.code).toBe(4);
    const b = JSON.parse(blocked.out) as Short;
    expect(b.verdict).toBe('block');
    expect(b.worst.crop).toBe(b.decidedBy);
    expect(b.worst.blockScore).toBeGreaterThan(0.9);
    expect(b.crops).toHaveLength(b.cropsScored);
    const decided = b.crops?.find((c) => c.crop === b.decidedBy);
    expect(decided?.rect).toEqual(b.worst.rect);
    expect((decided?.scores.Porn ?? 0) + (decided?.scores.Hentai ?? 0)).toBeCloseTo(b.worst.blockScore, 3);
  });

  it('moderate video samples frames and gives a short verdict (the frames themselves only with --verbose)', async () => {
    const mp4 = path.join(dir, 'clip.mp4');
    await run('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=8:duration=2', '-pix_fmt', 'yuv420p', mp4]);
    const r = await cli('moderate', 'video', mp4);
    expect(r.code).toBe(0);
    const v = JSON.parse(r.out) as { verdict: string; framesScored: number; worstFrame: { timeSec: number; action: string }; frames?: unknown[]; durationSec: number };
    expect(v.verdict).toBe('allow');
    expect(v.framesScored).toBeGreaterThanOrEqual(3);
    expect(v.worstFrame.action).toBe('allow');
    expect(v.frames).toBeUndefined();
    const notVideo = path.join(dir, 'notes.mp4');
    await writeFile(notVideo, 'just some text, not a video\n');
    const refused = await cli('moderate', 'video', notVideo);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.out)).toMatchObject({ verdict: 'refused' });
    const missing = await cli('moderate', 'video', path.join(dir, 'nope.mp4'));
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('no such file');
  });

  it('a bad configuration stops before anything starts, listing every problem', async () => {
    const saved = env;
    env = { ...env, FRAMECAST_TIMEZONE: 'Nowhere/Land', FRAMECAST_FREE_DAILY_CREDITS: 'many' };
    try {
      const r = await cli('quota', 'show', 'cli:me');
      expect(r.code).toBe(78);
      expect(r.err).toMatch(/FRAMECAST_TIMEZONE[\s\S]*FRAMECAST_FREE_DAILY_CREDITS|FRAMECAST_FREE_DAILY_CREDITS[\s\S]*FRAMECAST_TIMEZONE/);
    } finally {
      env = saved;
    }
  });
});
