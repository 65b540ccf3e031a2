import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { FileBox } from 'file-box';
import { blobStoreFromConfig, costOf, mediaSecret, parseVideoCommand, type BlobStore, type Core, type FramecastConfig, type JobRecord } from '@framecast/core';
import { createHttpApp, listen, mediaRouter, type ListeningServer } from '@framecast/http-server';
import type { GenerateWorker } from '@framecast/gpu-worker';
import { productCoreAndWorker, silentLogger, waitFor } from '../../../test/support/e2e.ts';
import { testRedis, testRedisUrl } from '../../../test/support/redis.ts';
import { testConfig } from '../../../test/support/config.ts';
import { startWechatAdapter, type WechatAdapter } from './wechat-adapter.ts';
import { readWechatLogin } from './wechat-login.ts';
import { MockWechat, type SentMessage } from './testing/mock-wechat.ts';
import { solidPng } from '../../slack/src/testing/tiny-png.ts';

let redis: Redis;
let dataDir: string;
beforeAll(async () => {
  redis = testRedis();
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'framecast-wechat-'));
});
afterAll(async () => {
  await redis.quit();
  await rm(dataDir, { recursive: true, force: true });
});

interface Rig {
  wx: MockWechat;
  config: FramecastConfig;
  core: Core;
  worker: GenerateWorker;
  store: BlobStore;
  adapter: WechatAdapter;
  server: ListeningServer;
  close(): Promise<void>;
}

async function rig(o: { env?: Record<string, string>; maxUploadBytes?: number } = {}): Promise<Rig> {
  const http = createHttpApp({ metrics: { metrics: async () => '', contentType: 'text/plain' }, readiness: async () => ({ ok: true, checks: {} }) });
  const server = await listen(http, 0, '127.0.0.1');
  const config = testConfig({
    REDIS_URL: testRedisUrl(), FRAMECAST_DATA_DIR: dataDir, FRAMECAST_STEPS: '4', FRAMECAST_FREE_MAX_CONCURRENT: '5', FRAMECAST_FREE_DAILY_CREDITS: '1000',
    FRAMECAST_PUBLIC_URL: `http://127.0.0.1:${server.port}`, WECHATY_PUPPET: 'wechaty-puppet-mock', ...o.env,
  });
  const { core, worker } = await productCoreAndWorker(config, redis);
  const store = blobStoreFromConfig(config);
  http.mount(mediaRouter({ store, secret: mediaSecret(config) }));
  const wx = new MockWechat();
  const adapter = await startWechatAdapter({
    core, store, logger: silentLogger, config, puppet: wx.puppet, redis, terminal: null,
    consume: { relayEveryMs: 500 }, progressNoteAfterMs: 0, ...(o.maxUploadBytes === undefined ? {} : { maxUploadBytes: o.maxUploadBytes }),
  });
  void worker.run();
  return {
    wx, config, core, worker, store, adapter, server,
    async close() {
      await adapter.close();
      await worker.close();
      await core.close();
      await server.close();
    },
  };
}

function isMp4(bytes: Buffer): boolean {
  return bytes.subarray(4, 8).toString('ascii') === 'ftyp';
}

async function jobsOf(core: Core, userId: string): Promise<JobRecord[]> {
  return (await core.listJobs(`wechat:${userId}`, 100)).sort((a, b) => a.createdAt - b.createdAt);
}

async function awaitJobs(core: Core, userId: string, n: number, what: string): Promise<JobRecord[]> {
  return waitFor(async () => {
    const j = await jobsOf(core, userId);
    return j.length >= n ? j : undefined;
  }, 30_000, what);
}

async function awaitText(wx: MockWechat, conversationId: string, re: RegExp, what: string, timeoutMs = 30_000): Promise<SentMessage> {
  return waitFor(async () => wx.sentTo(conversationId).find((m) => m.text !== undefined && re.test(m.text)), timeoutMs, what);
}

async function awaitFile(wx: MockWechat, conversationId: string, jobId: string): Promise<NonNullable<SentMessage['file']>> {
  const m = await waitFor(async () => wx.sentTo(conversationId).find((s) => s.file?.name === `framecast-${jobId}.mp4`), 100_000, `the video of ${jobId}`);
  return m.file as NonNullable<SentMessage['file']>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `fn` with the worker paused and its fetch loop ended, so that the jobs it makes stay queued
 * (a BullMQ worker paused while it blocks for the next job still takes that job); resumed whatever happens.
 */
async function withWorkerPaused<T>(r: Rig, fn: () => Promise<T>): Promise<T> {
  await r.worker.worker.pause();
  try {
    await waitFor(async () => (r.worker.worker.isRunning() ? undefined : true), 30_000, 'the worker\'s fetch loop to end');
    return await fn();
  } finally {
    r.worker.worker.resume();
  }
}

// Each test takes 2–20 s on an idle 2-core machine (the tiny model renders a draft in seconds); the limit leaves room for a busy one.
describe('WeChat bot: wechaty on wechaty-puppet-mock, the real core and worker', { timeout: 120_000 }, () => {
  let r: Rig;
  beforeAll(async () => {
    r = await rig({ env: { FRAMECAST_WECHAT_ROOMS: 'Travel Club' } });
  });
  afterAll(async () => {
    await r?.close();
  });

  it('publishes the login QR code and then the logged-in user to Redis for the admin page', async () => {
    r.wx.scan('https://login.weixin.qq.com/l/test-qr');
    const scan = await waitFor(async () => {
      const s = await readWechatLogin(redis, r.config.keyPrefix);
      return s?.status === 'scan' ? s : undefined;
    }, 10_000, 'the scan state');
    expect(scan.qrcode).toBe('https://login.weixin.qq.com/l/test-qr');
    r.wx.login();
    const login = await waitFor(async () => {
      const s = await readWechatLogin(redis, r.config.keyPrefix);
      return s?.status === 'logged-in' ? s : undefined;
    }, 10_000, 'the logged-in state');
    expect(login).toMatchObject({ status: 'logged-in', user: 'Framecast' });
    expect(login.qrcode).toBeUndefined();
    expect(r.adapter.bot.isLoggedIn).toBe(true);
  });

  it('a private chat prompt: one short acknowledgement, at most one progress note, then the mp4 as a file', async () => {
    const alice = r.wx.contact('Alice');
    const t0 = Date.now();
    r.wx.say(alice, '/video a paper boat on a rainy street --draft');
    const ack = await awaitText(r.wx, alice.id, /Got it: job/, 'the acknowledgement');
    const [job] = await awaitJobs(r.core, alice.id, 1, 'the job');
    if (job === undefined) throw new Error('no job');
    expect(ack.text).toContain(job.jobId);
    expect(ack.text).toMatch(/position \d+, about .+Cost \d+ credits, \d+ left today/);
    expect(job.replyTarget).toMatchObject({ platform: 'wechat', contactId: alice.id });
    expect(job.spec.referenceImage).toBeUndefined();
    const file = await awaitFile(r.wx, alice.id, job.jobId);
    const done = await waitFor(async () => {
      const j = await r.core.job(job.jobId);
      return j?.state === 'succeeded' ? j : undefined;
    }, 30_000, 'succeeded');
    // The file is the stored mp4, byte for byte, with its size and poster for puppets that show one.
    expect(isMp4(file.bytes)).toBe(true);
    if (done.result === undefined) throw new Error('no result');
    expect(file.bytes.equals(await r.store.get(done.result.videoRef))).toBe(true);
    expect(file.metadata).toMatchObject({ width: done.result.width, height: done.result.height });
    if (done.result.posterRef !== undefined) expect(file.metadata.thumbnail).toMatchObject({ base64: expect.any(String) });
    // Four steps, one note; no message is ever edited; nothing after the video.
    const sent = r.wx.sentTo(alice.id);
    expect(sent.filter((m) => /Still working on job/.test(m.text ?? ''))).toHaveLength(1);
    expect(sent.filter((m) => m.text !== undefined).length).toBeLessThanOrEqual(2);
    console.info(JSON.stringify({ wechatPrivateJobSeconds: (Date.now() - t0) / 1000, videoBytes: file.bytes.length }));
  });

  it('in a room: a mention and a leading command trigger, chatter does not, a room not allowed is ignored', async () => {
    await withWorkerPaused(r, async () => {
      const bob = r.wx.contact('Bob');
      const carol = r.wx.contact('Carol');
      const club = r.wx.room('Travel Club', [bob, carol]);
      const other = r.wx.room('Random', [bob]);
      r.wx.say(bob, '今天去哪里玩？', club);
      r.wx.say(bob, '@Framecast\u2005古镇黄昏的灯笼 --draft', club, [r.wx.self]);
      await awaitJobs(r.core, bob.id, 1, 'the mention job');
      r.wx.say(carol, '视频：雪山日出 --draft', club);
      await awaitJobs(r.core, carol.id, 1, 'the prefix job');
      r.wx.say(bob, '@Framecast\u2005夜市 --draft', other, [r.wx.self]);
      r.wx.say(bob, '/视频 夜市 --draft', other);
      await sleep(1500);
      const bobs = await jobsOf(r.core, bob.id);
      expect(bobs).toHaveLength(1);
      expect(bobs[0]?.spec.prompt).toContain('古镇黄昏的灯笼');
      expect(bobs[0]?.replyTarget).toMatchObject({ platform: 'wechat', roomId: club.id, mentionId: bob.id });
      const [carols] = await jobsOf(r.core, carol.id);
      expect(carols?.spec.prompt).toContain('雪山日出');
      // Answers in the room mention the sender; the other room heard nothing.
      await awaitText(r.wx, club.id, /^@Bob .*收到！任务/, 'the acknowledgement to Bob');
      await awaitText(r.wx, club.id, /^@Carol .*收到！任务/, 'the acknowledgement to Carol');
      expect(r.wx.sentTo(other.id)).toEqual([]);
      for (const j of [...bobs, carols]) if (j !== undefined) await r.core.cancel(j.jobId, { userKey: 'wechat:admin', isAdmin: true });
    });
  });

  it('a picture followed by a prompt becomes its first frame; "用上一张图" reuses it; a later prompt goes without', async () => {
    await withWorkerPaused(r, async () => {
      const dora = r.wx.contact('Dora');
      // Back to back: the picture is kept before the prompt that follows it is read.
      r.wx.say(dora, FileBox.fromBase64(solidPng(320, 240, [30, 120, 220]).toString('base64'), 'lake.png'));
      r.wx.say(dora, '湖面起风了 --draft');
      await awaitText(r.wx, dora.id, /已收到图片/, 'the picture hint');
      const [first] = await awaitJobs(r.core, dora.id, 1, 'the first job');
      expect(first?.spec.referenceImage?.ref).toMatch(/^refs\//);
      await awaitText(r.wx, dora.id, /将使用你发的图片作为首帧/, 'the acknowledgement with the picture');
      r.wx.say(dora, '用上一张图 湖面下雪 --draft');
      const [, second] = await awaitJobs(r.core, dora.id, 2, 'the second job');
      expect(second?.spec.referenceImage?.sha256).toBe(first?.spec.referenceImage?.sha256);
      expect(second?.spec.prompt).not.toContain('用上一张图');
      r.wx.say(dora, '湖边的小屋 --draft');
      const [, , third] = await awaitJobs(r.core, dora.id, 3, 'the third job');
      expect(third?.spec.referenceImage).toBeUndefined();
      for (const j of [first, second, third]) if (j !== undefined) await r.core.cancel(j.jobId, { userKey: 'wechat:admin', isAdmin: true });
    });
  });

  it('a duplicated message event makes one job and one acknowledgement', async () => {
    await withWorkerPaused(r, async () => {
      const erin = r.wx.contact('Erin');
      const id = r.wx.say(erin, '/video a lighthouse in fog --draft');
      r.wx.emit(id);
      r.wx.emit(id);
      await awaitJobs(r.core, erin.id, 1, 'the job');
      await sleep(1500);
      r.wx.emit(id);
      await sleep(1000);
      const jobs = await jobsOf(r.core, erin.id);
      expect(jobs).toHaveLength(1);
      expect(r.wx.sentTo(erin.id).filter((m) => /Got it: job/.test(m.text ?? ''))).toHaveLength(1);
      await r.core.cancel(jobs[0]?.jobId ?? '', { userKey: 'wechat:admin', isAdmin: true });
    });
  });

  it('text commands: 额度 shows the credits, 再来一个 makes the last video again with a new seed, 取消 cancels it', async () => {
    const finn = r.wx.contact('Finn');
    r.wx.say(finn, '额度');
    await awaitText(r.wx, finn.id, /^今日额度：剩余 1000 \/ 1000 点/, 'the quota answer');
    r.wx.say(finn, 'help');
    await awaitText(r.wx, finn.id, /Framecast makes short AI videos/, 'the help');
    r.wx.say(finn, '再来一个');
    await awaitText(r.wx, finn.id, /还没有可以重新生成的视频/, 'nothing to reroll');
    await withWorkerPaused(r, async () => {
      r.wx.say(finn, '竹林里的熊猫 --draft');
      const [first] = await awaitJobs(r.core, finn.id, 1, 'the first job');
      r.wx.say(finn, '再来一个');
      const [, again] = await awaitJobs(r.core, finn.id, 2, 'the reroll');
      expect(again?.spec.prompt).toBe(first?.spec.prompt);
      expect(again?.spec.mode).toBe('draft');
      expect(again?.spec.seed).not.toBe(first?.spec.seed);
      // 取消 stops the newest job still going, and says so once (the cancelled outcome is not told again).
      r.wx.say(finn, '取消');
      await awaitText(r.wx, finn.id, /任务 \S+ 已取消，额度已退还/, 'the cancel answer');
      await waitFor(async () => ((await r.core.job(again?.jobId ?? ''))?.state === 'cancelled' ? true : undefined), 30_000, 'the reroll cancelled');
      expect((await r.core.job(first?.jobId ?? ''))?.state).toBe('queued');
      await sleep(1500);
      expect(r.wx.sentTo(finn.id).filter((m) => /已取消/.test(m.text ?? ''))).toHaveLength(1);
      await r.core.cancel(first?.jobId ?? '', { userKey: 'wechat:admin', isAdmin: true });
    });
  });

  it('a video whose file send fails is sent as a signed link', async () => {
    const gus = r.wx.contact('Gus');
    r.wx.puppet.failFileSends = 1;
    r.wx.say(gus, '/video a kite over the beach --draft');
    const [job] = await awaitJobs(r.core, gus.id, 1, 'the job');
    const link = await awaitText(r.wx, gus.id, /could not be sent as a file here; download it: http/, 'the link', 100_000);
    const url = /(http:\/\/\S+)/.exec(link.text ?? '')?.[1] ?? '';
    expect(url).toContain(`/media/`);
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(isMp4(Buffer.from(await res.arrayBuffer()))).toBe(true);
    expect(r.wx.sentTo(gus.id).some((m) => m.file !== undefined)).toBe(false);
    await waitFor(async () => ((await r.core.job(job?.jobId ?? ''))?.state === 'succeeded' ? true : undefined), 30_000, 'succeeded');
  });
});

describe('WeChat bot: upload budget and room credits', { timeout: 120_000 }, () => {
  const draft = parseVideoCommand('/video x --draft');
  if (!draft.ok) throw new Error('draft spec');
  const roomCredits = costOf(draft.spec);
  let r: Rig;
  beforeAll(async () => {
    r = await rig({ maxUploadBytes: 1000, env: { FRAMECAST_WECHAT_ROOM_DAILY_CREDITS: String(roomCredits) } });
    r.wx.login();
    await waitFor(async () => (r.adapter.bot.isLoggedIn ? true : undefined), 10_000, 'logged in');
  });
  afterAll(async () => {
    await r?.close();
  });

  it('an oversized video comes as a link to the stored file', async () => {
    const hana = r.wx.contact('Hana');
    r.wx.say(hana, '/video a red lantern swaying --draft');
    const [job] = await awaitJobs(r.core, hana.id, 1, 'the job');
    const link = await awaitText(r.wx, hana.id, /download it: http/, 'the link', 100_000);
    const url = /(http:\/\/\S+)/.exec(link.text ?? '')?.[1] ?? '';
    const bytes = Buffer.from(await (await fetch(url)).arrayBuffer());
    expect(isMp4(bytes)).toBe(true);
    expect(bytes.length).toBeGreaterThan(1000);
    expect(r.wx.sentTo(hana.id).some((m) => m.file !== undefined)).toBe(false);
    await waitFor(async () => ((await r.core.job(job?.jobId ?? ''))?.state === 'succeeded' ? true : undefined), 30_000, 'succeeded');
  });

  it('a room\'s daily credits refuse the request that would pass them (nothing charged), and come back when a job is cancelled', async () => {
    const ivy = r.wx.contact('Ivy');
    const jack = r.wx.contact('Jack');
    const shop = r.wx.room('Shop', [ivy, jack]);
    await withWorkerPaused(r, async () => {
      r.wx.say(ivy, '/视频 旋转的茶杯 --draft', shop);
      const [first] = await awaitJobs(r.core, ivy.id, 1, 'the first job');
      await awaitText(r.wx, shop.id, /^@Ivy .*收到！/, 'the first acknowledgement');
      const refusedId = r.wx.say(jack, '/视频 旋转的花瓶 --draft', shop);
      await awaitText(r.wx, shop.id, /^@Jack .*本群今日的视频额度已用完/, 'the room refusal');
      r.wx.emit(refusedId);
      expect(await jobsOf(r.core, jack.id)).toHaveLength(0);
      expect((await r.core.quota.show(`wechat:${jack.id}`)).available).toBe(1000);
      // Ivy cancels her waiting job: the room's credits come back (once), and Jack's next request goes through.
      r.wx.say(ivy, '@Framecast\u2005取消', shop, [r.wx.self]);
      await awaitText(r.wx, shop.id, /^@Ivy .*已取消，额度已退还/, 'the cancel answer');
      // The repeated event was not answered twice.
      expect(r.wx.sentTo(shop.id).filter((m) => /^@Jack .*本群今日的视频额度已用完/.test(m.text ?? ''))).toHaveLength(1);
      await waitFor(async () => ((await r.core.job(first?.jobId ?? ''))?.state === 'cancelled' ? true : undefined), 30_000, 'cancelled');
      r.wx.say(jack, '/视频 旋转的花瓶 --draft', shop);
      const [jacks] = await awaitJobs(r.core, jack.id, 1, 'Jack\'s job once the credits came back');
      await awaitText(r.wx, shop.id, /^@Jack .*收到！/, 'Jack\'s acknowledgement');
      // The room is spent again.
      r.wx.say(ivy, '/视频 旋转的茶杯 --draft', shop);
      await waitFor(async () => (r.wx.sentTo(shop.id).filter((m) => /^@Ivy .*本群今日的视频额度已用完/.test(m.text ?? '')).length === 1 ? true : undefined), 30_000, 'the second room refusal');
      await r.core.cancel(jacks?.jobId ?? '', { userKey: 'wechat:admin', isAdmin: true });
    });
  });
});
