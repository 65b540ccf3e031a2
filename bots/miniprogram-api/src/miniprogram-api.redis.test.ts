import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { waitFor } from '../../../test/support/e2e.ts';
import { testRedis } from '../../../test/support/redis.ts';
import { claimedSizePng, gradientPng, noisePng } from './testing/tiny-png.ts';
import { PUSH_TOKEN, call, jobToSucceed, login, readSse, rig as startRig, upload, type Json, type Rig, type RigOptions } from './testing/mp-rig.ts';
import { MP_UPLOAD_MAX_BYTES, MULTIPART_ALLOWANCE_BYTES } from './mp-uploads.ts';

const MiB = 1024 * 1024;
const corpus = (name: string): Promise<Buffer> => readFile(fileURLToPath(new URL(`../../../test/fixtures/bad-input/${name}`, import.meta.url)));

let redis: Redis;
let dataDir: string;
beforeAll(async () => {
  redis = testRedis();
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'framecast-mp-'));
});
afterAll(async () => {
  await redis.quit();
  await rm(dataDir, { recursive: true, force: true });
});
const rig = (o: Omit<RigOptions, 'redis' | 'dataDir'> = {}): Promise<Rig> => startRig({ ...o, redis, dataDir });

// Each test takes 1–20 s on an idle 2-core machine; the limit leaves room for a busy one.
describe('the mini program API on the one HTTP server: real Redis, a real worker, a fake WeChat over a socket', { timeout: 120_000 }, () => {
  let r: Rig;
  let alice: string;
  let bob: string;
  let imageId: string;
  let jobId: string;
  beforeAll(async () => {
    r = await rig();
    alice = await login(r, 'o_alice');
    bob = await login(r, 'o_bob');
  });
  afterAll(async () => {
    await r.close();
  });

  it('logs in with code2Session: an opaque token and its expiry, never the openid or session_key', async () => {
    const before = Date.now();
    const res = await call(r, 'POST', '/api/mp/login', { body: { code: r.fake.codeFor('o_carol') } });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['expiresAt', 'token']);
    expect(res.body.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const ttl = r.config.env.FRAMECAST_MP_SESSION_TTL_SECONDS * 1000;
    expect(res.body.expiresAt as number).toBeGreaterThanOrEqual(before + ttl - 1000);
    expect(res.body.expiresAt as number).toBeLessThanOrEqual(Date.now() + ttl + 1000);
    // Neither the openid nor the session key WeChat handed out (not a prefix: a random token may hold any three characters).
    const sessionKey = r.fake.sessionKeys.at(-1) ?? '';
    expect(sessionKey).not.toBe('');
    expect(JSON.stringify(res.body)).not.toContain('o_carol');
    expect(JSON.stringify(res.body)).not.toContain(sessionKey);
    const me = await call(r, 'GET', '/api/mp/me', { token: res.body.token as string });
    expect(me.status).toBe(200);
    expect(JSON.stringify(me.body)).not.toContain('o_carol');
    expect(me.body).toMatchObject({ tier: 'free', admin: false, subscribeTemplateId: 'tmpl-done', quota: { dailyCredits: 1000 } });
    // The token is stored hashed: Redis holds no key or value with it.
    const keys = await redis.keys(`${r.config.keyPrefix}:mp:session:*`);
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.join(' ')).not.toContain(res.body.token as string);
    const call2s = r.fake.calls.filter((c) => c.path === '/sns/jscode2session');
    expect(call2s.length).toBeGreaterThan(0);
  });

  it('refuses bad logins with a code and a localised message: 40029, a used code, 45011, a missing code', async () => {
    const bad = await call(r, 'POST', '/api/mp/login', { body: { code: 'not-a-code' } });
    expect(bad).toMatchObject({ status: 401, body: { code: 'login_code_invalid' } });
    expect(bad.body.message).toMatch(/[\u4e00-\u9fff]/);
    const en = await call(r, 'POST', '/api/mp/login', { body: { code: 'not-a-code' }, lang: 'en-US,en;q=0.9' });
    expect(en.body).toMatchObject({ code: 'login_code_invalid', message: 'The login code is invalid or was already used; please try again.' });
    const code = r.fake.codeFor('o_dave');
    expect((await call(r, 'POST', '/api/mp/login', { body: { code } })).status).toBe(200);
    expect((await call(r, 'POST', '/api/mp/login', { body: { code } })).body.code).toBe('login_code_invalid');
    r.fake.failNext('/sns/jscode2session', 45011);
    const limited = await call(r, 'POST', '/api/mp/login', { body: { code: r.fake.codeFor('o_dave') } });
    expect(limited).toMatchObject({ status: 429, body: { code: 'login_rate_limited' } });
    expect(limited.headers.get('retry-after')).toBe('60');
    r.fake.failNext('/sns/jscode2session', -1);
    expect((await call(r, 'POST', '/api/mp/login', { body: { code: r.fake.codeFor('o_dave') } })).body.code).toBe('login_unavailable');
    expect((await call(r, 'POST', '/api/mp/login', { body: {} })).body).toMatchObject({ code: 'bad_request' });
    expect((await call(r, 'POST', '/api/mp/login', { body: '{not json' })).status).toBe(400);
    expect((await call(r, 'POST', '/api/mp/login', { body: { code: 'x', openid: 'o_evil' } })).status).toBe(400);
  });

  it('needs a live Bearer token on every other route', async () => {
    expect((await call(r, 'GET', '/api/mp/jobs')).body).toMatchObject({ code: 'unauthorized' });
    const wrong = await call(r, 'GET', '/api/mp/jobs', { token: 'A'.repeat(43), lang: 'en' });
    expect(wrong).toMatchObject({ status: 401, body: { code: 'unauthorized', message: 'Please log in again.' } });
    const t = await login(r, 'o_erin');
    expect((await call(r, 'POST', '/api/mp/logout', { token: t })).status).toBe(204);
    expect((await call(r, 'GET', '/api/mp/jobs', { token: t })).status).toBe(401);
    expect((await call(r, 'GET', '/api/mp/nowhere', { token: alice })).body).toMatchObject({ code: 'not_found' });
    expect(await call(r, 'GET', '/api/mp/login', { lang: 'en' })).toMatchObject({ status: 405, body: { code: 'method_not_allowed', message: 'Method not allowed.' } });
  });

  it('takes a 3 MB phone-sized photo through the HTTP server (its upload limit, not the 1 MiB body limit)', async () => {
    const photo = noisePng(1024, 1024);
    expect(photo.length).toBeGreaterThan(3_000_000);
    const res = await upload(r, alice, photo);
    expect(res).toMatchObject({ status: 201, body: { width: 1024, height: 1024 } });
    // Every other route keeps the 1 MiB body limit.
    const big = await call(r, 'POST', '/api/mp/jobs', { token: alice, body: { prompt: 'x'.repeat(2 * MiB) } });
    expect(big.status).toBe(413);
  });

  it('takes a photo as multipart (field "file") through the image guard, and refuses the bad-input corpus', async () => {
    const ok = await upload(r, alice, gradientPng(96, 64));
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ width: 96, height: 64 });
    imageId = ok.body.imageId as string;
    expect(imageId).toMatch(/^img_/);

    const cases: Array<[string, Buffer, string]> = [
      ['a PDF renamed to .png', await corpus('renamed-pdf.png'), 'image_pdf'],
      ['an SVG with external references', await corpus('external-ref.svg'), 'image_svg'],
      ['a 0-byte file', Buffer.alloc(0), 'image_empty'],
      ['a truncated PNG', gradientPng(64, 64).subarray(0, 80), 'image_corrupt'],
      ['random bytes', randomBytes(4096), 'image_unsupported_format'],
      ['a 20000×20000 PNG header', claimedSizePng(20_000, 20_000), 'image_too_many_pixels'],
    ];
    for (const [what, bytes, code] of cases) {
      const res = await upload(r, alice, bytes);
      expect({ what, status: res.status, code: res.body.code }).toEqual({ what, status: res.status === 413 ? 413 : 422, code });
      expect(res.body.message).toMatch(/[\u4e00-\u9fff]/);
    }
    // Over the API's limit (the server's 10 MiB upload limit less the multipart framing) but within
    // the server's: stopped while streaming, answered in the API's shape.
    const cap = MP_UPLOAD_MAX_BYTES - MULTIPART_ALLOWANCE_BYTES;
    const over = await upload(r, alice, Buffer.concat([gradientPng(8, 8), randomBytes(cap + 16 * 1024)]), { lang: 'en' });
    expect(over).toMatchObject({ status: 413, body: { code: 'upload_too_large', message: 'The image is larger than 10 MB.' } });
    expect(Object.keys(over.body).sort()).toEqual(['code', 'message', 'requestId']);
    // A body declared larger than FRAMECAST_UPLOAD_LIMIT is refused by the HTTP server before the
    // route runs, in the server's shape (clients treat any 413 as "too large").
    const huge = await upload(r, alice, Buffer.concat([gradientPng(8, 8), randomBytes(11 * MiB)]));
    expect(huge).toMatchObject({ status: 413, body: { error: 'payload_too_large' } });
    expect((await upload(r, alice, gradientPng(8, 8), { field: 'photo' })).body).toMatchObject({ code: 'upload_missing' });
    const notForm = await fetch(`${r.base}/api/mp/uploads`, { method: 'POST', headers: { Authorization: `Bearer ${alice}`, 'Content-Type': 'image/png' }, body: new Uint8Array(gradientPng(8, 8)) });
    expect(notForm.status).toBe(415);
  });

  it('runs a job with the photo to succeeded, its progress as server-sent events; a retried request is one job; one subscription message', async () => {
    const requestId = randomUUID();
    const body = { prompt: '古镇黄昏，灯笼亮起', imageId, aspect: '16:9', duration: 1, draft: true, seed: 7, subscribe: true, requestId };
    const created = await call(r, 'POST', '/api/mp/jobs', { token: alice, body });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ mode: 'draft', aspect: '16:9', seed: 7, hasImage: true, published: false });
    expect(['queued', 'running']).toContain(created.body.state);
    expect(created.body.cost as number).toBeGreaterThan(0);
    jobId = created.body.id as string;
    expect(JSON.stringify(created.body)).not.toContain('o_alice');
    const again = await call(r, 'POST', '/api/mp/jobs', { token: alice, body });
    expect(again).toMatchObject({ status: 200, body: { id: jobId } });

    const res = await fetch(`${r.base}/api/mp/jobs/${jobId}/events`, { headers: { Authorization: `Bearer ${alice}`, 'Accept-Language': 'en' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = await readSse(res, 100_000);
    const names = events.map((e) => e.event);
    expect(names[0]).toBe('job');
    expect(names).toContain('started');
    expect(names.at(-1)).toBe('delivered');
    const last = events.at(-1)?.data as Json;
    expect(last).toMatchObject({ state: 'succeeded', job: { id: jobId, state: 'succeeded', video: { url: `/api/mp/jobs/${jobId}/video` } } });
    expect(events.filter((e) => e.event === 'step').every((e) => e.data.state === 'running')).toBe(true);

    const listed = await call(r, 'GET', '/api/mp/jobs', { token: alice });
    expect((listed.body.jobs as Json[]).filter((j) => j.id === jobId)).toHaveLength(1);
    await waitFor(async () => (r.fake.sent.length > 0 ? true : undefined), 30_000, 'the subscription message');
    await new Promise((ok) => setTimeout(ok, 1000));
    expect(r.fake.sent).toHaveLength(1);
    expect(r.fake.sent[0]).toMatchObject({ touser: 'o_alice', template_id: 'tmpl-done', page: `pages/videos/videos?id=${jobId}`, data: { phrase2: { value: '已完成' } } });
    expect(r.fake.calls.some((c) => c.path === '/cgi-bin/stable_token')).toBe(true);

    // A finished job's events: the job, then the end.
    const replay = await readSse(await fetch(`${r.base}/api/mp/jobs/${jobId}/events`, { headers: { Authorization: `Bearer ${alice}` } }), 10_000);
    expect(replay.map((e) => e.event)).toEqual(['job']);
  });

  it('serves the video with Range (206 with the same bytes, 416 outside), and the poster', async () => {
    const full = await fetch(`${r.base}/api/mp/jobs/${jobId}/video`, { headers: { Authorization: `Bearer ${alice}` } });
    expect(full.status).toBe(200);
    expect(full.headers.get('content-type')).toBe('video/mp4');
    expect(full.headers.get('accept-ranges')).toBe('bytes');
    const bytes = Buffer.from(await full.arrayBuffer());
    expect(bytes.subarray(4, 8).toString('ascii')).toBe('ftyp');
    const part = await fetch(`${r.base}/api/mp/jobs/${jobId}/video`, { headers: { Authorization: `Bearer ${alice}`, Range: 'bytes=100-299' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 100-299/${bytes.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(bytes.subarray(100, 300))).toBe(true);
    const tail = await fetch(`${r.base}/api/mp/jobs/${jobId}/video`, { headers: { Authorization: `Bearer ${alice}`, Range: 'bytes=-50' } });
    expect(tail.status).toBe(206);
    expect(Buffer.from(await tail.arrayBuffer()).equals(bytes.subarray(bytes.length - 50))).toBe(true);
    const outside = await fetch(`${r.base}/api/mp/jobs/${jobId}/video`, { headers: { Authorization: `Bearer ${alice}`, Range: `bytes=${bytes.length}-` } });
    expect(outside.status).toBe(416);
    expect(outside.headers.get('content-range')).toBe(`bytes */${bytes.length}`);
    expect(((await outside.json()) as Json).code).toBe('range_not_satisfiable');
    const poster = await fetch(`${r.base}/api/mp/jobs/${jobId}/poster`, { headers: { Authorization: `Bearer ${alice}` } });
    expect(poster.status).toBe(200);
    expect(poster.headers.get('content-type')).toBe('image/jpeg');
  });

  it('hands out signed links for the <video> component that work without a token and expire', async () => {
    const media = await call(r, 'GET', `/api/mp/jobs/${jobId}/media`, { token: alice });
    expect(media.status).toBe(200);
    const url = media.body.videoUrl as string;
    expect(url).toMatch(new RegExp(`^/api/mp/jobs/${jobId}/video\\?exp=\\d+&sig=`));
    const ranged = await fetch(`${r.base}${url}`, { headers: { Range: 'bytes=0-9' } });
    expect(ranged.status).toBe(206);
    expect((await fetch(`${r.base}${media.body.posterUrl as string}`)).status).toBe(200);
    expect((await fetch(`${r.base}${url.replace(/sig=./, 'sig=A')}`)).status).toBe(403);
    r.advance(601_000);
    try {
      const expired = await fetch(`${r.base}${url}`, { headers: { 'Accept-Language': 'en' } });
      expect(expired.status).toBe(410);
      expect(await expired.json()).toMatchObject({ code: 'link_expired', message: 'This link has expired.' });
    } finally {
      r.advance(-601_000);
    }
  });

  it('never lets one user read, cancel, watch or publish another user\'s job: 404 as if it did not exist', async () => {
    for (const [method, route] of [['GET', `/api/mp/jobs/${jobId}`], ['POST', `/api/mp/jobs/${jobId}/cancel`], ['GET', `/api/mp/jobs/${jobId}/events`], ['GET', `/api/mp/jobs/${jobId}/video`], ['GET', `/api/mp/jobs/${jobId}/media`], ['POST', `/api/mp/jobs/${jobId}/publish`]] as const) {
      const res = await call(r, method, route, { token: bob, ...(method === 'POST' ? { body: {} } : {}) });
      expect({ route, status: res.status, code: res.body.code }).toEqual({ route, status: 404, code: 'job_not_found' });
    }
    expect((await call(r, 'GET', '/api/mp/jobs/jnope', { token: alice })).body.code).toBe('job_not_found');
    expect(((await call(r, 'GET', '/api/mp/jobs', { token: bob })).body.jobs as Json[]).map((j) => j.id)).not.toContain(jobId);
    // Bob cannot use Alice's upload either.
    expect((await call(r, 'POST', '/api/mp/jobs', { token: bob, body: { prompt: 'a cat', imageId } })).body.code).toBe('image_not_found');
  });

  it('cancels a queued job and refunds it; a finished one cannot be cancelled', async () => {
    // Paused, and its fetch loop ended (a worker paused while it blocks for the next job still takes it).
    await r.worker.worker.pause();
    try {
      await waitFor(async () => (r.worker.worker.isRunning() ? undefined : true), 30_000, 'the worker\'s fetch loop to end');
      const created = await call(r, 'POST', '/api/mp/jobs', { token: bob, body: { prompt: 'a snow mountain at sunrise', draft: true, duration: 1 } });
      expect(created.status).toBe(201);
      const id = created.body.id as string;
      const cancelled = await call(r, 'POST', `/api/mp/jobs/${id}/cancel`, { token: bob, lang: 'en' });
      expect(cancelled).toMatchObject({ status: 200, body: { id, state: 'cancelled', cancel: 'cancelled' } });
      expect((await call(r, 'GET', `/api/mp/jobs/${id}`, { token: bob })).body).toMatchObject({ state: 'cancelled', error: { code: 'cancelled' } });
    } finally {
      r.worker.worker.resume();
    }
    expect((await call(r, 'POST', `/api/mp/jobs/${jobId}/cancel`, { token: alice })).body.code).toBe('already_finished');
  });

  it('refuses jobs like every platform does: moderation (403), a bad style (422), a bad body (400)', async () => {
    const blocked = await call(r, 'POST', '/api/mp/jobs', { token: bob, body: { prompt: '海洛因 交易现场', draft: true } });
    expect(blocked).toMatchObject({ status: 403, body: { code: 'moderation_blocked' } });
    expect(blocked.body.message).toMatch(/[\u4e00-\u9fff]/);
    expect((await call(r, 'POST', '/api/mp/jobs', { token: bob, body: { prompt: 'a fox', style: 'no-such-style' } })).body.code).toBe('bad_command');
    const bad = await call(r, 'POST', '/api/mp/jobs', { token: bob, body: { prompt: 'a fox', duration: 'long' }, lang: 'en' });
    expect(bad).toMatchObject({ status: 400, body: { code: 'bad_request' } });
    expect(bad.body.message).toContain('duration');
  });

  it('publishes to the gallery (local moderation of the caption), likes once per user, reports, and unpublishes by owner or admin', async () => {
    const refused = await call(r, 'POST', `/api/mp/jobs/${jobId}/publish`, { token: alice, body: { caption: '海洛因 在这里' } });
    expect(refused).toMatchObject({ status: 403, body: { code: 'caption_blocked' } });
    expect((await call(r, 'GET', '/api/mp/gallery', { token: bob })).body.items).toEqual([]);

    const pub = await call(r, 'POST', `/api/mp/jobs/${jobId}/publish`, { token: alice, body: { caption: '黄昏的古镇' } });
    expect(pub).toMatchObject({ status: 201, body: { id: jobId, caption: '黄昏的古镇', likes: 0, mine: true } });
    expect((await call(r, 'POST', `/api/mp/jobs/${jobId}/publish`, { token: alice, body: {} })).body.code).toBe('already_published');
    expect((await call(r, 'GET', `/api/mp/jobs/${jobId}`, { token: alice })).body.published).toBe(true);

    const page = await call(r, 'GET', '/api/mp/gallery?sort=newest', { token: bob });
    const item = (page.body.items as Json[])[0] as Json;
    expect(item).toMatchObject({ id: jobId, mine: false, liked: false, likes: 0 });
    expect(JSON.stringify(page.body)).not.toMatch(/o_alice|owner/);
    // Anyone may play a published video through its signed link.
    expect((await fetch(`${r.base}${item.videoUrl as string}`, { headers: { Range: 'bytes=0-0' } })).status).toBe(206);

    expect((await call(r, 'POST', `/api/mp/gallery/${jobId}/like`, { token: bob, body: {} })).body).toMatchObject({ likes: 1, liked: true });
    expect((await call(r, 'POST', `/api/mp/gallery/${jobId}/like`, { token: bob, body: { like: true } })).body).toMatchObject({ likes: 1, liked: true });
    expect((await call(r, 'POST', `/api/mp/gallery/${jobId}/like`, { token: alice })).body).toMatchObject({ likes: 2, liked: true });
    const liked = await call(r, 'GET', '/api/mp/gallery?sort=liked&limit=5', { token: bob });
    expect((liked.body.items as Json[])[0]).toMatchObject({ id: jobId, likes: 2, liked: true });
    expect((await call(r, 'POST', `/api/mp/gallery/${jobId}/like`, { token: bob, body: { like: false } })).body).toMatchObject({ likes: 1, liked: false });
    expect((await call(r, 'GET', '/api/mp/gallery?sort=oldest', { token: bob })).status).toBe(400);
    expect((await call(r, 'POST', '/api/mp/gallery/jnope/like', { token: bob })).status).toBe(404);

    expect((await call(r, 'POST', `/api/mp/gallery/${jobId}/report`, { token: bob, body: { reason: 'copyright' } })).body).toMatchObject({ reported: true });
    expect((await call(r, 'POST', `/api/mp/jobs/${jobId}/unpublish`, { token: bob })).body.code).toBe('not_owner');
    const admin = await login(r, 'o_admin');
    expect((await call(r, 'GET', '/api/mp/me', { token: admin })).body.admin).toBe(true);
    expect((await call(r, 'DELETE', `/api/mp/jobs/${jobId}/publish`, { token: admin })).body).toMatchObject({ id: jobId, published: false });
    expect((await call(r, 'GET', '/api/mp/gallery', { token: bob })).body.items).toEqual([]);
    expect((await call(r, 'POST', `/api/mp/jobs/${jobId}/unpublish`, { token: alice })).body.code).toBe('not_published');
    // The owner may publish again. Reports from three users take it out until an admin puts it back.
    expect((await call(r, 'POST', `/api/mp/jobs/${jobId}/publish`, { token: alice, body: {} })).status).toBe(201);
    const reporters = [bob, await login(r, 'o_r1'), await login(r, 'o_r2')];
    for (const t of [...reporters, bob]) expect((await call(r, 'POST', `/api/mp/gallery/${jobId}/report`, { token: t, body: {} })).status).toBe(200);
    expect((await call(r, 'GET', '/api/mp/gallery', { token: bob })).body.items).toEqual([]);
    expect((await call(r, 'POST', `/api/mp/gallery/${jobId}/like`, { token: bob })).status).toBe(404);
    expect((await call(r, 'GET', '/api/mp/gallery?sort=hidden', { token: bob })).body.code).toBe('not_admin');
    expect(((await call(r, 'GET', '/api/mp/gallery?sort=hidden', { token: admin })).body.items as Json[]).map((i) => i.id)).toEqual([jobId]);
    expect((await call(r, 'POST', `/api/mp/gallery/${jobId}/restore`, { token: bob })).body.code).toBe('not_admin');
    expect((await call(r, 'POST', `/api/mp/gallery/${jobId}/restore`, { token: admin })).body).toMatchObject({ id: jobId, hidden: false });
    expect(((await call(r, 'GET', '/api/mp/gallery', { token: bob })).body.items as Json[]).map((i) => i.id)).toEqual([jobId]);
    expect((await call(r, 'POST', `/api/mp/jobs/${jobId}/unpublish`, { token: alice })).status).toBe(200);
  });
});

describe('with FRAMECAST_WECHAT_CHECKS on: msgSecCheck on prompts and gallery captions', { timeout: 120_000 }, () => {
  let r: Rig;
  beforeAll(async () => {
    r = await rig({ mediaChecks: {} });
  });
  afterAll(async () => {
    await r.close();
  });

  it('refuses what WeChat calls risky at submit and at publish (asking with the user\'s openid); a busy subscribeMessage.send is retried, one message', async () => {
    const token = await login(r, 'o_frank');
    const risky = await call(r, 'POST', '/api/mp/jobs', { token, body: { prompt: 'a casino at night', draft: true, duration: 1 } });
    expect(risky).toMatchObject({ status: 403, body: { code: 'moderation_blocked' } });
    const checks = r.fake.calls.filter((c) => c.path === '/wxa/msg_sec_check');
    expect(checks.at(-1)?.body).toMatchObject({ version: 2, openid: 'o_frank' });

    // WeChat is busy when the subscription message is first sent: the delivery is retried, and one message arrives.
    r.fake.failNext('/cgi-bin/message/subscribe/send', -1);
    const ok = await call(r, 'POST', '/api/mp/jobs', { token, body: { prompt: 'a night market with lanterns', draft: true, duration: 1, subscribe: true }, lang: 'en' });
    expect(ok.status).toBe(201);
    const id = ok.body.id as string;
    await jobToSucceed(r, token, id);
    await waitFor(async () => (r.fake.sent.length > 0 ? true : undefined), 60_000, 'the subscription message after a retry');
    await new Promise((done) => setTimeout(done, 1000));
    expect(r.fake.sent).toHaveLength(1);
    expect(r.fake.sent[0]).toMatchObject({ touser: 'o_frank', lang: 'en_US', data: { phrase2: { value: 'Finished' } } });
    expect(r.fake.calls.filter((c) => c.path === '/cgi-bin/message/subscribe/send')).toHaveLength(2);
    const blocked = await call(r, 'POST', `/api/mp/jobs/${id}/publish`, { token, body: { caption: 'best casino in town' } });
    expect(blocked).toMatchObject({ status: 403, body: { code: 'caption_blocked' } });
    const review = await call(r, 'POST', `/api/mp/jobs/${id}/publish`, { token, body: { caption: 'buy now' } });
    expect(review.body.code).toBe('caption_review');
    r.fake.failNext('/wxa/msg_sec_check', -1);
    const busy = await call(r, 'POST', `/api/mp/jobs/${id}/publish`, { token, body: { caption: 'lanterns' } });
    expect(busy).toMatchObject({ status: 503, body: { code: 'wechat_unavailable' } });
    expect((await call(r, 'POST', `/api/mp/jobs/${id}/publish`, { token, body: { caption: 'lanterns' } })).status).toBe(201);
    const captions = r.fake.calls.filter((c) => c.path === '/wxa/msg_sec_check').map((c) => c.body?.content as string);
    expect(captions.some((c) => c.startsWith('best casino in town'))).toBe(true);
  });
});

describe('rate limits per session and per IP (Redis counters, 429 with Retry-After)', { timeout: 120_000 }, () => {
  let r: Rig;
  beforeAll(async () => {
    r = await rig({
      runWorker: false,
      rateLimits: { login: { max: 3, windowSeconds: 60 }, session: { max: 5, windowSeconds: 60 }, jobs: { max: 2, windowSeconds: 60 }, ip: { max: 12, windowSeconds: 60 } },
    });
  });
  afterAll(async () => {
    await r.close();
  });

  it('limits logins per IP, calls per session and per IP, and new jobs per session', async () => {
    const a = await login(r, 'o_gina');
    const b = await login(r, 'o_hank');
    await login(r, 'o_ivan');
    const fourth = await call(r, 'POST', '/api/mp/login', { body: { code: r.fake.codeFor('o_jack') }, lang: 'en' });
    expect(fourth).toMatchObject({ status: 429, body: { code: 'rate_limited' } });
    const retry = Number(fourth.headers.get('retry-after'));
    expect(retry).toBeGreaterThanOrEqual(1);
    expect(retry).toBeLessThanOrEqual(60);
    expect(fourth.body.message).toBe(`Too many requests; try again in ${retry} s.`);

    // New jobs: two a minute (refused by moderation here, so no job is made; the counter still counts).
    for (let i = 0; i < 2; i++) expect((await call(r, 'POST', '/api/mp/jobs', { token: a, body: { prompt: '海洛因' } })).status).toBe(403);
    expect((await call(r, 'POST', '/api/mp/jobs', { token: a, body: { prompt: '海洛因' } })).body.code).toBe('rate_limited');
    // Every call: five a minute per session; another session is counted apart.
    for (let i = 0; i < 2; i++) expect((await call(r, 'GET', '/api/mp/jobs', { token: a })).status).toBe(200);
    const limited = await call(r, 'GET', '/api/mp/jobs', { token: a });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
    expect((await call(r, 'GET', '/api/mp/jobs', { token: b })).status).toBe(200);
    // Twelve calls a minute from this IP address, whoever makes them.
    expect((await call(r, 'GET', '/api/mp/jobs', { token: b })).status).toBe(200);
    const ip = await call(r, 'GET', '/api/mp/jobs', { token: b });
    expect(ip).toMatchObject({ status: 429, body: { code: 'rate_limited' } });
    expect(ip.headers.get('retry-after')).toMatch(/^\d+$/);
  });
});

describe('WeChat\'s image check (mediaCheckAsync): the job is held, the pushed verdict decides', { timeout: 180_000 }, () => {
  let r: Rig;
  beforeAll(async () => {
    // The default confirmPass: the held video scanned again with the NSFW model, as the worker scans it.
    r = await rig({ mediaChecks: { timeoutMs: 15_000 } });
  });
  afterAll(async () => {
    await r.close();
  });

  const tracesOf = async (jobId: string): Promise<string[]> => JSON.parse((await redis.hget(`${r.config.keyPrefix}:mp:wxcheck:job:${jobId}`, 'traces')) ?? '[]') as string[];
  const stateOf = async (jobId: string): Promise<string | undefined> => (await r.core.job(jobId))?.state;
  const pushBody = (traceId: string, suggest: 'pass' | 'risky'): string => JSON.stringify({
    ToUserName: 'gh_fake', FromUserName: 'o_x', CreateTime: 1, MsgType: 'event', Event: 'wxa_media_check', appid: r.fake.appId, trace_id: traceId, version: 2,
    errcode: 0, errmsg: 'ok', result: { suggest, label: suggest === 'pass' ? 100 : 20002 }, detail: [{ strategy: 'content_model', errcode: 0, suggest, label: 100, prob: 90 }],
  });
  const sign = (token: string): string => {
    const timestamp = String(Math.floor(Date.now() / 1000));
    const nonce = randomBytes(6).toString('hex');
    return `signature=${createHash('sha1').update([token, timestamp, nonce].sort().join('')).digest('hex')}&timestamp=${timestamp}&nonce=${nonce}`;
  };
  async function photoJob(openid: string, prompt: string): Promise<{ token: string; id: string; created: { status: number; body: Json } }> {
    const token = await login(r, openid);
    const up = await upload(r, token, gradientPng(96, 64));
    expect(up.status).toBe(201);
    const created = await call(r, 'POST', '/api/mp/jobs', { token, body: { prompt, imageId: up.body.imageId, draft: true, duration: 1, aspect: '16:9' } });
    expect(created.status).toBe(201);
    return { token, id: created.body.id as string, created };
  }

  it('answers WeChat\'s URL check (echostr) only with a good signature', async () => {
    const ok = await fetch(`${r.base}/api/mp/wechat/push?${sign(PUSH_TOKEN)}&echostr=hello123`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('hello123');
    const forged = await fetch(`${r.base}/api/mp/wechat/push?${sign('someOtherToken')}&echostr=hello123`);
    expect(forged.status).toBe(401);
    expect(await forged.json()).toMatchObject({ code: 'bad_signature' });
    expect((await fetch(`${r.base}/api/mp/wechat/push?echostr=hello123`)).status).toBe(401);
    const aes = await fetch(`${r.base}/api/mp/wechat/push?${sign(PUSH_TOKEN)}&encrypt_type=aes&msg_signature=x`, { method: 'POST', body: '<xml><Encrypt><![CDATA[x]]></Encrypt></xml>' });
    expect(aes.status).toBe(400);
    expect(await aes.json()).toMatchObject({ code: 'push_encrypted' });
  });

  it('pass: the request does not wait for WeChat; the photo goes out as a signed public link WeChat downloads; the held job then proceeds to succeeded (XML push)', async () => {
    r.fake.setPush({ token: PUSH_TOKEN, format: 'xml' });
    const { token, id, created } = await photoJob('o_pass', '古镇黄昏');
    expect(['queued', 'running', 'held']).toContain(created.body.state);
    const call0 = r.fake.calls.find((c) => c.path === '/wxa/media_check_async' && c.body?.openid === 'o_pass');
    expect(call0?.body?.media_url).toMatch(new RegExp(`^${r.base}/media/previews/wechat-check-[0-9a-f]{32}\\.jpg\\?exp=\\d+&sig=`));
    expect(await tracesOf(id)).toHaveLength(1);
    const done = await jobToSucceed(r, token, id);
    expect(done).toMatchObject({ id, state: 'succeeded' });
    // WeChat downloaded the JPEG from the public link, and the route answered its push "success".
    expect(r.fake.downloads.at(-1)).toMatchObject({ status: 200, contentType: 'image/jpeg' });
    const push = r.fake.pushes.find((p) => p.body.includes('o_pass'));
    expect(push).toMatchObject({ contentType: 'text/xml', status: 200, answer: 'success' });
    const rec = await r.core.job(id);
    expect(rec?.reviewRequired).toBe(true);
    expect((await r.core.quota.show('miniprogram:o_pass')).spent).toBeGreaterThan(0);
    r.fake.setPush({ token: PUSH_TOKEN });
  });

  it('risky: the held job is rejected and refunded once; the same push again changes nothing', async () => {
    r.fake.setMediaVerdict((openid) => (openid === 'o_risky' ? 'risky' : 'pass'));
    const { token, id } = await photoJob('o_risky', 'a night market');
    await waitFor(async () => ((await stateOf(id)) === 'blocked' ? true : undefined), 120_000, 'the job rejected');
    const view = await call(r, 'GET', `/api/mp/jobs/${id}`, { token, lang: 'en' });
    expect(view.body.state).toBe('failed');
    const quota = await r.core.quota.show('miniprogram:o_risky');
    expect({ spent: quota.spent, held: quota.held }).toEqual({ spent: 0, held: 0 });
    const push = r.fake.pushes.find((p) => p.body.includes('o_risky'));
    expect(push?.answer).toBe('success');
    const again = await fetch(push?.url as string, { method: 'POST', headers: { 'content-type': push?.contentType as string }, body: push?.body as string });
    expect(again.status).toBe(200);
    await new Promise((ok) => setTimeout(ok, 1000));
    expect(await stateOf(id)).toBe('blocked');
    const after = await r.core.quota.show('miniprogram:o_risky');
    expect({ spent: after.spent, held: after.held, available: after.available }).toEqual({ spent: 0, held: 0, available: quota.available });
    r.fake.setMediaVerdict(undefined);
  });

  it('a forged push changes nothing; unanswered past the timeout, the job stays held for a moderator, who approves it', async () => {
    r.fake.setMediaVerdict((openid) => (openid === 'o_silent' ? 'silent' : 'pass'));
    const { token, id } = await photoJob('o_silent', 'snow mountain sunrise');
    const [trace] = await tracesOf(id);
    expect(trace).toBeDefined();
    const forged = await fetch(`${r.base}/api/mp/wechat/push?${sign('notTheToken1')}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: pushBody(trace as string, 'pass') });
    expect(forged.status).toBe(401);
    const unsigned = await fetch(`${r.base}/api/mp/wechat/push`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: pushBody(trace as string, 'risky') });
    expect(unsigned.status).toBe(401);
    // Rendered, then held: no verdict came, and after the timeout nobody but a moderator decides.
    await waitFor(async () => ((await stateOf(id)) === 'review' ? true : undefined), 120_000, 'the job held');
    await waitFor(async () => ((await redis.zscore(`${r.config.keyPrefix}:mp:wxcheck:pending`, id)) === null ? true : undefined), 30_000, 'the check timed out');
    expect((await call(r, 'GET', `/api/mp/jobs/${id}`, { token })).body.state).toBe('held');
    // A late verdict, even a good one, is not applied: the moderator has it now.
    const late = await fetch(`${r.base}/api/mp/wechat/push?${sign(PUSH_TOKEN)}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: pushBody(trace as string, 'pass') });
    expect(late.status).toBe(200);
    await new Promise((ok) => setTimeout(ok, 1000));
    expect(await stateOf(id)).toBe('review');
    const decided = await r.core.review(id, { userKey: 'web:admin', isAdmin: true }, 'approve');
    expect(decided.status).toBe('approved');
    await jobToSucceed(r, token, id);
    r.fake.setMediaVerdict(undefined);
  });
});
