import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Core } from '@framecast/core';
import type { GenerateWorker } from '@framecast/gpu-worker';
import { waitFor } from '../../../test/support/e2e.ts';
import { FakeDiscord, type FakeCall } from './testing/fake-discord.ts';
import { videoCommandInteraction } from './testing/fake-interactions.ts';
import { startDiscordRig, type DiscordRig } from './testing/discord-rig.ts';
import { solidPng } from './testing/solid-png.ts';

// HTTP interactions only (DISCORD_GATEWAY=off), from the signed POST to the delivered mp4: the
// product's core (real moderation and image intake), a worker on the tiny model, the adapter on the
// one HTTP server, follow-ups and the video through the fake REST API.
let dataDir: string;
let fake: FakeDiscord;
let core: Core;
let worker: GenerateWorker;

const run = promisify(execFile);

let rig: DiscordRig;
beforeAll(async () => {
  rig = await startDiscordRig({ name: 'discord-http-walk', env: { FRAMECAST_STEPS: '4', DISCORD_GATEWAY: 'off' } });
  ({ dataDir, fake, core, worker } = rig);
  void worker.run();
});

afterAll(async () => {
  await rig?.close();
});

const post = (body: unknown): Promise<Response> => rig.post(body);

describe('Discord HTTP interactions: a prompt with an image from the signed POST to the delivered mp4', () => {
  it('defers in the HTTP answer, shows the place in line and the steps, and edits the reply with a multipart mp4 that ffprobe reads', { timeout: 120_000 }, async () => {
    const user = '1300000000000000041';
    const png = solidPng(320, 180, [240, 200, 40]);
    const url = fake.cdnFile('yellow.png', png, 'image/png');
    const i = videoCommandInteraction({
      applicationId: fake.applicationId, guildId: '1700000000000000003', channelId: '1400000000000000041', userId: user,
      prompt: 'a yellow field sways in the wind', seed: 5, aspect: '16:9', draft: true, duration: 1,
      image: { url, filename: 'yellow.png', size: png.length, contentType: 'image/png' },
    });
    const token = i.token as string;
    const res = await post(i);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ type: 5 });

    await waitFor(async () => {
      const [job] = await core.listJobs(`discord:${user}`, 1);
      return job !== undefined && (await core.deliveries.record(job.jobId))?.state === 'delivered' ? true : undefined;
    }, 100_000, 'the delivered video');
    const [job] = await core.listJobs(`discord:${user}`, 1);
    expect(job?.eventId).toBe(i.id);
    expect(job?.spec).toMatchObject({ seed: 5, aspect: '16:9', mode: 'draft' });
    expect(job?.spec.referenceImage?.ref).toMatch(/^refs\/[0-9a-f]{64}\.png$/);
    expect(job?.state).toBe('succeeded');

    // The first answer went back in the HTTP body: no interaction callback over REST.
    expect(fake.callsTo(new RegExp(`^POST /interactions/${i.id as string}/`))).toHaveLength(0);
    const edits = fake.calls.filter((c: FakeCall) => c.method === 'PATCH' && c.path === `/webhooks/${fake.applicationId}/${token}/messages/@original`);
    const contents = edits.map((c) => String(c.json?.content ?? ''));
    expect(contents.some((c) => /position \d+/.test(c))).toBe(true);
    expect(contents.some((c) => /Rendering `[█░]{10}` \d\/4/.test(c))).toBe(true);
    // A step edit carried the latent preview: a JPEG attached and shown in an embed.
    const preview = edits.find((c) => c.files.some((f) => f.filename === 'preview.jpg'));
    expect(preview?.files[0]).toMatchObject({ contentType: 'image/jpeg' });
    expect(preview?.files[0]?.data.subarray(0, 2).toString('hex')).toBe('ffd8');
    expect(preview?.json?.embeds).toEqual([{ image: { url: 'attachment://preview.jpg' } }]);

    // The last edit: a multipart body whose file is the mp4, with the result's buttons.
    const final = edits.at(-1);
    expect(final?.files).toHaveLength(1);
    const file = final?.files[0];
    expect(file).toMatchObject({ field: 'files[0]', filename: `framecast-${job?.jobId ?? ''}.mp4`, contentType: 'video/mp4' });
    expect(file?.data.subarray(4, 8).toString('latin1')).toBe('ftyp');
    expect(final?.json?.attachments).toEqual([{ id: 0, filename: file?.filename }]);
    const row = (final?.json?.components as Array<{ components: Array<{ custom_id: string }> }>)[0];
    expect(row?.components.map((b) => b.custom_id.split(':')[1])).toEqual(['reroll', 'vary', 'upscale', 'info', 'delete']);
    const mp4 = path.join(dataDir, 'delivered.mp4');
    await writeFile(mp4, file?.data ?? Buffer.alloc(0));
    const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name,width,height:format=format_name,duration', '-of', 'json', mp4]);
    const probe = JSON.parse(stdout) as { streams: Array<{ codec_name: string; width: number; height: number }>; format: { format_name: string; duration: string } };
    expect(probe.format.format_name).toContain('mp4');
    expect(probe.streams[0]?.codec_name).toBe('h264');
    expect(probe.streams[0]?.width).toBe(job?.result?.width);
    expect(probe.streams[0]?.height).toBe(job?.result?.height);
    expect(Number(probe.format.duration)).toBeGreaterThan(0);
    // Delivered once.
    await new Promise((r) => setTimeout(r, 1000));
    expect(fake.calls.filter((c) => c.files.some((f) => f.contentType === 'video/mp4') && String(c.json?.content ?? '').includes(`<@${user}>`))).toHaveLength(1);
  });
});
