import type { KeyObject } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { blobStoreFromConfig, createCore, createFramecastMetrics, type Core, type FramecastConfig } from '@framecast/core';
import { createHttpApp, listen, type ListeningServer } from '@framecast/http-server';
import { silentLogger, waitFor } from '../../../test/support/e2e.ts';
import { testConfig } from '../../../test/support/config.ts';
import { testRedis, testRedisUrl } from '../../../test/support/redis.ts';
import { startDiscordAdapter, type DiscordAdapter } from './discord-adapter.ts';
import { FakeDiscord } from './testing/fake-discord.ts';
import { actionCustomId } from './discord-actions.ts';
import { buttonInteraction, modalSubmitInteraction, pingInteraction, plainCommandInteraction, videoCommandInteraction } from './testing/fake-interactions.ts';
import { interactionKeys, postSignedInteraction } from './testing/signed-interactions.ts';

// HTTP interactions only (DISCORD_GATEWAY=off): requests signed with a test Ed25519 key reach
// POST /discord/interactions on the one HTTP server; follow-ups go to the fake REST API.
let redis: Redis;
let dataDir: string;
let fake: FakeDiscord;
let config: FramecastConfig;
let core: Core;
let adapter: DiscordAdapter;
let server: ListeningServer;
let privateKey: KeyObject;
let otherKey: KeyObject;

beforeAll(async () => {
  redis = testRedis();
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'framecast-discord-http-'));
  fake = await new FakeDiscord().start();
  // The raw 32-byte key is the last 32 bytes of its SPKI DER, as the developer portal shows it in hex.
  const keys = interactionKeys();
  privateKey = keys.privateKey;
  otherKey = interactionKeys().privateKey;
  const publicHex = keys.publicKeyHex;
  config = testConfig({
    REDIS_URL: testRedisUrl(), FRAMECAST_DATA_DIR: dataDir,
    DISCORD_TOKEN: 'test-token-2', DISCORD_APPLICATION_ID: fake.applicationId, DISCORD_API_BASE_URL: fake.apiBaseUrl,
    DISCORD_PUBLIC_KEY: publicHex, DISCORD_GATEWAY: 'off', FRAMECAST_ROLE_TIERS: 'Patron=pro,Mods=admin',
  });
  core = createCore({ config, redis, moderator: { moderateText: async () => ({ action: 'allow', hits: [], source: 'test' }) }, logger: silentLogger, connection: { url: testRedisUrl(), maxRetriesPerRequest: null } });
  const http = createHttpApp({ metrics: createFramecastMetrics(), readiness: async () => ({ ok: true, checks: {} }) });
  adapter = await startDiscordAdapter({ core, store: blobStoreFromConfig(config), logger: silentLogger, config, http });
  server = await listen(http, 0, '127.0.0.1');
});

afterAll(async () => {
  await server?.close();
  await adapter?.close();
  await core?.close();
  await fake?.close();
  await redis?.quit();
  await rm(dataDir, { recursive: true, force: true });
});

const post = (body: unknown, key: KeyObject = privateKey, tamper?: (raw: string) => string): Promise<Response> => postSignedInteraction(server.port, body, key, tamper);

describe('Discord HTTP interactions (POST /discord/interactions, Ed25519)', () => {
  it('answers a signed PING with PONG', async () => {
    const res = await post(pingInteraction(fake.applicationId));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ type: 1 });
  });

  it('refuses a bad signature, a signature by another key, a changed body and missing headers with 401', async () => {
    expect((await post(pingInteraction(fake.applicationId), otherKey)).status).toBe(401);
    expect((await post(pingInteraction(fake.applicationId), privateKey, (raw) => raw.replace('"type":1', '"type":1 '))).status).toBe(401);
    const unsigned = await fetch(`http://127.0.0.1:${server.port}/discord/interactions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(pingInteraction(fake.applicationId)) });
    expect(unsigned.status).toBe(401);
    expect(await unsigned.json()).toMatchObject({ error: 'invalid_signature' });
  });

  it('defers /video within the 3 s window (type 5 in the HTTP answer), then submits and edits the reply', async () => {
    const user = '1300000000000000021';
    const i = videoCommandInteraction({ applicationId: fake.applicationId, guildId: '1700000000000000002', userId: user, prompt: 'a kite over the sea --ar 9:16', draft: true, seed: 11 });
    const t0 = performance.now();
    const res = await post(i);
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ type: 5 });
    await waitFor(async () => ((await core.listJobs(`discord:${user}`, 1)).length === 1 ? true : undefined), 30_000, 'the job');
    const [job] = await core.listJobs(`discord:${user}`, 1);
    expect(job?.eventId).toBe(i.id);
    expect(job?.spec).toMatchObject({ seed: 11, aspect: '9:16', mode: 'draft' });
    await waitFor(async () => (fake.callsTo(/^PATCH \/webhooks\/.*\/messages\/@original$/).some((c) => String(c.json?.content).includes(job?.jobId ?? '?')) ? true : undefined), 30_000, 'the accepted reply');
    // The same interaction delivered twice (a retry) is one job.
    expect((await post(i)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 500));
    expect(await core.listJobs(`discord:${user}`, 5)).toHaveLength(1);
  });

  it('answers /video-help at once and privately, and /video-quota with a deferred private reply', async () => {
    const help = await post(plainCommandInteraction({ applicationId: fake.applicationId, name: 'video-help', locale: 'zh-CN' }));
    const body = (await help.json()) as { type: number; data: { flags: number; content: string } };
    expect(body).toMatchObject({ type: 4, data: { flags: 64 } });
    expect(body.data.content).toContain('/video');
    const quota = plainCommandInteraction({ applicationId: fake.applicationId, name: 'video-quota', userId: '1300000000000000022' });
    expect(await (await post(quota)).json()).toEqual({ type: 5, data: { flags: 64 } });
    await waitFor(async () => (fake.callsTo(new RegExp(`^PATCH /webhooks/.*/${quota.token as string}/messages/@original$`)).length === 1 ? true : undefined), 30_000, 'the quota reply');
    expect(String(fake.callsTo(new RegExp(`${quota.token as string}/messages/@original$`))[0]?.json?.content)).toMatch(/Credits left today: \*\*30\*\* of 30/);
  });

  it('delete and cancel buttons: only the requester (or an admin), answered privately', async () => {
    const user = '1300000000000000021';
    const [job] = await core.listJobs(`discord:${user}`, 1);
    const jobId = job?.jobId ?? '';
    const reply = async (token: string) => {
      await waitFor(async () => (fake.callsTo(new RegExp(`^PATCH /webhooks/.*/${token}/messages/@original$`)).length === 1 ? true : undefined), 30_000, 'the private answer');
      return String(fake.callsTo(new RegExp(`${token}/messages/@original$`))[0]?.json?.content);
    };
    const stranger = buttonInteraction({ applicationId: fake.applicationId, guildId: '1700000000000000002', userId: '1300000000000000099', customId: actionCustomId('delete', jobId), messageId: '555' });
    expect(await (await post(stranger)).json()).toEqual({ type: 5, data: { flags: 64 } });
    expect(await reply(stranger.token as string)).toContain('Only the person who asked');
    expect(fake.callsTo(/^DELETE \/channels\/.*\/messages\/555$/)).toHaveLength(0);
    const owner = buttonInteraction({ applicationId: fake.applicationId, guildId: '1700000000000000002', userId: user, customId: actionCustomId('cancel', jobId), messageId: '556' });
    expect((await post(owner)).status).toBe(200);
    expect(await reply(owner.token as string)).toContain('cancelled');
    expect((await core.job(jobId))?.state).toBe('cancelled');
    const del = buttonInteraction({ applicationId: fake.applicationId, guildId: '1700000000000000002', userId: user, customId: actionCustomId('delete', jobId), messageId: '557' });
    await post(del);
    expect(await reply(del.token as string)).toBe('Deleted.');
    expect(fake.callsTo(/^DELETE \/channels\/.*\/messages\/557$/)).toHaveLength(1);
  });

  it('vary: the button answers a modal in the HTTP body with the prompt (style words out); its submit keeps seed, size and style; a stranger is refused privately', async () => {
    const user = '1300000000000000023';
    const guild = '1700000000000000002';
    const cmd = videoCommandInteraction({ applicationId: fake.applicationId, guildId: guild, userId: user, prompt: 'a kite over the sea', style: 'anime', seed: 12, aspect: '9:16', duration: 2, draft: true });
    await post(cmd);
    await waitFor(async () => ((await core.listJobs(`discord:${user}`, 1)).length === 1 ? true : undefined), 30_000, 'the job');
    const [job] = await core.listJobs(`discord:${user}`, 1);
    const customId = actionCustomId('vary', job?.jobId ?? '');

    const stranger = buttonInteraction({ applicationId: fake.applicationId, guildId: guild, userId: '1300000000000000099', customId, messageId: '600' });
    expect(await (await post(stranger)).json()).toMatchObject({ type: 4, data: { flags: 64, content: expect.stringContaining('Only the person') } });

    const click = buttonInteraction({ applicationId: fake.applicationId, guildId: guild, userId: user, customId, messageId: '600' });
    const modal = (await (await post(click)).json()) as { type: number; data: { custom_id: string; components: Array<{ component: { custom_id: string; value: string; max_length: number } }> } };
    expect(modal.type).toBe(9);
    expect(modal.data.custom_id).toBe(customId);
    expect(modal.data.components[0]?.component).toMatchObject({ custom_id: 'prompt', value: 'a kite over the sea' });

    // One video at a time for this tier (no worker runs here): the first one is cancelled.
    await core.cancel(job?.jobId ?? '', { userKey: `discord:${user}`, isAdmin: false });
    // An older client's shape (the input in an action row) reads the same.
    const submit = modalSubmitInteraction({ applicationId: fake.applicationId, guildId: guild, userId: user, customId, messageId: '600', values: { prompt: 'a red kite over a stormy sea' }, actionRows: true });
    expect(await (await post(submit)).json()).toEqual({ type: 5 });
    await waitFor(async () => ((await core.listJobs(`discord:${user}`, 5)).length === 2 ? true : undefined), 30_000, 'the varied job');
    // The same submit again (a retry) is one job.
    await post(submit);
    await new Promise((r) => setTimeout(r, 500));
    const jobs = await core.listJobs(`discord:${user}`, 5);
    expect(jobs).toHaveLength(2);
    expect(jobs[0]?.eventId).toBe(submit.id);
    expect(jobs[0]?.spec).toMatchObject({ seed: 12, aspect: '9:16', durationSeconds: job?.spec.durationSeconds, mode: 'draft', style: 'anime', negativePrompt: job?.spec.negativePrompt });
    expect(jobs[0]?.spec.prompt).toBe(job?.spec.prompt.replace('a kite over the sea', 'a red kite over a stormy sea'));
  });
  /** The private answer a deferred interaction got (its one edit). */
  async function privateReply(token: string): Promise<string> {
    await waitFor(async () => (fake.callsTo(new RegExp(`^PATCH /webhooks/.*/${token}/messages/@original$`)).length >= 1 ? true : undefined), 30_000, 'the private answer');
    return String(fake.callsTo(new RegExp(`${token}/messages/@original$`)).at(-1)?.json?.content);
  }

  it('/video-jobs lists the user\'s videos with their state and place in line, privately; info shows a job\'s parameters privately', async () => {
    const user = '1300000000000000023';
    const jobs = await core.listJobs(`discord:${user}`, 5);
    const queued = jobs.find((j) => j.state === 'queued');
    expect(queued).toBeDefined();
    const list = plainCommandInteraction({ applicationId: fake.applicationId, name: 'video-jobs', guildId: '1700000000000000002', userId: user });
    expect(await (await post(list)).json()).toEqual({ type: 5, data: { flags: 64 } });
    const text = await privateReply(list.token as string);
    for (const j of jobs) expect(text).toContain(`\`${j.jobId}\` ${j.state}`);
    expect(text).toMatch(new RegExp(`${queued?.jobId ?? '?'}\` queued \\(position \\d+, about`));

    const info = buttonInteraction({ applicationId: fake.applicationId, guildId: '1700000000000000002', userId: '1300000000000000099', customId: actionCustomId('info', queued?.jobId ?? ''), messageId: '650', locale: 'zh-CN' });
    const answer = (await (await post(info)).json()) as { type: number; data: { flags: number; content: string } };
    expect(answer).toMatchObject({ type: 4, data: { flags: 64 } });
    expect(answer.data.content).toContain(queued?.spec.prompt.slice(0, 40) ?? '?');
    expect(answer.data.content).toContain(queued?.jobId ?? '?');
    expect(answer.data.content).toContain('9:16');
  });

  it('upscale: a draft again at final quality with the same seed, one job for a double click', async () => {
    const user = '1300000000000000023';
    const [draft] = await core.listJobs(`discord:${user}`, 1);
    expect(draft?.spec.mode).toBe('draft');
    // One video at a time for this tier (no worker runs here).
    await core.cancel(draft?.jobId ?? '', { userKey: `discord:${user}`, isAdmin: false });
    const customId = actionCustomId('upscale', draft?.jobId ?? '');
    const clicks = [1, 2].map(() => buttonInteraction({ applicationId: fake.applicationId, guildId: '1700000000000000002', userId: user, customId, messageId: '660' }));
    const answers = await Promise.all(clicks.map(async (c) => (await post(c)).json()));
    expect(answers).toEqual([{ type: 5 }, { type: 5 }]);
    await waitFor(async () => ((await core.listJobs(`discord:${user}`, 5)).some((j) => j.spec.mode === 'final') ? true : undefined), 30_000, 'the final job');
    await new Promise((r) => setTimeout(r, 500));
    const finals = (await core.listJobs(`discord:${user}`, 10)).filter((j) => j.spec.mode === 'final');
    expect(finals).toHaveLength(1);
    expect(finals[0]?.spec).toMatchObject({ seed: draft?.spec.seed, aspect: draft?.spec.aspect, prompt: draft?.spec.prompt, mode: 'final' });
    expect(finals[0]?.eventId).toBe(`btn:${customId}:${user}`);
    await core.cancel(finals[0]?.jobId ?? '', { userKey: `discord:${user}`, isAdmin: false });
  });

  it('a refusal is private and in the user\'s language: the public "thinking…" reply is removed', async () => {
    const user = '1300000000000000061';
    const first = videoCommandInteraction({ applicationId: fake.applicationId, guildId: '1700000000000000002', userId: user, prompt: 'a first video', draft: true });
    await post(first);
    await waitFor(async () => ((await core.listJobs(`discord:${user}`, 1)).length === 1 ? true : undefined), 30_000, 'the first job');
    // One video at a time for this tier (no worker runs here): the second is refused, in Chinese.
    const second = videoCommandInteraction({ applicationId: fake.applicationId, guildId: '1700000000000000002', userId: user, prompt: 'a second video', draft: true, locale: 'zh-CN' });
    expect(await (await post(second)).json()).toEqual({ type: 5 });
    const followUp = new RegExp(`^POST /webhooks/${fake.applicationId}/${second.token as string}$`);
    await waitFor(async () => (fake.callsTo(followUp).length === 1 ? true : undefined), 30_000, 'the private refusal');
    expect(fake.callsTo(followUp)[0]?.json).toMatchObject({ flags: 64, content: expect.stringContaining('个视频正在生成（上限 1）') });
    await waitFor(async () => (fake.callsTo(new RegExp(`^DELETE /webhooks/${fake.applicationId}/${second.token as string}/messages/@original$`)).length === 1 ? true : undefined), 30_000, 'the public reply removed');
    expect(await core.listJobs(`discord:${user}`, 5)).toHaveLength(1);
    const [job] = await core.listJobs(`discord:${user}`, 1);
    await core.cancel(job?.jobId ?? '', { userKey: `discord:${user}`, isAdmin: false });
  });

  it('guild roles map to tiers (FRAMECAST_ROLE_TIERS, by name): a Patron gets the pro quota, a Mods member may delete another\'s video', async () => {
    const guild = '1700000000000000004';
    fake.roles = [{ id: '1800000000000000001', name: 'Patron' }, { id: '1800000000000000002', name: 'Mods' }];
    const patron = plainCommandInteraction({ applicationId: fake.applicationId, name: 'video-quota', guildId: guild, userId: '1300000000000000051', roles: ['1800000000000000001'] });
    await post(patron);
    expect(await privateReply(patron.token as string)).toMatch(/of 300 \(pro\)/);
    expect(fake.callsTo(new RegExp(`^GET /guilds/${guild}/roles$`))).toHaveLength(1);
    const plain = plainCommandInteraction({ applicationId: fake.applicationId, name: 'video-quota', guildId: guild, userId: '1300000000000000052' });
    await post(plain);
    expect(await privateReply(plain.token as string)).toMatch(/of 30 \(free\)/);

    const [someone] = await core.listJobs('discord:1300000000000000021', 1);
    const del = buttonInteraction({ applicationId: fake.applicationId, guildId: guild, userId: '1300000000000000053', roles: ['1800000000000000002'], customId: actionCustomId('delete', someone?.jobId ?? ''), messageId: '700' });
    await post(del);
    expect(await privateReply(del.token as string)).toBe('Deleted.');
    expect(fake.callsTo(/^DELETE \/channels\/.*\/messages\/700$/)).toHaveLength(1);
  });
});
