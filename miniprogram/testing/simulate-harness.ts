import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import simulate from 'miniprogram-simulate';
import ts from 'typescript';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { FakeMpApi } from './fake-mp-api.ts';
import { FakeWx } from './fake-wx.ts';

/**
 * Runs the mini program's pages under miniprogram-simulate: its TypeScript is compiled the way
 * WeChat DevTools does (to CommonJS, file by file) into a temporary folder next to the .wxml,
 * .wxss and .json, `wx` is replaced by FakeWx talking to a FakeMpApi over HTTP, and each page is
 * loaded, rendered and attached like the framework would, its onLoad/onShow called in order.
 */

export const SRC = join(dirname(fileURLToPath(import.meta.url)), '..', 'src');
const ASSETS = new Set(['.wxml', '.wxss', '.json']);

/** Compiles src/ into a fresh folder and returns it. */
export function compileMiniprogram(src: string = SRC): string {
  const out = mkdtempSync(join(tmpdir(), 'framecast-mp-'));
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      const target = join(out, relative(src, path));
      if (entry.isDirectory()) {
        mkdirSync(target, { recursive: true });
        walk(path);
      } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
        const { outputText, diagnostics } = ts.transpileModule(readFileSync(path, 'utf8'), {
          fileName: path,
          reportDiagnostics: true,
          compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2020, isolatedModules: true },
        });
        if (diagnostics && diagnostics.length > 0) throw new Error(`cannot compile ${path}: ${ts.flattenDiagnosticMessageText(diagnostics[0]?.messageText ?? '', '\n')}`);
        writeFileSync(target.replace(/\.ts$/, '.js'), outputText);
      } else if (ASSETS.has(entry.name.slice(entry.name.lastIndexOf('.')))) {
        copyFileSync(path, target);
      }
    }
  };
  walk(src);
  return out;
}

type Method = (...args: unknown[]) => unknown;
type Props = WechatMiniprogram.Component.PropertyOption;
type Root = simulate.RootComponent<Record<string, unknown>, Props, Record<string, Method>>;
type Node = simulate.Component<Record<string, unknown>, Props, Record<string, Method>>;

/** A rendered page or component. */
export class SimPage {
  constructor(readonly root: Root) {}

  get data(): Record<string, unknown> {
    return this.root.data as Record<string, unknown>;
  }

  /** Calls a method of the page (the framework's lifecycle calls, `onShareAppMessage`). */
  call(name: string, ...args: unknown[]): unknown {
    const fn = (this.root.instance as unknown as Record<string, unknown>)[name];
    if (typeof fn !== 'function') throw new Error(`no method ${name}`);
    return (fn as Method).apply(this.root.instance, args);
  }

  /** Calls a page lifecycle method when the page has it (the framework does the same). */
  lifecycle(name: 'onLoad' | 'onShow' | 'onHide' | 'onUnload', ...args: unknown[]): void {
    const fn = (this.root.instance as unknown as Record<string, unknown>)[name];
    if (typeof fn === 'function') (fn as Method).apply(this.root.instance, args);
  }

  all(selector: string): Node[] {
    return this.root.querySelectorAll(selector);
  }

  one(selector: string, index = 0): Node {
    const found = this.all(selector)[index];
    if (!found) throw new Error(`no element ${selector}[${index}] in:\n${this.html()}`);
    return found;
  }

  exists(selector: string): boolean {
    return this.all(selector).length > 0;
  }

  text(selector: string, index = 0): string {
    return (this.one(selector, index).dom?.textContent ?? '').trim();
  }

  /** All the page's visible text. */
  allText(): string {
    return (this.root.dom?.textContent ?? '').replace(/\s+/g, ' ').trim();
  }

  html(): string {
    return this.root.dom?.innerHTML ?? '';
  }

  /** Taps an element; resolves once the handler has run its synchronous part (events are dispatched asynchronously). */
  async tap(selector: string, index = 0): Promise<void> {
    this.one(selector, index).dispatchEvent('tap');
    await simulate.sleep(0);
  }

  /** An event with a detail, as an input, a picker or a slider sends it. */
  async fire(selector: string, event: string, detail: Record<string, unknown>, index = 0): Promise<void> {
    this.one(selector, index).dispatchEvent(event, { detail });
    await simulate.sleep(0);
  }

  detach(): void {
    this.root.detach();
  }
}

export async function waitFor(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await simulate.sleep(10);
  }
}

/** One mini program under test: compiled sources, a fake API on a socket, a fake wx. */
export class MiniprogramHarness {
  readonly require: NodeJS.Require;
  private readonly pages: SimPage[] = [];
  private users = 0;

  private constructor(readonly dir: string, readonly server: FakeMpApi, readonly wx: FakeWx) {
    this.require = createRequire(join(dir, 'app.js'));
  }

  static async start(): Promise<MiniprogramHarness> {
    const dir = compileMiniprogram();
    const server = new FakeMpApi();
    await server.start();
    const fake = new FakeWx();
    Object.assign((globalThis as unknown as { wx: object }).wx, fake.api());
    const harness = new MiniprogramHarness(dir, server, fake);
    harness.config().configure({ pollIntervalMs: 20 });
    return harness;
  }

  /** A compiled module of the mini program (the same instance the pages use). */
  module<T>(path: string): T {
    return this.require(join(this.dir, path)) as T;
  }

  config(): { configure(changes: Record<string, number | string>): void; API_BASE_URL_STORAGE_KEY: string } {
    return this.module('config.js');
  }

  i18n(): { setLang(lang: string): void; getLang(): string } {
    return this.module('i18n/index.js');
  }

  client(): { api: { logout(): void; isLoggedIn(): boolean } } {
    return this.module('api/client.js');
  }

  /** Where the pages' API calls go: the fake API unless a test points them at a real server. */
  apiBaseUrl = '';

  /** A fresh user with no session, zh-CN, pointed at the API. */
  newUser(name = 'user'): string {
    const user = `${name}-${++this.users}`;
    this.wx.user = user;
    this.wx.storage.clear();
    this.wx.storage.set(this.config().API_BASE_URL_STORAGE_KEY, this.apiBaseUrl || this.server.baseUrl);
    this.client().api.logout();
    this.i18n().setLang('zh-CN');
    this.wx.reset();
    return user;
  }

  /** Loads, renders and attaches a page (`create`, `videos`, `gallery`, `me`), then onLoad and onShow. */
  page(name: string, query: Record<string, string> = {}): SimPage {
    const page = this.component(`pages/${name}/${name}`);
    page.lifecycle('onLoad', query);
    page.lifecycle('onShow');
    return page;
  }

  component(path: string, props?: Record<string, unknown>): SimPage {
    const id = simulate.load(join(this.dir, path), { compiler: 'simulate', rootPath: this.dir });
    const root = simulate.render(id, props) as unknown as Root;
    root.attach(document.createElement('parent-wrapper'));
    const page = new SimPage(root);
    this.pages.push(page);
    return page;
  }

  /** Detaches every page (stops their timers). */
  closePages(): void {
    for (const page of this.pages.splice(0)) page.detach();
  }

  async stop(): Promise<void> {
    this.closePages();
    await this.server.stop();
    rmSync(this.dir, { recursive: true, force: true });
    rmSync(this.wx.dir, { recursive: true, force: true });
  }
}



/**
 * A test file's harness: started before its tests, a fresh user `user` before each test (no
 * session, zh-CN), its pages closed after each, stopped at the end.
 */
export function useHarness(user: string): { readonly h: MiniprogramHarness } {
  const ref: { h?: MiniprogramHarness } = {};
  beforeAll(async () => {
    ref.h = await MiniprogramHarness.start();
  });
  afterAll(async () => {
    await ref.h?.stop();
  });
  beforeEach(() => {
    ref.h?.newUser(user);
  });
  afterEach(() => {
    ref.h?.closePages();
  });
  return {
    get h(): MiniprogramHarness {
      if (!ref.h) throw new Error('the harness is not started');
      return ref.h;
    },
  };
}
