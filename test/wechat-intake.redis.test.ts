import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { blobStoreFromConfig, createCore, type ChatRequestInput } from '@framecast/core';
import { collectMediaChecks, createProductImageIntake, createProductModerator, MEDIA_CHECK_PENDING_CATEGORY } from '@framecast/content-safety';
import { gradientPng } from '../bots/miniprogram-api/src/testing/tiny-png.ts';
import { startFakeWeChatServer, type FakeWeChat } from '../content-safety/src/remote/testing/fake-wechat-server.ts';
import { testRedis } from './support/redis.ts';
import { testConfig } from './support/config.ts';

// The product's moderation with WeChat's own checks switched on: mini program users are checked by
// WeChat too (through the real client against a local fake of WeChat's API); others are not.
let redis: Redis;
let wechat: FakeWeChat;
beforeAll(async () => {
  redis = testRedis();
  wechat = await startFakeWeChatServer({ recentOpenids: ['o-mini-1'] });
});
afterAll(async () => {
  await wechat.close();
  await redis.quit();
});

let seq = 0;
function req(platform: 'miniprogram' | 'discord', userId: string, text: string): ChatRequestInput {
  seq += 1;
  const replyTarget = platform === 'miniprogram' ? { platform, appId: 'wxapp', openid: userId } : { platform, applicationId: 'a', channelId: 'c' };
  return { version: 1, platform, tenantId: 'wxapp', channelId: 'c', userId, eventId: `wx-${seq}`, text, replyTarget, locale: 'zh-CN' };
}

/** Removes what the test wrote (jobs, the generate queue, credits): every key under its prefix. */
async function removeKeys(prefix: string): Promise<void> {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
}

describe('intake with WeChat checks on', () => {
  it('asks WeChat about mini program users only, and follows its verdict', async () => {
    const config = testConfig({
      FRAMECAST_WECHAT_CHECKS: 'on', WECHAT_APP_ID: wechat.appId, WECHAT_APP_SECRET: wechat.appSecret, WECHAT_API_BASE_URL: wechat.baseUrl,
      FRAMECAST_PUBLIC_URL: 'https://framecast.example.com', FRAMECAST_FREE_MAX_CONCURRENT: '5',
    });
    const { moderator } = await createProductModerator(config);
    const core = createCore({ config, redis, moderator });
    try {
      const review = await core.submit(req('miniprogram', 'o-mini-1', '/video 一双球鞋的广告 buy now --draft'));
      expect(review).toMatchObject({ status: 'accepted', reviewRequired: true });
      const risky = await core.submit(req('miniprogram', 'o-mini-1', '/video 一个 casino 的夜景 --draft'));
      expect(risky).toMatchObject({ status: 'refused', reason: 'moderation_blocked' });
      const checks = wechat.calls.filter((c) => c.path === '/wxa/msg_sec_check');
      expect(checks.length).toBe(2);
      expect(checks[0]?.body).toMatchObject({ version: 2, openid: 'o-mini-1' });
      const other = await core.submit(req('discord', '42', '/video a sneaker ad, buy now --draft'));
      expect(other).toMatchObject({ status: 'accepted', reviewRequired: false });
      expect(wechat.calls.filter((c) => c.path === '/wxa/msg_sec_check').length).toBe(2);
    } finally {
      await core.close();
      await removeKeys(config.keyPrefix);
    }
  });

  it('does not wait for WeChat\'s image verdict: the check is submitted with a signed public link and the job held', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'framecast-wxintake-'));
    const config = testConfig({
      FRAMECAST_WECHAT_CHECKS: 'on', WECHAT_APP_ID: wechat.appId, WECHAT_APP_SECRET: wechat.appSecret, WECHAT_API_BASE_URL: wechat.baseUrl,
      FRAMECAST_PUBLIC_URL: 'https://framecast.example.com', FRAMECAST_FREE_MAX_CONCURRENT: '5', FRAMECAST_DATA_DIR: dataDir,
    });
    const store = blobStoreFromConfig(config);
    const { moderator } = await createProductModerator(config, { store });
    const core = createCore({ config, redis, moderator, imageIntake: createProductImageIntake(store) });
    // No push ever comes: the old behaviour waited 60 s here.
    wechat.setPushUrl('');
    try {
      const png = gradientPng(96, 64);
      await store.put('uploads/wx-intake.png', png, 'image/png');
      const r = req('miniprogram', 'o-mini-1', '/video 古镇黄昏 --draft');
      r.attachments = [{ kind: 'image', storageRef: 'uploads/wx-intake.png', contentType: 'image/png', size: png.length }];
      const started = Date.now();
      const c = await collectMediaChecks(() => core.submit(r));
      expect(Date.now() - started).toBeLessThan(30_000);
      expect(c.value).toMatchObject({ status: 'accepted', reviewRequired: true });
      expect(c.traces).toHaveLength(1);
      expect(c.otherReview).toBe(false);
      const call = wechat.calls.find((x) => x.path === '/wxa/media_check_async');
      expect(call?.body).toMatchObject({ version: 2, media_type: 2, openid: 'o-mini-1' });
      expect(call?.body?.media_url).toMatch(/^https:\/\/framecast\.example\.com\/media\/previews\/wechat-check-[0-9a-f]{32}\.jpg\?exp=\d+&sig=/);
      const verdict = await moderator.moderateImage?.({ data: new Uint8Array(12), width: 2, height: 2 }, { openid: 'o-mini-1' });
      expect(verdict?.hits[0]?.category).toBe(MEDIA_CHECK_PENDING_CATEGORY);
    } finally {
      await core.close();
      await removeKeys(config.keyPrefix);
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses to start with the checks on but no app credentials', async () => {
    expect(() => testConfig({ FRAMECAST_WECHAT_CHECKS: 'on' })).toThrow(/WECHAT_APP_ID[\s\S]*WECHAT_APP_SECRET/);
  });

  it('refuses to start with the checks on but no public URL (WeChat downloads the checked photo from a signed link)', async () => {
    expect(() => testConfig({ FRAMECAST_WECHAT_CHECKS: 'on', WECHAT_APP_ID: 'wxapp', WECHAT_APP_SECRET: 'secret' })).toThrow(/FRAMECAST_PUBLIC_URL: required when FRAMECAST_WECHAT_CHECKS is on/);
    expect(() => testConfig({ WECHAT_PUSH_TOKEN: 'bad token!' })).toThrow(/WECHAT_PUSH_TOKEN/);
  });
});
