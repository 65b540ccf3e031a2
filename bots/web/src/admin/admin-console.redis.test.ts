import { appendFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { parseScanReport, scanReportKey, type ChatRequestInput } from '@framecast/core';
import { awaitDelivery, awaitState } from '../../../../test/support/e2e.ts';
import { testRedis } from '../../../../test/support/redis.ts';
import { AuditLog } from './audit-log.ts';
import { AdminClient, adminRig, ADMIN_PASSWORD, type AdminRig } from '../testing/admin-rig.ts';
import { wechatLoginKey } from './wechat-login.ts';

let redis: Redis;
beforeAll(() => {
  redis = testRedis();
});
afterAll(async () => {
  await redis.quit();
});

let seq = 0;
function webRequest(text: string, userId = 'u1'): ChatRequestInput {
  seq += 1;
  return {
    version: 1, platform: 'web', tenantId: 'web', channelId: userId, userId, eventId: `admin-test-${seq}-${Math.random()}`, text, locale: 'en',
    replyTarget: { platform: 'web', sessionId: `s-${userId}` },
  };
}

async function auditActions(rig: AdminRig): Promise<Array<[string, string, string, string]>> {
  return (await new AuditLog(redis, rig.config.keyPrefix).recent(100)).map((e) => [e.who, e.action, e.target, e.outcome]);
}

describe('admin console over HTTP (real server, real Redis)', () => {
  let rig: AdminRig;
  beforeAll(async () => {
    rig = await adminRig(redis);
  });
  afterAll(async () => {
    await rig.close();
  });

  it('without a session every page redirects to the sign-in and every action is refused', async () => {
    const c = new AdminClient(rig.base);
    for (const p of ['/admin', '/admin/review', '/admin/jobs?state=review', '/admin/users', '/admin/moderation', '/admin/queues-stats', '/admin/queues', '/admin/queues/api/queues', '/admin/wechat', '/admin/audit', '/admin/media/j1/video']) {
      const res = await c.request(p);
      expect(res.status, p).toBe(303);
      expect(res.headers.get('location'), p).toBe('/admin/login');
    }
    const post = await c.request('/admin/users/grant', { form: { user: 'web:u1', credits: '5', _csrf: 'x'.repeat(43) } });
    expect(post.status).toBe(403);
    expect((await rig.core.quota.show('web:u1')).bonus).toBe(0);
    // Other routes are not the console's.
    expect((await c.request('/healthz')).status).toBe(200);
  });

  it('sign-in: a wrong password is refused (401, no session), the login form needs its token, the right one gives a strict HttpOnly cookie', async () => {
    const c = new AdminClient(rig.base);
    const formPage = await c.request('/admin/login');
    expect(formPage.status).toBe(200);
    const formHtml = await formPage.text();
    expect(formHtml).toMatch(/<label for="password">/);
    expect(formHtml).toMatch(/<label for="who">/);
    const token = AdminClient.csrfOf(formHtml);

    const wrong = await c.request('/admin/login', { form: { _csrf: token, who: 'mallory', password: 'not the password at all' } });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain('Wrong name or password.');
    expect(c.cookies.has('fc_admin')).toBe(false);

    const noToken = await c.request('/admin/login', { form: { who: 'alice', password: ADMIN_PASSWORD } });
    expect(noToken.status).toBe(403);
    expect(c.cookies.has('fc_admin')).toBe(false);

    const fresh = AdminClient.csrfOf(await (await c.request('/admin/login')).text());
    const ok = await c.request('/admin/login', { form: { _csrf: fresh, who: 'alice', password: ADMIN_PASSWORD } });
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/admin');
    const set = ok.headers.getSetCookie().find((s) => s.startsWith('fc_admin='));
    expect(set).toMatch(/HttpOnly/);
    expect(set).toMatch(/SameSite=Strict/);
    expect(set).toMatch(/Path=\/admin/);
    expect(set).not.toMatch(/Secure/); // plain http here; see the https test below
    const home = await c.request('/admin');
    expect(home.status).toBe(200);
    expect(home.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(await home.text()).toContain('Signed in as alice');
    // The session id is random and kept only hashed.
    const id = c.cookies.get('fc_admin') ?? '';
    expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await redis.exists(`${rig.config.keyPrefix}:admin:session:${id}`)).toBe(0);

    expect(await auditActions(rig)).toEqual(expect.arrayContaining([['mallory', 'login.failed', '-', 'refused'], ['alice', 'login', '-', 'ok']]));
  });

  it('every POST needs the session\'s CSRF token: missing or wrong is a 403 and nothing happens', async () => {
    const c = new AdminClient(rig.base);
    const csrf = await c.login();
    const before = (await rig.core.quota.show('web:csrf')).bonus;
    const missing = await c.request('/admin/users/grant', { form: { user: 'web:csrf', credits: '7' } });
    expect(missing.status).toBe(403);
    expect(await missing.text()).toContain('security token');
    const wrong = await c.request('/admin/users/grant', { form: { user: 'web:csrf', credits: '7', _csrf: `${csrf.slice(0, -1)}A` === csrf ? `${csrf.slice(0, -1)}B` : `${csrf.slice(0, -1)}A` } });
    expect(wrong.status).toBe(403);
    // Another session's token is not this session's.
    const other = new AdminClient(rig.base);
    const otherCsrf = await other.login(ADMIN_PASSWORD, 'bob');
    expect((await c.request('/admin/users/grant', { form: { user: 'web:csrf', credits: '7', _csrf: otherCsrf } })).status).toBe(403);
    expect((await rig.core.quota.show('web:csrf')).bonus).toBe(before);
    const right = await c.request('/admin/users/grant', { form: { user: 'web:csrf', credits: '7', _csrf: csrf, back: '/admin/users?user=web%3Acsrf' } });
    expect(right.status).toBe(303);
    expect(right.headers.get('location')).toBe('/admin/users?user=web%3Acsrf&notice=notice_granted');
    expect((await rig.core.quota.show('web:csrf')).bonus).toBe(before + 7);
    // An open redirect is not possible through `back`.
    const evil = await c.request('/admin/users/grant', { form: { user: 'web:csrf', credits: '1', _csrf: csrf, back: 'https://evil.example/' } });
    expect(evil.headers.get('location')).toMatch(/^\/admin\/users\?user=/);
    const actions = await auditActions(rig);
    expect(actions).toEqual(expect.arrayContaining([['alice', 'csrf.refused', '/admin/users/grant', 'refused'], ['alice', 'quota.grant', 'web:csrf', 'ok']]));
    // Signing out ends the session (its cookie no longer opens a page).
    const cookie = c.cookies.get('fc_admin') ?? '';
    expect((await c.request('/admin/logout', { form: { _csrf: csrf } })).status).toBe(303);
    const stale = new AdminClient(rig.base);
    stale.cookies.set('fc_admin', cookie);
    expect((await stale.request('/admin')).status).toBe(303);
  });

  it('users: look up, grant, block (intake refuses, localised, logged as a refusal) and unblock, each in the audit log; output is escaped', async () => {
    const c = new AdminClient(rig.base);
    const csrf = await c.login(ADMIN_PASSWORD, 'carol');
    const page = await (await c.request('/admin/users?user=web%3Au-block')).text();
    expect(page).toContain('Credits left');
    expect(page).toContain('Not blocked');
    const blocked = await c.request('/admin/users/block', { form: { user: 'web:u-block', reason: '<b>spam</b>', _csrf: csrf } });
    expect(blocked.status).toBe(303);
    const refused = await rig.core.submit(webRequest('/video a red kite over the sea --draft', 'u-block'));
    expect(refused).toMatchObject({ status: 'refused', reason: 'user_blocked' });
    const after = await (await c.request('/admin/users?user=web%3Au-block')).text();
    expect(after).toContain('Blocked — carol');
    expect(after).toContain('&#60;b&#62;spam&#60;/b&#62;');
    expect(after).not.toContain('<b>spam</b>');
    const moderation = await (await c.request('/admin/moderation')).text();
    expect(moderation).toMatch(/web:u-block<\/a><\/td><td>web<\/td><td>user_blocked/);
    expect(refused.status === 'refused' ? refused.message.en : '').toContain('may not make videos');
    expect((await c.request('/admin/users/unblock', { form: { user: 'web:u-block', _csrf: csrf } })).status).toBe(303);
    expect(await rig.core.admin.blocks.isBlocked('web:u-block')).toBe(false);
    const ok = await rig.core.submit(webRequest('/video a red kite over the sea --draft', 'u-block'));
    expect(ok.status).toBe('accepted');
    const actions = await auditActions(rig);
    expect(actions).toEqual(expect.arrayContaining([['carol', 'user.block', 'web:u-block', 'ok'], ['carol', 'user.unblock', 'web:u-block', 'ok']]));
    // A bad user key is refused, not stored.
    expect((await c.request('/admin/users/block', { form: { user: 'nobody', _csrf: csrf } })).status).toBe(400);
    // Pages in Chinese.
    const zh = await (await c.request('/admin/users?lang=zh-CN')).text();
    expect(zh).toContain('<html lang="zh-CN">');
    expect(zh).toContain('用户与额度');
  });

  it('jobs: search by user, state and platform; cancel a queued job; retry an undeliverable delivery; prompts are escaped', async () => {
    const c = new AdminClient(rig.base);
    const csrf = await c.login(ADMIN_PASSWORD, 'dave');
    const a = await rig.core.submit(webRequest('/video <script>alert(1)</script> a lighthouse --draft', 'u-jobs'));
    const b = await rig.core.submit(webRequest('/video a quiet harbour --draft', 'u-jobs'));
    if (a.status !== 'accepted' || b.status !== 'accepted') throw new Error('not accepted');
    const list = await (await c.request('/admin/jobs?user=web%3Au-jobs&state=queued&platform=web')).text();
    expect(list).toContain(a.jobId);
    expect(list).toContain(b.jobId);
    expect(list).not.toContain('<script>alert(1)</script>');
    expect(list).toContain('&#60;script&#62;');
    expect(await (await c.request('/admin/jobs?state=queued&platform=discord')).text()).toContain('No jobs match.');
    // Cancel (as admin) a job still queued (no worker runs here).
    const cancel = await c.request(`/admin/jobs/${a.jobId}/cancel`, { form: { _csrf: csrf } });
    expect(cancel.status).toBe(303);
    expect(cancel.headers.get('location')).toBe(`/admin/jobs/${a.jobId}?notice=notice_done&outcome=cancelled`);
    expect((await rig.core.job(a.jobId))?.state).toBe('cancelled');
    // An outcome the platform never took: undeliverable, then put back in line.
    await rig.core.lifecycle.finish(b.jobId, { kind: 'failed', code: 'test', message: { en: 'test', 'zh-CN': '测试' } });
    expect(await rig.core.lifecycle.markUndeliverable(b.jobId, 'test: platform down')).toBe('undeliverable');
    const detail = await (await c.request(`/admin/jobs/${b.jobId}`)).text();
    expect(detail).toContain('Retry delivery');
    const retry = await c.request(`/admin/jobs/${b.jobId}/retry-delivery`, { form: { _csrf: csrf } });
    expect(retry.headers.get('location')).toBe(`/admin/jobs/${b.jobId}?notice=notice_retry_queued`);
    expect(await rig.core.deliveries.state(b.jobId)).toBe('enqueued');
    const again = await c.request(`/admin/jobs/${b.jobId}/retry-delivery`, { form: { _csrf: csrf } });
    expect(again.headers.get('location')).toBe(`/admin/jobs/${b.jobId}?notice=notice_retry_none`);
    const actions = await auditActions(rig);
    expect(actions).toEqual(expect.arrayContaining([
      ['dave', 'job.cancel', a.jobId, 'cancelled'], ['dave', 'delivery.retry', b.jobId, 'requeued'], ['dave', 'delivery.retry', b.jobId, 'not_undeliverable'],
    ]));
    const audit = await (await c.request('/admin/audit')).text();
    expect(audit).toContain('delivery.retry');
    expect(audit).toContain(b.jobId);
  });

  it('review: rejecting a held video refunds the user and ends the job blocked (audited); an unknown decision is refused (400)', async () => {
    const c = new AdminClient(rig.base);
    const csrf = await c.login(ADMIN_PASSWORD, 'heidi');
    const before = (await rig.core.quota.show('web:u-reject')).available;
    const r = await rig.core.submit(webRequest('/video a night market --draft', 'u-reject'));
    if (r.status !== 'accepted') throw new Error('not accepted');
    expect((await rig.core.quota.show('web:u-reject')).available).toBe(before - r.cost);
    // Held as a worker holds it (no worker runs in this rig): the video's record, state review.
    await rig.core.lifecycle.start(r.jobId, 1);
    await rig.core.lifecycle.hold(r.jobId, { videoRef: `videos/${r.jobId}.mp4`, bytes: 10, width: 64, height: 64, frames: 5, fps: 8, durationSec: 0.6, needsLink: false, downgraded: false });
    const queue = await (await c.request('/admin/review')).text();
    expect(queue).toContain(r.jobId);
    expect(queue).toContain('Approve and send');
    // No scan report beside this video: the note says so.
    expect(queue).toContain('No output scan report was kept for this video');
    expect((await c.request(`/admin/media/${r.jobId}/scan/0`)).status).toBe(404);
    // The blob is not there: the media route says so, without a stack.
    expect((await c.request(`/admin/media/${r.jobId}/video`)).status).toBe(404);
    expect((await c.request(`/admin/jobs/${r.jobId}/review`, { form: { decision: 'delete-everything', _csrf: csrf } })).status).toBe(400);
    const reject = await c.request(`/admin/jobs/${r.jobId}/review`, { form: { decision: 'reject', _csrf: csrf, back: '/admin/review' } });
    expect(reject.headers.get('location')).toBe('/admin/review?notice=notice_done&outcome=rejected');
    expect((await rig.core.job(r.jobId))?.state).toBe('blocked');
    expect((await rig.core.quota.show('web:u-reject')).available).toBe(before);
    expect(await auditActions(rig)).toEqual(expect.arrayContaining([['heidi', 'review.reject', r.jobId, 'rejected']]));
  });

  it('moderation: recent refusals with categories, the lists\' version, and a reload that picks up an edited list (audited)', async () => {
    const c = new AdminClient(rig.base);
    const csrf = await c.login(ADMIN_PASSWORD, 'erin');
    const refused = await rig.core.submit(webRequest('/video 屠 杀 in the city', 'u-mod'));
    expect(refused).toMatchObject({ status: 'refused', reason: 'moderation_blocked' });
    const page1 = await (await c.request('/admin/moderation')).text();
    expect(page1).toMatch(/web:u-mod<\/a><\/td><td>web<\/td><td>moderation_blocked<\/td><td>violence/);
    expect(page1).not.toContain('屠');
    const v1 = /class="keyword-version">([0-9a-f]{16})</.exec(page1)?.[1];
    expect(v1).toBeDefined();
    const entries = rig.keywords.size;
    const list = (await import('node:fs/promises')).readdir(rig.listDir).then((n) => n.find((f) => f.endsWith('.txt')) ?? '');
    await appendFile(path.join(rig.listDir, await list), '\nzzadminreloadword\n');
    const reload = await c.request('/admin/moderation/reload', { form: { _csrf: csrf } });
    expect(reload.headers.get('location')).toBe('/admin/moderation?notice=notice_reloaded');
    expect(rig.keywords.size).toBe(entries + 1);
    const page2 = await (await c.request('/admin/moderation?notice=notice_reloaded')).text();
    const v2 = /class="keyword-version">([0-9a-f]{16})</.exec(page2)?.[1];
    expect(v2).not.toBe(v1);
    expect(page2).toContain('Keyword lists reloaded.');
    const actions = await auditActions(rig);
    expect(actions).toEqual(expect.arrayContaining([['erin', 'keywords.reload', 'keyword-lists', 'ok']]));
  });

  it('queues: workers, busy fraction, throughput and the /metrics figures; bull-board behind the login; the WeChat login QR code', async () => {
    const c = new AdminClient(rig.base);
    await c.login(ADMIN_PASSWORD, 'frank');
    const stats = await (await c.request('/admin/queues-stats')).text();
    expect(stats).toContain('Workers');
    expect(stats).toContain('Videos made in the last hour');
    expect(stats).toContain('framecast_jobs');
    expect(stats).toContain('deliver-web');
    const board = await c.request('/admin/queues');
    expect(board.status).toBe(200);
    expect(await board.text()).toMatch(/<html/i);
    const api = await c.request('/admin/queues/api/queues?activeQueue=generate&status=latest&page=1');
    expect(api.status).toBe(200);
    const body = (await api.json()) as { queues: Array<{ name: string; readOnlyMode: boolean }> };
    expect(body.queues.map((q) => q.name)).toEqual(expect.arrayContaining(['generate', 'deliver-web']));
    expect(body.queues.every((q) => q.readOnlyMode)).toBe(true);
    // A cross-site POST to bull-board's API is refused before it gets there.
    expect((await c.request('/admin/queues/api/queues/generate/clean/completed', { method: 'PUT', headers: { 'Sec-Fetch-Site': 'cross-site' } })).status).toBe(403);

    expect(await (await c.request('/admin/wechat')).text()).toContain('No WeChat bot has reported its login.');
    await redis.hset(wechatLoginKey(rig.config.keyPrefix), { status: 'scan', qrcode: 'https://login.weixin.qq.com/l/abc123==', updatedAt: String(Date.now()) });
    const scan = await (await c.request('/admin/wechat')).text();
    // Attribute values are escaped like everything else ('=' as &#61;).
    const src = /<img class="qr" src="data:image\/svg\+xml;base64,([A-Za-z0-9+/&#;]+)" alt="WeChat login QR code"/.exec(scan)?.[1];
    expect(src).toBeDefined();
    expect(Buffer.from((src ?? '').replaceAll('&#61;', '='), 'base64').toString('utf8')).toMatch(/^<svg[^>]*viewBox/);
    await redis.hset(wechatLoginKey(rig.config.keyPrefix), { status: 'logged-in', user: 'Framecast bot', qrcode: '' });
    expect(await (await c.request('/admin/wechat')).text()).toContain('Logged in as Framecast bot.');
  });
});

describe('admin console: rate limit and https cookies', () => {
  it('sign-in attempts are limited per address (429 with Retry-After, even with the right password)', async () => {
    const rig = await adminRig(redis, { loginLimit: { attempts: 3, windowSeconds: 120 } });
    try {
      const c = new AdminClient(rig.base);
      for (let i = 0; i < 3; i += 1) {
        const token = AdminClient.csrfOf(await (await c.request('/admin/login')).text());
        expect((await c.request('/admin/login', { form: { _csrf: token, who: 'x', password: `wrong-${i}` } })).status).toBe(401);
      }
      const token = AdminClient.csrfOf(await (await c.request('/admin/login')).text());
      const limited = await c.request('/admin/login', { form: { _csrf: token, who: 'x', password: ADMIN_PASSWORD } });
      expect(limited.status).toBe(429);
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await limited.text()).toContain('Too many sign-in attempts');
      expect(c.cookies.has('fc_admin')).toBe(false);
    } finally {
      await rig.close();
    }
  });

  it('with an https FRAMECAST_PUBLIC_URL the cookies are Secure', async () => {
    const rig = await adminRig(redis, { env: { FRAMECAST_PUBLIC_URL: 'https://framecast.example.com' } });
    try {
      const c = new AdminClient(rig.base);
      const form = await c.request('/admin/login');
      expect(form.headers.getSetCookie().join('\n')).toMatch(/fc_admin_login=[^;]+;.*Secure/);
      const ok = await c.request('/admin/login', { form: { _csrf: AdminClient.csrfOf(await form.text()), who: 'alice', password: ADMIN_PASSWORD } });
      expect(ok.status).toBe(303);
      expect(ok.headers.getSetCookie().find((s) => s.startsWith('fc_admin='))).toMatch(/; Secure/);
    } finally {
      await rig.close();
    }
  });
});

describe('admin console: the review queue with a real worker on the tiny model', () => {
  it('a prompt the lists send to review is rendered, held, played from the console, approved (audited), then succeeded and delivered once', async () => {
    const rig = await adminRig(redis, { worker: true });
    try {
      const c = new AdminClient(rig.base);
      const csrf = await c.login(ADMIN_PASSWORD, 'grace');
      const r = await rig.core.submit(webRequest('/video a documentary about 洗钱 --draft', 'u-review'));
      if (r.status !== 'accepted') throw new Error(`refused: ${JSON.stringify(r)}`);
      expect(r.reviewRequired).toBe(true);
      await awaitState(rig.core, r.jobId, 'review', 90_000);
      const review = await (await c.request('/admin/review')).text();
      expect(review).toContain(r.jobId);
      expect(review).toContain(`src="/admin/media/${r.jobId}/video"`);
      const video = await c.request(`/admin/media/${r.jobId}/video`);
      expect(video.status).toBe(200);
      expect(video.headers.get('content-type')).toBe('video/mp4');
      const bytes = Buffer.from(await video.arrayBuffer());
      expect(bytes.subarray(4, 8).toString('latin1')).toBe('ftyp');
      const part = await c.request(`/admin/media/${r.jobId}/video`, { headers: { Range: 'bytes=0-99' } });
      expect(part.status).toBe(206);
      expect((await part.arrayBuffer()).byteLength).toBe(100);
      expect((await c.request(`/admin/media/${r.jobId}/poster`)).headers.get('content-type')).toBe('image/jpeg');
      // Without a session the video is not served.
      expect((await new AdminClient(rig.base).request(`/admin/media/${r.jobId}/video`)).status).toBe(303);

      const approve = await c.request(`/admin/jobs/${r.jobId}/review`, { form: { decision: 'approve', _csrf: csrf, back: '/admin/review' } });
      expect(approve.headers.get('location')).toBe('/admin/review?notice=notice_done&outcome=approved');
      expect((await rig.core.job(r.jobId))?.state).toBe('succeeded');
      const delivered = await awaitDelivery(rig.core, 'web', r.jobId);
      expect(delivered.outcome.kind).toBe('video');
      // A second click is answered, not applied twice.
      const twice = await c.request(`/admin/jobs/${r.jobId}/review`, { form: { decision: 'approve', _csrf: csrf } });
      expect(twice.headers.get('location')).toBe('/admin/review?notice=notice_failed&outcome=not_in_review');
      expect(await auditActions(rig)).toEqual(expect.arrayContaining([['grace', 'review.approve', r.jobId, 'approved'], ['grace', 'review.approve', r.jobId, 'not_in_review']]));
      expect(await (await c.request('/admin/review')).text()).toContain('No video is waiting for review.');
    } finally {
      await rig.close();
    }
  }, 150_000);

  it('a video the output scan holds (FRAMECAST_NSFW_REVIEW=0: every frame reaches review) is held with its scan report: the queue shows each frame\'s image and scores, the frames are JPEGs behind the login', async () => {
    const rig = await adminRig(redis, { worker: true, env: { FRAMECAST_NSFW_REVIEW: '0', FRAMECAST_NSFW_BLOCK: '1' } });
    try {
      const c = new AdminClient(rig.base);
      const csrf = await c.login(ADMIN_PASSWORD, 'ivan');
      const r = await rig.core.submit(webRequest('/video a lighthouse at dusk --draft', 'u-scan'));
      if (r.status !== 'accepted') throw new Error(`refused: ${JSON.stringify(r)}`);
      // The prompt is fine: the hold is the output scan's.
      expect(r.reviewRequired).toBe(false);
      await awaitState(rig.core, r.jobId, 'review', 90_000);
      const report = parseScanReport((await rig.store.get(scanReportKey(r.jobId))).toString('utf8'));
      if (report === undefined) throw new Error('no valid scan report');
      expect(report).toMatchObject({ version: 1, jobId: r.jobId, verdict: 'review', category: 'nsfw-image', thresholds: { review: { classes: ['Sexy'], min: 0 }, block: { min: 1 } } });
      expect(report.frames.length).toBeGreaterThanOrEqual(2);
      expect(report.frames.length).toBe(Math.min(16, report.scannedFrames));
      expect(report.decidingFrames.length).toBe(2);

      const page = await (await c.request('/admin/review')).text();
      expect(page).toContain(r.jobId);
      expect(page).toContain('Verdict: review');
      expect(page).not.toContain('No output scan report');
      for (const f of report.frames) {
        expect(page).toContain(`src="/admin/media/${r.jobId}/scan/${f.index}"`);
        expect(Object.keys(f.scores)).toEqual(expect.arrayContaining(['Porn', 'Sexy', 'Neutral']));
        for (const [k, v] of Object.entries(f.scores)) expect(page).toContain(`<th scope="row">${k}</th><td>${v.toFixed(3)}</td>`);
      }
      // The job's own page shows the same report.
      const detail = await (await c.request(`/admin/jobs/${r.jobId}`)).text();
      expect(detail).toContain(`src="/admin/media/${r.jobId}/scan/0"`);
      expect(detail).toContain('Verdict: review');
      const zh = await (await c.request('/admin/review?lang=zh-CN')).text();
      expect(zh).toContain('结论：review');

      const img = await c.request(`/admin/media/${r.jobId}/scan/0`);
      expect(img.status).toBe(200);
      expect(img.headers.get('content-type')).toBe('image/jpeg');
      const jpeg = Buffer.from(await img.arrayBuffer());
      expect(jpeg.subarray(0, 3)).toEqual(Buffer.from([0xff, 0xd8, 0xff]));
      expect((await c.request(`/admin/media/${r.jobId}/scan/${report.frames.length}`)).status).toBe(404);
      expect((await c.request(`/admin/media/${r.jobId}/scan/x`)).status).toBe(404);
      // Without a session no frame is served.
      const anon = await new AdminClient(rig.base).request(`/admin/media/${r.jobId}/scan/0`);
      expect(anon.status).toBe(303);
      expect(anon.headers.get('location')).toBe('/admin/login');

      const reject = await c.request(`/admin/jobs/${r.jobId}/review`, { form: { decision: 'reject', _csrf: csrf, back: '/admin/review' } });
      expect(reject.headers.get('location')).toBe('/admin/review?notice=notice_done&outcome=rejected');
      expect((await rig.core.job(r.jobId))?.state).toBe('blocked');
    } finally {
      await rig.close();
    }
  }, 150_000);
});
