import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import type { ListeningServer } from '@framecast/http-server';
import { waitFor } from '../../../test/support/e2e.ts';
import { testRedis } from '../../../test/support/redis.ts';
import type { BoardView, CollabEvent } from '@framecast/core';
import { boardBlocks, progressFrom, COLLAB_ACTION, collabButtonValue, parseCollabButtonValue, type BoardProgress } from './slack-collab.ts';
import { solidPng } from './testing/tiny-png.ts';
import { click, isMp4, jobsOf, signedPost, slackRig, slashCommand, type Rig } from './testing/slack-rig.ts';

let redis: Redis;
let dataDir: string;
let r: Rig;
let server: ListeningServer;

// About 25–40 s on an idle 2-core machine (five one-second draft shots on the tiny model, two steps,
// then the stitch); the limits leave room for a busy one.
beforeAll(async () => {
  redis = testRedis();
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'framecast-slack-collab-'));
  r = await slackRig('http', { redis, dataDir, env: { FRAMECAST_STEPS: '2', FRAMECAST_COLLAB_TRANSITION_SECONDS: '0.25' } });
  server = r.server as ListeningServer;
  r.fake.userProfiles.set('UA', { displayName: 'Alice' });
  r.fake.userProfiles.set('UB', { realName: 'Bob Stone', displayName: 'Bob' });
  r.fake.userProfiles.set('UC', { displayName: '小明' });
  r.fake.userLocales.set('UC', 'zh-CN');
}, 120_000);

afterAll(async () => {
  await r?.close();
  await redis.quit();
  await rm(dataDir, { recursive: true, force: true });
});

let evt = 0;
/** An Events API callback as Slack posts it (`event_id` fixed, so that a retry is the same event). */
function eventCallback(r: Rig, event: Record<string, unknown>, eventId = `EvC${Date.now()}${++evt}`): Record<string, unknown> {
  return { token: 'x', team_id: r.fake.teamId, api_app_id: 'A0FAKE', type: 'event_callback', event_id: eventId, event_time: Math.floor(Date.now() / 1000), event };
}

function eventBody(r: Rig, event: Record<string, unknown>): string {
  return JSON.stringify(eventCallback(r, event));
}

let tsn = 0;
function mentionEvent(r: Rig, user: string, text: string, threadTs: string, channel = 'C1'): Record<string, unknown> {
  const ts = `1700001000.${String(++tsn).padStart(6, '0')}`;
  return { type: 'app_mention', user, text: `<@${r.fake.botUserId}> ${text}`, ts, thread_ts: threadTs, channel, event_ts: ts };
}

function mention(r: Rig, user: string, text: string, threadTs: string): string {
  return eventBody(r, mentionEvent(r, user, text, threadTs));
}

function reactionEvent(r: Rig, user: string, reaction: string, channel: string, ts: string): Record<string, unknown> {
  return { type: 'reaction_added', user, reaction, item_user: r.fake.botUserId, item: { type: 'message', channel, ts }, event_ts: `${Date.now() / 1000}` };
}

async function post(body: string, o: { json?: boolean; retryNum?: number } = {}): Promise<void> {
  const res = await signedPost(server, body, { ...(o.json === true ? { contentType: 'application/json' } : {}), ...(o.retryNum === undefined ? {} : { retryNum: o.retryNum }) });
  expect(res.status).toBe(200);
}

const slash = (text: string, user: string) => post(new URLSearchParams(slashCommand(r.fake, text, user, 'C1')).toString());

async function shots(key: string): Promise<number> {
  return (await r.core.collab.board(key))?.shots.length ?? -1;
}

async function awaitShots(key: string, n: number): Promise<void> {
  await waitFor(async () => ((await shots(key)) === n ? true : undefined), 30_000, `${n} shots`);
}

function view(state: BoardView['state'], shots = 3): BoardView {
  return {
    key: 'slack:C9', theme: 'a <day> at sea', state, starterName: 'Alice', seed: 7, aspect: '16:9', maxShots: 2, cost: 6, policy: 'split', charges: [], etaSeconds: 90,
    shots: Array.from({ length: shots }, (_, i) => ({ n: i + 1, id: `s${i}`, author: `slack:U${i}`, authorName: i === 1 ? '小明' : `U${i}`, text: `shot & ${i + 1}`, votes: i, hasImage: false, inCut: i > 0 })),
    text: { en: '', 'zh-CN': '' },
  };
}

function progress(p: Partial<BoardProgress> = {}): BoardProgress {
  return { segments: new Map(), stitching: false, ...p };
}

describe('the board message', () => {
  it('collecting: a section per shot with its vote button, escaped text, the cut, cost and policy, Show and Render', () => {
    const blocks = boardBlocks(view('collecting'), progress(), 'en', 'b1', 'C9');
    const json = JSON.stringify(blocks);
    expect(json).toContain('Storyboard “a &lt;day&gt; at sea”');
    expect(json).toContain('shot &amp; 1');
    expect(json).toContain('_not in the cut_');
    expect(json).toContain('*6 credits* (split among the authors in the cut)');
    const votes = blocks.flatMap((b) => ('accessory' in b && b.accessory?.type === 'button' ? [b.accessory.value] : []));
    expect(votes).toEqual(['b1|1|C9', 'b1|2|C9', 'b1|3|C9']);
    expect(json).toContain(COLLAB_ACTION.render);
  });

  it('rendering: each shot of the cut with its progress, no buttons; then stitching, a failure\'s refund note, the expiry, in zh-CN too', () => {
    const segments: BoardProgress['segments'] = new Map([[0, { phase: 'done' }], [1, { phase: 'step', step: 1, totalSteps: 2 }]]);
    const rendering = JSON.stringify(boardBlocks(view('rendering'), progress({ segments }), 'en', 'b1', 'C9'));
    expect(rendering).toContain('shot &amp; 2\\n1 vote(s) · ✅ done');
    expect(rendering).toContain('shot &amp; 3\\n2 vote(s) · 🎬 step 1/2');
    expect(rendering).toContain('Rendering: 1/2 shots done');
    expect(rendering).not.toContain(COLLAB_ACTION.vote);
    expect(rendering).not.toContain(COLLAB_ACTION.render);
    expect(JSON.stringify(boardBlocks(view('rendering'), progress({ segments, stitching: true }), 'zh-CN', 'b1', 'C9'))).toContain('正在拼接');
    const failed = JSON.stringify(boardBlocks(view('collecting'), progress({ note: { kind: 'failed', message: { en: 'Refunded <all>.', 'zh-CN': '额度已全部退回。' } } }), 'zh-CN', 'b1', 'C9'));
    expect(failed).toContain('❌ 额度已全部退回。');
    expect(failed).toContain('投第 1 个');
    expect(JSON.stringify(boardBlocks(view('expired'), progress({ note: { kind: 'expired', message: { en: 'Closed after 24 hours.', 'zh-CN': '' } } }), 'en', 'b1', 'C9'))).toContain('⌛ Closed after 24 hours.');
    expect(JSON.stringify(boardBlocks(view('done'), progress(), 'en', 'b1', 'C9'))).toContain('the video is in this thread');
  });
});

describe('a render\'s progress read back from the event stream (a process that joins mid-render)', () => {
  it('takes the render\'s own events only, starts over after a failure, and keeps the stitching', () => {
    const ev = (o: Partial<CollabEvent>): CollabEvent => ({ id: '1-0', boardKey: 'slack:C9', type: 'segment', jobId: 'cb1', ...o });
    const p = progressFrom([
      ev({ index: 0, phase: 'done' }),
      ev({ type: 'failed', message: { en: 'Refunded.', 'zh-CN': '已退回。' } }),
      ev({ index: 0, phase: 'started' }),
      ev({ index: 0, phase: 'done' }),
      ev({ index: 1, phase: 'step', step: 1, totalSteps: 2 }),
      ev({ boardKey: 'slack:C8', index: 2, phase: 'done' }),
      ev({ jobId: 'cOther', index: 3, phase: 'done' }),
      ev({ type: 'stitching' }),
    ], 'slack:C9', 'cb1');
    expect([...p.segments.entries()]).toEqual([[0, { phase: 'done' }], [1, { phase: 'step', step: 1, totalSteps: 2 }]]);
    expect(p.stitching).toBe(true);
    expect(p.note).toBeUndefined();
  });
});

describe('board buttons', () => {
  it('carry the board, the shot and the channel key, and nothing else parses', () => {
    const v = collabButtonValue('mb1x2y3z4a', 3, 'C1:1700000000.000100');
    expect(parseCollabButtonValue(v)).toEqual({ boardId: 'mb1x2y3z4a', n: 3, channelKey: 'C1:1700000000.000100' });
    for (const bad of [undefined, '', 'x|1', 'a|b|C1', 'a|1|C 1', `a|1|${'C'.repeat(201)}`]) expect(parseCollabButtonValue(bad)).toBeUndefined();
  });
});

describe('Slack storyboard: signed requests to Bolt on the HTTP server, the real Web API client against a fake Slack, the real core and worker', { timeout: 240_000 }, () => {
  it('three users build a five-shot board in its thread, vote by button and by reaction, render; one video in the thread, charged once', async () => {
    const t0 = Date.now();
    const key = 'slack:C1';
    // With no board open, "/video add …" is a prompt like any other.
    await slash('add a lighthouse at dusk --draft', 'UB');
    const prompt = await waitFor(async () => (await jobsOf(r.core, 'UB'))[0], 30_000, 'the prompt\'s job');
    expect(prompt.spec.prompt).toContain('add a lighthouse at dusk');
    await r.core.cancel(prompt.jobId, { userKey: 'slack:UADMIN', isAdmin: true });
    expect(await r.core.collab.board(key)).toBeUndefined();

    // Alice opens the board: its message in the channel, the board's thread is that message's.
    await slash('collab start a day at the sea --draft --duration 1 --seed 7', 'UA');
    const board0 = await waitFor(async () => r.core.collab.board(key), 30_000, 'the board');
    const boardTs = board0.replyTarget.platform === 'slack' ? board0.replyTarget.threadTs ?? '' : '';
    const boardMsg = () => r.fake.messages.get(`C1:${boardTs}`);
    await waitFor(async () => (JSON.stringify(boardMsg()?.blocks ?? '').includes('Storyboard') ? true : undefined), 30_000, 'the board message');
    expect(boardMsg()?.thread_ts).toBeUndefined();
    expect(board0).toMatchObject({ starterName: 'Alice', theme: 'a day at the sea', seed: 7, replyTarget: { platform: 'slack', channelId: 'C1', threadTs: boardTs } });
    // A second start while it is open: said to its author alone; no board message posted and taken back.
    const messagesBefore = r.fake.messages.size;
    await slash('collab start another day', 'UB');
    await waitFor(async () => r.fake.ephemerals.find((e) => e.user === 'UB' && /already open/.test(e.text)), 30_000, 'the refusal to Bob');
    expect([r.fake.messages.size, r.fake.calls.filter((c) => c.method === 'chat.delete').length]).toEqual([messagesBefore, 0]);

    // Bob adds a shot by mentioning the bot in the board's thread; Slack retries the event: one shot.
    const bobShot = mention(r, 'UB', 'add gulls over the waves', boardTs);
    await Promise.all([post(bobShot, { json: true }), post(bobShot, { json: true, retryNum: 1 })]);
    await awaitShots(key, 1);
    await post(bobShot, { json: true, retryNum: 2 });
    // Carol's blocked line: refused to her alone (zh-CN), the board unchanged.
    const before = boardMsg()?.history.length ?? 0;
    await slash('add 一段屠杀平民的视频', 'UC');
    await waitFor(async () => r.fake.ephemerals.find((e) => e.user === 'UC' && /未通过内容审核/.test(e.text)), 30_000, 'the refusal to Carol');
    expect(await shots(key)).toBe(1);
    await slash('add children build a sandcastle', 'UC');
    await awaitShots(key, 2);
    // Alice's shot with a pasted Slack file link: the picture is the shot's reference image (the usual file intake).
    const sunset = r.fake.addUserFile(solidPng(320, 180, [240, 140, 60]), 'image/png', 'sunset.png');
    await slash(`add a boat sails into the sunset <${sunset.url_private}|sunset.png>`, 'UA');
    await awaitShots(key, 3);
    await post(mention(r, 'UB', 'add a lighthouse blinks at dusk', boardTs), { json: true });
    await awaitShots(key, 4);
    await post(mention(r, 'UC', 'add stars over the quiet sea', boardTs), { json: true });
    await awaitShots(key, 5);
    expect(boardMsg()?.history.length ?? 0).toBeGreaterThan(before);

    // Votes: Bob double-clicks shot 2's button (one vote); Carol reacts :three: on the board message, Slack retries it.
    const blocks = await waitFor(async () => {
      const b = boardMsg()?.blocks as Array<{ block_id?: string; accessory?: { action_id: string; value: string } }> | undefined;
      return b?.filter((x) => x.accessory?.action_id === COLLAB_ACTION.vote).length === 5 ? b : undefined;
    }, 30_000, 'five vote buttons');
    const vote2 = blocks.find((b) => b.block_id === 'fc_shot_2')?.accessory;
    if (vote2 === undefined) throw new Error('no vote button for shot 2');
    await Promise.all([post(click(r.fake, 'UB', 'C1', boardTs, vote2, 101)), post(click(r.fake, 'UB', 'C1', boardTs, vote2, 102))]);
    const reaction = eventBody(r, reactionEvent(r, 'UC', 'three', 'C1', boardTs));
    await Promise.all([post(reaction, { json: true }), post(reaction, { json: true, retryNum: 1 })]);
    await waitFor(async () => {
      const b = await r.core.collab.board(key);
      return b?.shots[1]?.voters.length === 1 && b.shots[2]?.voters.length === 1 ? true : undefined;
    }, 30_000, 'two votes');
    await waitFor(async () => (/2\. 小明: children build a sandcastle \(1 votes\)/.test(boardMsg()?.text ?? '') ? true : undefined), 30_000, 'the votes on the board message');

    // Dave reacts :four: and takes it off again (Slack retries the removal): the vote comes and goes,
    // once. Erin takes off a :five: she never gave as a vote: nothing happens, nothing is said.
    await post(eventBody(r, reactionEvent(r, 'UD', 'four', 'C1', boardTs)), { json: true });
    await waitFor(async () => ((await r.core.collab.board(key))?.shots[3]?.voters.length === 1 ? true : undefined), 30_000, "Dave's vote");
    const removal = eventBody(r, { ...reactionEvent(r, 'UD', 'four', 'C1', boardTs), type: 'reaction_removed' });
    await Promise.all([post(removal, { json: true }), post(removal, { json: true, retryNum: 1 })]);
    await post(eventBody(r, { ...reactionEvent(r, 'UE', 'five', 'C1', boardTs), type: 'reaction_removed' }), { json: true });
    await waitFor(async () => ((await r.core.collab.board(key))?.shots[3]?.voters.length === 0 ? true : undefined), 30_000, "Dave's vote taken back");
    expect((await r.core.collab.board(key))?.shots.map((x) => x.voters.length)).toEqual([0, 1, 1, 0, 0]);
    expect(r.fake.ephemerals.filter((e) => e.user === 'UE')).toEqual([]);

    // Only the starter renders: Carol's click is refused to her; Alice's starts it.
    const actions = (boardMsg()?.blocks as Array<{ type: string; elements?: Array<{ action_id: string; value: string }> }>).find((b) => b.type === 'actions')?.elements ?? [];
    const render = actions.find((e) => e.action_id === COLLAB_ACTION.render);
    if (render === undefined) throw new Error('no render button');
    await post(click(r.fake, 'UC', 'C1', boardTs, render, 103));
    await waitFor(async () => r.fake.ephemerals.find((e) => e.user === 'UC' && /发起人/.test(e.text)), 30_000, 'the refusal to Carol');
    const quotaBefore = await r.core.quota.show('slack:UA');
    // Alice double-clicks Render: one render, one answer.
    await Promise.all([post(click(r.fake, 'UA', 'C1', boardTs, render, 104)), post(click(r.fake, 'UA', 'C1', boardTs, render, 105))]);
    const jobId = await waitFor(async () => (await r.core.collab.board(key))?.jobId, 30_000, 'the render');
    await waitFor(async () => r.fake.channelMessages('C1').find((m) => m.thread_ts === boardTs && /Rendering 5 shots/.test(m.text)), 30_000, 'the cost and ETA in the thread');

    // The one video, in the board's thread.
    const video = await waitFor(async () => r.fake.sharedFiles('C1').find((f) => f.name === `framecast-${jobId}.mp4`), 180_000, 'the storyboard video');
    expect(isMp4(video.bytes)).toBe(true);
    expect(video.shares).toEqual([expect.objectContaining({ channel: 'C1', thread_ts: boardTs })]);
    await waitFor(async () => ((await r.core.job(jobId))?.state === 'succeeded' ? true : undefined), 30_000, 'succeeded');
    await waitFor(async () => (JSON.stringify(boardMsg()?.blocks ?? '').includes('Rendered') ? true : undefined), 30_000, 'the board message says rendered');
    await new Promise((res) => setTimeout(res, 1500));

    // The board message followed the render shot by shot, and never went back.
    const edits = r.fake.callsOf('chat.update').filter((c) => c.args.ts === boardTs).map((c) => JSON.stringify(c.args.blocks));
    expect(edits.some((b) => /rendering|step \d\/\d/.test(b) && /✅ done/.test(b))).toBe(true);
    expect(edits.some((b) => /joining them/.test(b))).toBe(true);
    expect(edits.at(-1)).toContain('Rendered');
    const rendered = edits.findIndex((b) => b.includes('Rendered'));
    expect(edits.slice(rendered).every((b) => b.includes('Rendered'))).toBe(true);

    // Exactly one video; the refusal never in the channel or thread; charged once, to the starter.
    expect(r.fake.sharedFiles().filter((f) => f.name.startsWith(`framecast-${jobId}`))).toHaveLength(1);
    expect(r.fake.channelMessages('C1').some((m) => /未通过内容审核|Only the storyboard/.test(m.text))).toBe(false);
    expect(r.fake.channelMessages('C1').filter((m) => /Rendering 5 shots/.test(m.text))).toHaveLength(1);
    expect(r.fake.ephemerals.some((e) => /already rendering|already voted/.test(e.text))).toBe(false);
    const cost = (await r.core.job(jobId))?.cost ?? 0;
    expect(cost).toBeGreaterThan(0);
    const quotaAfter = await r.core.quota.show('slack:UA');
    expect(quotaBefore.available - quotaAfter.available).toBe(cost);
    const board = await r.core.collab.board(key);
    expect(board?.state).toBe('done');
    expect(board?.shots.map((s) => [s.authorName, s.voters.length, s.image !== undefined])).toEqual([['Bob', 0, false], ['小明', 1, false], ['Alice', 1, true], ['Bob', 0, false], ['小明', 0, false]]);
    expect(board?.shots[2]?.text).toBe('a boat sails into the sunset');
    console.info(JSON.stringify({ slackCollabSeconds: (Date.now() - t0) / 1000, videoBytes: video.bytes.length, boardEdits: edits.length }));
  });
});

// About 5–10 s on an idle machine: no render, a second rig in Socket Mode.
describe('Slack storyboard over Socket Mode: envelopes from the fake Slack over a real WebSocket', { timeout: 120_000 }, () => {
  it('a board started by a mention in a thread lives there; a slash command in the channel does not see it; a shot, a retried reaction = one vote, a failure\'s refund note, an admin closes it', async () => {
    // The worker shares this process: on a loaded machine an ack can wait for it.
    const long = { timeoutMs: 30_000 };
    const s = await slackRig('socket', { redis, dataDir, env: { FRAMECAST_STEPS: '2' } });
    try {
      await waitFor(async () => (s.fake.socketConnected ? true : undefined), 30_000, 'the socket');
      s.fake.userProfiles.set('UA', { displayName: 'Alice' });
      s.fake.userProfiles.set('UB', { displayName: 'Bob', isAdmin: true });
      // A board started from a mention in a thread lives in that thread; its message is a reply there.
      const thread = '1700002000.000001';
      await s.fake.sendEnvelope('events_api', eventCallback(s, mentionEvent(s, 'UA', 'collab start a night market --draft --duration 1', thread, 'C7')), long);
      const key = `slack:C7:${thread}`;
      const board = await waitFor(async () => s.core.collab.board(key), 30_000, 'the thread\'s board');
      expect(board.replyTarget).toMatchObject({ platform: 'slack', channelId: 'C7', threadTs: thread });
      const boardMsg = await waitFor(async () => s.fake.channelMessages('C7').find((m) => m.thread_ts === thread && JSON.stringify(m.blocks ?? '').includes('Storyboard')), 30_000, 'the board message in the thread');
      // A slash command in the channel is not the thread's: the channel has no board of its own.
      await s.fake.sendEnvelope('slash_commands', slashCommand(s.fake, 'collab show', 'UB', 'C7'), long);
      await waitFor(async () => s.fake.ephemerals.find((e) => e.user === 'UB' && e.channel === 'C7' && /No storyboard is open here/.test(e.text)), 30_000, 'no board in the channel');
      await s.fake.sendEnvelope('events_api', eventCallback(s, mentionEvent(s, 'UB', 'add lanterns swing in the wind', thread, 'C7')), long);
      await waitFor(async () => ((await s.core.collab.board(key))?.shots.length === 1 ? true : undefined), 30_000, 'the shot');
      const reaction = eventCallback(s, reactionEvent(s, 'UA', 'one', 'C7', boardMsg.ts));
      await s.fake.sendEnvelope('events_api', reaction, long);
      await s.fake.sendEnvelope('events_api', reaction, { ...long, retryAttempt: 1 });
      await waitFor(async () => ((await s.core.collab.board(key))?.shots[0]?.voters.length === 1 ? true : undefined), 30_000, 'the vote');
      await new Promise((res) => setTimeout(res, 500));
      expect((await s.core.collab.board(key))?.shots[0]?.voters).toEqual(['slack:UA']);
      expect(s.fake.ephemerals.filter((e) => e.user === 'UA')).toHaveLength(0);
      // A failed render's event (as the stitch worker publishes it): the refund note on the board message, its buttons back.
      await s.core.collab.events.publish({ boardKey: key, type: 'failed', message: { en: 'Not made; all credits were refunded.', 'zh-CN': '生成失败，额度已全部退回。' } });
      await waitFor(async () => {
        const m = JSON.stringify(s.fake.messages.get(`C7:${boardMsg.ts}`)?.blocks ?? '');
        return m.includes('❌ Not made; all credits were refunded.') && m.includes(COLLAB_ACTION.vote) ? true : undefined;
      }, 30_000, 'the refund note');
      // Bob, a workspace admin, may close Alice's board; the message says so and loses its buttons.
      await s.fake.sendEnvelope('events_api', eventCallback(s, mentionEvent(s, 'UB', 'collab cancel', thread, 'C7')), long);
      await waitFor(async () => ((await s.core.collab.board(key))?.state === 'cancelled' ? true : undefined), 30_000, 'the board closed');
      await waitFor(async () => {
        const m = s.fake.messages.get(`C7:${boardMsg.ts}`);
        return JSON.stringify(m?.blocks ?? '').includes('was closed') && !JSON.stringify(m?.blocks ?? '').includes(COLLAB_ACTION.vote) ? true : undefined;
      }, 30_000, 'the closed board message');
    } finally {
      await s.close();
    }
  });
});
