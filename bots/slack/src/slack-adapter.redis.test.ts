import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import type { JobRecord } from '@framecast/core';
import type { ListeningServer } from '@framecast/http-server';
import { waitFor } from '../../../test/support/e2e.ts';
import { testRedis } from '../../../test/support/redis.ts';
import { ACTION } from './slack-progress.ts';
import type { FakeCall, FakeSlackApi } from './testing/fake-slack-api.ts';
import { APP_TOKEN, awaitSharedVideo, buttonsOf, click, isMp4, jobsOf, signedPost, slackRig, slashCommand, type Rig, type RigOptions } from './testing/slack-rig.ts';
import { solidPng } from './testing/tiny-png.ts';

let redis: Redis;
let dataDir: string;
beforeAll(async () => {
  redis = testRedis();
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'framecast-slack-'));
});
afterAll(async () => {
  await redis.quit();
  await rm(dataDir, { recursive: true, force: true });
});

function rig(mode: 'http' | 'socket', o: Omit<RigOptions, 'redis' | 'dataDir'> = {}): Promise<Rig> {
  return slackRig(mode, { ...o, redis, dataDir });
}

// Each test takes 3–20 s on an idle 2-core machine; the limits leave room for a starved one (a test
// that times out goes on in the background and disturbs the next ones).
describe('Slack in HTTP mode: Bolt on the one HTTP server, the real Web API client against a fake Slack', { timeout: 300_000 }, () => {
  let r: Rig;
  beforeAll(async () => {
    r = await rig('http');
  });
  afterAll(async () => {
    await r.close();
  });

  it('a signed /video with an image link walks to an mp4 uploaded in three steps, the status message updated on the way', async () => {
    const server = r.server as ListeningServer;
    const file = r.fake.addUserFile(solidPng(300, 200, [250, 20, 20]), 'image/png', 'red.png');
    const form = slashCommand(r.fake, `the red wall starts to glow --draft <${file.url_private}|red.png>`);
    const t0 = Date.now();
    const res = await signedPost(server, new URLSearchParams(form).toString());
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(res.status).toBe(200);
    const ack = (await res.json()) as { response_type: string; text: string };
    expect(ack.response_type).toBe('ephemeral');
    const jobs = await waitFor(async () => {
      const j = await jobsOf(r.core, 'U1');
      return j.length > 0 ? j : undefined;
    }, 90_000, 'the job');
    const job = jobs[0] as JobRecord;
    expect(job.spec.referenceImage?.ref).toMatch(/^refs\//);
    expect(job.spec.prompt).not.toMatch(/red\.png|http/);
    // With an image the command is acknowledged at once; the answer follows as an ephemeral message.
    expect(ack.text).toMatch(/Got it/);
    await waitFor(async () => r.fake.ephemerals.find((e) => e.user === 'U1' && e.text.includes(`Job ${job.jobId}`)), 90_000, 'the queued answer');
    const video = await awaitSharedVideo(r, job.jobId);
    expect(isMp4(video.bytes)).toBe(true);
    expect(video.shares).toEqual([expect.objectContaining({ channel: 'C1', initial_comment: expect.stringContaining('<@U1>') })]);
    // The three steps, in order; no legacy files.upload.
    const order = r.fake.calls.map((c) => c.method).filter((m) => m.startsWith('files.') && m !== 'files.info');
    expect(order).toEqual(['files.getUploadURLExternal', 'files.completeUploadExternal']);
    expect(r.fake.uploadAttempts).toEqual([video.id]);
    // One status message, edited as the job went: steps, then done with the result's buttons.
    const target = job.replyTarget;
    expect(target).toMatchObject({ platform: 'slack', channelId: 'C1' });
    const status = r.fake.messages.get(`C1:${target?.platform === 'slack' ? target.messageTs : ''}`);
    await waitFor(async () => (/done/.test(status?.text ?? '') ? true : undefined), 90_000, 'the final status');
    expect(status?.history.some((t) => /step \d\/4/.test(t))).toBe(true);
    const actions = JSON.stringify(status?.blocks);
    for (const a of [ACTION.reroll, ACTION.upscale, ACTION.delete]) expect(actions).toContain(a);
    await waitFor(async () => ((await r.core.job(job.jobId))?.state === 'succeeded' ? true : undefined), 90_000, 'succeeded');
  });

  it('refuses a bad signature and a timestamp older than five minutes with 401, and answers url_verification', async () => {
    const server = r.server as ListeningServer;
    const body = new URLSearchParams(slashCommand(r.fake, 'a cat --draft')).toString();
    const before = (await jobsOf(r.core, 'U1')).length;
    expect((await signedPost(server, body, { secret: 'not-the-secret' })).status).toBe(401);
    expect((await signedPost(server, body, { timestamp: Math.floor(Date.now() / 1000) - 301 })).status).toBe(401);
    const unsigned = await fetch(`http://127.0.0.1:${server.port}/slack/events`, { method: 'POST', body, headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    expect(unsigned.status).toBe(401);
    expect((await jobsOf(r.core, 'U1')).length).toBe(before);
    const challenge = await signedPost(server, JSON.stringify({ type: 'url_verification', challenge: 'abc123', token: 'x' }), { contentType: 'application/json' });
    expect(await challenge.json()).toEqual({ challenge: 'abc123' });
  });

  it('a duplicated app_mention (X-Slack-Retry-Num) makes one job', async () => {
    const server = r.server as ListeningServer;
    const eventId = `Ev${Date.now()}`;
    const body = JSON.stringify({
      token: 'x', team_id: r.fake.teamId, api_app_id: 'A0FAKE', type: 'event_callback', event_id: eventId, event_time: Math.floor(Date.now() / 1000),
      event: { type: 'app_mention', user: 'U2', text: `<@${r.fake.botUserId}> a lighthouse in fog --draft`, ts: '1700000000.000100', channel: 'C2', event_ts: '1700000000.000100' },
    });
    const [a, b] = await Promise.all([signedPost(server, body, { contentType: 'application/json' }), signedPost(server, body, { contentType: 'application/json', retryNum: 1 })]);
    expect([a.status, b.status]).toEqual([200, 200]);
    const third = await signedPost(server, body, { contentType: 'application/json', retryNum: 2 });
    expect(third.status).toBe(200);
    const jobs = await waitFor(async () => {
      const j = (await jobsOf(r.core, 'U2')).filter((x) => x.eventId.includes(eventId));
      return j.length > 0 ? j : undefined;
    }, 90_000, 'the job');
    await new Promise((res) => setTimeout(res, 1000));
    expect((await jobsOf(r.core, 'U2')).filter((x) => x.eventId.includes(eventId))).toHaveLength(1);
    // Answered in the thread of the mention; one status message left in the channel.
    const job = jobs[0] as JobRecord;
    expect(job.replyTarget).toMatchObject({ platform: 'slack', channelId: 'C2', threadTs: '1700000000.000100' });
    await waitFor(async () => (r.fake.channelMessages('C2').length === 1 ? true : undefined), 15_000, 'one status message');
    // Free the worker for the next tests: a cancel from an admin.
    await r.core.cancel(job.jobId, { userKey: 'slack:UADMIN', isAdmin: true });
  });

  it('a double-clicked reroll button makes one job, with a new seed', async () => {
    const server = r.server as ListeningServer;
    const first = (await jobsOf(r.core, 'U1')).find((j) => j.state === 'succeeded');
    if (first === undefined || first.replyTarget?.platform !== 'slack') throw new Error('no delivered job from the first test');
    const status = r.fake.messages.get(`C1:${first.replyTarget.messageTs ?? ''}`);
    const blocks = status?.blocks as Array<{ type: string; elements?: Array<{ action_id: string; value: string }> }>;
    const reroll = blocks.find((b) => b.type === 'actions')?.elements?.find((e) => e.action_id === ACTION.reroll);
    if (reroll === undefined) throw new Error('no reroll button');
    const click = (n: number) => new URLSearchParams({
      payload: JSON.stringify({
        type: 'block_actions', team: { id: r.fake.teamId, domain: 'fake' }, user: { id: 'U1', team_id: r.fake.teamId }, api_app_id: 'A0FAKE',
        container: { type: 'message', message_ts: status?.ts, channel_id: 'C1' }, channel: { id: 'C1', name: 'general' },
        message: { ts: status?.ts, text: status?.text, type: 'message', blocks: status?.blocks }, trigger_id: `${Date.now()}.${n}.click`, response_url: `${r.fake.origin}/actions/${n}`,
        actions: [{ type: 'button', action_id: reroll.action_id, block_id: 'fc_actions', value: reroll.value, action_ts: `${Date.now() / 1000 + n}` }],
      }),
    }).toString();
    const before = (await jobsOf(r.core, 'U1')).length;
    const answers = await Promise.all([signedPost(server, click(1)), signedPost(server, click(2))]);
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    await waitFor(async () => ((await jobsOf(r.core, 'U1')).length > before ? true : undefined), 90_000, 'the reroll job');
    await new Promise((res) => setTimeout(res, 1000));
    const after = await jobsOf(r.core, 'U1');
    expect(after.length).toBe(before + 1);
    const rerolled = after.find((j) => j.jobId !== first.jobId && j.spec.prompt === first.spec.prompt);
    expect(rerolled?.spec.seed).not.toBe(first.spec.seed);
    expect(rerolled?.spec.mode).toBe('draft');
    if (rerolled !== undefined) await r.core.cancel(rerolled.jobId, { userKey: 'slack:UADMIN', isAdmin: true });
    // The button got a fresh nonce: a later, deliberate click is a new request.
    await waitFor(async () => {
      const now = buttonsOf(r.fake.messages.get(`C1:${status?.ts ?? ''}`)?.blocks).find((b) => b.action_id === ACTION.reroll);
      return now !== undefined && now.value !== reroll.value ? true : undefined;
    }, 15_000, 'a renewed reroll button');
  });

  it('delete: refused to someone else, done for the requester (status message and video gone); cancel while queued', async () => {
    const server = r.server as ListeningServer;
    const first = (await jobsOf(r.core, 'U1')).find((j) => j.state === 'succeeded');
    if (first === undefined || first.replyTarget?.platform !== 'slack') throw new Error('no delivered job from the first test');
    const ts = first.replyTarget.messageTs ?? '';
    const del = buttonsOf(r.fake.messages.get(`C1:${ts}`)?.blocks).find((b) => b.action_id === ACTION.delete);
    if (del === undefined) throw new Error('no delete button');
    expect((await signedPost(server, click(r.fake, 'U9', 'C1', ts, del, 11))).status).toBe(200);
    await waitFor(async () => r.fake.ephemerals.find((e) => e.user === 'U9' && /Only the person/.test(e.text)), 15_000, 'the refusal');
    expect(r.fake.messages.get(`C1:${ts}`)?.deleted).toBeUndefined();
    expect((await signedPost(server, click(r.fake, 'U1', 'C1', ts, del, 12))).status).toBe(200);
    await waitFor(async () => (r.fake.messages.get(`C1:${ts}`)?.deleted === true ? true : undefined), 15_000, 'the status message deleted');
    expect(r.fake.sharedFiles('C1').find((f) => f.name === `framecast-${first.jobId}.mp4`)?.deleted).toBe(true);

    // Cancel from the status message of a job that waits. The worker is paused and its fetch loop
    // has ended (a BullMQ worker paused while it blocks for the next job still takes that job: on an
    // idle machine it rendered the first one at once), so both jobs stay queued.
    await r.worker.worker.pause();
    try {
      await waitFor(async () => (r.worker.worker.isRunning() ? undefined : true), 90_000, 'the worker\'s fetch loop to end');
      await signedPost(server, new URLSearchParams(slashCommand(r.fake, 'a long walk --draft', 'U10', 'C10')).toString());
      await signedPost(server, new URLSearchParams(slashCommand(r.fake, 'a second walk --draft', 'U10', 'C10')).toString());
      const jobs = await waitFor(async () => {
        const j = await jobsOf(r.core, 'U10');
        return j.length === 2 ? j : undefined;
      }, 90_000, 'two jobs');
      for (const job of jobs) {
        const t = job.replyTarget?.platform === 'slack' ? job.replyTarget.messageTs ?? '' : '';
        // The Cancel button as Slack got it: in the status message's blocks, with the place in line.
        const cancel = await waitFor(async () => buttonsOf(r.fake.messages.get(`C10:${t}`)?.blocks ?? []).find((b) => b.action_id === ACTION.cancel), 15_000, 'the Cancel button in the status message');
        expect(r.fake.messages.get(`C10:${t}`)?.text).toMatch(/position \d+/);
        expect((await r.core.job(job.jobId))?.state).toBe('queued');
        expect((await signedPost(server, click(r.fake, 'U10', 'C10', t, cancel, 20))).status).toBe(200);
      }
      for (const job of jobs) await waitFor(async () => ((await r.core.job(job.jobId))?.state === 'cancelled' ? true : undefined), 90_000, 'cancelled');
      // The status message says so, without the button.
      for (const job of jobs) {
        const t = job.replyTarget?.platform === 'slack' ? job.replyTarget.messageTs ?? '' : '';
        await waitFor(async () => (buttonsOf(r.fake.messages.get(`C10:${t}`)?.blocks ?? []).length === 0 && /❌/.test(r.fake.messages.get(`C10:${t}`)?.text ?? '') ? true : undefined), 15_000, 'the cancelled status');
      }
    } finally {
      r.worker.worker.resume();
    }
  });

  it('the message shortcut and an app mention with a shared image take the image; App Home shows credits and recent jobs', async () => {
    const server = r.server as ListeningServer;
    const file = r.fake.addUserFile(solidPng(320, 240, [20, 20, 250]), 'image/png', 'blue.png');
    const shortcut = new URLSearchParams({
      payload: JSON.stringify({
        type: 'message_action', callback_id: 'make_video', trigger_id: `${Date.now()}.sc.trigger`, action_ts: `${Date.now() / 1000}`,
        team: { id: r.fake.teamId, domain: 'fake' }, user: { id: 'U6', team_id: r.fake.teamId, name: 'u6' }, channel: { id: 'C6', name: 'art' },
        message: { type: 'message', user: 'U7', ts: '1700000100.000200', text: 'the blue door opens slowly --draft', files: [file] },
        response_url: `${r.fake.origin}/shortcuts/1`,
      }),
    }).toString();
    expect((await signedPost(server, shortcut)).status).toBe(200);
    const fromShortcut = await waitFor(async () => (await jobsOf(r.core, 'U6'))[0], 90_000, 'the shortcut job');
    expect(fromShortcut.spec.referenceImage?.ref).toMatch(/^refs\//);
    expect(fromShortcut.replyTarget).toMatchObject({ channelId: 'C6', threadTs: '1700000100.000200' });
    await r.core.cancel(fromShortcut.jobId, { userKey: 'slack:UADMIN', isAdmin: true });

    const mention = JSON.stringify({
      token: 'x', team_id: r.fake.teamId, api_app_id: 'A0FAKE', type: 'event_callback', event_id: `EvF${Date.now()}`, event_time: Math.floor(Date.now() / 1000),
      event: { type: 'app_mention', user: 'U8', text: `<@${r.fake.botUserId}> make it rain --draft`, ts: '1700000200.000300', channel: 'C8', event_ts: '1700000200.000300', files: [file] },
    });
    expect((await signedPost(server, mention, { contentType: 'application/json' })).status).toBe(200);
    const fromMention = await waitFor(async () => (await jobsOf(r.core, 'U8'))[0], 90_000, 'the mention job');
    expect(fromMention.spec.referenceImage?.ref).toMatch(/^refs\//);
    await r.core.cancel(fromMention.jobId, { userKey: 'slack:UADMIN', isAdmin: true });
    await waitFor(async () => r.fake.ephemerals.find((e) => e.user === 'U8' && e.thread_ts === '1700000200.000300'), 15_000, 'the answer in the thread');

    const home = JSON.stringify({
      token: 'x', team_id: r.fake.teamId, api_app_id: 'A0FAKE', type: 'event_callback', event_id: `EvH${Date.now()}`, event_time: Math.floor(Date.now() / 1000),
      event: { type: 'app_home_opened', user: 'U8', channel: 'D8', tab: 'home', event_ts: '1700000300.000100' },
    });
    expect((await signedPost(server, home, { contentType: 'application/json' })).status).toBe(200);
    const view = await waitFor(async () => r.fake.views.get('U8'), 15_000, 'the App Home view');
    const shown = JSON.stringify(view);
    expect(shown).toContain('Credits today');
    expect(shown).toContain(fromMention.jobId);
  });

  it('a 429 storm on the upload is retried after Retry-After and delivered once', async () => {
    const server = r.server as ListeningServer;
    r.fake.rateLimit('files.getUploadURLExternal', 2, 1);
    r.fake.rateLimit('upload', 1, 1);
    const res = await signedPost(server, new URLSearchParams(slashCommand(r.fake, 'a storm over the sea --draft', 'U3', 'C3')).toString());
    expect(res.status).toBe(200);
    const job = await waitFor(async () => (await jobsOf(r.core, 'U3'))[0], 90_000, 'the job');
    const video = await awaitSharedVideo(r, job.jobId);
    expect(isMp4(video.bytes)).toBe(true);
    await waitFor(async () => ((await r.core.job(job.jobId))?.state === 'succeeded' ? true : undefined), 90_000, 'succeeded');
    expect(r.fake.sharedFiles('C3')).toHaveLength(1);
    const completes = r.fake.callsOf('files.completeUploadExternal').filter((c) => c.args.channel_id === 'C3');
    expect(completes).toHaveLength(1);
  });

  it('a channel the bot is not in: told to invite it, no job', async () => {
    const server = r.server as ListeningServer;
    r.fake.failWith('chat.postMessage', 'not_in_channel', 1, (a) => a.channel === 'C11');
    const res = await signedPost(server, new URLSearchParams(slashCommand(r.fake, 'a cat on a wall --draft', 'U11', 'C11')).toString());
    // Answered inline, or (on a busy machine, past 2 s) as an ephemeral message.
    const text = ((await res.json()) as { text: string }).text;
    if (!/invite me/.test(text)) await waitFor(async () => r.fake.ephemerals.find((e) => e.user === 'U11' && /invite me/.test(e.text)), 90_000, 'the invite hint');
    expect(await jobsOf(r.core, 'U11')).toHaveLength(0);
  });

  it('a channel the bot cannot post in: the delivery fails for good and is refunded', async () => {
    const server = r.server as ListeningServer;
    r.fake.failWith('files.completeUploadExternal', 'channel_not_found', 1, (a) => a.channel_id === 'C4');
    const res = await signedPost(server, new URLSearchParams(slashCommand(r.fake, 'a quiet lake --draft', 'U4', 'C4')).toString());
    expect(res.status).toBe(200);
    const job = await waitFor(async () => (await jobsOf(r.core, 'U4'))[0], 90_000, 'the job');
    await waitFor(async () => ((await r.core.job(job.jobId))?.state === 'undeliverable' ? true : undefined), 150_000, 'undeliverable');
    expect(await r.core.quota.show('slack:U4')).toMatchObject({ spent: 0, held: 0 });
  });
});

describe('Slack in Socket Mode: the real socket-mode client against a fake socket-mode WebSocket', { timeout: 300_000 }, () => {
  it('apps.connections.open, hello, a slash_commands envelope acked with the answer, the video delivered', async () => {
    const r = await rig('socket');
    try {
      expect(r.adapter.mode).toBe('socket');
      await waitFor(async () => (r.fake.socketConnected ? true : undefined), 15_000, 'the socket');
      expect(r.fake.callsOf('apps.connections.open')[0]?.token).toBe(APP_TOKEN);
      const file = r.fake.addUserFile(solidPng(300, 200, [20, 250, 20]), 'image/png', 'green.png');
      const ack = (await r.fake.sendEnvelope('slash_commands', slashCommand(r.fake, `a paper boat on a green sea --draft <${file.permalink}>`, 'U5', 'C5'))) as { response_type?: string; text?: string };
      expect(ack.response_type).toBe('ephemeral');
      const job = await waitFor(async () => (await jobsOf(r.core, 'U5'))[0], 90_000, 'the job');
      expect(job.spec.referenceImage?.ref).toMatch(/^refs\//);
      const video = await awaitSharedVideo(r, job.jobId);
      expect(isMp4(video.bytes)).toBe(true);
    } finally {
      await r.close();
    }
  });
});

describe('Slack down for minutes: the delivery waits it out (simulated clock), or gives up past the retry window', { timeout: 300_000 }, () => {
  // The delivery consumer's clock: real time plus a skew the tests move forward, so that minutes and
  // hours of backoff pass in seconds (each failed call stands for a minute, or ten, of waiting).
  let skewMs = 0;
  let r: Rig;
  beforeAll(async () => {
    // This block is about waiting an outage out: the link fallback (tested below) is off here.
    r = await rig('http', { env: { FRAMECAST_DELIVERY_RETRY_HOURS: '1' }, consume: { now: () => Date.now() + skewMs, retry: { baseDelayMs: 200, maxDelayMs: 800 } }, delivery: { linkAfterAttempts: Infinity } });
  });
  afterAll(async () => {
    r.fake.outage(undefined);
    await r.close();
  });
  const methods = ['files.getUploadURLExternal', 'upload', 'chat.postMessage'];

  it('5xx, service_unavailable and dropped connections for five minutes, then Slack recovers: one upload, charged once, the status says done', async () => {
    const server = r.server as ListeningServer;
    // Down for five simulated minutes from the first failed call (files.getUploadURLExternal comes
    // back first, the upload host later); each failure moves the clock a minute.
    let downSince: number | undefined;
    let armed = false;
    r.fake.outage({
      methods,
      down: (method) => {
        if (!armed) return false;
        downSince ??= Date.now() + skewMs;
        const down = Date.now() + skewMs - downSince < (method === 'files.getUploadURLExternal' ? 2.5 : 5) * 60_000;
        if (down) skewMs += 60_000;
        return down;
      },
    });
    const res = await signedPost(server, new URLSearchParams(slashCommand(r.fake, 'a city in the rain --draft', 'U12', 'C12')).toString());
    expect(res.status).toBe(200);
    const job = await waitFor(async () => (await jobsOf(r.core, 'U12'))[0], 90_000, 'the job');
    armed = true; // the status message is posted: Slack goes down before the video is ready
    const video = await awaitSharedVideo(r, job.jobId);
    expect(isMp4(video.bytes)).toBe(true);
    await waitFor(async () => ((await r.core.job(job.jobId))?.state === 'succeeded' ? true : undefined), 90_000, 'succeeded');
    // Every kind of failure was seen, on more than one step of the upload, over five simulated minutes.
    const hits = r.fake.outageHits;
    expect(new Set(hits.map((h) => h.kind))).toEqual(new Set(['http_503', 'service_unavailable', 'drop']));
    expect(hits.length).toBeGreaterThanOrEqual(5);
    expect(new Set(hits.map((h) => h.method))).toEqual(new Set(['files.getUploadURLExternal', 'upload']));
    expect(skewMs).toBeGreaterThanOrEqual(5 * 60_000);
    // Exactly once: one completeUploadExternal, one file in the channel.
    expect(r.fake.callsOf('files.completeUploadExternal').filter((c) => c.args.channel_id === 'C12')).toHaveLength(1);
    expect(r.fake.sharedFiles('C12')).toHaveLength(1);
    // Charged once, nothing left held; the status message ends "done" with the result's buttons.
    const done = await r.core.job(job.jobId);
    expect(await r.core.quota.show('slack:U12')).toMatchObject({ spent: done?.cost, held: 0 });
    const ts = job.replyTarget?.platform === 'slack' ? job.replyTarget.messageTs ?? '' : '';
    await waitFor(async () => (/done/.test(r.fake.messages.get(`C12:${ts}`)?.text ?? '') ? true : undefined), 15_000, 'the status says done');
    expect(JSON.stringify(r.fake.messages.get(`C12:${ts}`)?.blocks)).toContain(ACTION.reroll);
    // Nothing more comes later (a late retry would upload a second copy).
    await new Promise((res2) => setTimeout(res2, 1500));
    expect(r.fake.callsOf('files.completeUploadExternal').filter((c) => c.args.channel_id === 'C12')).toHaveLength(1);
  });

  it('an outage longer than FRAMECAST_DELIVERY_RETRY_HOURS: the delivery is given up as undeliverable and refunded', async () => {
    const server = r.server as ListeningServer;
    const before = r.fake.outageHits.length;
    let armed = false;
    // Down for good; each failed call stands for ten minutes of waiting, past the one-hour window.
    r.fake.outage({
      methods,
      down: () => {
        if (armed) skewMs += 10 * 60_000;
        return armed;
      },
    });
    const res = await signedPost(server, new URLSearchParams(slashCommand(r.fake, 'a lighthouse at night --draft', 'U13', 'C13')).toString());
    expect(res.status).toBe(200);
    const job = await waitFor(async () => (await jobsOf(r.core, 'U13'))[0], 90_000, 'the job');
    armed = true;
    await waitFor(async () => ((await r.core.job(job.jobId))?.state === 'undeliverable' ? true : undefined), 150_000, 'undeliverable');
    expect(r.fake.outageHits.length - before).toBeGreaterThanOrEqual(5);
    expect(r.fake.sharedFiles('C13')).toHaveLength(0);
    expect(r.fake.callsOf('files.completeUploadExternal').filter((c) => c.args.channel_id === 'C13')).toHaveLength(0);
    expect(await r.core.quota.show('slack:U13')).toMatchObject({ spent: 0, held: 0 });
    r.fake.outage(undefined);
  });
});

describe('Slack will not take the video: one signed link instead (FRAMECAST_PUBLIC_URL)', { timeout: 300_000 }, () => {
  let r: Rig;
  beforeAll(async () => {
    r = await rig('http', { publicMedia: true, consume: { retry: { baseDelayMs: 200, maxDelayMs: 800 } }, delivery: { linkAfterAttempts: 3 } });
  });
  afterAll(async () => {
    r.fake.outage(undefined);
    await r.close();
  });
  const uploadSteps = ['files.getUploadURLExternal', 'upload', 'files.completeUploadExternal'];

  /** Link messages the fake Slack got for a job's video, and the bytes behind the link. */
  async function linkOf(channel: string, jobId: string): Promise<{ posts: FakeCall[]; bytes: Buffer }> {
    const posts = r.fake.callsOf('chat.postMessage').filter((c) => c.args.channel === channel && String(c.args.text).includes(`/media/videos/${jobId}.mp4`));
    const url = /(https?:\/\/\S+?\/media\/videos\/\S+?)(?:>|\s|$)/.exec(String(posts[0]?.args.text ?? ''))?.[1] ?? '';
    const res = await fetch(url);
    return { posts, bytes: Buffer.from(await res.arrayBuffer()) };
  }

  it('the upload keeps failing (its three steps down, the rest of Slack up): from the third attempt the video goes as one signed link, charged once', async () => {
    const server = r.server as ListeningServer;
    r.fake.outage({ methods: uploadSteps, down: () => true });
    const res = await signedPost(server, new URLSearchParams(slashCommand(r.fake, 'a tram in the snow --draft', 'U20', 'C20')).toString());
    expect(res.status).toBe(200);
    const job = await waitFor(async () => (await jobsOf(r.core, 'U20'))[0], 90_000, 'the job');
    await waitFor(async () => ((await r.core.deliveries.record(job.jobId))?.state === 'delivered' ? true : undefined), 150_000, 'delivered');
    const record = await r.core.deliveries.record(job.jobId);
    expect(record).toMatchObject({ state: 'delivered', via: 'link' });
    expect(Number(record?.attempts)).toBe(3);
    expect(r.fake.outageHits.filter((h) => uploadSteps.includes(h.method)).length).toBeGreaterThanOrEqual(3);
    // Nothing more comes later: one link, no file.
    await new Promise((res2) => setTimeout(res2, 1500));
    const { posts, bytes } = await linkOf('C20', job.jobId);
    expect(posts).toHaveLength(1);
    expect(String(posts[0]?.args.text)).toMatch(/not taking uploads right now.*\/media\/videos\/[^ ]+\.mp4\?exp=\d+&sig=[\w-]+$/);
    expect(isMp4(bytes)).toBe(true);
    expect(r.fake.sharedFiles('C20')).toHaveLength(0);
    const done = await r.core.job(job.jobId);
    expect(done?.state).toBe('succeeded');
    expect(await r.core.quota.show('slack:U20')).toMatchObject({ spent: done?.cost, held: 0 });
    const ts = job.replyTarget?.platform === 'slack' ? job.replyTarget.messageTs ?? '' : '';
    await waitFor(async () => (/done/.test(r.fake.messages.get(`C20:${ts}`)?.text ?? '') ? true : undefined), 15_000, 'the status says done');
    r.fake.outage(undefined);
  });

  it('a video over the workspace\'s upload limit (file_upload_size_restricted): one signed link at the first attempt', async () => {
    const server = r.server as ListeningServer;
    r.fake.failWith('files.getUploadURLExternal', 'file_upload_size_restricted', 1);
    const res = await signedPost(server, new URLSearchParams(slashCommand(r.fake, 'a ferry at dawn --draft', 'U21', 'C21')).toString());
    expect(res.status).toBe(200);
    const job = await waitFor(async () => (await jobsOf(r.core, 'U21'))[0], 90_000, 'the job');
    await waitFor(async () => ((await r.core.deliveries.record(job.jobId))?.state === 'delivered' ? true : undefined), 150_000, 'delivered');
    expect(await r.core.deliveries.record(job.jobId)).toMatchObject({ state: 'delivered', via: 'link', attempts: '1' });
    await new Promise((res2) => setTimeout(res2, 1500));
    const { posts, bytes } = await linkOf('C21', job.jobId);
    expect(posts).toHaveLength(1);
    expect(String(posts[0]?.args.text)).toMatch(/too large to upload here: \S+\/media\/videos\/\S+\.mp4\?exp=\d+&sig=/);
    expect(isMp4(bytes)).toBe(true);
    expect(r.fake.sharedFiles('C21')).toHaveLength(0);
    expect(r.fake.uploadAttempts.filter((id) => r.fake.files.get(id)?.name === `framecast-${job.jobId}.mp4`)).toHaveLength(0);
  });
});

describe('Slack status message: the step preview as an image block when Slack can fetch it', { timeout: 300_000 }, () => {
  function imageBlocksOf(blocks: unknown): Array<{ type: string; image_url: string }> {
    const list = (typeof blocks === 'string' ? JSON.parse(blocks) : blocks) as Array<{ type: string; image_url: string }> | undefined;
    return (list ?? []).filter((b) => b.type === 'image');
  }
  function stepUpdates(fake: FakeSlackApi, channel: string): FakeCall[] {
    return fake.callsOf('chat.update').filter((c) => c.args.channel === channel && /step \d\/4/.test(String(c.args.text)));
  }

  it('with FRAMECAST_PUBLIC_URL: chat.update carries an image block whose signed link the HTTP server serves as a JPEG', async () => {
    const r = await rig('socket', { publicMedia: true });
    try {
      await waitFor(async () => (r.fake.socketConnected ? true : undefined), 15_000, 'the socket');
      await r.fake.sendEnvelope('slash_commands', slashCommand(r.fake, 'a kite over the dunes --draft', 'U14', 'C14'));
      const job = await waitFor(async () => (await jobsOf(r.core, 'U14'))[0], 90_000, 'the job');
      await awaitSharedVideo(r, job.jobId);
      const steps = stepUpdates(r.fake, 'C14');
      expect(steps.length).toBeGreaterThan(0);
      const images = steps.flatMap((c) => imageBlocksOf(c.args.blocks));
      expect(images.length).toBeGreaterThan(0);
      expect(images[0]?.image_url).toMatch(new RegExp(`^${(r.config.env.FRAMECAST_PUBLIC_URL ?? '').replace(/[.]/g, '\\.')}/media/previews/${job.jobId}\\.jpg\\?exp=\\d+&sig=`));
      // Slack fetched it (the fake does, as Slack does) and got a JPEG from the media route.
      expect(r.fake.fetchedImages.some((f) => f.url.includes(`previews/${job.jobId}.jpg`) && f.status === 200 && f.contentType === 'image/jpeg')).toBe(true);
      // The final status ("done") has no preview, only the result's buttons.
      const ts = job.replyTarget?.platform === 'slack' ? job.replyTarget.messageTs ?? '' : '';
      await waitFor(async () => (/done/.test(r.fake.messages.get(`C14:${ts}`)?.text ?? '') ? true : undefined), 15_000, 'done');
      expect(imageBlocksOf(r.fake.messages.get(`C14:${ts}`)?.blocks)).toHaveLength(0);
    } finally {
      await r.close();
    }
  });

  it('a public URL Slack cannot reach (invalid_blocks): the status message goes on text only', async () => {
    // Nothing listens on the discard port: Slack's download of the preview fails, the update is refused.
    const r = await rig('socket', { env: { FRAMECAST_PUBLIC_URL: 'http://127.0.0.1:9' } });
    try {
      await waitFor(async () => (r.fake.socketConnected ? true : undefined), 15_000, 'the socket');
      await r.fake.sendEnvelope('slash_commands', slashCommand(r.fake, 'a kite in the storm --draft', 'U16', 'C16'));
      const job = await waitFor(async () => (await jobsOf(r.core, 'U16'))[0], 90_000, 'the job');
      await awaitSharedVideo(r, job.jobId);
      const steps = stepUpdates(r.fake, 'C16');
      const withImage = steps.filter((c) => imageBlocksOf(c.args.blocks).length > 0);
      // One try with the image, refused; the same text again without it, and no image after that.
      expect(withImage).toHaveLength(1);
      expect(r.fake.fetchedImages.filter((f) => f.status === 0)).toHaveLength(1);
      const after = steps.slice(steps.indexOf(withImage[0] as FakeCall) + 1);
      expect(after.length).toBeGreaterThan(0);
      expect(after[0]?.args.text).toBe(withImage[0]?.args.text);
      const ts = job.replyTarget?.platform === 'slack' ? job.replyTarget.messageTs ?? '' : '';
      expect(r.fake.messages.get(`C16:${ts}`)?.history.some((t) => /step \d\/4/.test(t))).toBe(true);
    } finally {
      await r.close();
    }
  });

  it('without a public URL (file:// links): the step updates are text only', async () => {
    const r = await rig('socket');
    try {
      await waitFor(async () => (r.fake.socketConnected ? true : undefined), 15_000, 'the socket');
      await r.fake.sendEnvelope('slash_commands', slashCommand(r.fake, 'a kite over the sea --draft', 'U15', 'C15'));
      const job = await waitFor(async () => (await jobsOf(r.core, 'U15'))[0], 90_000, 'the job');
      expect(await r.store.url(`previews/${job.jobId}.jpg`)).toMatch(/^file:/);
      await awaitSharedVideo(r, job.jobId);
      const steps = stepUpdates(r.fake, 'C15');
      expect(steps.length).toBeGreaterThan(0);
      expect(steps.flatMap((c) => imageBlocksOf(c.args.blocks))).toHaveLength(0);
      expect(r.fake.fetchedImages).toHaveLength(0);
    } finally {
      await r.close();
    }
  });
});
