import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeDiscord } from '../bots/discord/src/testing/fake-discord.ts';
import { testRedisUrl, uniquePrefix } from './support/redis.ts';

const run = promisify(execFile);
const CLI = path.resolve(import.meta.dirname, '..', 'bin', 'framecast.mjs');
let dir: string;
let fake: FakeDiscord;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'fc-cli-bot-'));
  fake = await new FakeDiscord().start();
});
afterAll(async () => {
  await fake.close();
  await rm(dir, { recursive: true, force: true });
});

async function cli(env: Record<string, string>, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const base = { ...(process.env as Record<string, string>), REDIS_URL: testRedisUrl(), FRAMECAST_KEY_PREFIX: uniquePrefix(), FRAMECAST_DATA_DIR: dir, LOG_LEVEL: 'silent' };
  try {
    const r = await run(process.execPath, [CLI, ...args], { env: { ...base, ...env }, cwd: dir, timeout: 60_000 });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: x.code ?? -1, out: x.stdout ?? '', err: x.stderr ?? '' };
  }
}

describe('framecast bot (real binary)', () => {
  it('`bot discord register --guild ID` registers the localised commands in that guild (fake Discord REST)', async () => {
    const env = { DISCORD_TOKEN: 'test-token', DISCORD_APPLICATION_ID: fake.applicationId, DISCORD_API_BASE_URL: fake.apiBaseUrl, DISCORD_GATEWAY: 'off' };
    const r = await cli(env, 'bot', 'discord', 'register', '--guild', '123456789012345678');
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ scope: 'guild 123456789012345678' });
    expect(JSON.parse(r.out).registered).toEqual(expect.arrayContaining(['video', 'video-quota', 'video-jobs', 'video-help']));
    expect(fake.calls.some((c) => c.method === 'PUT' && c.path.endsWith(`/applications/${fake.applicationId}/guilds/123456789012345678/commands`))).toBe(true);
  });

  it('refuses an unknown platform or action, and names the missing settings', { timeout: 120_000 }, async () => {
    expect(await cli({}, 'bot', 'irc')).toMatchObject({ code: 2 });
    expect((await cli({}, 'bot', 'irc')).err).toContain('wechat, miniprogram, discord or slack');
    expect(await cli({}, 'bot', 'discord', 'explode')).toMatchObject({ code: 2 });
    const noToken = await cli({ FRAMECAST_HTTP_PORT: '0' }, 'bot', 'slack');
    expect(noToken.code).not.toBe(0);
    expect(noToken.err).toMatch(/SLACK_BOT_TOKEN/);
  });

  it('the WeChat bot and the mini program API name their missing settings', { timeout: 120_000 }, async () => {
    const noApp = await cli({ FRAMECAST_HTTP_PORT: '0' }, 'bot', 'miniprogram');
    expect(noApp.code).not.toBe(0);
    expect(noApp.err).toMatch(/WECHAT_APP_ID/);
    const noPuppet = await cli({ FRAMECAST_HTTP_PORT: '0' }, 'bot', 'wechat');
    expect(noPuppet.code).not.toBe(0);
    expect(noPuppet.err).toMatch(/WECHATY_PUPPET/);
  });
});
