import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { WebClient } from '@slack/web-api';
import { createBlobStore, DeliveryJobDataSchema, type BlobStore, type DeliveryJobData } from '@framecast/core';
import { slackDeliveryHandler } from './slack-delivery.ts';
import { FakeSlackApi } from './testing/fake-slack-api.ts';

const TOKEN = 'xoxb-delivery-test';
const logger = pino({ level: 'silent' });
let fake: FakeSlackApi;
let dir: string;
let store: BlobStore;
let client: WebClient;
const MP4 = Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypisom'), Buffer.alloc(2000, 7)]);

beforeAll(async () => {
  fake = await new FakeSlackApi({ botToken: TOKEN }).start();
  dir = await mkdtemp(path.join(os.tmpdir(), 'framecast-slack-delivery-'));
  store = createBlobStore({ kind: 'local', dir });
  await store.put('videos/j1.mp4', MP4, 'video/mp4');
  client = new WebClient(TOKEN, { slackApiUrl: fake.apiUrl, rejectRateLimitedCalls: true, retryConfig: { retries: 0 } });
});
afterAll(async () => {
  await fake.close();
  await rm(dir, { recursive: true, force: true });
});

function delivery(channel: string, extra: { maxUploadBytes?: number; needsLink?: boolean; messageTs?: string; outcome?: DeliveryJobData['outcome'] } = {}): DeliveryJobData {
  return DeliveryJobDataSchema.parse({
    version: 2, jobId: `j-${channel}`, platform: 'slack', userKey: 'slack:U1', channelId: channel, locale: 'en',
    replyTarget: { platform: 'slack', teamId: 'T1', channelId: channel, threadTs: '1700000000.000100', ...(extra.maxUploadBytes === undefined ? {} : { maxUploadBytes: extra.maxUploadBytes }), ...(extra.messageTs === undefined ? {} : { messageTs: extra.messageTs }) },
    outcome: extra.outcome ?? { kind: 'video', result: { videoRef: 'videos/j1.mp4', bytes: MP4.length, width: 128, height: 208, frames: 49, fps: 16, durationSec: 3, needsLink: extra.needsLink ?? false } },
  });
}

describe('slack delivery handler (the real Web API client against the fake Slack)', () => {
  const handler = () => slackDeliveryHandler({ store, client, logger });

  it('uploads the mp4 into the thread in three steps', async () => {
    expect(await handler()(delivery('CA'), { attempt: 1 })).toEqual({ status: 'delivered', info: { via: 'upload' } });
    const [file] = fake.sharedFiles('CA');
    expect(file?.bytes.equals(MP4)).toBe(true);
    expect(file?.shares).toEqual([expect.objectContaining({ channel: 'CA', thread_ts: '1700000000.000100' })]);
  });

  it('a video over the target budget (or marked needsLink) becomes a link message, nothing uploaded', async () => {
    expect(await handler()(delivery('CB', { maxUploadBytes: 1000 }), { attempt: 1 })).toEqual({ status: 'delivered', info: { via: 'link' } });
    expect(await handler()(delivery('CB2', { needsLink: true }), { attempt: 1 })).toEqual({ status: 'delivered', info: { via: 'link' } });
    expect(fake.sharedFiles('CB')).toHaveLength(0);
    expect(fake.channelMessages('CB')[0]?.text).toMatch(/too large to upload here: \S+videos\/j1\.mp4/);
    expect(fake.channelMessages('CB2')[0]?.thread_ts).toBe('1700000000.000100');
  });

  it('429 → retry after Retry-After (Web API and upload URL); a gone channel → failed for good; the API down → thrown (backoff)', async () => {
    fake.rateLimit('files.getUploadURLExternal', 1, 7);
    expect(await handler()(delivery('CC'), { attempt: 1 })).toMatchObject({ status: 'retry', retryAfterMs: 7000 });
    fake.rateLimit('upload', 1, 3);
    expect(await handler()(delivery('CC'), { attempt: 2 })).toMatchObject({ status: 'retry', retryAfterMs: 3000 });
    for (const error of ['channel_not_found', 'not_in_channel', 'is_archived']) {
      fake.failWith('files.completeUploadExternal', error, 1, (a) => a.channel_id === 'CD');
      expect(await handler()(delivery('CD'), { attempt: 1 })).toEqual({ status: 'failed', reason: `slack: ${error}` });
    }
    fake.failWith('files.getUploadURLExternal', 'internal_error', 1);
    await expect(handler()(delivery('CE'), { attempt: 1 })).rejects.toThrow(/internal_error/);
    expect(await handler()(delivery('CC'), { attempt: 3 })).toEqual({ status: 'delivered', info: { via: 'upload' } });
    expect(fake.sharedFiles('CC')).toHaveLength(1);
  });

  it('a failure outcome edits the status message with the localised text', async () => {
    const posted = await client.chat.postMessage({ channel: 'CF', text: 'working' });
    const d = delivery('CF', { messageTs: posted.ts as string, outcome: { kind: 'blocked', code: 'output_blocked', message: { en: 'The video broke the rules.', 'zh-CN': '视频违规。' } } });
    expect(await handler()(d, { attempt: 1 })).toEqual({ status: 'delivered', info: { via: 'message' } });
    expect(fake.channelMessages('CF')[0]?.text).toBe('❌ <@U1> The video broke the rules.');
  });

  it('an upload the workspace refuses (a size limit, a 413) goes out as one signed link; without a public link it is given up', async () => {
    const signed = createBlobStore({ kind: 'local', dir, publicUrl: { base: 'https://framecast.example', secret: 's'.repeat(32) } });
    const withLinks = () => slackDeliveryHandler({ store: signed, client, logger });
    fake.failWith('files.getUploadURLExternal', 'file_upload_size_restricted', 1);
    expect(await withLinks()(delivery('CG'), { attempt: 1 })).toEqual({ status: 'delivered', info: { via: 'link' } });
    expect(fake.channelMessages('CG')).toHaveLength(1);
    expect(fake.channelMessages('CG')[0]?.text).toMatch(/too large to upload here: https:\/\/framecast\.example\/media\/videos\/j1\.mp4\?exp=\d+&sig=/);
    fake.failUpload(413);
    expect(await withLinks()(delivery('CH'), { attempt: 1 })).toEqual({ status: 'delivered', info: { via: 'link' } });
    expect(fake.channelMessages('CH')).toHaveLength(1);
    fake.failWith('files.getUploadURLExternal', 'file_uploads_disabled', 1);
    expect(await withLinks()(delivery('CM'), { attempt: 1 })).toEqual({ status: 'delivered', info: { via: 'link' } });
    expect(fake.channelMessages('CM')[0]?.text).toMatch(/does not take video uploads from apps.*https:\/\/framecast\.example\/media\/videos\/j1\.mp4\?exp=/);
    expect(fake.sharedFiles('CG').concat(fake.sharedFiles('CH'), fake.sharedFiles('CM'))).toHaveLength(0);
    // file:// is no link for Slack users: refused for good (the core refunds and says so).
    fake.failWith('files.getUploadURLExternal', 'file_upload_size_restricted', 1);
    expect(await handler()(delivery('CI'), { attempt: 1 })).toMatchObject({ status: 'failed', reason: expect.stringContaining('file_upload_size_restricted') });
    expect(fake.channelMessages('CI')).toHaveLength(0);
  });

  it('exactly once: a share whose answer was lost is found on the retry, not uploaded again', async () => {
    fake.loseAnswer('files.completeUploadExternal');
    await expect(handler()(delivery('CL'), { attempt: 1 })).rejects.toThrow();
    // Slack did share it.
    expect(fake.sharedFiles('CL')).toHaveLength(1);
    const uploads = fake.callsOf('files.getUploadURLExternal').length;
    expect(await handler()(delivery('CL'), { attempt: 2 })).toEqual({ status: 'delivered', info: { via: 'upload' } });
    expect(fake.sharedFiles('CL')).toHaveLength(1);
    expect(fake.callsOf('files.getUploadURLExternal')).toHaveLength(uploads);
    expect(fake.callsOf('files.list').at(-1)?.args).toMatchObject({ channel: 'CL' });
  });

  it('an upload that keeps failing gives way to a link from the fifth attempt, not before, and not for a 429', async () => {
    const signed = createBlobStore({ kind: 'local', dir, publicUrl: { base: 'https://framecast.example', secret: 's'.repeat(32) } });
    const h = slackDeliveryHandler({ store: signed, client, logger });
    fake.failUpload(503, 2);
    await expect(h(delivery('CJ'), { attempt: 4 })).rejects.toThrow(/503/);
    expect(fake.channelMessages('CJ')).toHaveLength(0);
    expect(await h(delivery('CJ'), { attempt: 5 })).toEqual({ status: 'delivered', info: { via: 'link' } });
    expect(fake.channelMessages('CJ')).toHaveLength(1);
    expect(fake.channelMessages('CJ')[0]?.text).toMatch(/not taking uploads right now.*https:\/\/framecast\.example\/media\/videos\/j1\.mp4\?exp=/);
    fake.rateLimit('upload', 1, 2);
    expect(await h(delivery('CK'), { attempt: 9 })).toMatchObject({ status: 'retry', retryAfterMs: 2000 });
    expect(fake.channelMessages('CK')).toHaveLength(0);
  });
});
