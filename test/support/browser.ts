import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

/**
 * Launches Debian's headless Chromium through playwright-core (nothing is downloaded).
 * CHROMIUM_PATH overrides the binary; --no-sandbox because CI and test containers run as root.
 */
export async function launchChromium(): Promise<Browser> {
  const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) {
    throw new Error(`no Chromium at ${executablePath}: the browser tests drive Debian's chromium package — run \`node scripts/setup.mjs --test\` (as root it installs it) or set CHROMIUM_PATH`);
  }
  return chromium.launch({ executablePath, headless: true, args: ['--no-sandbox'] });
}

/** Where the browser tests leave their screenshots: .tmp/screenshots under the repository root. */
export const SCREENSHOT_DIR = path.resolve(import.meta.dirname, '..', '..', '.tmp', 'screenshots');

/** Saves a full-page screenshot of the page's current state as .tmp/screenshots/<name>.png; returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  if (!/^[A-Za-z0-9._-]{1,100}$/.test(name)) throw new Error(`bad screenshot name: ${name}`);
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
