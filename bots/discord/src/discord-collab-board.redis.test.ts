import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createCore, type CollabContext, type Core } from '@framecast/core';
import { silentLogger, waitFor } from '../../../test/support/e2e.ts';
import { testConfig } from '../../../test/support/config.ts';
import { testRedis, testRedisUrl } from '../../../test/support/redis.ts';
import { DiscordCollabBoards } from './discord-collab-board.ts';
import { createDiscordRest } from './discord-rest.ts';
import { FakeDiscord, type FakeCall } from './testing/fake-discord.ts';

// The board message alone: a real core (no worker: the render's events are published as a worker
// would), real Redis, the REST client against the fake Discord.
let redis: Redis;
let dataDir: string;
let fake: FakeDiscord;
let core: Core;
let boards: DiscordCollabBoards;

const THREAD = '1400000000000000091';

beforeAll(async () => {
  redis = testRedis();
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'framecast-discord-board-'));
  fake = await new FakeDiscord().start();
  const config = testConfig({ REDIS_URL: testRedisUrl(), FRAMECAST_DATA_DIR: dataDir, FRAMECAST_FREE_DAILY_CREDITS: '100' });
  core = createCore({ config, redis, moderator: { moderateText: async () => ({ action: 'allow', hits: [], source: 'test' }) }, logger: silentLogger, connection: { url: testRedisUrl(), maxRetriesPerRequest: null } });
  boards = new DiscordCollabBoards({ core, rest: createDiscordRest({ token: 't', apiBaseUrl: fake.apiBaseUrl }), redis, logger: silentLogger, minEditIntervalMs: 0 });
  await boards.start();
});

afterAll(async () => {
  boards?.close();
  await core?.close();
  await fake?.close();
  await redis?.quit();
  await rm(dataDir, { recursive: true, force: true });
});

const ctx = (userId: string, userName: string): CollabContext => ({
  platform: 'discord', tenantId: 'g', channelId: THREAD, userId, userName, locale: 'en', replyTarget: { platform: 'discord', applicationId: fake.applicationId, channelId: THREAD },
});

describe('the board message follows the render\'s events', { timeout: 60_000 }, () => {
  it('edits in order and never back (a late "started" after "done" changes nothing), shows the failure and refund, is posted again when deleted, and ends without buttons on cancel', async () => {
    const key = `discord:${THREAD}`;
    const alice = ctx('1', 'Alice');
    expect((await core.collab.command(alice, 'collab start --draft --duration 1'))?.ok).toBe(true);
    for (const text of ['add one', 'add two']) expect((await core.collab.command(ctx('2', 'Bob'), text))?.ok).toBe(true);
    const loc = await boards.post(key);
    expect(loc?.channelId).toBe(THREAD);
    const edits = (): FakeCall[] => fake.calls.filter((c) => c.method === 'PATCH' && c.path === `/channels/${THREAD}/messages/${loc?.messageId ?? ''}`);
    const last = () => String(edits().at(-1)?.json?.content ?? '');

    const r = await core.collab.command(alice, 'collab render');
    expect(r?.code).toBe('rendering');
    const jobId = r?.jobId ?? '';
    boards.renderStarted(key, jobId);
    await waitFor(async () => (/one — 🗳️ 0 · ⏳ waiting/.test(last()) ? true : undefined), 10_000, 'the render shown');
    const seg = (index: number, phase: 'started' | 'step' | 'done' | 'retrying', step?: number) => core.collab.events.publish({ boardKey: key, type: 'segment', jobId, index, count: 2, phase, ...(step === undefined ? {} : { step, totalSteps: 2 }) });
    await seg(0, 'started');
    await seg(0, 'step', 1);
    await seg(0, 'done');
    await seg(1, 'started');
    await seg(1, 'retrying');
    // Late and out of order: shot 1 is done whatever comes after.
    await seg(0, 'started');
    await seg(0, 'step', 1);
    await waitFor(async () => (/two — 🗳️ 0 · 🔁 retrying/.test(last()) ? true : undefined), 10_000, 'the retry shown');
    expect(last()).toContain('one — 🗳️ 0 · ✅ done');
    await seg(1, 'step', 2);
    await core.collab.events.publish({ boardKey: key, type: 'stitching', jobId });
    await waitFor(async () => (last().includes('Joining the shots') ? true : undefined), 10_000, 'the stitch shown');
    // A segment event that arrives after the stitch began does not bring the render back.
    await seg(1, 'started');
    await new Promise((res) => setTimeout(res, 500));
    expect(last()).toContain('Joining the shots');
    expect(last().match(/✅ done/g)).toHaveLength(2);
    const contents = edits().map((c) => String(c.json?.content ?? ''));
    const shotOne = contents.map((c) => /one — 🗳️ 0 · ✅ done/.test(c));
    expect(shotOne.indexOf(true)).toBeGreaterThan(0);
    expect(shotOne.slice(shotOne.indexOf(true)).every(Boolean)).toBe(true);

    // The render fails: the refund is told on the board, which is open again with its vote buttons.
    await core.collab.renderFailed(jobId, key, { code: 'runtime_failed', message: 'injected' });
    await waitFor(async () => (/collecting shots/.test(last()) && /refunded/.test(last()) ? true : undefined), 10_000, 'the failure shown');
    const buttons = (edits().at(-1)?.json?.components as Array<{ components: Array<{ label: string }> }>).flatMap((row) => row.components.map((b) => b.label));
    expect(buttons).toEqual(['Vote 1', 'Vote 2', 'Show', 'Render']);

    // Someone deleted the board message: the next change posts a new one and keeps it.
    fake.fail(new RegExp(`^PATCH /channels/${THREAD}/messages/${loc?.messageId ?? ''}$`), 1, 404, 10008, 'Unknown Message');
    expect((await core.collab.command(ctx('3', 'Carol'), 'vote 2'))?.ok).toBe(true);
    boards.refresh(key);
    const moved = await waitFor(async () => {
      const now = await boards.location(key);
      return now !== undefined && now.messageId !== loc?.messageId ? now : undefined;
    }, 10_000, 'the board message posted again');
    expect(await boards.boardOfMessage(moved.messageId)).toBe(key);
    expect(fake.calls.filter((c) => c.method === 'POST' && c.path === `/channels/${THREAD}/messages`)).toHaveLength(2);

    // Cancelled: the message says so and has no buttons left.
    expect((await core.collab.command(alice, 'collab cancel'))?.ok).toBe(true);
    boards.refresh(key);
    await waitFor(async () => {
      const c = fake.calls.filter((x) => x.method === 'PATCH' && x.path === `/channels/${THREAD}/messages/${moved.messageId}`).at(-1);
      return c !== undefined && String(c.json?.content).includes('— cancelled ·') && JSON.stringify(c.json?.components) === '[]' ? true : undefined;
    }, 10_000, 'the cancelled board');
  });
});
