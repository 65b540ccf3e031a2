import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { FileBox } from 'file-box';
import { blobStoreFromConfig, mediaSecret, type Core } from '@framecast/core';
import { createHttpApp, listen, mediaRouter, type ListeningServer } from '@framecast/http-server';
import type { GenerateWorker } from '@framecast/gpu-worker';
import { productCoreAndWorker, silentLogger, waitFor } from '../../../test/support/e2e.ts';
import { testRedis, testRedisUrl } from '../../../test/support/redis.ts';
import { testConfig } from '../../../test/support/config.ts';
import { collabCandidate } from './wechat-collab.ts';
import { startWechatAdapter, type WechatAdapter } from './wechat-adapter.ts';
import { MockWechat, type SentMessage } from './testing/mock-wechat.ts';
import { solidPng } from '../../slack/src/testing/tiny-png.ts';

let redis: Redis;
let dataDir: string;
let wx: MockWechat;
let core: Core;
let worker: GenerateWorker;
let adapter: WechatAdapter;
let server: ListeningServer;

beforeAll(async () => {
  redis = testRedis();
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'framecast-wechat-collab-'));
  const http = createHttpApp({ metrics: { metrics: async () => '', contentType: 'text/plain' }, readiness: async () => ({ ok: true, checks: {} }) });
  server = await listen(http, 0, '127.0.0.1');
  const config = testConfig({
    REDIS_URL: testRedisUrl(), FRAMECAST_DATA_DIR: dataDir, FRAMECAST_STEPS: '2', FRAMECAST_FREE_MAX_CONCURRENT: '5', FRAMECAST_FREE_DAILY_CREDITS: '1000',
    FRAMECAST_COLLAB_TRANSITION_SECONDS: '0.5', FRAMECAST_PUBLIC_URL: `http://127.0.0.1:${server.port}`, WECHATY_PUPPET: 'wechaty-puppet-mock',
  });
  ({ core, worker } = await productCoreAndWorker(config, redis));
  const store = blobStoreFromConfig(config);
  http.mount(mediaRouter({ store, secret: mediaSecret(config) }));
  wx = new MockWechat();
  adapter = await startWechatAdapter({ core, store, logger: silentLogger, config, puppet: wx.puppet, redis, terminal: null, consume: { relayEveryMs: 500 } });
  wx.login();
  await waitFor(async () => (adapter.bot.isLoggedIn ? true : undefined), 10_000, 'the login');
  void worker.run();
}, 120_000);

afterAll(async () => {
  await adapter?.close();
  await worker?.close();
  await core?.close();
  await server?.close();
  await redis.quit();
  await rm(dataDir, { recursive: true, force: true });
});

async function awaitText(conversationId: string, re: RegExp, what: string, timeoutMs = 30_000): Promise<SentMessage> {
  return waitFor(async () => wx.sentTo(conversationId).find((m) => m.text !== undefined && re.test(m.text)), timeoutMs, what);
}

describe('collabCandidate', () => {
  it('reads /video and mentions always, room shortcuts only as shortcuts, and leaves chatter and "+1" alone', () => {
    expect(collabCandidate('/video collab start', false)).toBe('explicit');
    expect(collabCandidate('/视频 add 海浪', false)).toBe('explicit');
    expect(collabCandidate('collab show', true)).toBe('explicit');
    expect(collabCandidate('+ 海鸥飞过', false)).toBe('shortcut');
    expect(collabCandidate('加：海鸥飞过', false)).toBe('shortcut');
    expect(collabCandidate('投票 2', false)).toBe('shortcut');
    expect(collabCandidate('取消投票 2', false)).toBe('shortcut');
    expect(collabCandidate('+1', false)).toBeUndefined();
    expect(collabCandidate('＋1！', false)).toBeUndefined();
    expect(collabCandidate('add me to the group', false)).toBeUndefined();
    expect(collabCandidate('collab start', false)).toBeUndefined();
  });
});

// About 15–40 s on an idle 2-core machine (two draft shots on the tiny model, then the stitch); the limit leaves room for a busy one.
describe('WeChat room storyboard: wechaty on wechaty-puppet-mock, the real core and worker', { timeout: 180_000 }, () => {
  it('three members start a board, add shots (a blocked one refused to its author alone), vote, render, and the room gets one video', async () => {
    const alice = wx.contact('Alice');
    const bob = wx.contact('Bob');
    const carol = wx.contact('Carol');
    const room = wx.room('Film Club', [alice, bob, carol]);
    const key = `wechat:${room.id}`;
    const t0 = Date.now();

    // Chatter before a board exists: "+ …" is not read as a shot.
    wx.say(bob, '+ 同意', room);
    // With no board open, "/video add …" is a prompt like any other.
    wx.say(bob, '/video add a lighthouse at dusk --draft', room);
    await awaitText(room.id, /^@Bob .*Got it: job/, 'the prompt\'s acknowledgement');
    const [prompt] = await core.listJobs(`wechat:${bob.id}`, 10);
    expect(prompt?.spec.prompt).toContain('add a lighthouse at dusk');
    await core.cancel(prompt?.jobId ?? '', { userKey: 'wechat:admin', isAdmin: true });
    wx.say(alice, '/video collab start a day at the sea --draft --duration 1 --seed 7', room);
    await awaitText(room.id, /^@Alice .*Storyboard open “a day at the sea”/s, 'the board started');

    const addId = wx.say(bob, '+ gulls over the waves', room);
    await awaitText(room.id, /^@Bob .*Shot 1 added/, 'bob\'s shot');
    wx.emit(addId); // the same message event again: one shot
    wx.say(carol, '加：一段屠杀平民的视频', room);
    await awaitText(carol.id, /未通过内容审核/, 'the refusal to Carol alone');
    // Carol's picture, then her shot: the picture is the shot's reference image (the room hears nothing of the picture).
    wx.say(carol, FileBox.fromBase64(solidPng(320, 180, [230, 190, 120]).toString('base64'), 'sand.png'), room);
    await waitFor(async () => ((await redis.exists(`${core.config.keyPrefix}:wechat:img:${room.id}:${carol.id}`)) === 1 ? true : undefined), 30_000, 'carol\'s picture kept');
    wx.say(carol, '加：孩子们在沙滩上堆沙堡', room);
    await awaitText(room.id, /^@Carol .*已添加第 2 个镜头/, 'carol\'s shot');
    wx.say(bob, '+1', room);
    wx.say(bob, '投票 2', room);
    await awaitText(room.id, /^@Bob .*已为第 2 个镜头投票（1 票）/, 'bob\'s vote');
    // Taken back and given again.
    wx.say(bob, '取消投票 2', room);
    await awaitText(room.id, /^@Bob .*已取消对第 2 个镜头的投票（0 票）/, 'bob\'s vote taken back');
    wx.say(bob, '投票 2', room);
    await waitFor(async () => ((await core.collab.board(`wechat:${room.id}`))?.shots[1]?.voters.length === 1 ? true : undefined), 30_000, 'bob\'s vote again');
    wx.say(carol, '/video collab show', room);
    const shown = await awaitText(room.id, /^@Carol .*gulls over the waves/s, 'the board');
    expect(shown.text).toContain('Bob');
    expect(shown.text).toContain('孩子们在沙滩上堆沙堡');
    // Only the starter renders: Bob hears so privately.
    wx.say(bob, '/video collab render', room);
    await awaitText(bob.id, /Only the storyboard's starter/, 'the refusal to Bob alone');
    wx.say(alice, '/video collab render', room);
    await awaitText(room.id, /^@Alice .*Rendering 2 shots as one video/, 'the render\'s cost and ETA');

    const board = await core.collab.board(key);
    expect(board?.shots.map((s) => [s.authorName, s.text, s.voters.length, s.image !== undefined])).toEqual([['Bob', 'gulls over the waves', 0, false], ['Carol', '孩子们在沙滩上堆沙堡', 1, true]]);
    const jobId = board?.jobId ?? '';
    expect(jobId).not.toBe('');
    const video = await waitFor(async () => wx.sentTo(room.id).find((m) => m.file?.name === `framecast-${jobId}.mp4`), 150_000, 'the storyboard video');
    expect(video.file?.bytes.subarray(4, 8).toString('ascii')).toBe('ftyp');
    await awaitText(room.id, /The storyboard is rendering: 2 shots/, 'the render started note');
    // One video, the refusals never in the room, nothing answered to the "+" chatter.
    await new Promise((r) => setTimeout(r, 1500));
    const roomMessages = wx.sentTo(room.id);
    expect(roomMessages.filter((m) => m.file !== undefined)).toHaveLength(1);
    expect(roomMessages.filter((m) => /render started|rendering: 2 shots/.test(m.text ?? ''))).toHaveLength(1);
    expect(roomMessages.some((m) => /未通过内容审核|Only the storyboard's starter/.test(m.text ?? ''))).toBe(false);
    expect(roomMessages.filter((m) => /Shot \d added|已添加第/.test(m.text ?? ''))).toHaveLength(2);
    expect(wx.sentTo(bob.id).filter((m) => m.text !== undefined)).toHaveLength(1);
    expect(await core.job(jobId)).toMatchObject({ state: 'succeeded', userKey: `wechat:${alice.id}` });
    console.info(JSON.stringify({ wechatCollabSeconds: (Date.now() - t0) / 1000, videoBytes: video.file?.bytes.length }));
  });
});
