import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { blobStoreFromConfig, type Core, type FramecastConfig } from '@framecast/core';
import type { GenerateWorker } from '@framecast/gpu-worker';
import { productCoreAndWorker, silentLogger, waitFor } from '../../../test/support/e2e.ts';
import { testConfig } from '../../../test/support/config.ts';
import { testRedis, testRedisUrl } from '../../../test/support/redis.ts';
import { startDiscordAdapter, type DiscordAdapter } from './discord-adapter.ts';
import { FakeDiscord, type FakeCall } from './testing/fake-discord.ts';
import { buttonInteraction, modalSubmitInteraction, videoCommandInteraction } from './testing/fake-interactions.ts';
import { solidPng } from './testing/solid-png.ts';

// One core, one worker (the tiny model, 4 steps) and one adapter connected through discord.js's
// gateway Client to the fake gateway; every test drives it with INTERACTION_CREATE dispatches.
let redis: Redis;
let dataDir: string;
let fake: FakeDiscord;
let config: FramecastConfig;
let core: Core;
let worker: GenerateWorker;
let adapter: DiscordAdapter;
/** The adapter's clock: real time, plus what a test adds. */
let clockOffsetMs = 0;
/** The delivery consumer's clock (its give-up decision): real time, plus what a test adds. */
let deliveryOffsetMs = 0;

const GUILD = '1700000000000000001';
const CHANNEL = '1400000000000000009';
/** A public thread under CHANNEL, and the bot's DM with a user. */
const THREAD = '1400000000000000019';
const DM = '1400000000000000029';

beforeAll(async () => {
  redis = testRedis();
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'framecast-discord-'));
  // Heartbeats every 10 s (Discord asks for ~41 s), so that the tests see several, each acknowledged.
  fake = await new FakeDiscord({ heartbeatIntervalMs: 10_000 }).start();
  // Only these channels exist: a message sent anywhere else is refused (Unknown Channel).
  fake.channels.set(CHANNEL, { type: 0 });
  fake.channels.set(THREAD, { type: 11, parentId: CHANNEL });
  fake.channels.set(DM, { type: 1 });
  fake.strictChannels = true;
  config = testConfig({
    REDIS_URL: testRedisUrl(), FRAMECAST_DATA_DIR: dataDir, FRAMECAST_STEPS: '4', FRAMECAST_FREE_MAX_CONCURRENT: '5', FRAMECAST_FREE_DAILY_CREDITS: '200',
    DISCORD_TOKEN: 'test-token-1', DISCORD_APPLICATION_ID: fake.applicationId, DISCORD_API_BASE_URL: fake.apiBaseUrl,
  });
  ({ core, worker } = await productCoreAndWorker(config, redis));
  void worker.run();
  adapter = await startDiscordAdapter({
    core, store: blobStoreFromConfig(config), logger: silentLogger, config,
    now: () => Date.now() + clockOffsetMs, progress: { minEditIntervalMs: 0 },
    delivery: { relayEveryMs: 500, retry: { baseDelayMs: 200, maxDelayMs: 1000 }, now: () => Date.now() + deliveryOffsetMs },
  });
});

afterAll(async () => {
  await adapter?.close();
  await worker?.close();
  await core?.close();
  await fake?.close();
  await redis?.quit();
  await rm(dataDir, { recursive: true, force: true });
});

const isOriginalEdit = (token: string) => (c: FakeCall) => c.method === 'PATCH' && c.path.endsWith(`/${token}/messages/@original`);

/** Waits until `n` of the user's jobs have been delivered (the delivery record, not only the job). */
async function videoDelivered(core: Core, userId: string, n: number): Promise<void> {
  await waitFor(async () => {
    const jobs = await core.listJobs(`discord:${userId}`, 50);
    const states = await Promise.all(jobs.map(async (j) => (await core.deliveries.record(j.jobId))?.state));
    return states.filter((s) => s === 'delivered').length >= n ? true : undefined;
  }, 150_000, `${n} delivered videos of ${userId}`);
}

// Each test takes 5–10 s on an idle 2-core machine; the limit leaves room for a busy one (a timed-out
// test goes on in the background and disturbs the next ones: the clock offset, injected answers).
describe('Discord through the gateway (discord.js against a fake gateway and REST API)', { timeout: 180_000 }, () => {
  it('identifies with the Guilds intent over the fake gateway, and heartbeats', async () => {
    expect(fake.identifies).toHaveLength(1);
    // Guilds (1) and GuildMessageReactions (1024: reaction votes on storyboard messages).
    expect(fake.identifies[0]).toMatchObject({ token: 'test-token-1', intents: 1 | 1024 });
    await waitFor(async () => (fake.heartbeats >= 1 ? true : undefined), 15_000, 'a heartbeat');
  });

  it('walks /video with an image from the interaction to a delivered mp4 in the edited deferred reply, with progress on the way', async () => {
    const png = solidPng(320, 180, [30, 120, 220]);
    const url = fake.cdnFile('blue.png', png, 'image/png');
    const i = videoCommandInteraction({ applicationId: fake.applicationId, guildId: GUILD, channelId: CHANNEL, userId: '1300000000000000011', prompt: 'the sky turns to sunset', seed: 7, aspect: '16:9', draft: true, duration: 1, image: { url, filename: 'blue.png', size: png.length, contentType: 'image/png' } });
    const token = i.token as string;
    fake.dispatch('INTERACTION_CREATE', i);

    await videoDelivered(core, '1300000000000000011', 1);
    // Acknowledged with a deferred response (type 5) through the interaction callback.
    const callback = fake.callsTo(new RegExp(`^POST /interactions/${i.id as string}/${token}/callback$`));
    expect(callback).toHaveLength(1);
    expect(callback[0]?.json).toEqual({ type: 5 });
    const edits = fake.calls.filter(isOriginalEdit(token));
    const contents = edits.map((c) => String(c.json?.content ?? ''));
    // Place in line, then steps with a bar, then the video.
    expect(contents.some((c) => /position \d+/.test(c))).toBe(true);
    expect(contents.some((c) => /Rendering `[█░]{10}` \d\/4/.test(c))).toBe(true);
    const final = edits.at(-1);
    expect(final?.files).toHaveLength(1);
    expect(final?.files[0]).toMatchObject({ filename: expect.stringMatching(/^framecast-.*\.mp4$/), contentType: 'video/mp4' });
    expect(final?.files[0]?.data.subarray(4, 8).toString('latin1')).toBe('ftyp');
    expect(String(final?.json?.content)).toContain('<@1300000000000000011>');
    // The result carries the buttons: reroll, upscale (a draft), info, delete.
    const row = (final?.json?.components as Array<{ components: Array<{ custom_id: string }> }>)[0];
    expect(row?.components.map((b) => b.custom_id.split(':')[1])).toEqual(['reroll', 'vary', 'upscale', 'info', 'delete']);
    // The image went through the core's image intake: the job is image-to-video.
    const [job] = await core.listJobs('discord:1300000000000000011', 1);
    expect(job?.spec.referenceImage?.ref).toMatch(/^refs\/[0-9a-f]{64}\.png$/);
    expect(job?.spec).toMatchObject({ seed: 7, aspect: '16:9', mode: 'draft' });
    expect(job?.replyTarget).toMatchObject({ platform: 'discord', channelId: CHANNEL, guildId: GUILD, maxUploadBytes: 10 * 1024 * 1024 });
  });

  it('a double-clicked reroll button is one job', async () => {
    // The video of the walk-through above, and its reroll button.
    const user = '1300000000000000011';
    const final = fake.calls.filter((c) => c.method === 'PATCH' && c.files.some((f) => f.contentType === 'video/mp4') && String(c.json?.content).includes(`<@${user}>`)).at(-1);
    const reroll = (final?.json?.components as Array<{ components: Array<{ custom_id: string }> }>)[0]?.components[0]?.custom_id ?? '';
    expect(reroll).toMatch(/^fc1:reroll:/);
    const before = await core.listJobs(`discord:${user}`, 10);
    const clicks = [1, 2].map(() => buttonInteraction({ applicationId: fake.applicationId, guildId: GUILD, channelId: CHANNEL, userId: user, customId: reroll, messageId: '1' }));
    for (const c of clicks) fake.dispatch('INTERACTION_CREATE', c);
    // Both clicks were acknowledged (deferred); the second one's "thinking…" message was removed.
    await waitFor(async () => (fake.callsTo(new RegExp(`^DELETE /webhooks/.*/(${clicks.map((c) => c.token as string).join('|')})/messages/@original$`)).length === 1 ? true : undefined), 30_000, 'the duplicate reply removed');
    for (const c of clicks) expect(fake.callsTo(new RegExp(`^POST /interactions/${c.id as string}/`)).map((x) => x.json)).toEqual([{ type: 5 }]);
    await new Promise((r) => setTimeout(r, 300));
    const jobs = await core.listJobs(`discord:${user}`, 10);
    expect(jobs).toHaveLength(before.length + 1);
    // The same prompt, image, size and mode; a new seed.
    const [rerolled, original] = jobs;
    expect(rerolled?.spec).toMatchObject({ prompt: original?.spec.prompt, aspect: original?.spec.aspect, mode: 'draft', referenceImage: original?.spec.referenceImage });
    expect(rerolled?.eventId).toBe(`btn:${reroll}:${user}`);
    await videoDelivered(core, user, before.length + 1);
  });

  it('vary: the button answers a modal with the prompt; its submit is one job with the edited prompt and the same seed', async () => {
    const user = '1300000000000000011';
    const final = fake.calls.filter((c) => c.method === 'PATCH' && c.files.some((f) => f.contentType === 'video/mp4') && String(c.json?.content).includes(`<@${user}>`)).at(-1);
    const vary = (final?.json?.components as Array<{ components: Array<{ custom_id: string }> }>)[0]?.components[1]?.custom_id ?? '';
    expect(vary).toMatch(/^fc1:vary:/);
    const original = await core.job(vary.split(':')[2] ?? '');
    expect(original).toBeDefined();
    const before = await core.listJobs(`discord:${user}`, 20);
    const click = buttonInteraction({ applicationId: fake.applicationId, guildId: GUILD, channelId: CHANNEL, userId: user, customId: vary, messageId: '2' });
    fake.dispatch('INTERACTION_CREATE', click);
    await waitFor(async () => (fake.callsTo(new RegExp(`^POST /interactions/${click.id as string}/`)).length === 1 ? true : undefined), 30_000, 'the modal');
    const modal = fake.callsTo(new RegExp(`^POST /interactions/${click.id as string}/`))[0]?.json as { type: number; data: { custom_id: string; title: string; components: Array<{ type: number; component: { type: number; custom_id: string; value: string; max_length: number } }> } };
    expect(modal.type).toBe(9);
    expect(modal.data.custom_id).toBe(vary);
    expect(modal.data.components[0]?.component).toMatchObject({ type: 4, custom_id: 'prompt', value: original?.spec.prompt });
    expect(modal.data.components[0]?.component.max_length).toBeLessThanOrEqual(4000);
    // Nothing was submitted by the click itself.
    expect(await core.listJobs(`discord:${user}`, 20)).toHaveLength(before.length);

    const submit = modalSubmitInteraction({ applicationId: fake.applicationId, guildId: GUILD, channelId: CHANNEL, userId: user, customId: vary, messageId: '2', values: { prompt: 'the sky turns to a starry night' } });
    // Delivered twice (a gateway resend): one job.
    fake.dispatch('INTERACTION_CREATE', submit);
    fake.dispatch('INTERACTION_CREATE', submit);
    await waitFor(async () => ((await core.listJobs(`discord:${user}`, 20)).length > before.length ? true : undefined), 30_000, 'the varied job');
    await new Promise((r) => setTimeout(r, 500));
    const jobs = await core.listJobs(`discord:${user}`, 20);
    expect(jobs).toHaveLength(before.length + 1);
    const varied = jobs[0];
    expect(varied?.eventId).toBe(submit.id);
    expect(varied?.spec).toMatchObject({
      prompt: 'the sky turns to a starry night', seed: original?.spec.seed, aspect: original?.spec.aspect, durationSeconds: original?.spec.durationSeconds,
      mode: original?.spec.mode, referenceImage: original?.spec.referenceImage,
    });
    expect(varied?.spec.style).toBe(original?.spec.style);
    for (const c of fake.callsTo(new RegExp(`^POST /interactions/${submit.id as string}/`))) expect(c.json).toEqual({ type: 5 });
    await videoDelivered(core, user, before.length + 1);
  });

  it('vary: a stranger\'s click is refused privately, and a stranger\'s submit makes no job', async () => {
    const owner = '1300000000000000011';
    const final = fake.calls.filter((c) => c.method === 'PATCH' && c.files.some((f) => f.contentType === 'video/mp4') && String(c.json?.content).includes(`<@${owner}>`)).at(-1);
    const vary = (final?.json?.components as Array<{ components: Array<{ custom_id: string }> }>)[0]?.components[1]?.custom_id ?? '';
    const stranger = '1300000000000000098';
    const click = buttonInteraction({ applicationId: fake.applicationId, guildId: GUILD, channelId: CHANNEL, userId: stranger, customId: vary, messageId: '3' });
    fake.dispatch('INTERACTION_CREATE', click);
    await waitFor(async () => (fake.callsTo(new RegExp(`^POST /interactions/${click.id as string}/`)).length === 1 ? true : undefined), 30_000, 'the refusal');
    expect(fake.callsTo(new RegExp(`^POST /interactions/${click.id as string}/`))[0]?.json).toMatchObject({ type: 4, data: { flags: 64, content: expect.stringContaining('Only the person') } });
    const before = (await core.listJobs(`discord:${owner}`, 50)).length;
    const submit = modalSubmitInteraction({ applicationId: fake.applicationId, guildId: GUILD, channelId: CHANNEL, userId: stranger, customId: vary, values: { prompt: 'not mine' } });
    fake.dispatch('INTERACTION_CREATE', submit);
    await waitFor(async () => (fake.callsTo(new RegExp(`^POST /webhooks/${fake.applicationId}/${submit.token as string}$`)).length === 1 ? true : undefined), 30_000, 'the private refusal');
    expect(fake.callsTo(new RegExp(`^POST /webhooks/${fake.applicationId}/${submit.token as string}$`))[0]?.json).toMatchObject({ flags: 64, content: expect.stringContaining('Only the person') });
    expect(await core.listJobs(`discord:${stranger}`, 5)).toHaveLength(0);
    expect(await core.listJobs(`discord:${owner}`, 50)).toHaveLength(before);
  });

  it('a video that finishes after the 15-minute token window is posted as a channel message replying to the request', async () => {
    const user = '1300000000000000013';
    const i = videoCommandInteraction({ applicationId: fake.applicationId, guildId: GUILD, channelId: CHANNEL, userId: user, prompt: 'rain on a tin roof', draft: true, duration: 1 });
    const token = i.token as string;
    // By the adapter's clock, 16 minutes pass between the command and the finished video.
    clockOffsetMs = 16 * 60_000;
    try {
      fake.dispatch('INTERACTION_CREATE', i);
      await videoDelivered(core, user, 1);
    } finally {
      clockOffsetMs = 0;
    }
    const posts = fake.callsTo(new RegExp(`^POST /channels/${CHANNEL}/messages$`)).filter((c) => String(c.json?.content ?? '').includes(`<@${user}>`));
    expect(posts).toHaveLength(1);
    expect(posts[0]?.authorization).toBe('Bot test-token-1');
    expect(posts[0]?.files[0]?.contentType).toBe('video/mp4');
    expect(posts[0]?.json?.message_reference).toEqual({ message_id: fake.originalMessageId(token), fail_if_not_exists: false });
    // The old token edited nothing after the window: no file went to the interaction's reply.
    expect(fake.calls.filter(isOriginalEdit(token)).every((c) => c.files.length === 0)).toBe(true);
  });

  it('in a thread: the job answers in the thread, and a video past the 15-minute window is posted into the thread, replying to the request', async () => {
    const user = '1300000000000000031';
    const i = videoCommandInteraction({ applicationId: fake.applicationId, guildId: GUILD, channelId: THREAD, channelType: 11, parentId: CHANNEL, userId: user, prompt: 'lanterns over a river', draft: true, duration: 1 });
    const token = i.token as string;
    clockOffsetMs = 16 * 60_000;
    try {
      fake.dispatch('INTERACTION_CREATE', i);
      await videoDelivered(core, user, 1);
    } finally {
      clockOffsetMs = 0;
    }
    const [job] = await core.listJobs(`discord:${user}`, 1);
    expect(job?.replyTarget).toMatchObject({ platform: 'discord', channelId: THREAD, guildId: GUILD });
    // The deferred reply (a webhook message: Discord shows it where the command was used, the thread) took the place in line.
    expect(fake.calls.filter(isOriginalEdit(token)).some((c) => String(c.json?.content ?? '').includes(job?.jobId ?? '?'))).toBe(true);
    // The video: a message in the thread (a thread is a channel), replying to the request; nothing in the parent.
    const mine = (c: FakeCall) => String(c.json?.content ?? '').includes(`<@${user}>`);
    const posts = fake.callsTo(new RegExp(`^POST /channels/${THREAD}/messages$`)).filter(mine);
    expect(posts).toHaveLength(1);
    expect(posts[0]?.files[0]?.contentType).toBe('video/mp4');
    expect(posts[0]?.files[0]?.data.subarray(4, 8).toString('latin1')).toBe('ftyp');
    expect(posts[0]?.json?.message_reference).toEqual({ message_id: fake.originalMessageId(token), fail_if_not_exists: false });
    expect(fake.callsTo(new RegExp(`^POST /channels/${CHANNEL}/messages$`)).filter(mine)).toHaveLength(0);
    expect(await core.deliveries.record(job?.jobId ?? '')).toMatchObject({ state: 'delivered', via: 'channel' });
  });

  // Two videos: the limit leaves room for a busy machine.
  it('in a DM: the job is the user\'s own (no guild, no roles), the mp4 replaces the deferred reply, and a late one is posted into the DM', { timeout: 300_000 }, async () => {
    const user = '1300000000000000032';
    const png = solidPng(256, 256, [200, 60, 160]);
    const url = fake.cdnFile('pink.png', png, 'image/png');
    const fresh = videoCommandInteraction({ applicationId: fake.applicationId, channelId: DM, channelType: 1, userId: user, prompt: 'a pink balloon drifts away', draft: true, duration: 1, image: { url, filename: 'pink.png', size: png.length, contentType: 'image/png' } });
    const rolesBefore = fake.callsTo(/^GET \/guilds\//).length;
    fake.dispatch('INTERACTION_CREATE', fresh);
    await videoDelivered(core, user, 1);
    const [first] = await core.listJobs(`discord:${user}`, 1);
    expect(first?.replyTarget).toMatchObject({ platform: 'discord', channelId: DM });
    expect(first?.replyTarget?.platform === 'discord' ? first.replyTarget.guildId : 'x').toBeUndefined();
    expect(first?.spec.referenceImage?.ref).toMatch(/^refs\//);
    expect(fake.callsTo(/^GET \/guilds\//).length).toBe(rolesBefore);
    const final = fake.calls.filter(isOriginalEdit(fresh.token as string)).at(-1);
    expect(final?.files[0]?.contentType).toBe('video/mp4');
    expect(final?.files[0]?.data.subarray(4, 8).toString('latin1')).toBe('ftyp');

    const late = videoCommandInteraction({ applicationId: fake.applicationId, channelId: DM, channelType: 1, userId: user, prompt: 'a paper plane over the roofs', draft: true, duration: 1 });
    clockOffsetMs = 16 * 60_000;
    try {
      fake.dispatch('INTERACTION_CREATE', late);
      await videoDelivered(core, user, 2);
    } finally {
      clockOffsetMs = 0;
    }
    const posts = fake.callsTo(new RegExp(`^POST /channels/${DM}/messages$`)).filter((c) => String(c.json?.content ?? '').includes(`<@${user}>`));
    expect(posts).toHaveLength(1);
    expect(posts[0]?.authorization).toBe('Bot test-token-1');
    expect(posts[0]?.files[0]?.contentType).toBe('video/mp4');
    expect(posts[0]?.json?.message_reference).toEqual({ message_id: fake.originalMessageId(late.token as string), fail_if_not_exists: false });
  });

  it('the session lasted through the tests: heartbeats acknowledged, one IDENTIFY (a reconnect on a starved machine resumes)', () => {
    expect(fake.heartbeats).toBeGreaterThanOrEqual(2);
    expect(fake.identifies).toHaveLength(1);
    expect(fake.connections).toBe(1 + fake.resumes);
  });

  it('a 429 storm on the channel post is waited out and the video is delivered once', async () => {
    const user = '1300000000000000014';
    const i = videoCommandInteraction({ applicationId: fake.applicationId, guildId: GUILD, channelId: CHANNEL, userId: user, prompt: 'waves against a pier', draft: true, duration: 1, at: Date.now() - 20 * 60_000 });
    fake.expiredTokens.add(i.token as string);
    fake.rateLimit(new RegExp(`^POST /channels/${CHANNEL}/messages$`), 3, 0.3);
    fake.dispatch('INTERACTION_CREATE', i);
    await videoDelivered(core, user, 1);
    const [job] = await core.listJobs(`discord:${user}`, 1);
    const posts = fake.callsTo(new RegExp(`^POST /channels/${CHANNEL}/messages$`)).filter((c) => String(c.json?.content ?? '').includes(`<@${user}>`));
    // Three 429s, then the one that went through.
    expect(posts.length).toBeGreaterThanOrEqual(2);
    const delivered = await core.deliveries.record(job?.jobId ?? '');
    expect(delivered).toMatchObject({ state: 'delivered' });
    expect(Number(delivered?.attempts)).toBeGreaterThanOrEqual(2);
    await new Promise((r) => setTimeout(r, 1000));
    expect(fake.callsTo(new RegExp(`^POST /channels/${CHANNEL}/messages$`)).filter((c) => String(c.json?.content ?? '').includes(`<@${user}>`)).length).toBe(posts.length);
  });

  it('Discord down for minutes (5xx on the webhook edit, dropped connections on the channel post): once it is back each video is delivered once and charged once', async () => {
    const fresh = '1300000000000000016';
    const old = '1300000000000000017';
    const a = videoCommandInteraction({ applicationId: fake.applicationId, guildId: GUILD, channelId: CHANNEL, userId: fresh, prompt: 'a lighthouse in the fog', draft: true, duration: 1 });
    // Its token is past 15 minutes: its video goes to the channel with the bot token.
    const b = videoCommandInteraction({ applicationId: fake.applicationId, guildId: GUILD, channelId: CHANNEL, userId: old, prompt: 'a night train at dusk', draft: true, duration: 1, at: Date.now() - 20 * 60_000 });
    fake.expiredTokens.add(b.token as string);
    fake.dispatch('INTERACTION_CREATE', a);
    fake.dispatch('INTERACTION_CREATE', b);
    const jobOf = async (user: string) => waitFor(async () => (await core.listJobs(`discord:${user}`, 1))[0], 60_000, `the job of ${user}`);
    const [jobA, jobB] = [await jobOf(fresh), await jobOf(old)];
    await waitFor(async () => (fake.calls.filter(isOriginalEdit(a.token as string)).some((c) => String(c.json?.content).includes(jobA.jobId)) ? true : undefined), 60_000, 'the accepted reply');

    // Discord goes down; by the delivery consumer's clock a minute passes every real second.
    const webhookDown = fake.outage(new RegExp(`^PATCH /webhooks/${fake.applicationId}/${a.token as string}/messages/@original$`), { mode: 'error', status: 502 });
    const channelDown = fake.outage(new RegExp(`^POST /channels/${CHANNEL}/messages$`), { mode: 'drop' });
    const downAt = Date.now();
    const tick = setInterval(() => {
      deliveryOffsetMs = (Date.now() - downAt) * 59;
    }, 50);
    let upAt = 0;
    try {
      const attempts = async (jobId: string) => Number((await core.deliveries.record(jobId))?.attempts ?? 0);
      await waitFor(async () => (Date.now() - downAt >= 5000 && (await attempts(jobA.jobId)) >= 3 && (await attempts(jobB.jobId)) >= 3 ? true : undefined), 120_000, 'failed attempts through a five-minute outage');
      // Minutes of failures: still waiting to be delivered, not given up (nor refunded).
      expect(deliveryOffsetMs).toBeGreaterThanOrEqual(4 * 60_000);
      for (const j of [jobA, jobB]) expect(await core.deliveries.record(j.jobId)).toMatchObject({ state: 'enqueued' });
      expect(webhookDown.refused).toBeGreaterThanOrEqual(3);
      expect(channelDown.refused).toBeGreaterThanOrEqual(3);
      upAt = Date.now();
      webhookDown.end();
      channelDown.end();
      await videoDelivered(core, fresh, 1);
      await videoDelivered(core, old, 1);
    } finally {
      clearInterval(tick);
      deliveryOffsetMs = 0;
      webhookDown.end();
      channelDown.end();
    }
    await new Promise((r) => setTimeout(r, 1500));
    // Taken by Discord: not refused by the outage, nor answered with an injected 429.
    const isVideo = (c: FakeCall) => c.refused !== true && c.injected === undefined && c.files.some((f) => f.contentType === 'video/mp4');
    // Exactly one video went through for each: the fresh token's reply edit, the old one's channel post.
    expect(fake.calls.filter(isOriginalEdit(a.token as string)).filter(isVideo)).toHaveLength(1);
    const posts = fake.callsTo(new RegExp(`^POST /channels/${CHANNEL}/messages$`)).filter((c) => String(c.json?.content ?? '').includes(`<@${old}>`));
    expect(posts.filter(isVideo)).toHaveLength(1);
    expect(posts.filter(isVideo)[0]?.at).toBeGreaterThanOrEqual(upAt);
    expect(fake.callsTo(new RegExp(`^POST /channels/${CHANNEL}/messages$`)).filter((c) => String(c.json?.content ?? '').includes(`<@${fresh}>`))).toHaveLength(0);
    for (const [user, job] of [[fresh, jobA], [old, jobB]] as const) {
      expect(await core.deliveries.record(job.jobId)).toMatchObject({ state: 'delivered' });
      // Retried through the outage (≥ 3 counted before it ended); the attempt that got through may be
      // the one in flight when Discord came back (discord.js retries a dropped request itself).
      expect(Number((await core.deliveries.record(job.jobId))?.attempts)).toBeGreaterThanOrEqual(3);
      // Charged once: the job's cost spent, nothing held, nothing refunded.
      expect(await core.quota.show(`discord:${user}`, { tier: 'free' })).toMatchObject({ spent: job.cost, held: 0 });
      expect((await core.job(job.jobId))?.state).toBe('succeeded');
    }
  });

  it('a video over the interaction\'s upload limit is delivered as a link', async () => {
    const user = '1300000000000000015';
    const i = videoCommandInteraction({ applicationId: fake.applicationId, guildId: GUILD, channelId: CHANNEL, userId: user, prompt: 'a field of tall grass', draft: true, duration: 1, attachmentSizeLimit: 2048 });
    fake.dispatch('INTERACTION_CREATE', i);
    await videoDelivered(core, user, 1);
    const [job] = await core.listJobs(`discord:${user}`, 1);
    expect(job?.replyTarget?.maxUploadBytes).toBe(2048);
    expect(job?.result?.needsLink).toBe(true);
    const final = fake.calls.filter(isOriginalEdit(i.token as string)).at(-1);
    expect(final?.files).toHaveLength(0);
    expect(String(final?.json?.content)).toMatch(new RegExp(`file://.*videos/${job?.jobId ?? 'x'}\\.mp4`));
  });
});
