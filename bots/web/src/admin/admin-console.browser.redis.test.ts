import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, screenshot } from '../../../../test/support/browser.ts';
import { awaitState } from '../../../../test/support/e2e.ts';
import { testRedis } from '../../../../test/support/redis.ts';
import { adminRig, ADMIN_PASSWORD, type AdminRig } from '../testing/admin-rig.ts';
import { wechatLoginKey } from './wechat-login.ts';

// The page's globals as the callbacks below use them (they run in the browser; the repository's
// TypeScript has no DOM library).
interface PageElement { id: string; type?: string; remove(): void }
interface PageVideo { readyState: number; videoWidth: number; error: { code: number } | null }
declare const document: {
  querySelector<T = PageElement>(selector: string): T | null;
  querySelectorAll(selector: string): ArrayLike<PageElement>;
};

// Headless Chromium against the admin console and the playground on one real HTTP server, with
// real Redis and a tiny-model worker. Screenshots of each admin page go to .tmp/screenshots/.

let redis: Redis;
let rig: AdminRig;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  redis = testRedis();
  [rig, browser] = await Promise.all([adminRig(redis, { worker: true, playground: true }), launchChromium()]);
});
afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  await rig?.close();
  await redis?.quit();
});

async function newPage(locale = 'en-US'): Promise<Page> {
  const context = await browser.newContext({ locale, viewport: { width: 1200, height: 900 } });
  contexts.push(context);
  const page = await context.newPage();
  page.on('pageerror', (err) => {
    throw err;
  });
  return page;
}

/** Inputs and selects a person fills in (not hidden fields) that have no <label for>. */
async function unlabelled(page: Page): Promise<number> {
  return page.evaluate(() =>
    Array.from(document.querySelectorAll('input, select, textarea')).filter((e) => e.type !== 'hidden' && (e.id === '' || document.querySelector(`label[for="${e.id}"]`) === null)).length);
}

const JOB_TIMEOUT = 120_000;

describe('the admin console in a browser', () => {
  let admin: Page;

  it('refuses a wrong password, then signs in with the right one', async () => {
    admin = await newPage();
    await admin.goto(`${rig.base}/admin`);
    expect(new URL(admin.url()).pathname).toBe('/admin/login');
    expect(await unlabelled(admin)).toBe(0);
    await screenshot(admin, 'admin-1-login');

    await admin.fill('#password', 'definitely not it');
    const [wrong] = await Promise.all([admin.waitForResponse((r) => r.url().endsWith('/admin/login') && r.request().method() === 'POST'), admin.press('#password', 'Enter')]);
    expect(wrong.status()).toBe(401);
    expect(await admin.textContent('[role=alert]')).toContain('Wrong name or password.');
    await screenshot(admin, 'admin-2-login-refused');

    await admin.fill('#who', 'operator');
    await admin.fill('#password', ADMIN_PASSWORD);
    await Promise.all([admin.waitForURL(`${rig.base}/admin`), admin.click('button[type=submit]')]);
    expect(await admin.textContent('header')).toContain('Signed in as operator');
    await screenshot(admin, 'admin-3-overview');
  }, 60_000);

  it('approves a held video, which the user\'s playground page then plays', async () => {
    // The user asks in the playground for a video the keyword lists send to review.
    const user = await newPage();
    await user.goto(`${rig.base}/`);
    await user.waitForSelector('body[data-ready="1"]');
    await user.focus('#command');
    await user.keyboard.type('/video a documentary about 洗钱 --draft --seed 5');
    await user.keyboard.press('Enter');
    const card = user.locator('li.job').first();
    await card.waitFor();
    const jobId = (await card.getAttribute('data-job')) ?? '';
    expect(jobId).not.toBe('');
    await awaitState(rig.core, jobId, 'review', JOB_TIMEOUT);
    await screenshot(user, 'admin-4-user-waiting-for-review');
    expect(await user.locator(`#job-${jobId} video`).count()).toBe(0);

    // The admin plays it in the review queue and approves it.
    await admin.goto(`${rig.base}/admin/review`);
    const section = admin.locator('section', { has: admin.locator(`#h-${jobId}`) });
    await section.waitFor();
    const ready = await admin.waitForFunction(() => {
      const v = document.querySelector<PageVideo>('section video');
      return v !== null && v.readyState >= 2 ? { readyState: v.readyState, width: v.videoWidth, error: v.error?.code ?? null } : false;
    }, undefined, { timeout: 30_000 });
    const played = (await ready.jsonValue()) as { readyState: number; width: number; error: number | null };
    expect(played.width).toBeGreaterThan(0);
    expect(played.error).toBeNull();
    // The output scan's frames, each an image (loaded under the page's CSP) with its scores.
    const frameImg = section.locator('.scan-frame img').first();
    await frameImg.scrollIntoViewIfNeeded();
    await admin.waitForFunction(() => {
      const img = document.querySelector<{ complete: boolean; naturalWidth: number }>('section .scan-frame img');
      return img !== null && img.complete && img.naturalWidth > 0;
    }, undefined, { timeout: 30_000 });
    expect(await section.locator('.scan-frame table.scores').count()).toBeGreaterThanOrEqual(2);
    expect(await section.locator('.scan-verdict').textContent()).toBe('Verdict: allow');
    await screenshot(admin, 'admin-5-review-queue');
    await Promise.all([admin.waitForURL(/\/admin\/review\?notice=notice_done/), section.getByRole('button', { name: 'Approve and send' }).click()]);
    expect(await admin.textContent('[role=status]')).toContain('Done.');
    await screenshot(admin, 'admin-6-approved');

    expect((await rig.core.job(jobId))?.state).toBe('succeeded');
    // The user's page shows the video (over its event stream, or after a reload at worst).
    await user.waitForSelector(`#job-${jobId} video`, { timeout: 60_000 });
    await screenshot(user, 'admin-7-user-sees-approved-video');

    // The job's own page says so, and the audit log has the approval.
    await admin.goto(`${rig.base}/admin/jobs/${jobId}`);
    expect(await admin.textContent('.state')).toBe('succeeded');
    await screenshot(admin, 'admin-8-job');
    await admin.goto(`${rig.base}/admin/audit`);
    const audit = await admin.locator('table').innerText();
    expect(audit).toMatch(new RegExp(`operator\\s+review\\.approve\\s+${jobId}\\s+approved`));
    await screenshot(admin, 'admin-9-audit');
  }, 240_000);

  it('refuses a form whose CSRF token was removed (403) and changes nothing', async () => {
    await admin.goto(`${rig.base}/admin/users?user=web%3Acsrf-victim`);
    expect(await unlabelled(admin)).toBe(0);
    await screenshot(admin, 'admin-10-users');
    const before = (await rig.core.quota.show('web:csrf-victim')).bonus;
    await admin.evaluate(() => document.querySelector('form[action="/admin/users/grant"] input[name="_csrf"]')?.remove());
    const [res] = await Promise.all([
      admin.waitForResponse((r) => r.url().endsWith('/admin/users/grant')),
      admin.locator('form[action="/admin/users/grant"] button[type=submit]').click(),
    ]);
    expect(res.status()).toBe(403);
    await admin.waitForSelector('.notice.error');
    expect(await admin.textContent('.notice.error')).toContain('security token');
    expect((await rig.core.quota.show('web:csrf-victim')).bonus).toBe(before);
    await screenshot(admin, 'admin-11-csrf-refused');
  });

  it('shows every section (screenshots), with a label on every input, in English and Chinese', async () => {
    await redis.hset(wechatLoginKey(rig.config.keyPrefix), { status: 'scan', qrcode: 'https://login.weixin.qq.com/l/framecast-test', updatedAt: String(Date.now()) });
    const pages: Array<[string, string]> = [
      ['/admin/jobs?state=succeeded', 'admin-12-jobs'],
      ['/admin/moderation', 'admin-13-moderation'],
      ['/admin/queues-stats', 'admin-14-queues'],
      ['/admin/wechat', 'admin-15-wechat'],
      ['/admin?lang=zh-CN', 'admin-16-overview-zh'],
      ['/admin/review', 'admin-17-review-empty-zh'],
    ];
    for (const [p, name] of pages) {
      await admin.goto(`${rig.base}${p}`);
      expect(await unlabelled(admin), p).toBe(0);
      await screenshot(admin, name);
    }
    expect(await admin.getAttribute('html', 'lang')).toBe('zh-CN');
    expect(await admin.textContent('main')).toContain('没有等待审核的视频');
    // The QR code is an image with a text alternative.
    await admin.goto(`${rig.base}/admin/wechat?lang=en`);
    const qr = admin.locator('img.qr');
    expect(await qr.getAttribute('alt')).toBe('WeChat login QR code');
    expect(await qr.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)).toBeGreaterThan(0);

    // bull-board, behind the same sign-in.
    await admin.goto(`${rig.base}/admin/queues`);
    await admin.waitForSelector('text=generate', { timeout: 30_000 });
    await screenshot(admin, 'admin-18-bull-board');
  }, 90_000);
});
