/**
 * KeywordFilter: loads word lists (from a directory or from memory), scans prompts in one pass
 * over normalised text, and swaps in reloaded lists atomically.
 */
import { watch as fsWatch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KeywordListError } from './keyword-list-error.ts';
import type { LocalizedText } from '@framecast/core';
import type { CategoriesFile, KeywordAction, KeywordList } from './keyword-list-format.ts';
import { DEFAULT_CATEGORY_ACTIONS, parseCategoriesFile, parseListFile } from './keyword-list-format.ts';
import type { ExpansionOptions, ExpansionStats, KeywordHit } from './keyword-matcher.ts';
import { KeywordMatcher } from './keyword-matcher.ts';
import { ContextRules } from './context-rules.ts';

export type { KeywordHit } from './keyword-matcher.ts';

export interface KeywordScanResult {
  action: 'allow' | 'review' | 'block';
  hits: KeywordHit[];
  /** Set when the text was longer than `maxLength`: what was done about it. */
  overLength?: { length: number; maxLength: number; handling: OverLengthHandling };
}

/**
 * What to do with text longer than `maxLength`:
 * - 'block' (default): refuse it outright (action block, no scan). A prompt of that size is not a
 *   real video prompt, and scanning only part of it would let words hide after padding.
 * - 'review': scan the first `maxLength` characters and raise the action to at least review.
 * - 'truncate': scan the first `maxLength` characters only.
 */
export type OverLengthHandling = 'block' | 'review' | 'truncate';

export interface KeywordFilterOptions {
  /** Longest text scanned, in UTF-16 code units (default 10,000). */
  maxLength?: number;
  overLength?: OverLengthHandling;
  /** Most separator characters skipped between two characters of one word (default 3). */
  maxGap?: number;
  /** At most this many hits are returned (default 100). */
  maxHits?: number;
  /** Category → action, for fromLists (fromDirectory reads categories.json). */
  categories?: Record<string, KeywordAction>;
  /** Category → its name for users, for fromLists (fromDirectory reads categories.json). */
  labels?: Record<string, LocalizedText>;
  /** Called when a reload triggered by watch() fails (the old lists stay in use). */
  onReloadError?: (error: unknown) => void;
  /** Called after a successful reload. */
  onReload?: (info: { entries: number }) => void;
  /** Debounce for watch() (default 100 ms). */
  watchDebounceMs?: number;
  /** Load-time evasion expansions (homophones, pinyin, masked letters); all on by default. */
  expansions?: ExpansionOptions;
}

export const CATEGORIES_FILE = 'categories.json';

interface Compiled {
  matcher: KeywordMatcher;
  rules: ContextRules;
  categories: Readonly<Record<string, KeywordAction>>;
  labels: Readonly<Record<string, LocalizedText>>;
}

type Source = { kind: 'directory'; dir: string } | { kind: 'lists'; lists: readonly KeywordList[] };

/** Absolute path of content-safety/lists, the default word lists. */
export function defaultKeywordListDir(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../lists');
}

function compile(
  lists: readonly KeywordList[],
  categories: Readonly<Record<string, KeywordAction>>,
  labels: Readonly<Record<string, LocalizedText>>,
  options: KeywordFilterOptions,
): Compiled {
  const matcherOptions = {
    categoryAction: (c: string) => categories[c],
    ...(options.maxGap === undefined ? {} : { maxGap: options.maxGap }),
    ...(options.expansions === undefined ? {} : { expansions: options.expansions }),
  };
  const matcher = new KeywordMatcher(lists, matcherOptions);
  for (const list of lists) {
    if (list.terms === true && categories[list.category] !== undefined) {
      throw new KeywordListError('invalid_list', `term set "${list.category}" has the name of a category`, list.source === undefined ? {} : { file: list.source });
    }
  }
  const rules = new ContextRules(
    lists.flatMap((l) => l.rules ?? []),
    { categories: new Set(Object.keys(categories)), termSets: matcher.termSets },
  );
  return { matcher, rules, categories, labels };
}

async function loadDirectory(dir: string, options: KeywordFilterOptions): Promise<Compiled> {
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (cause) {
    throw new KeywordListError('unreadable', `cannot list the directory`, { file: dir, cause });
  }
  let config: CategoriesFile;
  const configPath = path.join(dir, CATEGORIES_FILE);
  try {
    config = parseCategoriesFile(await readFile(configPath, 'utf8'), CATEGORIES_FILE);
  } catch (cause) {
    if (cause instanceof KeywordListError) throw cause;
    throw new KeywordListError('unreadable', 'cannot read the categories config', { file: CATEGORIES_FILE, cause });
  }
  const categories: Record<string, KeywordAction> = {};
  const labels: Record<string, LocalizedText> = {};
  for (const [name, c] of Object.entries(config.categories)) {
    categories[name] = c.action;
    if (c.label !== undefined) labels[name] = c.label;
  }
  const lists: KeywordList[] = [];
  for (const name of names) {
    if (!name.endsWith('.txt')) continue;
    let text: string;
    try {
      text = await readFile(path.join(dir, name), 'utf8');
    } catch (cause) {
      throw new KeywordListError('unreadable', 'cannot read the list', { file: name, cause });
    }
    lists.push(parseListFile(text, name));
  }
  return compile(lists, categories, labels, options);
}

function actionRank(a: 'allow' | 'review' | 'block'): number {
  return a === 'block' ? 2 : a === 'review' ? 1 : 0;
}

export class KeywordFilter {
  private compiled: Compiled;
  private readonly source: Source;
  private readonly options: KeywordFilterOptions;
  private reloading: Promise<void> = Promise.resolve();
  private lastErrorValue: unknown = undefined;

  private constructor(compiled: Compiled, source: Source, options: KeywordFilterOptions) {
    this.compiled = compiled;
    this.source = source;
    this.options = options;
  }

  /** Loads every `*.txt` list in `dir` and its `categories.json`. */
  static async fromDirectory(dir: string, options: KeywordFilterOptions = {}): Promise<KeywordFilter> {
    const absolute = path.resolve(dir);
    return new KeywordFilter(await loadDirectory(absolute, options), { kind: 'directory', dir: absolute }, options);
  }

  /** Builds a filter from lists in memory; categories default to DEFAULT_CATEGORY_ACTIONS. */
  static fromLists(lists: KeywordList[], options: KeywordFilterOptions = {}): KeywordFilter {
    const categories = { ...DEFAULT_CATEGORY_ACTIONS, ...options.categories };
    const frozen = lists.map((l) => ({ ...l, words: [...l.words] }));
    return new KeywordFilter(compile(frozen, categories, { ...options.labels }, options), { kind: 'lists', lists: frozen }, options);
  }

  /** A category's name for users in each language (categories.json's `label`), if it has one. */
  categoryLabel(category: string): LocalizedText | undefined {
    return this.compiled.labels[category];
  }

  /** Number of list entries (before @numerals expansion), allow entries included. */
  get size(): number {
    return this.compiled.matcher.entryCount;
  }

  /** What the load-time evasion expansions added, and how long the lists took to compile. */
  get expansionStats(): ExpansionStats {
    return this.compiled.matcher.stats;
  }

  /** The error of the last failed reload, undefined after a successful one. */
  get lastError(): unknown {
    return this.lastErrorValue;
  }

  get maxLength(): number {
    return this.options.maxLength ?? 10_000;
  }

  scan(text: string): KeywordScanResult {
    const compiled = this.compiled; // one snapshot for the whole scan
    const maxLength = this.maxLength;
    const maxHits = this.options.maxHits ?? 100;
    let input = text;
    let overLength: KeywordScanResult['overLength'];
    if (text.length > maxLength) {
      const handling = this.options.overLength ?? 'block';
      overLength = { length: text.length, maxLength, handling };
      if (handling === 'block') return { action: 'block', hits: [], overLength };
      let cut = maxLength;
      const c = text.charCodeAt(cut - 1);
      if (c >= 0xd800 && c <= 0xdbff) cut -= 1; // never split a surrogate pair
      input = text.slice(0, cut);
    }
    let hits = compiled.matcher.scan(input, compiled.matcher.termSets.size === 0 ? maxHits : maxHits * 2);
    if (compiled.matcher.termSets.size > 0 || !compiled.rules.empty) {
      const termSets = compiled.matcher.termSets;
      const terms = hits.filter((h) => termSets.has(h.category));
      hits = compiled.rules.apply(input, terms.length === 0 ? hits : hits.filter((h) => !termSets.has(h.category)), terms);
      hits.sort((x, y) => x.start - y.start || x.end - y.end);
      if (hits.length > maxHits) hits = hits.slice(0, maxHits);
    }
    let action: KeywordScanResult['action'] = overLength?.handling === 'review' ? 'review' : 'allow';
    for (const h of hits) if (actionRank(h.action) > actionRank(action)) action = h.action;
    return overLength === undefined ? { action, hits } : { action, hits, overLength };
  }

  /**
   * Re-reads the lists and swaps them in at once. On any error the old lists stay in use, the
   * error is kept in `lastError`, and the promise rejects with it. Reloads run one at a time.
   */
  reload(): Promise<void> {
    const run = async (): Promise<void> => {
      try {
        const next =
          this.source.kind === 'directory'
            ? await loadDirectory(this.source.dir, this.options)
            : compile(this.source.lists, this.compiled.categories, this.compiled.labels, this.options);
        this.compiled = next;
        this.lastErrorValue = undefined;
        this.options.onReload?.({ entries: next.matcher.entryCount });
      } catch (error) {
        this.lastErrorValue = error;
        throw error;
      }
    };
    const result = this.reloading.then(run, run);
    this.reloading = result.catch(() => undefined);
    return result;
  }

  /**
   * Watches the list directory and reloads (debounced) when a file changes. Failed reloads go to
   * `onReloadError`. Returns a function that stops watching. No-op for in-memory lists.
   */
  watch(): () => void {
    if (this.source.kind !== 'directory') return () => undefined;
    const debounce = this.options.watchDebounceMs ?? 100;
    let timer: NodeJS.Timeout | undefined;
    let closed = false;
    const watcher: FSWatcher = fsWatch(this.source.dir, { persistent: false }, () => {
      if (closed) return;
      if (timer !== undefined) clearTimeout(timer);
      timer = setTimeout(() => {
        timer = undefined;
        this.reload().catch((error: unknown) => this.options.onReloadError?.(error));
      }, debounce);
    });
    watcher.on('error', (error) => this.options.onReloadError?.(error));
    return () => {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      watcher.close();
    };
  }
}
