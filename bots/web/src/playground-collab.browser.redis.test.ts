import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, screenshot } from '../../../test/support/browser.ts';
import { gradientPng } from './testing/gradient-png.ts';
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

const text = (selector: string): boolean => /./.test(document.querySelector<{ textContent: string }>(selector)?.textContent ?? '');

// About 30–60 s on an idle 2-core machine (two draft shots and the stitch); the limit leaves room for a busy one.
describe('a storyboard in the playground, two browsers', { timeout: 180_000 }, () => {
  it('Alice starts a board with its form and shares the link; Bob adds a shot with an image and votes with the buttons; Alice renders with the button and her history plays the video', async () => {
    const alice = await open('/');
    await alice.waitForSelector('#board-link[data-board]');
    // No board yet: the start form, with a label on every field.
    await alice.waitForSelector('#board-start:not([hidden])');
    for (const id of ['board-theme', 'board-style', 'board-aspect', 'board-duration', 'board-draft']) expect(await alice.locator(`label[for="${id}"]`).count()).toBe(1);
    await alice.fill('#name', 'Alice');
    await alice.fill('#board-theme', 'a day at the sea');
    await alice.fill('#board-duration', '1');
    await alice.press('#board-theme', 'Enter');
    await alice.waitForFunction(() => /a day at the sea/.test(document.querySelector<{ textContent: string }>('#board-meta')?.textContent ?? ''));
    expect(await alice.isHidden('#board-start')).toBe(true);
    expect(await alice.isVisible('#board-starter')).toBe(true);
    const link = (await alice.getAttribute('#board-link', 'href')) ?? '';
    expect(link).toMatch(/^\/\?board=[A-Za-z0-9_-]+$/);
    // The page's own address names the board too (a reload stays on it).
    expect(new URL(alice.url()).search).toBe(link.slice(1));

    const bob = await open(link);
    await bob.waitForSelector('#board-add:not([hidden])');
    expect(await bob.isHidden('#board-starter')).toBe(true);
    await bob.fill('#name', 'Bob');
    await bob.fill('#shot-text', 'gulls over the waves');
    await bob.setInputFiles('#shot-image', { name: 'gulls.png', mimeType: 'image/png', buffer: gradientPng(160, 96, [40, 120, 220], [240, 240, 250]) });
    await bob.press('#shot-text', 'Enter');
    await bob.waitForSelector('#board-shots li[data-n="1"]');
    expect(await bob.textContent('#board-shots li[data-n="1"]')).toContain('Bob: gulls over the waves (0 votes) [with image]');
    // His own shot has Edit and Remove; the form is empty again.
    expect(await bob.locator('#board-shots li[data-n="1"] button.edit').count()).toBe(1);
    expect(await bob.inputValue('#shot-text')).toBe('');
    // Edit in place: Enter saves.
    await bob.click('#board-shots li[data-n="1"] button.edit');
    await bob.fill('#shot-edit-1', 'gulls over the waves at dawn');
    await bob.press('#shot-edit-1', 'Enter');
    await bob.waitForFunction(() => /waves at dawn \(0 votes\)/.test(document.querySelector<{ textContent: string }>('#board-shots li[data-n="1"]')?.textContent ?? ''));
    // A blocked line is refused to Bob alone and never reaches the board.
    await bob.fill('#shot-text', '一段屠杀平民的视频');
    await bob.click('#shot-submit');
    await bob.waitForFunction(text, '#board-error');
    await say(alice, '+ children build a sandcastle');
    await alice.waitForSelector('#board-shots li[data-n="2"]');
    expect(await alice.locator('#board-shots li[data-n="2"] button.edit').count()).toBe(1);
    expect(await alice.locator('#board-shots li[data-n="1"] button.edit').count()).toBe(0);
    await bob.waitForSelector('#board-shots li[data-n="2"]', { timeout: 15_000 });
    expect(await bob.locator('#board-shots li[data-n="2"] button.edit').count()).toBe(0);
    // By keyboard: the vote button takes Enter; once voted it is disabled and the focus moves on to the shot form.
    await bob.focus('#board-shots li[data-n="2"] button.vote');
    await bob.keyboard.press('Enter');
    await bob.waitForSelector('#board-shots li[data-n="2"] button.vote[aria-pressed="true"][disabled]');
    await bob.waitForFunction(() => (document as unknown as { activeElement: { id: string } | null }).activeElement?.id === 'shot-text');
    expect(await bob.textContent('#board-shots li[data-n="2"]')).toContain('(1 votes)');
    // Taken back with its own button (the focus goes back to the vote), then given again by keyboard.
    await bob.click('#board-shots li[data-n="2"] button.unvote');
    await bob.waitForSelector('#board-shots li[data-n="2"] button.vote[aria-pressed="false"]:not([disabled])');
    expect(await bob.textContent('#board-shots li[data-n="2"]')).toContain('(0 votes)');
    expect(await bob.locator('#board-shots li[data-n="2"] button.unvote').count()).toBe(0);
    await bob.waitForFunction(() => (document as unknown as { activeElement: { className: string } | null }).activeElement?.className === 'vote');
    await bob.keyboard.press('Enter');
    await bob.waitForSelector('#board-shots li[data-n="2"] button.vote[aria-pressed="true"][disabled]');
    expect(await bob.textContent('#board-shots li[data-n="2"]')).toContain('(1 votes)');
    // Alice's page follows the board by itself (Bob's shot and vote; never his blocked line).
    await alice.waitForFunction(() => /\(1 votes\)/.test(document.querySelector<{ textContent: string }>('#board-shots li[data-n="2"]')?.textContent ?? ''), undefined, { timeout: 15_000 });
    expect(await alice.textContent('#board-shots li[data-n="1"]')).toContain('Bob: gulls over the waves at dawn');
    expect(await alice.locator('#board-shots li').count()).toBe(2);
    expect(await alice.textContent('#board-error')).toBe('');
    await screenshot(bob, 'collab-board-bob');

    // Bob may not render (the typed command says so); Alice sees the cost and time first, then renders.
    await say(bob, '/video collab render');
    await bob.waitForFunction(() => /starter/.test(document.querySelector<{ textContent: string }>('#form-error')?.textContent ?? ''));
    // The starter locks (no more shots or votes) and unlocks again.
    await alice.click('#board-lock');
    await alice.waitForSelector('#board-unlock:not([hidden])');
    expect(await alice.isHidden('#board-add')).toBe(true);
    expect(await alice.locator('#board-shots button.vote').count()).toBe(0);
    await alice.click('#board-unlock');
    await alice.waitForSelector('#board-add:not([hidden])');
    await alice.click('#board-render');
    await alice.waitForSelector('#board-confirm:not([hidden])');
    expect(await alice.textContent('#board-confirm-text')).toMatch(/Render 2 shots for \d+ credits \(\d+ from you\), about /);
    await screenshot(alice, 'collab-render-confirm-alice');
    await alice.click('#board-render-confirm');
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
