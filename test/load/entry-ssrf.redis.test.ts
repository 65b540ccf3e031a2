import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/e2e.ts';
import { testRedisUrl } from '../support/redis.ts';
import { startLoadRig, type LoadRig } from './load-rig.ts';

// The SSRF address forms of test/ssrf-guard.test.ts (loopback ones only: nothing here may leave the
// machine even if a guard failed), pushed through the Discord HTTP entry point as `/video` image
// attachments: a "forbidden" server on 127.0.0.1 counts every connection, and must count none.
let rig: LoadRig;
let forbidden: http.Server;
let port = 0;
let connections = 0;

beforeAll(async () => {
  forbidden = http.createServer((_req, res) => res.end('secret'));
  forbidden.on('connection', () => (connections += 1));
  await new Promise<void>((r) => forbidden.listen(0, '127.0.0.1', () => r()));
  port = (forbidden.address() as AddressInfo).port;
  rig = await startLoadRig({ redisUrl: testRedisUrl(), dailyCredits: 1000 });
});
afterAll(async () => {
  await rig?.close();
  await new Promise((r) => forbidden?.close(r));
});

function corpus(p: number): string[] {
  return [
    `http://127.0.0.1:${p}/a.png`, `https://127.0.0.1:${p}/a.png`, `http://2130706433:${p}/a.png`, `http://0x7f.1:${p}/a.png`, `http://0x7f000001:${p}/a.png`,
    `http://0177.0.0.1:${p}/a.png`, `http://127.1:${p}/a.png`, `http://127.0.0.1.:${p}/a.png`, `http://[::ffff:127.0.0.1]:${p}/a.png`, `http://[::ffff:7f00:1]:${p}/a.png`,
    `http://[::1]:${p}/a.png`, `http://0.0.0.0:${p}/a.png`, `http://0:${p}/a.png`, `http://localhost:${p}/a.png`,
    // Discord's CDN host name used to dress up a loopback address.
    `https://cdn.discordapp.com@127.0.0.1:${p}/a.png`, `https://127.0.0.1:${p}/cdn.discordapp.com/a.png`, `http://cdn.discordapp.com.127.0.0.1.nip.io:${p}/a.png`,
    `file:///etc/passwd`, `gopher://127.0.0.1:${p}/_x`, `data:image/png;base64,iVBORw0KGgo=`, 'not a url',
  ];
}

describe('SSRF corpus through the platform entry points that take URLs', () => {
  it('Discord /video image attachments at blocked addresses: acknowledged, refused with a message, never connected to, nothing queued', async () => {
    const urls = corpus(port);
    const sent: Array<{ url: string; token: string; user: string }> = [];
    for (const [k, url] of urls.entries()) {
      const i = rig.discordInteraction(500 + k, 'a kite over the sea');
      const attId = '1500000000000000001';
      const data = i.data as { options: Array<Record<string, unknown>>; resolved?: unknown };
      data.options.push({ name: 'image', type: 11, value: attId });
      data.resolved = { attachments: { [attId]: { id: attId, filename: 'a.png', size: 2048, url, proxy_url: url, content_type: 'image/png' } } };
      const raw = JSON.stringify(i);
      const res = await rig.postRaw('/discord/interactions', rig.discordHeaders(raw), raw);
      expect(res.status, url).toBe(200);
      sent.push({ url, token: i.token as string, user: ((i.member as { user: { id: string } }).user).id });
    }
    // Each request is answered (its deferred reply edited or a follow-up) with a refusal; none became a job.
    const answered = (token: string) => rig.fakes.discord.callsTo(new RegExp(`/webhooks/[^/]+/${token}`)).filter((c) => typeof c.json?.content === 'string');
    await waitFor(async () => (sent.every((s) => answered(s.token).length > 0) ? true : undefined), 60_000, 'an answer to every request');
    for (const s of sent) {
      expect(await rig.core.listJobs(`discord:${s.user}`, 5), s.url).toEqual([]);
      expect(String(answered(s.token)[0]?.json?.content), s.url).not.toMatch(/Queued|position/i);
    }
    expect(connections).toBe(0);
  }, 120_000);

  it('Slack app_mention files (url_private at blocked addresses): acknowledged, answered, never connected to, no image taken', async () => {
    const urls = corpus(port);
    const slack = rig.fakes.slack;
    const users: Array<{ url: string; user: string }> = [];
    for (const [k, url] of urls.entries()) {
      const user = `USSRF${String(k).padStart(3, '0')}`;
      const ts = `1700000${String(k).padStart(3, '0')}.000100`;
      const file = { id: `FSSRF${k}`, name: 'a.png', mimetype: 'image/png', filetype: 'png', size: 2048, url_private: url, url_private_download: url, permalink: url };
      const raw = JSON.stringify({
        token: 'x', team_id: slack.teamId, api_app_id: 'A0FAKE', type: 'event_callback', event_id: `EvSSRF${k}${Date.now()}`, event_time: Math.floor(Date.now() / 1000),
        event: { type: 'app_mention', user, text: `<@${slack.botUserId}> make it rain --draft`, ts, channel: 'C0SSRF', event_ts: ts, files: [file] },
      });
      const res = await rig.postRaw('/slack/events', rig.slackHeaders(raw, 'application/json'), raw);
      expect(res.status, url).toBe(200);
      users.push({ url, user });
    }
    // Each mention is answered in its thread; a job, if the prompt alone made one, carries no image.
    await waitFor(async () => (users.every((u) => slack.ephemerals.some((e) => e.user === u.user)) ? true : undefined), 60_000, 'an answer to every mention');
    for (const u of users) {
      for (const job of await rig.core.listJobs(`slack:${u.user}`, 5)) expect(job.spec.referenceImage, u.url).toBeUndefined();
    }
    expect(connections).toBe(0);
  }, 120_000);
});
