import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createCore } from '../core.ts';
import type { ChatRequestInput } from '../model/chat-request.schema.ts';
import type { ContentModerator } from '../moderation/content-moderator.ts';
import { FairQueue } from '../queue/fair-queue.ts';
import { testRedis } from '../../../test/support/redis.ts';
import { testConfig } from '../../../test/support/config.ts';

let redis: Redis;
beforeAll(() => {
  redis = testRedis();
});
afterAll(async () => {
  await redis.quit();
});

const moderator: ContentModerator = {
  async moderateText(text) {
    return text.includes('gore') ? { action: 'block', hits: [{ category: 'violence', match: 'gore' }], source: 'test' } : { action: 'allow', hits: [], source: 'test' };
  },
};

let seq = 0;
function req(text: string, userId: string, locale: 'en' | 'zh-CN' = 'en'): ChatRequestInput {
  seq += 1;
  return {
    version: 1, platform: 'slack', tenantId: 'T1', channelId: 'C1', userId, eventId: `evt-${seq}-${Math.random()}`, text, locale,
    replyTarget: { platform: 'slack', teamId: 'T1', channelId: 'C1' },
  };
}

describe('user blocks, the refusal log and job search (operators\' tools)', () => {
  it('a blocked user is refused in their language before anything is charged; unblocked, they are served again; refusals are logged without text', async () => {
    const config = testConfig();
    const core = createCore({ config, redis, moderator });
    const queue = new FairQueue(redis, config.keyPrefix);
    try {
      expect(await core.admin.blocks.block('slack:U1', 'admin', 'spam')).toBe(true);
      expect(await core.admin.blocks.block('slack:U1', 'admin')).toBe(false);
      expect(await core.admin.blocks.isBlocked('slack:U1')).toBe(true);
      expect(await core.admin.blocks.list()).toMatchObject([{ userKey: 'slack:U1', by: 'admin', reason: 'spam' }]);

      const before = await core.quota.show('slack:U1');
      const refused = await core.submit(req('/video a cat on a boat', 'U1', 'zh-CN'));
      expect(refused).toMatchObject({ status: 'refused', reason: 'user_blocked' });
      if (refused.status !== 'refused') throw new Error('not refused');
      expect(refused.message['zh-CN']).toContain('暂停');
      expect(refused.message.en).toContain('may not make videos');
      expect((await core.quota.show('slack:U1')).available).toBe(before.available);

      const other = await core.submit(req('/video gore everywhere', 'U2'));
      expect(other).toMatchObject({ status: 'refused', reason: 'moderation_blocked' });
      const log = await core.admin.recentRefusals(10);
      expect(log.map((e) => [e.userKey, e.reason, e.category])).toEqual([
        ['slack:U2', 'moderation_blocked', 'violence'],
        ['slack:U1', 'user_blocked', ''],
      ]);
      expect(JSON.stringify(log)).not.toContain('gore');

      expect(await core.admin.blocks.unblock('slack:U1')).toBe(true);
      expect(await core.admin.blocks.unblock('slack:U1')).toBe(false);
      const ok = await core.submit(req('/video a cat on a boat', 'U1'));
      expect(ok.status).toBe('accepted');
      if (ok.status !== 'accepted') throw new Error('refused');

      // Search by state and platform across users, and by user.
      const queued = await core.admin.searchJobs({ state: 'queued' });
      expect(queued.jobs.map((j) => j.jobId)).toEqual([ok.jobId]);
      expect(queued.truncated).toBe(false);
      expect((await core.admin.searchJobs({ platform: 'discord' })).jobs).toEqual([]);
      expect((await core.admin.searchJobs({ userKey: 'slack:U1', state: 'queued' })).jobs.map((j) => j.jobId)).toEqual([ok.jobId]);
      expect((await core.admin.searchJobs({ userKey: 'slack:U1', state: 'succeeded' })).jobs).toEqual([]);
    } finally {
      await queue.queue.obliterate({ force: true });
      await queue.close();
      await core.close();
    }
  });
});
