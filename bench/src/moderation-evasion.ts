/**
 * The keyword filter's evasion classes (issue 14), each reported on its own: masked letters
 * (f*ck), slang variants (seggs, 涩情), Chinese homophones (儿童涩情), pinyin (se qing, zuo爱) and
 * minors next to sexual words (escalated to csam block), next to mint-filter and
 * modern-ahocorasick given the same words.
 *
 * - Positives: test/corpus/evasion/classes.jsonl (written for this work, not the held-out set).
 *   Ours finds a case when the action is not allow and a hit has the expected category (for
 *   escalation: the action is block and a hit is csam or minors). A peer finds it when it reports
 *   any match (it has no categories or actions).
 * - Benign: test/corpus/evasion/benign-real.jsonl, 300+ real-world prompts (tourism, food,
 *   e-commerce incl. nude-colour make-up, fantasy combat, medical, art history, children; zh-CN
 *   and en). Per class, the false-positive rate is measured on the benign prompts written to
 *   stress that class (`near`), and overall on all of them. Ours: falseBlockRate (action block)
 *   and falseFlagRate (block or review); a peer: any match.
 * - Throughput: the 10,000-word list and ~1 MB text of the keywords bench, the filter built with
 *   the expansions off (before) and on (after), timed in turns in the same run (median of 3).
 *   Also the shipped lists (rules and term sets included) on the same text.
 * - Load: time and heap of loading the shipped lists with and without the expansions.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KeywordFilter, defaultKeywordListDir, homophoneIndexBuildMs, parseListFile } from '@framecast/content-safety';
import { Mint } from 'mint-filter';
import AhoCorasick from 'modern-ahocorasick';
import { mulberry32 } from '../../test/support/prng.ts';
import { makeText, makeWords, throughput } from './moderation-keywords.ts';

const CLASSES = ['masked', 'variant', 'homophone', 'pinyin', 'escalation'] as const;
const NEAR: Readonly<Record<string, string>> = { masked: 'masked', variant: 'masked', homophone: 'homophone', pinyin: 'pinyin', escalation: 'escalation' };

interface ClassCase {
  text: string;
  class: string;
  category: string;
  expect: 'block' | 'review';
}
interface BenignCase {
  text: string;
  domain: string;
  lang: string;
  near?: string;
}

const corpusDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/corpus/evasion');
function readJsonl<T>(name: string): T[] {
  return readFileSync(path.join(corpusDir, name), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
}

/** The words a plain matcher gets from the shipped lists: entries and variant spellings, flags stripped. */
function peerWords(): string[] {
  const dir = defaultKeywordListDir();
  const words: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (!name.endsWith('.txt')) continue;
    const list = parseListFile(readFileSync(path.join(dir, name), 'utf8'), name);
    if (list.allow === true || list.terms === true || list.rules !== undefined) continue;
    for (const raw of list.words) {
      const w = raw.replace(/\s+@.*$/, '');
      if (list.variants === true) {
        const [canonical = '', rest = ''] = w.split(/:(.*)/s);
        words.push(canonical.trim(), ...rest.split(',').map((v) => v.trim()).filter((v) => v !== ''));
      } else words.push(w);
    }
  }
  return [...new Set(words)];
}

const rate = (n: number, d: number): number => (d === 0 ? 0 : Number((n / d).toFixed(4)));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

function heapMb(): number {
  return process.memoryUsage().heapUsed / 1e6;
}

export async function run(): Promise<Record<string, unknown>> {
  // Load: shipped lists without, then with the expansions.
  const load = async (expansions: Record<string, boolean>): Promise<{ filter: KeywordFilter; ms: number; heapMb: number }> => {
    globalThis.gc?.();
    const h0 = heapMb();
    const t0 = performance.now();
    const filter = await KeywordFilter.fromDirectory(defaultKeywordListDir(), { expansions });
    const ms = performance.now() - t0;
    globalThis.gc?.();
    return { filter, ms: Math.round(ms), heapMb: Number((heapMb() - h0).toFixed(1)) };
  };
  const off = { homophones: false, pinyin: false, masked: false };
  const plainLoad = await load(off);
  const fullLoad = await load({});
  const ours = fullLoad.filter;

  // Per-class recall and false-positive rates.
  const cases = readJsonl<ClassCase>('classes.jsonl');
  const benign = readJsonl<BenignCase>('benign-real.jsonl');
  const words = peerWords();
  const mint = new Mint(words);
  const modern = new AhoCorasick(words);
  const oursFound = (c: ClassCase): boolean => {
    const r = ours.scan(c.text);
    if (c.class === 'escalation') return r.action === 'block' && r.hits.some((h) => h.category === 'csam' || h.category === 'minors');
    return r.action !== 'allow' && r.hits.some((h) => h.category === c.category);
  };
  const mintAny = (t: string): boolean => mint.filter(t, { replace: false }).words.length > 0;
  const modernAny = (t: string): boolean => modern.count(t) > 0;
  const perClass: Record<string, unknown> = {};
  const missed: string[] = [];
  for (const cls of CLASSES) {
    const pos = cases.filter((c) => c.class === cls);
    const near = benign.filter((b) => b.near === NEAR[cls]);
    const oursHit = pos.filter(oursFound);
    for (const c of pos) if (!oursHit.includes(c)) missed.push(`${cls}: ${c.text}`);
    perClass[cls] = {
      positives: pos.length,
      benignNear: near.length,
      ours: {
        recall: rate(oursHit.length, pos.length),
        falseBlockRate: rate(near.filter((b) => ours.scan(b.text).action === 'block').length, near.length),
        falseFlagRate: rate(near.filter((b) => ours.scan(b.text).action !== 'allow').length, near.length),
      },
      mintFilter: { recall: rate(pos.filter((c) => mintAny(c.text)).length, pos.length), falsePositiveRate: rate(near.filter((b) => mintAny(b.text)).length, near.length) },
      modernAhocorasick: { recall: rate(pos.filter((c) => modernAny(c.text)).length, pos.length), falsePositiveRate: rate(near.filter((b) => modernAny(b.text)).length, near.length) },
    };
  }
  // The nude-colour context rule: benign prompts only (there is nothing to find).
  const contextNear = benign.filter((b) => b.near === 'context');
  perClass.context = {
    benignNear: contextNear.length,
    ours: {
      falseBlockRate: rate(contextNear.filter((b) => ours.scan(b.text).action === 'block').length, contextNear.length),
      falseFlagRate: rate(contextNear.filter((b) => ours.scan(b.text).action !== 'allow').length, contextNear.length),
    },
    mintFilter: { falsePositiveRate: rate(contextNear.filter((b) => mintAny(b.text)).length, contextNear.length) },
    modernAhocorasick: { falsePositiveRate: rate(contextNear.filter((b) => modernAny(b.text)).length, contextNear.length) },
  };
  const falseBlocks = benign.filter((b) => ours.scan(b.text).action === 'block').map((b) => b.text);
  const falseFlags = benign.filter((b) => ours.scan(b.text).action !== 'allow').map((b) => b.text);
  const benignAll = {
    prompts: benign.length,
    zh: benign.filter((b) => b.lang === 'zh').length,
    en: benign.filter((b) => b.lang === 'en').length,
    ours: { falseBlockRate: rate(falseBlocks.length, benign.length), falseFlagRate: rate(falseFlags.length, benign.length), falseBlocks, reviewed: falseFlags.filter((t) => !falseBlocks.includes(t)) },
    mintFilter: { falsePositiveRate: rate(benign.filter((b) => mintAny(b.text)).length, benign.length) },
    modernAhocorasick: { falsePositiveRate: rate(benign.filter((b) => modernAny(b.text)).length, benign.length) },
  };

  // Throughput before/after, in turns.
  const rand = mulberry32(20261121);
  const bigWords = makeWords(rand, 10_000);
  const text = makeText(rand, bigWords, 1_000_000);
  const bytes = Buffer.byteLength(text, 'utf8');
  const opts = { maxLength: text.length, maxHits: 1_000_000 };
  const t0 = performance.now();
  const before = KeywordFilter.fromLists([{ category: 'violence', words: bigWords }], { ...opts, expansions: off });
  const beforeBuildMs = Math.round(performance.now() - t0);
  const t1 = performance.now();
  const after = KeywordFilter.fromLists([{ category: 'violence', words: bigWords }], opts);
  const afterBuildMs = Math.round(performance.now() - t1);
  const shippedBefore = await KeywordFilter.fromDirectory(defaultKeywordListDir(), { ...opts, expansions: off });
  const shippedAfter = await KeywordFilter.fromDirectory(defaultKeywordListDir(), opts);
  const runs: Record<string, number[]> = { before: [], after: [], shippedBefore: [], shippedAfter: [] };
  for (let round = 0; round < 3; round++) {
    runs.before?.push(throughput(bytes, 1500, () => before.scan(text)).mbPerS);
    runs.after?.push(throughput(bytes, 1500, () => after.scan(text)).mbPerS);
    runs.shippedBefore?.push(throughput(bytes, 1000, () => shippedBefore.scan(text)).mbPerS);
    runs.shippedAfter?.push(throughput(bytes, 1000, () => shippedAfter.scan(text)).mbPerS);
  }
  const mbPerS = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, median(v)]));

  return {
    evasion: {
      perClass,
      benign: benignAll,
      missed,
      throughput: {
        text: { utf8Bytes: bytes, words: bigWords.length, seed: 20261121 },
        mbPerS,
        runs,
        afterOverBefore: Number(((mbPerS.after ?? 0) / (mbPerS.before ?? 1)).toFixed(3)),
        buildMs: { before: beforeBuildMs, after: afterBuildMs },
        patterns: { before: before.expansionStats.totalPatterns, after: after.expansionStats.totalPatterns },
        expansionsAfter: after.expansionStats.patterns,
        capped: after.expansionStats.capped,
      },
      load: {
        shippedLists: {
          withoutExpansions: { ms: plainLoad.ms, heapMb: plainLoad.heapMb, patterns: plainLoad.filter.expansionStats.totalPatterns, states: plainLoad.filter.expansionStats.states },
          withExpansions: { ms: fullLoad.ms, heapMb: fullLoad.heapMb, patterns: fullLoad.filter.expansionStats.totalPatterns, states: fullLoad.filter.expansionStats.states },
          expansions: fullLoad.filter.expansionStats.patterns,
        },
        homophoneIndexMs: Math.round(homophoneIndexBuildMs()),
        heapMeasured: globalThis.gc === undefined ? 'without --expose-gc: heap figures include garbage' : 'after gc',
      },
    },
  };
}
