import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { DeliveryJobDataSchema, LocalBlobStore, type DeliveryContext, type DeliveryOutcome } from '@framecast/core';
import type { FileBoxInterface } from 'file-box';
import { silentLogger } from '../../../test/support/e2e.ts';
import { testRedis, uniquePrefix } from '../../../test/support/redis.ts';
import { RoomQuota } from './room-quota.ts';
import { toldCancelKey } from './wechat-commands.ts';
import { WechatNotLoggedIn, WechatTargetGone, wechatDeliveryHandler, type WechatSender, type WechatTarget } from './wechat-delivery.ts';
import { readWechatLogin, writeWechatLogin } from './wechat-login.ts';
import { solidPng } from '../../slack/src/testing/tiny-png.ts';

let redis: Redis;
let dir: string;
beforeAll(async () => {
  redis = testRedis();
  dir = await mkdtemp(path.join(os.tmpdir(), 'framecast-wechat-delivery-'));
});
afterAll(async () => {
  await redis.quit();
  await rm(dir, { recursive: true, force: true });
});

/** A sender that records what it was asked to send, or fails as told. */
class RecordingSender implements WechatSender {
  readonly texts: Array<{ target: WechatTarget; text: string }> = [];
  readonly files: Array<{ target: WechatTarget; name: string; bytes: Buffer; metadata: Record<string, unknown> }> = [];
  fail: Error | undefined;
  async sayText(target: WechatTarget, text: string): Promise<void> {
    if (this.fail !== undefined) throw this.fail;
    this.texts.push({ target, text });
  }
  async sayFile(target: WechatTarget, file: FileBoxInterface): Promise<void> {
    if (this.fail !== undefined) throw this.fail;
    this.files.push({ target, name: file.name, bytes: await file.toBuffer(), metadata: { ...file.metadata } });
  }
}

const ctx: DeliveryContext = { attempt: 1 };

function setup(o: { publicUrl?: boolean } = {}) {
  const keyPrefix = uniquePrefix();
  const store = new LocalBlobStore({ dir: path.join(dir, keyPrefix), ...(o.publicUrl === true ? { publicUrl: { base: 'https://fc.example', secret: 's'.repeat(32) } } : {}) });
  const roomQuota = new RoomQuota({ redis, keyPrefix, dailyCredits: 10, timeZone: 'Asia/Shanghai' });
  const sender = new RecordingSender();
  const handler = wechatDeliveryHandler({ store, sender, roomQuota, redis, keyPrefix, logger: silentLogger });
  return { keyPrefix, store, roomQuota, sender, handler };
}

function delivery(jobId: string, outcome: DeliveryOutcome | (Omit<Extract<DeliveryOutcome, { kind: 'video' }>, 'result'> & { result: Record<string, unknown> }), target: Partial<WechatTarget> & { maxUploadBytes?: number } = { roomId: 'r1@chatroom', mentionId: 'u1' }) {
  return DeliveryJobDataSchema.parse({
    version: 2, jobId, platform: 'wechat', userKey: 'wechat:u1', channelId: 'r1@chatroom', locale: 'zh-CN',
    replyTarget: { platform: 'wechat', ...target }, outcome,
  });
}

const failed = { kind: 'failed' as const, code: 'failed', message: { en: 'It failed.', 'zh-CN': '生成失败。' } };

describe('the WeChat delivery handler', () => {
  it('a video within the budget goes as a file with its poster as the thumbnail', async () => {
    const { store, sender, handler } = setup();
    const mp4 = Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypisom'), Buffer.alloc(2000)]);
    await store.put('videos/j1.mp4', mp4, 'video/mp4');
    await store.put('posters/j1.png', solidPng(16, 16, [1, 2, 3]), 'image/png');
    const d = delivery('j1', { kind: 'video', result: { videoRef: 'videos/j1.mp4', posterRef: 'posters/j1.png', bytes: mp4.length, width: 320, height: 176, frames: 9, fps: 16, durationSec: 0.5 } }, { contactId: 'u1' });
    expect(await handler(d, ctx)).toEqual({ status: 'delivered' });
    expect(sender.files).toHaveLength(1);
    expect(sender.files[0]?.name).toBe('framecast-j1.mp4');
    expect(sender.files[0]?.bytes.equals(mp4)).toBe(true);
    expect(sender.files[0]?.metadata).toMatchObject({ width: 320, height: 176, duration: 0.5, thumbnail: { mediaType: 'image/png' } });
    expect(sender.texts).toEqual([]);
  });

  it('a video marked needsLink, with no public URL, says it is ready and names the job', async () => {
    const { sender, handler } = setup();
    const d = delivery('j2', { kind: 'video', result: { videoRef: 'videos/j2.mp4', bytes: 30_000_000, width: 320, height: 176, frames: 9, fps: 16, durationSec: 0.5, needsLink: true } });
    expect(await handler(d, ctx)).toEqual({ status: 'delivered' });
    expect(sender.texts[0]?.text).toMatch(/视频（28\.6 MB）已生成.*任务 j2/);
    expect(sender.files).toEqual([]);
  });

  it('over the budget with a public URL: a signed link', async () => {
    const { sender, handler } = setup({ publicUrl: true });
    const d = delivery('j3', { kind: 'video', result: { videoRef: 'videos/j3.mp4', bytes: 5000, width: 320, height: 176, frames: 9, fps: 16, durationSec: 0.5 } }, { contactId: 'u1', maxUploadBytes: 1000 });
    expect(await handler(d, ctx)).toEqual({ status: 'delivered' });
    expect(sender.texts[0]?.text).toMatch(/请点击链接下载：https:\/\/fc\.example\/media\/videos\/j3\.mp4\?exp=\d+&sig=/);
  });

  it('a failed job is told and gives the room its credits back, once', async () => {
    const { roomQuota, sender, handler } = setup();
    const c = await roomQuota.charge('r1@chatroom', 'e4', 6);
    await roomQuota.settle('r1@chatroom', 'e4', c.day, 'j4', 6);
    expect(await roomQuota.left('r1@chatroom')).toBe(4);
    expect(await handler(delivery('j4', failed), ctx)).toEqual({ status: 'delivered' });
    expect(await handler(delivery('j4', failed), ctx)).toEqual({ status: 'delivered' });
    expect(await roomQuota.left('r1@chatroom')).toBe(10);
    expect(sender.texts.map((t) => t.text)).toEqual(['生成失败。', '生成失败。']);
    expect(sender.texts[0]?.target).toMatchObject({ roomId: 'r1@chatroom', mentionId: 'u1' });
  });

  it('a cancel the user asked for by command is not told twice', async () => {
    const { keyPrefix, sender, handler } = setup();
    const cancelled = { kind: 'cancelled' as const, message: { en: 'Cancelled.', 'zh-CN': '视频已取消。' } };
    await redis.set(toldCancelKey(keyPrefix, 'j5'), '1');
    expect(await handler(delivery('j5', cancelled), ctx)).toEqual({ status: 'delivered' });
    expect(await handler(delivery('j6', cancelled), ctx)).toEqual({ status: 'delivered' });
    expect(sender.texts.map((t) => t.text)).toEqual(['视频已取消。']);
  });

  it('a chat not found three times running gives the delivery up (and the room its credits); a logged-out bot makes it retry', async () => {
    const { roomQuota, sender, handler } = setup();
    const c = await roomQuota.charge('r1@chatroom', 'e7', 6);
    await roomQuota.settle('r1@chatroom', 'e7', c.day, 'j7', 6);
    sender.fail = new WechatTargetGone('room gone');
    expect(await handler(delivery('j7', failed), ctx)).toMatchObject({ status: 'retry' });
    expect(await handler(delivery('j7', failed), { attempt: 3 })).toMatchObject({ status: 'failed' });
    expect(await roomQuota.left('r1@chatroom')).toBe(10);
    sender.fail = new WechatNotLoggedIn('logged out');
    await expect(handler(delivery('j8', failed), ctx)).rejects.toThrow(/logged out/);
  });
});

describe('the login state for the admin page', () => {
  it('keeps only the fields of the current status, and reads undefined when unset or garbled', async () => {
    const prefix = uniquePrefix();
    expect(await readWechatLogin(redis, prefix)).toBeUndefined();
    await writeWechatLogin(redis, prefix, { status: 'scan', qrcode: 'https://login.weixin.qq.com/l/x', updatedAt: 1 });
    expect(await readWechatLogin(redis, prefix)).toEqual({ status: 'scan', qrcode: 'https://login.weixin.qq.com/l/x', updatedAt: 1 });
    await writeWechatLogin(redis, prefix, { status: 'logged-in', user: 'Framecast', updatedAt: 2 });
    expect(await readWechatLogin(redis, prefix)).toEqual({ status: 'logged-in', user: 'Framecast', updatedAt: 2 });
    await writeWechatLogin(redis, prefix, { status: 'logged-out', updatedAt: 3 });
    expect(await readWechatLogin(redis, prefix)).toEqual({ status: 'logged-out', updatedAt: 3 });
    await redis.hset(`${prefix}:wechat:login`, 'status', 'dancing');
    expect(await readWechatLogin(redis, prefix)).toBeUndefined();
  });
});
