import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';
import { tierOf } from '../intake/tiers.ts';
import { dayIn } from '../util/day.ts';

describe('loadConfig', () => {
  it('gives defaults for an empty environment, frozen', () => {
    const c = loadConfig({}, { dotenvPath: false });
    expect(c).toMatchObject({ keyPrefix: 'fc', timeZone: 'Asia/Shanghai', defaultLocale: 'zh-CN', redisUrl: undefined, tenantDailyCap: 5000 });
    expect(c.tiers.free).toEqual({ dailyCredits: 30, maxConcurrent: 1 });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('lists every problem at once, naming each variable', () => {
    let err: unknown;
    try {
      loadConfig(
        { REDIS_URL: 'http://nope', FRAMECAST_TIMEZONE: 'Mars/Olympus', FRAMECAST_FREE_DAILY_CREDITS: '-3', FRAMECAST_RUNTIME: 'tpu', FRAMECAST_ROLE_TIERS: 'Patron=gold' },
        { dotenvPath: false },
      );
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems.join('\n');
    for (const name of ['REDIS_URL', 'FRAMECAST_TIMEZONE', 'FRAMECAST_FREE_DAILY_CREDITS', 'FRAMECAST_RUNTIME', 'FRAMECAST_ROLE_TIERS']) expect(problems).toContain(name);
    expect((err as ConfigError).problems).toHaveLength(5);
  });

  it('lists format problems and missing dependent settings together', () => {
    expect(() => loadConfig({ FRAMECAST_RUNTIME: 'comfyui', FRAMECAST_TIMEZONE: 'Mars/X', FRAMECAST_STORAGE: 's3' }, { dotenvPath: false })).toThrow(
      /FRAMECAST_TIMEZONE[\s\S]*COMFYUI_URL[\s\S]*S3_ENDPOINT/,
    );
  });

  it('checks settings that depend on each other', () => {
    expect(() => loadConfig({ FRAMECAST_RUNTIME: 'dashscope', FRAMECAST_STORAGE: 's3' }, { dotenvPath: false })).toThrow(/DASHSCOPE_API_KEY[\s\S]*S3_ENDPOINT[\s\S]*S3_BUCKET/);
    expect(() => loadConfig({ FRAMECAST_RUNTIME: 'comfyui' }, { dotenvPath: false })).toThrow(/COMFYUI_URL/);
    expect(() => loadConfig({ FRAMECAST_RUNTIME: 'dashscope', DASHSCOPE_API_KEY: 'sk-12345678', DASHSCOPE_MODEL: 'wan2.2-i2v-flash' }, { dotenvPath: false })).toThrow(/FRAMECAST_STORAGE: must be s3/);
  });

  it('reads a .env file, and the environment wins over it', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'fc-env-'));
    const file = path.join(dir, '.env');
    await writeFile(file, 'FRAMECAST_KEY_PREFIX=fromfile\nFRAMECAST_TIMEZONE=Europe/Berlin\n# comment\nFRAMECAST_ADMINS=discord:1, slack:U2\n');
    const c = loadConfig({ FRAMECAST_TIMEZONE: 'UTC' }, { dotenvPath: file });
    expect(c.keyPrefix).toBe('fromfile');
    expect(c.timeZone).toBe('UTC');
    expect([...c.admins]).toEqual(['discord:1', 'slack:U2']);
    await rm(dir, { recursive: true, force: true });
  });

  it('maps platform roles to tiers, admins and pro users from config', () => {
    const c = loadConfig({ FRAMECAST_ADMINS: 'discord:boss', FRAMECAST_PRO_USERS: 'slack:U9', FRAMECAST_ROLE_TIERS: 'Patron=pro,Mods=admin' }, { dotenvPath: false });
    expect(tierOf(c, 'discord:boss')).toBe('admin');
    expect(tierOf(c, 'slack:U9')).toBe('pro');
    expect(tierOf(c, 'discord:x', ['Patron'])).toBe('pro');
    expect(tierOf(c, 'discord:x', ['Patron', 'Mods'])).toBe('admin');
    expect(tierOf(c, 'discord:x', ['Nobody'])).toBe('free');
  });
});

describe('dayIn', () => {
  it('rolls over at local midnight', () => {
    expect(dayIn('Asia/Shanghai', Date.UTC(2026, 11, 31, 15, 59, 59))).toBe('2026-12-31');
    expect(dayIn('Asia/Shanghai', Date.UTC(2026, 11, 31, 16, 0, 0))).toBe('2027-01-01');
    expect(dayIn('America/Los_Angeles', Date.UTC(2026, 0, 1, 7, 59))).toBe('2025-12-31');
  });
});
