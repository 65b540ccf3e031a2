import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import type { Core, FramecastConfig } from '@framecast/core';
import type { GenerateWorker } from '@framecast/gpu-worker';
import { waitFor } from '../../../test/support/e2e.ts';
import type { BoardMessageLocation } from './discord-collab-board.ts';
import { FakeDiscord, type FakeCall } from './testing/fake-discord.ts';
import { buttonInteraction, reactionAddEvent, reactionRemoveEvent, videoCommandInteraction, type InteractionBase } from './testing/fake-interactions.ts';
import { startDiscordRig, type DiscordRig } from './testing/discord-rig.ts';

// Storyboards in Discord: one adapter on the gateway (discord.js against the fake gateway: commands
// and reactions) and on HTTP interactions (signed POSTs) at once, the product's core (real
// moderation), a worker on the tiny model (2 steps), real ffmpeg for the stitch; the REST calls go
// to the fake Discord over a real socket.
let redis: Redis;
let dataDir: string;
let fake: FakeDiscord;
let config: FramecastConfig;
let core: Core;
let worker: GenerateWorker;

const run = promisify(execFile);
const GUILD = '1700000000000000071';
const CHANNEL = '1400000000000000071';
const ALICE = '1300000000000000071';
const BOB = '1300000000000000072';
const CAROL = '1300000000000000073';

let rig: DiscordRig;
beforeAll(async () => {
  rig = await startDiscordRig({
    name: 'discord-collab',
    env: { FRAMECAST_STEPS: '2', FRAMECAST_FREE_MAX_CONCURRENT: '5', FRAMECAST_FREE_DAILY_CREDITS: '1000', FRAMECAST_COLLAB_MAX_SHOTS: '4', FRAMECAST_COLLAB_TRANSITION_SECONDS: '0.5' },
    prepare: (f) => {
      f.channels.set(CHANNEL, { type: 0 });
      f.strictChannels = true;
    },
    adapter: { collab: { minEditIntervalMs: 0 } },
  });
  ({ redis, dataDir, fake, config, core, worker } = rig);
}, 120_000);

afterAll(async () => {
  await rig?.close();
});

const post = (body: unknown): Promise<Response> => rig.post(body);

const member = (userId: string): Partial<InteractionBase> => (userId === ALICE
  ? { userId, username: 'alice', globalName: 'Alice' }
  : userId === BOB ? { userId, username: 'bob', globalName: 'Robert', nick: 'Bob' } : { userId, username: 'carol', globalName: null });

/** What the interaction's token was answered with: public edits of the original, ephemeral follow-ups. */
function answers(token: string): { edits: FakeCall[]; ephemeral: FakeCall[] } {
  return {
    edits: fake.calls.filter((c) => c.method === 'PATCH' && c.path === `/webhooks/${fake.applicationId}/${token}/messages/@original`),
    ephemeral: fake.calls.filter((c) => c.method === 'POST' && c.path === `/webhooks/${fake.applicationId}/${token}` && c.json?.flags === 64),
  };
}

async function answered(token: string, what: string): Promise<string> {
  return waitFor(async () => {
    const a = answers(token);
    const c = a.ephemeral.at(-1) ?? a.edits.at(-1);
    return c === undefined ? undefined : String(c.json?.content ?? '');
  }, 30_000, what);
}

type Row = { components: Array<{ custom_id: string; label: string }> };

describe('Discord storyboards: a thread per board, shots, button and reaction votes, per-shot progress on the board message, one video', { timeout: 180_000 }, () => {
  it('three members build a board in a thread, vote, render, and the thread gets exactly one mp4', async () => {
    await fake.waitForReady();
    expect(fake.identifies[0]).toMatchObject({ intents: 1 | 1024 });
    const t0 = Date.now();
    const inChannel = { applicationId: fake.applicationId, guildId: GUILD, channelId: CHANNEL };

    // With no board in the channel, "add …" is a prompt like any other.
    const prompt = videoCommandInteraction({ ...inChannel, ...member(BOB), prompt: 'add a lighthouse at dusk', draft: true, duration: 1 });
    fake.dispatch('INTERACTION_CREATE', prompt);
    const [job] = await waitFor(async () => {
      const jobs = await core.listJobs(`discord:${BOB}`, 5);
      return jobs.length > 0 ? jobs : undefined;
    }, 30_000, 'the prompt\'s job');
    expect(job?.spec.prompt).toContain('add a lighthouse at dusk');
    await core.cancel(job?.jobId ?? '', { userKey: 'discord:admin', isAdmin: true });
    expect((await core.job(job?.jobId ?? ''))?.state).toBe('cancelled');
    // The worker starts now: the board's render has it to itself.
    void worker.run();

    // Alice starts a board in the text channel (over HTTP): a public thread, the board keyed on it.
    const start = videoCommandInteraction({ ...inChannel, ...member(ALICE), prompt: 'collab start a bank heist', draft: true, duration: 1, seed: 7 });
    expect(await (await post(start)).json()).toEqual({ type: 5 });
    const opened = await answered(start.token as string, 'the board opened');
    const threads = fake.callsTo(new RegExp(`^POST /channels/${CHANNEL}/threads$`));
    expect(threads).toHaveLength(1);
    expect(threads[0]?.json).toMatchObject({ type: 11, name: 'Storyboard · Alice' });
    const thread = [...fake.channels.entries()].find(([, c]) => c.parentId === CHANNEL)?.[0] ?? '';
    expect(opened).toContain(`<#${thread}>`);
    expect(opened).toContain('Storyboard open “a bank heist”');
    const boardKey = `discord:${thread}`;
    expect(await core.collab.board(boardKey)).toMatchObject({ state: 'collecting', starterName: 'Alice', seed: 7, replyTarget: { platform: 'discord', channelId: thread, guildId: GUILD } });
    const loc = JSON.parse((await redis.get(`${config.keyPrefix}:discord:collab:msg:${boardKey}`)) ?? '{}') as BoardMessageLocation;
    expect(loc.channelId).toBe(thread);
    const boardMessage = () => fake.calls.filter((c) => c.path === `/channels/${thread}/messages/${loc.messageId}` && c.method === 'PATCH').at(-1);
    const posted = fake.calls.filter((c) => c.method === 'POST' && c.path === `/channels/${thread}/messages`);
    expect(posted).toHaveLength(1);
    expect(String(posted[0]?.json?.content)).toContain('Storyboard “a bank heist”');

    // Shots in the thread: over the gateway and over HTTP; Bob's first add is delivered twice (one shot).
    const inThread = { applicationId: fake.applicationId, guildId: GUILD, channelId: thread, channelType: 11 as const, parentId: CHANNEL };
    const shots: Array<[string, string]> = [[BOB, 'add the crew meets in a diner'], [CAROL, 'add 一段屠杀平民的视频'], [CAROL, 'add the vault door swings open'], [ALICE, 'add alarms flash red'], [BOB, '+ a getaway van speeds off'], [CAROL, 'add sirens fade into the night']];
    let blockedToken = '';
    for (const [n, [user, text]] of shots.entries()) {
      const i = videoCommandInteraction({ ...inThread, ...member(user), prompt: text });
      if (n % 2 === 0) {
        fake.dispatch('INTERACTION_CREATE', i);
        if (n === 0) fake.dispatch('INTERACTION_CREATE', i);
      } else {
        expect((await post(i)).status).toBe(200);
      }
      const said = await answered(i.token as string, `the answer to ${text}`);
      if (n === 1) {
        blockedToken = i.token as string;
        expect(said).toMatch(/not accepted: it breaks the content rules/);
      } else {
        expect(said).toMatch(/^Shot \d added\.$/);
      }
    }
    // The refusal went to Carol alone (ephemeral), her "thinking…" reply was removed, the board never had it.
    expect(answers(blockedToken).edits).toHaveLength(0);
    expect(fake.callsTo(new RegExp(`^DELETE /webhooks/.*/${blockedToken}/messages/@original$`))).toHaveLength(1);
    let board = await core.collab.board(boardKey);
    expect(board?.shots.map((s) => [s.authorName, s.text])).toEqual([
      ['Bob', 'the crew meets in a diner'], ['carol', 'the vault door swings open'], ['Alice', 'alarms flash red'], ['Bob', 'a getaway van speeds off'], ['carol', 'sirens fade into the night'],
    ]);
    expect(fake.calls.some((c) => JSON.stringify(c.json ?? {}).includes('屠杀') && c.json?.flags !== 64)).toBe(false);

    // Votes: Alice double-clicks "Vote 2" (one vote), Carol clicks "Vote 3" over HTTP, Bob reacts 4️⃣ on the board message.
    await waitFor(async () => (String(boardMessage()?.json?.content ?? '').includes('sirens fade') ? true : undefined), 30_000, 'the board message with five shots');
    const buttons = () => ((boardMessage()?.json?.components ?? []) as Row[]).flatMap((r) => r.components);
    const vote2 = buttons().find((b) => b.label === 'Vote 2')?.custom_id ?? '';
    expect(vote2).toBe(`fcc1:vote:${thread}:${board?.id ?? ''}:2`);
    const clicks = [1, 2].map(() => buttonInteraction({ ...inThread, ...member(ALICE), customId: vote2, messageId: loc.messageId }));
    for (const c of clicks) fake.dispatch('INTERACTION_CREATE', c);
    const vote3 = buttons().find((b) => b.label === 'Vote 3')?.custom_id ?? '';
    const carolVote = buttonInteraction({ ...inThread, ...member(CAROL), customId: vote3, messageId: loc.messageId });
    expect(await (await post(carolVote)).json()).toEqual({ type: 5, data: { flags: 64 } });
    fake.dispatch('MESSAGE_REACTION_ADD', reactionAddEvent({ userId: BOB, channelId: thread, messageId: loc.messageId, guildId: GUILD, emoji: '4️⃣', nick: 'Bob' }));
    // A reaction elsewhere, or one that is no number, counts for nothing.
    fake.dispatch('MESSAGE_REACTION_ADD', reactionAddEvent({ userId: CAROL, channelId: thread, messageId: '1999', guildId: GUILD, emoji: '5️⃣' }));
    fake.dispatch('MESSAGE_REACTION_ADD', reactionAddEvent({ userId: CAROL, channelId: thread, messageId: loc.messageId, guildId: GUILD, emoji: '👍' }));
    board = await waitFor(async () => {
      const b = await core.collab.board(boardKey);
      return b?.shots.map((s) => s.voters.length).join(',') === '0,1,1,1,0' ? b : undefined;
    }, 30_000, 'three votes');
    // Carol reacts 5️⃣ and takes it off again: the vote comes and goes. Taking off a reaction that
    // was no vote (Bob's 5️⃣, a 👍) changes nothing.
    fake.dispatch('MESSAGE_REACTION_ADD', reactionAddEvent({ userId: CAROL, channelId: thread, messageId: loc.messageId, guildId: GUILD, emoji: '5️⃣', nick: 'Carol' }));
    await waitFor(async () => ((await core.collab.board(boardKey))?.shots[4]?.voters.length === 1 ? true : undefined), 30_000, "Carol's vote for 5");
    fake.dispatch('MESSAGE_REACTION_REMOVE', reactionRemoveEvent({ userId: BOB, channelId: thread, messageId: loc.messageId, guildId: GUILD, emoji: '5️⃣' }));
    fake.dispatch('MESSAGE_REACTION_REMOVE', reactionRemoveEvent({ userId: CAROL, channelId: thread, messageId: loc.messageId, guildId: GUILD, emoji: '👍' }));
    fake.dispatch('MESSAGE_REACTION_REMOVE', reactionRemoveEvent({ userId: CAROL, channelId: thread, messageId: loc.messageId, guildId: GUILD, emoji: '5️⃣' }));
    board = await waitFor(async () => {
      const b = await core.collab.board(boardKey);
      return b?.shots.map((s) => s.voters.length).join(',') === '0,1,1,1,0' ? b : undefined;
    }, 30_000, "Carol's vote for 5 taken back");
    // The double click: one deferred private answer, the other acknowledged and nothing more.
    const callbacks = () => clicks.flatMap((c) => fake.callsTo(new RegExp(`^POST /interactions/${c.id as string}/`)).map((x) => JSON.stringify(x.json)));
    await waitFor(async () => (callbacks().length === 2 ? true : undefined), 10_000, 'both clicks acknowledged');
    expect(callbacks().sort()).toEqual([JSON.stringify({ type: 5, data: { flags: 64 } }), JSON.stringify({ type: 6 })]);
    expect(await answered(carolVote.token as string, 'carol\'s vote')).toBe('Vote counted for shot 3 (1 votes).');
    // Four make the cut: the voted 2, 3, 4 and, of the unvoted, the earlier 1; the board message says so.
    await waitFor(async () => (/`5\.` .*sirens fade.*not in the cut/.test(String(boardMessage()?.json?.content ?? '')) && /`4\.` .*— 🗳️ 1/.test(String(boardMessage()?.json?.content ?? '')) ? true : undefined), 30_000, 'the board message with the cut');

    // Only the starter renders: Bob's click is refused to him alone; Alice's renders.
    const render = buttons().find((b) => b.label === 'Render')?.custom_id ?? '';
    const bobRender = buttonInteraction({ ...inThread, ...member(BOB), customId: render, messageId: loc.messageId });
    fake.dispatch('INTERACTION_CREATE', bobRender);
    expect(await answered(bobRender.token as string, 'bob\'s refusal')).toMatch(/Only the storyboard's starter/);
    expect(answers(bobRender.token as string).ephemeral).toHaveLength(1);
    const aliceRender = buttonInteraction({ ...inThread, ...member(ALICE), customId: render, messageId: loc.messageId });
    fake.dispatch('INTERACTION_CREATE', aliceRender);
    expect(await answered(aliceRender.token as string, 'the render')).toMatch(/^Rendering 4 shots as one video: \d+ credits/);
    const renderAt = Date.now();
    const jobId = (await core.collab.board(boardKey))?.jobId ?? '';
    expect(jobId).not.toBe('');

    // The video: posted in the thread with the bot token, once.
    const isVideo = (c: FakeCall) => c.method === 'POST' && c.path === `/channels/${thread}/messages` && c.files.some((f) => f.contentType === 'video/mp4');
    const video = await waitFor(async () => fake.calls.find(isVideo), 150_000, 'the storyboard video in the thread');
    const videoAt = Date.now();
    expect(video.files[0]?.filename).toBe(`framecast-${jobId}.mp4`);
    expect(String(video.json?.content)).toContain(`<@${ALICE}>`);
    // A storyboard's video: Info and Delete (no reroll or vary of a many-shot summary).
    expect(((video.json?.components ?? []) as Row[]).flatMap((r) => r.components).map((b) => b.custom_id.split(':')[1])).toEqual(['info', 'delete']);
    await waitFor(async () => ((await core.collab.board(boardKey))?.state === 'done' ? true : undefined), 30_000, 'the board done');
    await waitFor(async () => (String(boardMessage()?.json?.content ?? '').includes('Rendered: the video is posted below') ? true : undefined), 30_000, 'the board message\'s last word');
    await new Promise((r) => setTimeout(r, 1500));
    expect(fake.calls.filter((c) => c.files.some((f) => f.contentType === 'video/mp4'))).toHaveLength(1);

    // Per-shot progress went through the board message in order, and no edit went back.
    const contents = fake.calls.filter((c) => c.method === 'PATCH' && c.path === `/channels/${thread}/messages/${loc.messageId}`).map((c) => String(c.json?.content ?? ''));
    const progressEdits = contents.filter((c) => /— rendering ·/.test(c));
    expect(progressEdits.length).toBeGreaterThanOrEqual(2);
    expect(progressEdits.some((c) => /✅ done/.test(c) && /(🎬|⏳)/.test(c))).toBe(true);
    const doneCounts = contents.map((c) => (c.match(/✅ done/g) ?? []).length);
    const firstRendering = contents.findIndex((c) => /— rendering ·/.test(c));
    for (let k = firstRendering + 1; k < doneCounts.length; k++) expect(doneCounts[k]).toBeGreaterThanOrEqual(doneCounts[k - 1] ?? 0);
    expect(contents.at(-1)).toMatch(/— done ·/);
    expect(boardMessage()?.json?.components).toEqual([]);

    // One video: four 17-frame shots at 16 fps, three 0.5 s cross-fades, a 2 s end card.
    const mp4 = path.join(dataDir, 'storyboard.mp4');
    await writeFile(mp4, video.files[0]?.data ?? Buffer.alloc(0));
    // The video stream's length (the container's may count the audio track's padding too).
    const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=duration', '-of', 'json', mp4]);
    const duration = Number((JSON.parse(stdout) as { streams: Array<{ duration: string }> }).streams[0]?.duration);
    expect(Math.abs(duration - (4 * (17 / 16) - 3 * 0.5 + 2))).toBeLessThanOrEqual(1 / 16 + 1e-6);

    // Charged once, to the starter.
    const rec = await core.job(jobId);
    expect(rec).toMatchObject({ state: 'succeeded', userKey: `discord:${ALICE}` });
    expect(await core.quota.show(`discord:${ALICE}`, { tier: 'free' })).toMatchObject({ spent: rec?.cost, held: 0, active: 0 });
    console.info(JSON.stringify({ discordCollabSeconds: (Date.now() - t0) / 1000, renderToVideoSeconds: (videoAt - renderAt) / 1000, videoBytes: video.files[0]?.size, boardEdits: contents.length }));
  });

  it('a board started in a thread or a DM stays there; a blocked theme leaves no thread behind; a channel manager may lock', async () => {
    const THREAD = '1400000000000000079';
    const DM = '1400000000000000089';
    fake.channels.set(THREAD, { type: 11, parentId: CHANNEL });
    fake.channels.set(DM, { type: 1 });
    const threadsMade = () => fake.calls.filter((c) => c.method === 'POST' && c.path.endsWith('/threads')).length;
    const before = threadsMade();

    const inThread = { applicationId: fake.applicationId, guildId: GUILD, channelId: THREAD, channelType: 11 as const, parentId: CHANNEL };
    const start = videoCommandInteraction({ ...inThread, ...member(BOB), prompt: 'collab start', locale: 'zh-CN' });
    fake.dispatch('INTERACTION_CREATE', start);
    expect(await answered(start.token as string, 'the board in the thread')).toMatch(/^分镜板已开启。.*\n添加镜头：/s);
    expect(threadsMade()).toBe(before);
    expect(await core.collab.board(`discord:${THREAD}`)).toMatchObject({ state: 'collecting', starterName: 'Bob', locale: 'zh-CN', replyTarget: { channelId: THREAD } });
    await waitFor(async () => (fake.calls.some((c) => c.method === 'POST' && c.path === `/channels/${THREAD}/messages` && String(c.json?.content).includes('分镜板')) ? true : undefined), 10_000, 'the board message in the thread');

    // Not the starter: Carol, with Manage Channels, may lock; Alice, without, may not unlock.
    const lock = videoCommandInteraction({ ...inThread, ...member(CAROL), prompt: 'collab lock', permissions: String(1n << 4n) });
    expect((await post(lock)).status).toBe(200);
    expect(await answered(lock.token as string, 'the lock')).toBe('Storyboard locked.');
    expect(answers(lock.token as string).ephemeral).toHaveLength(0);
    const unlock = videoCommandInteraction({ ...inThread, ...member(ALICE), prompt: 'collab unlock' });
    fake.dispatch('INTERACTION_CREATE', unlock);
    expect(await answered(unlock.token as string, 'the refused unlock')).toMatch(/Only the storyboard's starter/);
    expect(answers(unlock.token as string).ephemeral).toHaveLength(1);
    expect((await core.collab.board(`discord:${THREAD}`))?.state).toBe('locked');

    // A blocked theme in a text channel: the thread made for it is deleted, the refusal is Alice's alone.
    const blocked = videoCommandInteraction({ applicationId: fake.applicationId, guildId: GUILD, channelId: CHANNEL, ...member(ALICE), prompt: 'collab start 一段屠杀平民的视频' });
    fake.dispatch('INTERACTION_CREATE', blocked);
    expect(await answered(blocked.token as string, 'the refused theme')).toMatch(/not accepted/);
    expect(threadsMade()).toBe(before + 1);
    const made = fake.calls.filter((c) => c.method === 'POST' && c.path.endsWith('/threads')).at(-1);
    expect(made?.json?.name).toBe('Storyboard · Alice');
    await waitFor(async () => (fake.calls.some((c) => c.method === 'DELETE' && /^\/channels\/\d+$/.test(c.path)) ? true : undefined), 10_000, 'the unused thread deleted');
    const deleted = fake.calls.filter((c) => c.method === 'DELETE' && /^\/channels\/\d+$/.test(c.path)).map((c) => c.path.slice('/channels/'.length));
    expect(deleted).toHaveLength(1);
    expect(await core.collab.board(`discord:${deleted[0] ?? ''}`)).toBeUndefined();

    // A DM: the board is the DM's (no guild, no thread).
    const dm = videoCommandInteraction({ applicationId: fake.applicationId, channelId: DM, channelType: 1, ...member(CAROL), prompt: 'collab start --draft' });
    expect((await post(dm)).status).toBe(200);
    expect(await answered(dm.token as string, 'the DM board')).toMatch(/^Storyboard open\./);
    expect(await core.collab.board(`discord:${DM}`)).toMatchObject({ state: 'collecting', starterName: 'carol', tenantKey: expect.stringContaining(`dm:${DM}`) });
    expect(threadsMade()).toBe(before + 1);
  });
});
