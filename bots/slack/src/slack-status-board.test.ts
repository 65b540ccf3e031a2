import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { WebClient } from '@slack/web-api';
import type { Redis } from 'ioredis';
import { createBlobStore, DeliveryJobDataSchema, EditFence, type BlobStore, type Core, type JobRecord, type ProgressEvent } from '@framecast/core';
import { testRedis } from '../../../test/support/redis.ts';
import { slackDeliveryHandler } from './slack-delivery.ts';
import { ACTION, SlackStatusBoard, startSlackProgress, STATUS_RANK } from './slack-progress.ts';
import { FakeSlackApi } from './testing/fake-slack-api.ts';

// The status message's edits in the orders a busy (or an idle) machine can produce: the progress
// renderer and the delivery handler share one board, and the message never goes back.
const TOKEN = 'xoxb-board-test';
const logger = pino({ level: 'silent' });
const MP4 = Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypisom'), Buffer.alloc(1000, 7)]);
let fake: FakeSlackApi;
let dir: string;
let store: BlobStore;
let client: WebClient;
// Two replicas' connections (the edit fence's test).
let ra: Redis;
let rb: Redis;

beforeAll(async () => {
  fake = await new FakeSlackApi({ botToken: TOKEN }).start();
  dir = await mkdtemp(path.join(os.tmpdir(), 'framecast-slack-board-'));
  store = createBlobStore({ kind: 'local', dir });
  await store.put('videos/jb.mp4', MP4, 'video/mp4');
  client = new WebClient(TOKEN, { slackApiUrl: fake.apiUrl, rejectRateLimitedCalls: true, retryConfig: { retries: 0 } });
  ra = testRedis();
  rb = testRedis();
});
afterAll(async () => {
  await fake.close();
  await rm(dir, { recursive: true, force: true });
  await ra.quit();
  await rb.quit();
});

const spec: JobRecord['spec'] = { version: 1, prompt: 'a boat', seed: 1, aspect: '16:9', durationSeconds: 2, mode: 'draft', width: 128, height: 80, fps: 16, frames: 33 };

/** A core that hands the renderer the events a test feeds it, and one job record. */
function fakeCore(job: JobRecord): { core: Core; feed: (e: Partial<ProgressEvent> & { type: ProgressEvent['type'] }) => Promise<void> } {
  let handler: ((e: ProgressEvent) => void | Promise<void>) | undefined;
  const core = {
    config: { defaultLocale: 'en' },
    job: async (id: string) => (id === job.jobId ? job : undefined),
    progress: {
      subscribe: async (_f: unknown, h: (e: ProgressEvent) => void | Promise<void>) => {
        handler = h;
        return () => undefined;
      },
    },
  } as unknown as Core;
  let seq = 0;
  const feed = async (e: Partial<ProgressEvent> & { type: ProgressEvent['type'] }) => {
    seq += 1;
    await handler?.({ jobId: job.jobId, platform: 'slack', userKey: job.userKey, at: Date.now(), seq: `${seq}-0`, ...e } as ProgressEvent);
  };
  return { core, feed };
}

async function statusMessage(channel: string): Promise<{ ts: string; job: JobRecord }> {
  const posted = await client.chat.postMessage({ channel, text: 'received' });
  const ts = posted.ts as string;
  const job = {
    jobId: `jb-${channel}`, userKey: 'slack:U1', locale: 'en', state: 'queued', spec,
    replyTarget: { platform: 'slack', teamId: 'T1', channelId: channel, messageTs: ts },
  } as unknown as JobRecord;
  return { ts, job };
}

function actionIds(blocks: unknown): string[] {
  const list = (typeof blocks === 'string' ? JSON.parse(blocks) : blocks) as Array<{ type: string; elements?: Array<{ action_id: string }> }>;
  return list.find((b) => b.type === 'actions')?.elements?.map((e) => e.action_id) ?? [];
}

describe('the status board: one status message, never taken back', () => {
  it('a queued event that a fast worker\'s started overtook is dropped: the message keeps rendering with Cancel', async () => {
    const { ts, job } = await statusMessage('CS1');
    const { core, feed } = fakeCore(job);
    const stop = await startSlackProgress({ core, client, logger, minStepIntervalMs: 0 });
    await feed({ type: 'started', attempt: 1 });
    await feed({ type: 'step', step: 1, totalSteps: 4 });
    await feed({ type: 'queued', position: 1, etaSeconds: 5 });
    stop();
    const m = fake.messages.get(`CS1:${ts}`);
    expect(m?.text).toMatch(/step 1\/4/);
    expect(actionIds(m?.blocks)).toEqual([ACTION.cancel]);
    expect(m?.history.some((t) => /position/.test(t))).toBe(false);
  });

  it('the delivery\'s final edit is the last: a late "uploading…" from the renderer does not remove the result\'s buttons', async () => {
    const { ts, job } = await statusMessage('CS2');
    const board = new SlackStatusBoard();
    const { core, feed } = fakeCore(job);
    const stop = await startSlackProgress({ core, client, logger, board, minStepIntervalMs: 0 });
    await feed({ type: 'step', step: 4, totalSteps: 4 });
    const d = DeliveryJobDataSchema.parse({
      version: 2, jobId: job.jobId, platform: 'slack', userKey: 'slack:U1', channelId: 'CS2', locale: 'en', spec,
      replyTarget: job.replyTarget,
      outcome: { kind: 'video', result: { videoRef: 'videos/jb.mp4', bytes: MP4.length, width: 128, height: 72, frames: 33, fps: 16, durationSec: 2, needsLink: false } },
    });
    // The delivery is faster than the renderer: its "done" lands first, then the renderer's late events.
    expect(await slackDeliveryHandler({ store, client, logger, board })(d, { attempt: 1 })).toEqual({ status: 'delivered', info: { via: 'upload' } });
    await feed({ type: 'encoding', phase: 'encoding' });
    await feed({ type: 'ready' });
    stop();
    const m = fake.messages.get(`CS2:${ts}`);
    expect(m?.text).toMatch(/done/);
    expect(actionIds(m?.blocks)).toEqual([ACTION.reroll, ACTION.upscale, ACTION.delete]);
  });

  it('orders by rank and step, lets a new attempt start over, and nothing follows a final state', async () => {
    const board = new SlackStatusBoard();
    const ran: string[] = [];
    const edit = (name: string, at: Parameters<SlackStatusBoard['edit']>[1]) => board.edit('j', at, async () => {
      ran.push(name);
    });
    expect(await edit('started', { rank: STATUS_RANK.started, attempt: 1 })).toBe(true);
    expect(await edit('step2', { rank: STATUS_RANK.step, step: 2 })).toBe(true);
    expect(await edit('step1', { rank: STATUS_RANK.step, step: 1 })).toBe(false);
    expect(await edit('queued', { rank: STATUS_RANK.queued })).toBe(false);
    // The worker died; the job runs again from the start.
    expect(await edit('started again', { rank: STATUS_RANK.started, attempt: 2 })).toBe(true);
    expect(await edit('step1 again', { rank: STATUS_RANK.step, step: 1 })).toBe(true);
    expect(await edit('done', { rank: STATUS_RANK.final })).toBe(true);
    expect(await edit('done again', { rank: STATUS_RANK.final })).toBe(true);
    expect(await edit('late ready', { rank: STATUS_RANK.ready })).toBe(false);
    expect(await edit('attempt 3', { rank: STATUS_RANK.started, attempt: 3 })).toBe(false);
    expect(ran).toEqual(['started', 'step2', 'started again', 'step1 again', 'done', 'done again']);
  });
});

// Two replicas: one renders a job's progress (it holds the render lease), the other delivers it.
// Their status boards share nothing in memory; the edit fence in Redis orders their edits.
describe('the status message across replicas (edit fence)', () => {
  it("a slow progress edit on the rendering replica lands before the other replica's delivery, and a later one not at all", async () => {
    const prefix = `fence${Math.random().toString(36).slice(2, 8)}`;
    const renderer = new SlackStatusBoard(10_000, new EditFence(ra, prefix, 'slack-status', { windowMs: 5000 }));
    const deliverer = new SlackStatusBoard(10_000, new EditFence(rb, prefix, 'slack-status', { windowMs: 5000 }));
    const posted = await client.chat.postMessage({ channel: 'CF1', text: 'received' });
    const ts = posted.ts as string;
    const jobId = 'jf-1';
    // The renderer's step edit is slow to reach Slack (a busy replica, a slow request).
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const step = renderer.edit(jobId, { rank: STATUS_RANK.step, step: 3 }, async () => {
      await gate;
      await client.chat.update({ channel: 'CF1', ts, text: 'step 3/4' });
    });
    await new Promise((r) => setTimeout(r, 50));
    const d = DeliveryJobDataSchema.parse({
      version: 2, jobId, platform: 'slack', userKey: 'slack:U1', channelId: 'CF1', locale: 'en', spec,
      replyTarget: { platform: 'slack', teamId: 'T1', channelId: 'CF1', messageTs: ts },
      outcome: { kind: 'video', result: { videoRef: 'videos/jb.mp4', bytes: MP4.length, width: 128, height: 72, frames: 33, fps: 16, durationSec: 2, needsLink: false } },
    });
    const delivered = slackDeliveryHandler({ store, client, logger, board: deliverer })(d, { attempt: 1 });
    await new Promise((r) => setTimeout(r, 300));
    release();
    expect(await step).toBe(true);
    expect(await delivered).toEqual({ status: 'delivered', info: { via: 'upload' } });
    // The renderer, lagging, still has the encoding event to render: the fence skips it.
    let late = false;
    expect(await renderer.edit(jobId, { rank: STATUS_RANK.encoding }, async () => { late = true; })).toBe(false);
    expect(late).toBe(false);
    const m = fake.messages.get(`CF1:${ts}`);
    expect(m?.text).toMatch(/done/);
    expect(actionIds(m?.blocks)).toEqual([ACTION.reroll, ACTION.upscale, ACTION.delete]);
    expect(m?.history.at(-2)).toBe('step 3/4');
  });
});
