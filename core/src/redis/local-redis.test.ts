import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { resolveRedis } from './local-redis.ts';

describe('resolveRedis (the start command’s local Redis)', () => {
  it('uses REDIS_URL as given', async () => {
    const h = await resolveRedis({ redisUrl: 'redis://example.invalid:6379', dataDir: '/nonexistent' });
    expect(h).toMatchObject({ url: 'redis://example.invalid:6379', owned: false });
  });

  it('starts redis-server with AOF under the data dir, lets a second process reuse it, keeps data across restarts', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'fc-local-redis-'));
    const portFile = path.join(dataDir, 'redis', 'redis.port');
    try {
      const first = await resolveRedis({ redisUrl: undefined, dataDir });
      expect(first.owned).toBe(true);
      expect(existsSync(portFile)).toBe(true);
      const second = await resolveRedis({ redisUrl: undefined, dataDir });
      expect(second).toMatchObject({ owned: false, url: first.url });
      const r = new Redis(first.url);
      await r.set('kept', 'yes');
      expect(await r.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
      await r.quit();
      await first.close();
      expect(existsSync(portFile)).toBe(false);
      expect(existsSync(path.join(dataDir, 'redis', 'appendonlydir'))).toBe(true);

      const again = await resolveRedis({ redisUrl: undefined, dataDir });
      const r2 = new Redis(again.url);
      expect(await r2.get('kept')).toBe('yes');
      await r2.quit();
      await again.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('resolveRedis from several processes at once', () => {
  it('starts one server per data folder however many ask at once', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'fc-local-redis-race-'));
    try {
      const handles = await Promise.all(Array.from({ length: 4 }, () => resolveRedis({ redisUrl: undefined, dataDir })));
      expect(new Set(handles.map((h) => h.url)).size).toBe(1);
      expect(handles.filter((h) => h.owned)).toHaveLength(1);
      for (const h of handles) await h.close();
      expect(existsSync(path.join(dataDir, 'redis', 'redis.lock'))).toBe(false);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
