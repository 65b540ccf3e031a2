import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createCore, type Core } from '../core.ts';
import type { ContentModerator } from '../moderation/content-moderator.ts';
import { testRedis, testRedisUrl } from '../../../test/support/redis.ts';
import { testConfig } from '../../../test/support/config.ts';
import { selectShots, type Shot } from './collab-board.ts';
import type { CollabContext } from './collab-service.ts';

let redis: Redis;
beforeAll(() => {
  redis = testRedis();
});
afterAll(async () => {
  await redis.quit();
});

/** Blocks any line with "forbidden" in it (the product's moderator is tested elsewhere; the service only asks). */
const moderator: ContentModerator = {
  moderateText: async (text) =>
    /forbidden/i.test(text)
      ? { action: 'block', hits: [{ category: 'violence', match: 'forbidden', categoryLabel: { en: 'violence', 'zh-CN': '暴力' } }], source: 'test' }
      : { action: 'allow', hits: [], source: 'test' },
} as ContentModerator;

function makeCore(config = testConfig({ FRAMECAST_FREE_DAILY_CREDITS: '1000', FRAMECAST_FREE_MAX_CONCURRENT: '20', FRAMECAST_ADMINS: 'discord:admin' })): Core {
  return createCore({ config, redis, moderator, connection: { url: testRedisUrl(), maxRetriesPerRequest: null } });
}

const ctx = (userId: string, channelId = 'room-1', extra: Partial<CollabContext> = {}): CollabContext => ({
  platform: 'discord', tenantId: 'g', channelId, userId, userName: `User ${userId}`, locale: 'en',
  replyTarget: { platform: 'discord', applicationId: 'app', channelId }, ...extra,
});

describe('collab boards (real Redis)', () => {
  it('three users build a board, vote, edit and remove their own shots; a blocked line changes nothing', async () => {
    const core = makeCore();
    try {
      const started = await core.collab.command(ctx('alice'), 'collab start a day at the sea --seed 7 --draft --duration 2');
      expect(started).toMatchObject({ ok: true, code: 'started', audience: 'channel' });
      expect((await core.collab.command(ctx('bob'), 'collab start again'))?.code).toBe('exists');
      expect((await core.collab.command(ctx('alice'), 'add the sun rises'))?.ok).toBe(true);
      expect((await core.collab.command(ctx('bob'), '+ gulls over the waves'))?.ok).toBe(true);
      const blocked = await core.collab.command(ctx('carol'), 'add a forbidden thing');
      expect(blocked).toMatchObject({ ok: false, code: 'moderation_blocked', audience: 'author' });
      expect(blocked?.message.en).toContain('violence');
      expect((await core.collab.command(ctx('carol'), '加：孩子们堆沙堡'))?.ok).toBe(true);
      expect((await core.collab.command(ctx('carol'), 'add shot with --seed 3'))?.code).toBe('flags_in_shot');
      // Only the author edits; only the author, the starter or an admin removes.
      expect((await core.collab.command(ctx('bob'), 'edit 1 the sun sets'))?.code).toBe('not_author');
      expect((await core.collab.command(ctx('alice'), 'edit 1 the sun sets'))?.ok).toBe(true);
      expect((await core.collab.command(ctx('carol'), 'remove 2'))?.code).toBe('not_author');
      // Voting: once per user per shot.
      expect((await core.collab.command(ctx('bob'), 'vote 3'))?.ok).toBe(true);
      expect((await core.collab.command(ctx('bob'), '投票 3'))?.code).toBe('already_voted');
      expect((await core.collab.command(ctx('alice'), 'vote 3'))?.ok).toBe(true);
      // A vote taken back (a removed reaction, `unvote n`, `取消投票 n`), once; then given again.
      expect((await core.collab.command(ctx('carol'), 'unvote 3'))?.code).toBe('not_voted');
      expect(await core.collab.command(ctx('bob'), 'unvote 3')).toMatchObject({ ok: true, code: 'unvoted', message: { en: 'Vote for shot 3 taken back (1 votes).' } });
      expect((await core.collab.command(ctx('bob'), '取消投票 3'))?.code).toBe('not_voted');
      expect((await core.collab.command(ctx('bob'), 'unvote 9'))?.code).toBe('no_shot');
      expect((await core.collab.command(ctx('bob'), 'vote 3'))?.ok).toBe(true);
      const shown = await core.collab.command(ctx('bob'), 'collab show');
      expect(shown?.board?.shots.map((s) => [s.authorName, s.text, s.votes])).toEqual([
        ['User alice', 'the sun sets', 0],
        ['User bob', 'gulls over the waves', 0],
        ['User carol', '孩子们堆沙堡', 2],
      ]);
      // Three draft 2-second 16:9 shots: 2 credits each; the starter pays all by default.
      expect(shown?.board).toMatchObject({ cost: 6, policy: 'starter', charges: [{ payer: 'discord:alice', credits: 6 }], seed: 7 });
      expect(shown?.board?.etaSeconds).toBeGreaterThan(0);
      expect(shown?.message.en).toContain('the sun sets');
      // The starter (or an admin) reorders and locks; others may not.
      expect((await core.collab.command(ctx('bob'), 'collab reorder 3,1,2'))?.code).toBe('not_starter');
      expect((await core.collab.command(ctx('alice'), 'collab reorder 3,1'))?.code).toBe('bad_order');
      expect((await core.collab.command(ctx('admin'), 'collab reorder 3,1,2'))?.ok).toBe(true);
      expect((await core.collab.command(ctx('alice'), 'collab lock'))?.ok).toBe(true);
      expect((await core.collab.command(ctx('bob'), 'add too late'))?.code).toBe('not_collecting');
      expect((await core.collab.command(ctx('alice'), 'collab unlock'))?.ok).toBe(true);
      expect((await core.collab.command(ctx('carol'), 'remove 1'))?.ok).toBe(true);
      expect((await core.collab.show(ctx('x')))?.board?.shots.map((s) => s.text)).toEqual(['the sun sets', 'gulls over the waves']);
      expect(await core.collab.command(ctx('x'), '/video a cat --draft')).toBeUndefined();
      expect(await core.collab.command({ ...ctx('x'), channelId: '' }, 'collab show')).toMatchObject({ ok: false, code: 'invalid_request' });
    } finally {
      await core.close();
    }
  });

  it('a restart in the middle of collecting loses nothing, and two rooms do not mix', async () => {
    const config = testConfig({ FRAMECAST_FREE_DAILY_CREDITS: '1000' });
    const first = makeCore(config);
    await first.collab.command(ctx('alice', 'room-a'), 'collab start room a');
    await first.collab.command(ctx('bob', 'room-b'), 'collab start room b');
    await first.collab.command(ctx('alice', 'room-a'), 'add shot a1');
    await first.collab.command(ctx('bob', 'room-b'), 'add shot b1');
    await first.collab.command(ctx('bob', 'room-a'), 'add shot a2');
    await first.collab.command(ctx('bob', 'room-a'), 'vote 1');
    await first.close();
    const second = makeCore(config);
    try {
      const a = await second.collab.show(ctx('carol', 'room-a'));
      const b = await second.collab.show(ctx('carol', 'room-b'));
      expect(a.board?.shots.map((s) => [s.text, s.votes])).toEqual([['shot a1', 1], ['shot a2', 0]]);
      expect(a.board?.theme).toBe('room a');
      expect(b.board?.shots.map((s) => s.text)).toEqual(['shot b1']);
      expect((await second.collab.command(ctx('carol', 'room-a'), 'add shot a3'))?.message.en).toBe('Shot 3 added.');
      // The same channel id on another platform is another board.
      expect((await second.collab.show(ctx('carol', 'room-a', { platform: 'slack', replyTarget: { platform: 'slack', teamId: 'T1', channelId: 'room-a' } } as Partial<CollabContext>))).code).toBe('none');
    } finally {
      await second.close();
    }
  });

  it('concurrent contributions are all kept (compare-and-set)', async () => {
    const core = makeCore();
    try {
      await core.collab.command(ctx('alice', 'busy'), 'collab start');
      const adds = await Promise.all(Array.from({ length: 12 }, (_, i) => core.collab.command(ctx(`u${i}`, 'busy'), `add shot ${i}`)));
      expect(adds.every((r) => r?.ok)).toBe(true);
      const votes = await Promise.all(Array.from({ length: 8 }, (_, i) => core.collab.command(ctx(`v${i}`, 'busy'), 'vote 1')));
      expect(votes.every((r) => r?.ok)).toBe(true);
      const b = await core.collab.show(ctx('alice', 'busy'));
      expect(b.board?.shots).toHaveLength(12);
      expect(b.board?.shots[0]?.votes).toBe(8);
      expect(new Set(b.board?.shots.map((s) => s.text)).size).toBe(12);
    } finally {
      await core.close();
    }
  });

  it('an idle board expires with a notice; a fresh one does not', async () => {
    let now = Date.now();
    const config = testConfig({ FRAMECAST_COLLAB_IDLE_HOURS: '1' });
    const core = createCore({ config, redis, moderator, connection: { url: testRedisUrl(), maxRetriesPerRequest: null } });
    try {
      await core.collab.command(ctx('alice', 'idle'), 'collab start');
      await core.collab.command(ctx('alice', 'fresh'), 'collab start');
      const b = await core.collab.board('discord:idle');
      expect(b?.state).toBe('collecting');
      // Age the idle board by rewriting its activity time through the service's own clock.
      (core.collab as unknown as { now: () => number }).now = () => now;
      now += 30 * 60_000;
      await core.collab.command(ctx('alice', 'fresh'), 'add keep me');
      now += 45 * 60_000;
      const notices = await core.collab.sweep();
      expect(notices.map((n) => n.boardKey)).toEqual(['discord:idle']);
      expect(notices[0]?.message.en).toContain('1 hours');
      expect((await core.collab.board('discord:idle'))?.state).toBe('expired');
      expect((await core.collab.board('discord:fresh'))?.state).toBe('collecting');
      expect(await core.collab.sweep()).toEqual([]);
      const events = await core.collab.events.read();
      expect(events.filter((e) => e.type === 'expired').map((e) => e.boardKey)).toEqual(['discord:idle']);
      // A new board may start where one expired.
      expect((await core.collab.command(ctx('bob', 'idle'), 'collab start again'))?.ok).toBe(true);
    } finally {
      await core.close();
    }
  });

  it('render reserves by policy once (a double click is one job); a pool must hold the cost', async () => {
    const config = testConfig({ FRAMECAST_COLLAB_QUOTA_POLICY: 'pool', FRAMECAST_ADMINS: 'discord:admin' });
    const core = makeCore(config);
    try {
      await core.collab.command(ctx('alice', 'pool-room'), 'collab start --draft --duration 2');
      await core.collab.command(ctx('bob', 'pool-room'), 'add one');
      await core.collab.command(ctx('carol', 'pool-room'), 'add two');
      const poor = await core.collab.command(ctx('alice', 'pool-room'), 'collab render');
      expect(poor).toMatchObject({ ok: false, code: 'pool_credits' });
      expect((await core.collab.board('discord:pool-room'))?.state).toBe('locked');
      expect((await core.collab.grantPool(ctx('bob', 'pool-room'), 10)).ok).toBe(false);
      expect((await core.collab.grantPool(ctx('admin', 'pool-room'), 10)).balance).toBe(10);
      const [r1, r2] = await Promise.all([core.collab.command(ctx('alice', 'pool-room'), 'collab render'), core.collab.command(ctx('alice', 'pool-room'), 'collab render')]);
      const jobs = [r1, r2].filter((r) => r?.ok);
      expect(jobs).toHaveLength(1);
      expect([r1, r2].find((r) => r?.ok === false)?.code).toBe('already_rendering');
      expect(await core.collab.poolBalance(ctx('x', 'pool-room'))).toBe(6);
      const jobId = jobs[0]?.jobId ?? '';
      expect(await core.job(jobId)).toMatchObject({ state: 'queued', cost: 4, userKey: 'discord:alice', replyTarget: { channelId: 'pool-room' } });
      // The job fails: the pool gets its credits back, once; the board opens again.
      await core.lifecycle.finish(jobId, { kind: 'failed', code: 'transient', message: { en: 'failed', 'zh-CN': '失败' } });
      expect(await core.collab.afterRender('discord:pool-room')).toBe('reopened');
      expect(await core.collab.afterRender('discord:pool-room')).toBe('none');
      await core.collab.sweep();
      expect(await core.collab.poolBalance(ctx('x', 'pool-room'))).toBe(10);
      expect((await core.collab.board('discord:pool-room'))?.state).toBe('collecting');
    } finally {
      await core.close();
    }
  });

  it('the split policy reserves a share from each contributor and commits each once on success', async () => {
    const config = testConfig({ FRAMECAST_COLLAB_QUOTA_POLICY: 'split', FRAMECAST_FREE_DAILY_CREDITS: '100', FRAMECAST_FREE_MAX_CONCURRENT: '20' });
    const core = makeCore(config);
    try {
      await core.collab.command(ctx('alice', 'split'), 'collab start --draft --duration 3');
      await core.collab.command(ctx('alice', 'split'), 'add one');
      await core.collab.command(ctx('bob', 'split'), 'add two');
      await core.collab.command(ctx('carol', 'split'), 'add three');
      const show = await core.collab.show(ctx('alice', 'split'));
      expect(show.board?.charges).toEqual([{ payer: 'discord:alice', credits: 3 }, { payer: 'discord:bob', credits: 3 }, { payer: 'discord:carol', credits: 3 }]);
      const r = await core.collab.command(ctx('alice', 'split'), 'collab render');
      expect(r?.ok).toBe(true);
      // Held from each, without taking a slot of their own concurrent jobs (the render is the starter's job).
      for (const u of ['alice', 'bob', 'carol']) expect(await core.quota.show(`discord:${u}`, { tier: 'free' })).toMatchObject({ held: 3, spent: 0, active: 0 });
      await core.lifecycle.start(r?.jobId ?? '', 1);
      await core.lifecycle.finish(r?.jobId ?? '', { kind: 'video', result: { videoRef: 'videos/x.mp4', bytes: 10, width: 64, height: 64, frames: 17, fps: 16, durationSec: 1, needsLink: false, downgraded: false } });
      expect(await core.collab.afterRender('discord:split')).toBe('done');
      await core.collab.sweep();
      for (const u of ['alice', 'bob', 'carol']) expect(await core.quota.show(`discord:${u}`, { tier: 'free' })).toMatchObject({ held: 0, spent: 3 });
    } finally {
      await core.close();
    }
  });
});

describe('selectShots', () => {
  const shot = (id: string, votes: number): Shot => ({ id, author: 'a', authorName: 'A', text: id, voters: Array.from({ length: votes }, (_, i) => `v${i}`), createdAt: 0 });
  it('keeps the top-voted, ties to the earlier, in board order', () => {
    const shots = [shot('a', 1), shot('b', 3), shot('c', 1), shot('d', 0), shot('e', 3)];
    expect(selectShots(shots, 3).map((s) => s.id)).toEqual(['a', 'b', 'e']);
    expect(selectShots(shots, 10).map((s) => s.id)).toEqual(['a', 'b', 'c', 'd', 'e']);
  });
});
