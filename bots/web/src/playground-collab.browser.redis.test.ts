import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, screenshot } from '../../../test/support/browser.ts';
import { startPlaygroundRig, type PlaygroundRig } from './testing/playground-rig.ts';

// The page's globals as the callbacks below use them (they run in the browser; the repository's
// TypeScript has no DOM library). Module-scoped: nothing global is declared.
interface PageVideo { readyState: number; videoWidth: number }
declare const document: { querySelector<T>(selector: string): T | null };

let rig: PlaygroundRig;
let browser: Browser;
const contexts: BrowserContext[] = [];
const pageErrors: string[] = [];

beforeAll(async () => {
  [rig, browser] = await Promise.all([startPlaygroundRig({ env: { FRAMECAST_STEPS: '2', FRAMECAST_COLLAB_TRANSITION_SECONDS: '0.5' } }), launchChromium()]);
}, 120_000);
afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  await rig?.close();
});

async function open(path: string): Promise<Page> {
  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1100, height: 900 } });
  contexts.push(context);
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) pageErrors.push(m.text());
  });
  await page.goto(`${rig.baseUrl}${path}`);
  await page.waitForSelector('body[data-ready="1"]');
  return page;
}

async function say(page: Page, text: string, name?: string): Promise<void> {
  if (name !== undefined) await page.fill('#name', name);
  await page.fill('#command', text);
  await page.press('#command', 'Enter');
}

// About 30–60 s on an idle 2-core machine (two draft shots and the stitch); the limit leaves room for a busy one.
describe('a storyboard in the playground, two browsers', { timeout: 180_000 }, () => {
  it('Alice shares her board\'s link, Bob joins and adds a shot, both see it, and Alice\'s history plays the video', async () => {
    const alice = await open('/');
    await alice.waitForSelector('#board-link[data-board]');
    await say(alice, '/video collab start a day at the sea --draft --duration 1 --seed 7', 'Alice');
    await alice.waitForFunction(() => /a day at the sea/.test(document.querySelector<{ textContent: string }>('#board-meta')?.textContent ?? ''));
    const link = (await alice.getAttribute('#board-link', 'href')) ?? '';
    expect(link).toMatch(/^\/\?board=[A-Za-z0-9_-]+$/);

    const bob = await open(link);
    await say(bob, '/video add gulls over the waves', 'Bob');
    await bob.waitForSelector('#board-shots li[data-n="1"]');
    expect(await bob.textContent('#board-shots li[data-n="1"]')).toContain('Bob: gulls over the waves');
    await say(alice, '+ children build a sandcastle');
    await alice.waitForSelector('#board-shots li[data-n="2"]');
    await say(bob, 'vote 2');
    await bob.waitForFunction(() => /\(1 votes\)/.test(document.querySelector<{ textContent: string }>('#board-shots li[data-n="2"]')?.textContent ?? ''));
    // Alice's page follows the board by itself (Bob's shot and vote).
    await alice.waitForFunction(() => /Bob: gulls/.test(document.querySelector<{ textContent: string }>('#board-shots li[data-n="1"]')?.textContent ?? ''), undefined, { timeout: 15_000 });
    await screenshot(bob, 'collab-board-bob');

    // Bob may not render; Alice does, and the video plays in her history.
    await say(bob, '/video collab render');
    await bob.waitForFunction(() => /starter/.test(document.querySelector<{ textContent: string }>('#form-error')?.textContent ?? ''));
    await say(alice, '/video collab render');
    await alice.waitForSelector('#jobs li.job');
    await alice.waitForFunction(() => {
      const v = document.querySelector<PageVideo>('#jobs li.job video');
      return v !== null && v.readyState >= 2 && v.videoWidth > 0;
    }, undefined, { timeout: 150_000, polling: 500 });
    await screenshot(alice, 'collab-rendered-alice');
    expect(await bob.locator('#jobs li.job').count()).toBe(0);
    expect(pageErrors).toEqual([]);
  });
});
