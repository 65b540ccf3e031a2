/**
 * Keyword matching throughput and evasion recall: our KeywordFilter next to mint-filter and
 * modern-ahocorasick.
 *
 * Throughput: the same deterministic ~1 MB (UTF-8) mixed Chinese/English text and the same
 * deterministic 10,000-word list (half Chinese, half English) for every matcher. MB = 10^6 UTF-8
 * bytes. Ours (every normalisation and evasion expansion on: width, case, traditional →
 * simplified, invisibles and separators, look-alikes, leet, repeats, homophones, pinyin, masked
 * letters) is measured two ways: the whole text in one scan, and cut into 10,000-character
 * prompts (the default maxLength, the way production calls it). Ours and mint-filter are timed in
 * turns, five rounds of a second each, in wall time and in CPU time of this process; the ratio of
 * each round comes from figures seconds apart, and the median and the lowest are reported. The
 * same in turns on a disguised copy of the text (`disguise`: upper case, full-width and look-alike
 * letters, accents, zero-width characters, traditional characters, masks and @handles), where our
 * masked-letter and symbol passes run on every scan and mint-filter finds fewer words.
 *
 * Recall: every matcher gets the words of our default lists (allow-list excluded, flags stripped)
 * and runs over test/corpus/evasion/cases.jsonl. A should-hit case is found when a matcher reports
 * any match (ours: any hit, no category check, so the numbers compare); a benign case is a false
 * positive when a matcher reports any match (ours: when the allow-list and whole-word rules do not
 * clear it).
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KeywordFilter, defaultKeywordListDir, parseListFile } from '@framecast/content-safety';
import { Mint } from 'mint-filter';
import AhoCorasick from 'modern-ahocorasick';
import { mulberry32 } from '../../test/support/prng.ts';

const MODERN_SLICE_CHARS = 20_000;


// Common Han characters (a fixed slice of the CJK block keeps the text readable-ish and dense).
const HAN = Array.from({ length: 3000 }, (_, i) => String.fromCharCode(0x4e00 + ((i * 7) % 0x51a5)));
const LATIN = 'abcdefghijklmnopqrstuvwxyz';

export function makeWords(rand: () => number, count: number): string[] {
  const words = new Set<string>();
  while (words.size < count) {
    if (words.size % 2 === 0) {
      const n = 2 + Math.floor(rand() * 3);
      let w = '';
      for (let i = 0; i < n; i++) w += HAN[Math.floor(rand() * HAN.length)] ?? '';
      words.add(w);
    } else {
      const n = 4 + Math.floor(rand() * 5);
      let w = '';
      for (let i = 0; i < n; i++) w += LATIN[Math.floor(rand() * 26)] ?? '';
      words.add(w);
    }
  }
  return [...words];
}

export function makeText(rand: () => number, words: readonly string[], bytes: number): string {
  const parts: string[] = [];
  let size = 0;
  while (size < bytes) {
    let piece: string;
    const r = rand();
    if (r < 0.01) piece = words[Math.floor(rand() * words.length)] ?? '';
    else if (r < 0.55) {
      piece = '';
      const n = 4 + Math.floor(rand() * 12);
      for (let i = 0; i < n; i++) piece += HAN[Math.floor(rand() * HAN.length)] ?? '';
      piece += rand() < 0.3 ? '，' : '';
    } else {
      piece = ' ';
      const n = 2 + Math.floor(rand() * 8);
      for (let i = 0; i < n; i++) piece += LATIN[Math.floor(rand() * 26)] ?? '';
      piece += rand() < 0.2 ? '. ' : ' ';
    }
    parts.push(piece);
    size += Buffer.byteLength(piece, 'utf8');
  }
  return parts.join('');
}

/**
 * Runs fn repeatedly for at least minMs (at least twice) and returns MB/s of wall time, and MB/s of
 * this process's CPU time (user + system), which a machine shared with other work disturbs less.
 */
export function throughput(bytes: number, minMs: number, fn: () => unknown): { mbPerS: number; cpuMbPerS: number; runs: number } {
  fn(); // warm-up
  let runs = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let elapsed = 0;
  while (runs < 2 || elapsed < minMs) {
    fn();
    runs++;
    elapsed = performance.now() - t0;
  }
  const cpu = process.cpuUsage(cpu0);
  const cpuS = Math.max(1e-6, (cpu.user + cpu.system) / 1e6);
  return {
    mbPerS: Number(((bytes * runs) / 1e6 / (elapsed / 1000)).toFixed(3)),
    cpuMbPerS: Number(((bytes * runs) / 1e6 / cpuS).toFixed(3)),
    runs,
  };
}

/** Traditional characters (their simplified forms are common) for the disguised text. */
const TRADITIONAL = [...'殺門們說國會來時學對過還這裡進開關東車長見頭馬鳥魚電話語讀書氣體'];
/** Cyrillic look-alikes of Latin letters. */
const HOMOGLYPH: Readonly<Record<string, string>> = { a: 'а', c: 'с', e: 'е', o: 'о', p: 'р', x: 'х', y: 'у' };

/**
 * The text with what the normaliser undoes sprinkled over it, deterministically: upper case,
 * full-width and Cyrillic look-alike letters, combining accents, zero-width spaces and joiners,
 * traditional characters, symbols inside Chinese words (屠*杀), dotted and masked Latin words
 * (k.i.l.l, f*ck) and @handles. Every class of the filter's normalisation runs, and the masked
 * and symbol passes (a second scan when a text has them) run on every scan.
 */
export function disguise(rand: () => number, text: string): string {
  const out: string[] = [];
  let previousLatin = false;
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    const r = rand();
    if (cp >= 0x61 && cp <= 0x7a) {
      if (previousLatin && r < 0.004) out.push('.'); // k.ill
      else if (previousLatin && r < 0.006) out.push('*'); // f*ck
      const look = HOMOGLYPH[ch];
      const q = rand();
      if (q < 0.04) out.push(ch.toUpperCase());
      else if (q < 0.06) out.push(String.fromCharCode(cp + 0xfee0)); // full width
      else if (q < 0.08 && look !== undefined) out.push(look);
      else if (q < 0.09) out.push(`${ch}\u0301`); // combining acute
      else out.push(ch);
      if (rand() < 0.01) out.push('\u200b');
      previousLatin = true;
      continue;
    }
    previousLatin = false;
    if (cp >= 0x4e00 && cp <= 0x9fff) {
      if (r < 0.03) out.push(TRADITIONAL[Math.floor(rand() * TRADITIONAL.length)] ?? ch);
      else out.push(ch);
      const q = rand();
      if (q < 0.01) out.push('\u200d');
      else if (q < 0.015) out.push('*');
      continue;
    }
    out.push(ch === ' ' && r < 0.01 ? ' @' : ch);
  }
  return out.join('');
}

interface CorpusCase {
  text: string;
  expect: 'block' | 'review' | 'allow';
}

function defaultListWords(): string[] {
  const dir = defaultKeywordListDir();
  const words: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (!name.endsWith('.txt')) continue;
    const list = parseListFile(readFileSync(path.join(dir, name), 'utf8'), name);
    if (list.allow === true) continue;
    for (const w of list.words) words.push(w.replace(/\s+@.*$/, ''));
  }
  return words;
}

function recallOf(cases: readonly CorpusCase[], hits: (text: string) => boolean): { recall: number; falsePositiveRate: number } {
  const pos = cases.filter((c) => c.expect !== 'allow');
  const neg = cases.filter((c) => c.expect === 'allow');
  const found = pos.filter((c) => hits(c.text)).length;
  const fp = neg.filter((c) => hits(c.text)).length;
  return { recall: Number((found / pos.length).toFixed(4)), falsePositiveRate: Number((fp / neg.length).toFixed(4)) };
}

/** Rounds of ours then mint-filter, each timed for a second. */
const ROUNDS = 5;

interface Round {
  ours: number;
  mintFilter: number;
  ratio: number;
  oursCpu: number;
  mintFilterCpu: number;
  cpuRatio: number;
}
interface RoundSummary extends Round {
  lowestRatio: number;
}

function round(ours: { mbPerS: number; cpuMbPerS: number }, mint: { mbPerS: number; cpuMbPerS: number }): Round {
  return {
    ours: ours.mbPerS,
    mintFilter: mint.mbPerS,
    ratio: Number((ours.mbPerS / mint.mbPerS).toFixed(2)),
    oursCpu: ours.cpuMbPerS,
    mintFilterCpu: mint.cpuMbPerS,
    cpuRatio: Number((ours.cpuMbPerS / mint.cpuMbPerS).toFixed(2)),
  };
}

/** Medians of each figure over the rounds, and the lowest ratio of any round. */
function summarise(rounds: readonly Round[]): RoundSummary {
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  return {
    ours: median(rounds.map((r) => r.ours)),
    mintFilter: median(rounds.map((r) => r.mintFilter)),
    ratio: median(rounds.map((r) => r.ratio)),
    oursCpu: median(rounds.map((r) => r.oursCpu)),
    mintFilterCpu: median(rounds.map((r) => r.mintFilterCpu)),
    cpuRatio: median(rounds.map((r) => r.cpuRatio)),
    lowestRatio: Math.min(...rounds.map((r) => r.ratio)),
  };
}

export async function run(): Promise<Record<string, unknown>> {
  const rand = mulberry32(20261121);
  const words = makeWords(rand, 10_000);
  const text = makeText(rand, words, 1_000_000);
  const bytes = Buffer.byteLength(text, 'utf8');

  const tBuild0 = performance.now();
  // Room for the disguised copy too (it is longer: accents, zero-width characters).
  const ours = KeywordFilter.fromLists([{ category: 'violence', words }], { maxLength: 2 * text.length, maxHits: 1_000_000 });
  const oursBuildMs = performance.now() - tBuild0;
  // Same semantics as the peers (substrings, no whole-word rule, no leet variants), for a like-for-like count.
  const oursPlain = KeywordFilter.fromLists([{ category: 'violence', words, flags: { substring: true, leet: false } }], {
    maxLength: text.length,
    maxHits: 1_000_000,
  });
  const oursPrompts = KeywordFilter.fromLists([{ category: 'violence', words }], { maxHits: 1_000_000 });
  const prompts: string[] = [];
  for (let i = 0; i < text.length; i += 10_000) prompts.push(text.slice(i, i + 10_000));
  const t1 = performance.now();
  const mint = new Mint(words);
  const mintBuildMs = performance.now() - t1;
  const t2 = performance.now();
  const modern = new AhoCorasick(words);
  const modernBuildMs = performance.now() - t2;

  const oursHits = ours.scan(text).hits.length;
  const mintHits = mint.filter(text, { replace: false }).words.length;

  // Ours and mint-filter in turns, ROUNDS times, on the plain and on the disguised text: the
  // ratio of each round is taken from figures measured seconds apart, so a shared machine's load
  // moves both; the median and the lowest ratio over the rounds are reported.
  const disguised = disguise(mulberry32(20261128), text);
  const disguisedBytes = Buffer.byteLength(disguised, 'utf8');
  const rounds: { plain: Round; disguised: Round }[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    rounds.push({
      plain: round(throughput(bytes, 1000, () => ours.scan(text)), throughput(bytes, 1000, () => mint.filter(text, { replace: false }))),
      disguised: round(
        throughput(disguisedBytes, 1000, () => ours.scan(disguised)),
        throughput(disguisedBytes, 1000, () => mint.filter(disguised, { replace: false })),
      ),
    });
  }
  const summary = (pick: (x: { plain: Round; disguised: Round }) => Round): RoundSummary => summarise(rounds.map(pick));
  const plain = summary((x) => x.plain);
  const disguisedSummary = summary((x) => x.disguised);
  const oursPlainRun = throughput(bytes, 2000, () => oursPlain.scan(text));
  const oursPromptRun = throughput(bytes, 3000, () => {
    for (const p of prompts) oursPrompts.scan(p);
  });
  // modern-ahocorasick is far slower here (~0.1 MB/s per REFERENCE.md, less on this text): timed
  // on a slice, with match counts compared on the same slice.
  const slice = text.slice(0, MODERN_SLICE_CHARS);
  const sliceBytes = Buffer.byteLength(slice, 'utf8');
  const modernRun = throughput(sliceBytes, 0, () => modern.count(slice));
  const sliceHits = {
    ours: ours.scan(slice).hits.length,
    oursSubstringNoLeet: oursPlain.scan(slice).hits.length, mintFilter: mint.filter(slice, { replace: false }).words.length, modernAhocorasick: modern.count(slice) };

  // Recall on the evasion corpus with the default lists.
  const corpusDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/corpus/evasion');
  const readCorpus = (name: string): CorpusCase[] =>
    readFileSync(path.join(corpusDir, name), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as CorpusCase);
  const cases = readCorpus('cases.jsonl');
  const heldOut = readCorpus('heldout.jsonl');
  const listWords = defaultListWords();
  const defaultFilter = await KeywordFilter.fromDirectory(defaultKeywordListDir());
  const mintDefault = new Mint(listWords);
  const modernDefault = new AhoCorasick(listWords);
  const recall = {
    ours: recallOf(cases, (t) => defaultFilter.scan(t).hits.length > 0),
    mintFilter: recallOf(cases, (t) => mintDefault.filter(t, { replace: false }).words.length > 0),
    modernAhocorasick: recallOf(cases, (t) => modernDefault.count(t) > 0),
  };
  const heldOutRecall = {
    ours: recallOf(heldOut, (t) => defaultFilter.scan(t).hits.length > 0),
    mintFilter: recallOf(heldOut, (t) => mintDefault.filter(t, { replace: false }).words.length > 0),
    modernAhocorasick: recallOf(heldOut, (t) => modernDefault.count(t) > 0),
  };

  // The known peer bugs, checked on the peers themselves.
  // Overlaps ("屠杀"/"杀人" in "屠杀人", "abc"/"bcd" in "abcd") and words reachable only through a
  // failure link's output ("杀人" inside a failed "屠杀人民"; "bc" inside a failed "abcd").
  const overlapPeerWords = ['屠杀', '杀人', 'abc', 'bcd', '屠杀人民', 'xbcdy', 'cd'];
  const overlapText = '屠杀人 abcd xbcdz';
  const overlapMint = new Mint(overlapPeerWords).filter(overlapText, { replace: false }).words;
  const overlapModern = new AhoCorasick(overlapPeerWords).search(overlapText).map((m) => m.pattern);
  const overlapOurs = KeywordFilter.fromLists([{ category: 'violence', words: overlapPeerWords, flags: { substring: true } }])
    .scan(overlapText)
    .hits.map((h) => h.word);

  return {
    keywords: {
      text: { utf8Bytes: bytes, chars: text.length, words: words.length, seed: 20261121 },
      buildMs: { ours: Math.round(oursBuildMs), mintFilter: Math.round(mintBuildMs), modernAhocorasick: Math.round(modernBuildMs) },
      matchesInText: { ours: oursHits, oursSubstringNoLeet: oursPlain.scan(text).hits.length, mintFilterDistinctWords: mintHits },
      matchesInSlice: { chars: slice.length, ...sliceHits },
      mbPerS: {
        ours: plain.ours,
        oursAs10kCharPrompts: oursPromptRun.mbPerS,
        oursSubstringNoLeet: oursPlainRun.mbPerS,
        mintFilter: plain.mintFilter,
        modernAhocorasickCount: modernRun.mbPerS,
      },
      cpuMbPerS: { ours: plain.oursCpu, oursAs10kCharPrompts: oursPromptRun.cpuMbPerS, mintFilter: plain.mintFilterCpu },
      ratio: {
        oursOverMintFilter: plain.ratio,
        oursOverMintFilterLowest: plain.lowestRatio,
        oursOverMintFilterCpu: plain.cpuRatio,
        oursOverModernAhocorasick: Number((plain.ours / modernRun.mbPerS).toFixed(2)),
        oursPromptsOverMintFilter: Number((oursPromptRun.mbPerS / plain.mintFilter).toFixed(2)),
      },
      rounds: rounds.map((x) => x.plain),
      disguised: {
        utf8Bytes: disguisedBytes,
        chars: disguised.length,
        matches: { ours: ours.scan(disguised).hits.length, mintFilterDistinctWords: mint.filter(disguised, { replace: false }).words.length },
        mbPerS: { ours: disguisedSummary.ours, mintFilter: disguisedSummary.mintFilter },
        cpuMbPerS: { ours: disguisedSummary.oursCpu, mintFilter: disguisedSummary.mintFilterCpu },
        ratio: { oursOverMintFilter: disguisedSummary.ratio, lowest: disguisedSummary.lowestRatio, cpu: disguisedSummary.cpuRatio },
        rounds: rounds.map((x) => x.disguised),
      },
      evasionCorpus: { cases: cases.length, ...recall },
      evasionHeldOut: { cases: heldOut.length, ...heldOutRecall },
      overlaps: { text: overlapText, ours: overlapOurs, mintFilter: overlapMint, modernAhocorasick: overlapModern },
    },
  };
}
