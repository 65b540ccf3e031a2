import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { Redis } from 'ioredis';
import { WebClient } from '@slack/web-api';
import { createBlobStore, DeliveryJobDataSchema, EditFence, type BlobStore, type JobRecord } from '@framecast/core';
import { testRedis } from '../../../test/support/redis.ts';
import { slackDeliveryHandler } from './slack-delivery.ts';
import { ACTION, SlackStatusBoard, STATUS_RANK } from './slack-progress.ts';
import { FakeSlackApi } from './testing/fake-slack-api.ts';

// Two replicas: one renders a job's progress (it holds the render lease), the other delivers it.
// Their status boards share nothing in memory; the edit fence in Redis orders their edits.
const TOKEN = 'xoxb-fence-test';
const logger = pino({ level: 'silent' });
const MP4 = Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypisom'), Buffer.alloc(1000, 7)]);
let fake: FakeSlackApi;
let dir: string;
let store: BlobStore;
let client: WebClient;
let ra: Redis;
let rb: Redis;

beforeAll(async () => {
  fake = await new FakeSlackApi({ botToken: TOKEN }).start();
  dir = await mkdtemp(path.join(os.tmpdir(), 'framecast-slack-fence-'));
  store = createBlobStore({ kind: 'local', dir });
  await store.put('videos/jf.mp4', MP4, 'video/mp4');
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

const actionIds = (blocks: unknown): string[] => {
  const list = (typeof blocks === 'string' ? JSON.parse(blocks) : blocks) as Array<{ type: string; elements?: Array<{ action_id: string }> }>;
  return list.find((b) => b.type === 'actions')?.elements?.map((e) => e.action_id) ?? [];
};

describe('the status message across replicas (edit fence)', () => {
  it("a slow progress edit on the rendering replica lands before the other replica's delivery, and a later one not at all", async () => {
    const prefix = `fence${Math.random().toString(36).slice(2, 8)}`;
    const renderer = new SlackStatusBoard(10_000, new EditFence(ra, prefix, 'slack-status', { windowMs: 5000 }));
    const deliverer = new SlackStatusBoard(10_000, new EditFence(rb, prefix, 'slack-status', { windowMs: 5000 }));
    const posted = await client.chat.postMessage({ channel: 'CF1', text: 'received' });
    const ts = posted.ts as string;
    const spec: JobRecord['spec'] = { version: 1, prompt: 'a boat', seed: 1, aspect: '16:9', durationSeconds: 2, mode: 'draft', width: 128, height: 80, fps: 16, frames: 33 };
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
      outcome: { kind: 'video', result: { videoRef: 'videos/jf.mp4', bytes: MP4.length, width: 128, height: 72, frames: 33, fps: 16, durationSec: 2, needsLink: false } },
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
