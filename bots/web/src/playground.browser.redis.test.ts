import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, screenshot } from '../../../test/support/browser.ts';
import { waitFor } from '../../../test/support/e2e.ts';
import { gradientPng } from './testing/gradient-png.ts';
import { startPlaygroundRig, type PlaygroundRig } from './testing/playground-rig.ts';

// The page's globals as the callbacks below use them (they run in the browser; the repository's
// TypeScript has no DOM library). Module-scoped: nothing global is declared.
interface PageElement { id: string; textContent: string | null }
interface PageVideo extends PageElement { readyState: number; videoWidth: number; error: { code: number } | null }
declare const document: {
  getElementById(id: string): PageElement | null;
  querySelector<T = PageElement>(selector: string): T | null;
  querySelectorAll(selector: string): ArrayLike<PageElement>;
};
declare class DataTransfer {
  items: { add(file: unknown): void };
}

// Headless Chromium (Debian's, through playwright-core) against the playground on a real HTTP
// server, Redis and a tiny-model worker. Screenshots of each state go to .tmp/screenshots/.

let rig: PlaygroundRig;
let browser: Browser;
const contexts: BrowserContext[] = [];
/** Script errors and CSP refusals on any page: none expected. */
const pageErrors: string[] = [];

beforeAll(async () => {
  // The image limit of the default 1 MiB body limit less the form's room (0.9 MB): a phone photo is made smaller in the page.
  [rig, browser] = await Promise.all([startPlaygroundRig({ maxImageBytes: 1024 * 1024 - 64 * 1024 }), launchChromium()]);
});
afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  await rig?.close();
});

async function openPlayground(locale: string): Promise<Page> {
  const context = await browser.newContext({ locale, viewport: { width: 1100, height: 900 } });
  contexts.push(context);
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(`${locale}: ${err.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) pageErrors.push(`${locale}: ${m.text()}`);
  });
  await page.goto(`${rig.baseUrl}/`);
  await page.waitForSelector('body[data-ready="1"]');
  return page;
}

const JOB_TIMEOUT = 120_000;

describe('the playground in a browser', () => {
  let jobId = '';
  let bobJobId = '';
  let alice: Page;
  let bob: Page;

  it('makes a video from a prompt and a dropped image, submitted with Enter, and plays it', async () => {
    const t0 = Date.now();
    // The worker takes no job until both users' jobs wait in line (their places are then known).
    // A worker paused while it blocks for the next job still takes that one: wait for its fetch loop to end.
    const paused = rig.worker.worker.pause();
    alice = await openPlayground('en-US');
    expect(await alice.getAttribute('html', 'lang')).toBe('en');
    await screenshot(alice, 'playground-1-empty');

    // Drag and drop an image onto the drop zone (a DataTransfer holding a File, as a real drop carries).
    const png = gradientPng(160, 96, [220, 120, 40], [30, 60, 200]).toString('base64');
    const dataTransfer = await alice.evaluateHandle((b64) => {
      const bin = atob(b64);
      const bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], 'sunset.png', { type: 'image/png' }));
      return dt;
    }, png);
    await alice.dispatchEvent('#drop', 'dragover', { dataTransfer });
    await alice.dispatchEvent('#drop', 'drop', { dataTransfer });
    await alice.waitForSelector('#image-preview:not([hidden])');

    // Every status line the job's card shows, in order (the DOM moves on faster than screenshots).
    await alice.evaluate(`(() => {
      const seen = [];
      window.fcStatuses = seen;
      new MutationObserver(() => {
        for (const s of document.querySelectorAll('#jobs .status')) {
          const t = s.textContent;
          if (t && seen[seen.length - 1] !== t) seen.push(t);
        }
      }).observe(document.getElementById('jobs'), { subtree: true, childList: true, characterData: true });
    })()`);

    // Keyboard only: focus the command, type, Enter.
    await alice.focus('#command');
    await alice.keyboard.type('/video a paper boat drifting on a rainy street --draft --seed 11');
    await screenshot(alice, 'playground-2-composed');
    await paused;
    await waitFor(async () => (rig.worker.worker.isRunning() ? undefined : true), 30_000, 'the worker\'s fetch loop to end');
    await alice.keyboard.press('Enter');
    const card = alice.locator('li.job').first();
    await card.waitFor();
    jobId = (await card.getAttribute('data-job')) ?? '';
    expect(jobId).not.toBe('');
    expect(await alice.inputValue('#command')).toBe('');
    expect(await alice.isHidden('#image-preview')).toBe(true);

    // A second browser context is a second user: its job waits behind the first one, with its place
    // in line, and its own Cancel button takes it out of the line (refunded).
    await alice.waitForFunction((id) => /^Queued: position 1, about \d+ (s|min)\.$/.test(document.getElementById(`status-${id}`)?.textContent ?? ''), jobId);
    bob = await openPlayground('en-US');
    await bob.fill('#command', '/video a kite over the dunes --draft');
    await bob.press('#command', 'Enter');
    const bobCard = bob.locator('li.job').first();
    await bobCard.waitFor();
    bobJobId = (await bobCard.getAttribute('data-job')) ?? '';
    try {
      await bob.waitForFunction((id) => /^Queued: position 2, about \d+ (s|min)\.$/.test(document.getElementById(`status-${id}`)?.textContent ?? ''), bobJobId, { timeout: 30_000 });
      await screenshot(bob, 'playground-3-queued');
      await bob.click(`#job-${bobJobId} button.cancel`);
      await bob.waitForFunction((id) => document.getElementById(`status-${id}`)?.textContent === 'Cancelled.', bobJobId, { timeout: 30_000 });
      expect((await rig.core.job(bobJobId))?.state).toBe('cancelled');
    } finally {
      rig.worker.worker.resume();
    }
    // Refunded: the credits line is whole again.
    await bob.waitForFunction(() => /^Credits today: 1000 left of 1000\.$/.test(document.getElementById('credits')?.textContent ?? ''), undefined, { timeout: 15_000 });
    await screenshot(bob, 'playground-4-cancelled');

    // Progress: a step n/total (it may pass in a blink on the tiny model), then the bar and the latent
    // preview stay up while the video is encoded and checked.
    // (A function, not a string: a string predicate is evaluated with eval, which the page's CSP refuses.)
    await alice.waitForFunction(() => ((globalThis as { fcStatuses?: string[] }).fcStatuses ?? []).some((t) => /^Step \d+\/\d+$/.test(t)), undefined, { timeout: JOB_TIMEOUT });
    if (await alice.isVisible(`#job-${jobId} .bar`)) await screenshot(alice, 'playground-5-progress');

    // The video plays inline: the element has data for the current frame at least.
    await alice.waitForSelector(`#job-${jobId} video`, { timeout: JOB_TIMEOUT });
    const ready = await alice.waitForFunction((id) => {
      const v = document.querySelector<PageVideo>(`#job-${id} video`);
      return v !== null && v.readyState >= 2 ? { readyState: v.readyState, width: v.videoWidth, error: v.error?.code ?? null } : false;
    }, jobId, { timeout: 30_000 });
    const state = (await ready.jsonValue()) as { readyState: number; width: number; error: number | null };
    expect(state.readyState).toBeGreaterThanOrEqual(2);
    expect(state.width).toBeGreaterThan(0);
    expect(state.error).toBeNull();
    const buttons = await alice.locator(`#job-${jobId} .actions`).innerText();
    expect(buttons).toContain('Reroll');
    expect(buttons).toContain('Upscale to final');
    expect(buttons).toContain('Download');
    expect(await alice.locator(`#job-${jobId} .meta`).innerText()).toContain('seed 11');
    await screenshot(alice, 'playground-6-video');
    const statuses = (await alice.evaluate('window.fcStatuses')) as string[];
    expect(statuses.some((t) => /^Step \d+\/\d+$/.test(t))).toBe(true);
    expect(statuses.at(-1)).toBe('Done.');
    console.log(`[playground] statuses seen: ${JSON.stringify(statuses)}; video after ${Date.now() - t0} ms`);

    // Every form control has a label.
    const unlabelled = await alice.evaluate(() =>
      Array.from(document.querySelectorAll('input, textarea, select')).filter((e) => e.id === '' || document.querySelector(`label[for="${e.id}"]`) === null).length);
    expect(unlabelled).toBe(0);
  }, 180_000);

  it('shows an invalid command\'s error in the page\'s language, in English and in Chinese', async () => {
    await alice.fill('#command', '/video a lighthouse --ar 5:4');
    await alice.click('#submit');
    await alice.waitForFunction(() => (document.getElementById('form-error')?.textContent ?? '') !== '');
    const en = await alice.textContent('#form-error');
    expect(en).toMatch(/5:4/);
    expect(en).not.toMatch(/[\u4e00-\u9fff]/);
    await screenshot(alice, 'playground-7-error-en');

    const zh = await openPlayground('zh-CN');
    expect(await zh.getAttribute('html', 'lang')).toBe('zh-CN');
    await zh.fill('#command', '/视频 灯塔 --ar 5:4');
    await zh.press('#command', 'Enter');
    await zh.waitForFunction(() => (document.getElementById('form-error')?.textContent ?? '') !== '');
    expect(await zh.textContent('#form-error')).toMatch(/[\u4e00-\u9fff]/);
    await screenshot(zh, 'playground-8-error-zh');
    // The switch: English on the same browser.
    await zh.click('#lang-en');
    await zh.waitForSelector('body[data-ready="1"]');
    expect(await zh.getAttribute('html', 'lang')).toBe('en');
  });

  it('gives a second browser context its own user: each sees only its own jobs', async () => {
    await bob.reload();
    await bob.waitForSelector('body[data-ready="1"]');
    expect(await bob.locator('li.job').count()).toBe(1);
    expect(await bob.locator('li.job').first().getAttribute('data-job')).toBe(bobJobId);
    expect(await alice.locator(`#job-${bobJobId}`).count()).toBe(0);
    const status = await bob.evaluate(async (id) => (await fetch(`/api/web/jobs/${id}`)).status, jobId);
    expect(status).toBe(404);
    const videoStatus = await bob.evaluate(async (id) => (await fetch(`/api/web/jobs/${id}/video`)).status, jobId);
    expect(videoStatus).toBe(404);
    await screenshot(bob, 'playground-9-second-user');

    // A photo over the upload limit (0.9 MB under the default body limit) is made smaller in the page.
    const big = gradientPng(900, 600, [10, 200, 90], [240, 40, 160], 40);
    expect(big.length).toBeGreaterThan(1024 * 1024);
    await bob.setInputFiles('#image', { name: 'big.png', mimeType: 'image/png', buffer: big });
    await bob.waitForSelector('#image-preview:not([hidden])');
    expect(await bob.textContent('#image-note')).toMatch(/\d+\.\d+ MB/);
    expect(await bob.textContent('#form-error')).toBe('');
    await screenshot(bob, 'playground-10-image-resized');

    // The first user's history survives a reload.
    await alice.reload();
    await alice.waitForSelector(`#job-${jobId} video`);
    expect(pageErrors).toEqual([]);
  });
});
