import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/config.ts';
import { blobStoreFromConfig, mediaSecret } from './blob-store-from-config.ts';
import { signMediaUrl, verifyMediaSignature } from './media-links.ts';

describe('media links', () => {
  it('verify only for the same key, expiry and secret, and not after the expiry', () => {
    const secret = 's'.repeat(40);
    const url = new URL(signMediaUrl('https://bot.example/', 'videos/j1.mp4', 2000, secret));
    expect(url.pathname).toBe('/media/videos/j1.mp4');
    const exp = url.searchParams.get('exp') ?? undefined;
    const sig = url.searchParams.get('sig') ?? undefined;
    expect(verifyMediaSignature('videos/j1.mp4', exp, sig, secret, 1000)).toBe('ok');
    expect(verifyMediaSignature('videos/j2.mp4', exp, sig, secret, 1000)).toBe('bad_signature');
    expect(verifyMediaSignature('videos/j1.mp4', '2001', sig, secret, 1000)).toBe('bad_signature');
    expect(verifyMediaSignature('videos/j1.mp4', exp, sig, 't'.repeat(40), 1000)).toBe('bad_signature');
    expect(verifyMediaSignature('videos/j1.mp4', exp, sig, secret, 2001)).toBe('expired');
    expect(verifyMediaSignature('videos/j1.mp4', undefined, undefined, secret, 1000)).toBe('bad_signature');
  });

  it('the secret is made once per data folder (0600) unless FRAMECAST_MEDIA_SECRET sets it; the local store then links through FRAMECAST_PUBLIC_URL', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'fc-secret-'));
    try {
      const config = loadConfig({ FRAMECAST_DATA_DIR: dir, FRAMECAST_PUBLIC_URL: 'https://bot.example' }, { dotenvPath: false });
      const a = mediaSecret(config);
      expect(a).toMatch(/^[0-9a-f]{64}$/);
      expect(mediaSecret(config)).toBe(a);
      expect((await readFile(path.join(dir, 'media-secret'), 'utf8')).trim()).toBe(a);
      expect((await stat(path.join(dir, 'media-secret'))).mode & 0o777).toBe(0o600);
      expect(mediaSecret(loadConfig({ FRAMECAST_DATA_DIR: dir, FRAMECAST_MEDIA_SECRET: 'x'.repeat(32) }, { dotenvPath: false }))).toBe('x'.repeat(32));
      expect(await blobStoreFromConfig(config).url('videos/j.mp4', 60)).toMatch(/^https:\/\/bot\.example\/media\/videos\/j\.mp4\?exp=\d+&sig=/);
      expect(await blobStoreFromConfig(loadConfig({ FRAMECAST_DATA_DIR: dir }, { dotenvPath: false })).url('videos/j.mp4')).toMatch(/^file:\/\//);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
