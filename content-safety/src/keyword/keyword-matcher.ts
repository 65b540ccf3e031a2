/**
 * Compiled keyword lists: one Aho–Corasick automaton over normalised text plus the per-entry
 * rules checked on each candidate match (whole-word boundaries for Latin words, how separators
 * inside a match may look, allow-list precedence). Immutable once built.
 */
import { Automaton } from './automaton.ts';
import { KeywordListError } from './keyword-list-error.ts';
import type { KeywordAction, KeywordFlags, KeywordList } from './keyword-list-format.ts';
import { parseEntry } from './keyword-list-format.ts';
import {
  CHAR_EXPANDS,
  HARD_BREAK,
  IGNORABLE,
  SEPARATOR,
  charCode,
  expansionOf,
  isCjk,
  isJoiner,
  isWhitespace,
  normalizeForMatch,
} from './normalizer.ts';

export interface KeywordHit {
  /** The list entry as written in the list (without flags). */
  word: string;
  category: string;
  action: 'block' | 'review';
  /** Offsets in the original text, UTF-16 code units, end exclusive. */
  start: number;
  end: number;
  /** text.slice(start, end): what the user actually wrote. */
  matchedText: string;
}

interface Entry {
  word: string;
  category: string;
  action: KeywordAction;
  allow: boolean;
  /** breaks[k] = 1 when the entry itself has a separator between its code points k and k+1. */
  breaks: Uint8Array;
  startBoundary: boolean;
  endBoundary: boolean;
}

export interface MatcherOptions {
  /** Most separator code points skipped between two characters of a match (default 3). */
  maxGap?: number;
  categoryAction: (category: string) => KeywordAction | undefined;
}

const NUMERAL_GROUPS: readonly string[] = [
  '0〇零',
  '1一壹',
  '2二贰',
  '3三叁',
  '4四肆',
  '5五伍',
  '6六陆',
  '7七柒',
  '8八捌',
  '9九玖',
];
const numeralGroupOf = new Map<number, number>();
NUMERAL_GROUPS.forEach((group, digit) => {
  for (const c of group) numeralGroupOf.set(c.codePointAt(0) ?? 0, digit);
});
const MAX_VARIANTS = 4096;

function isDigit(cp: number): boolean {
  return cp >= 0x30 && cp <= 0x39;
}

function isLatinWord(cp: number): boolean {
  return cp > 0 && !isCjk(cp);
}

interface Candidate {
  entry: Entry;
  first: number;
  last: number;
}

/** How the separators between two stream characters look. */
interface Gap {
  separators: number;
  whitespace: boolean;
  joinersOnly: boolean;
  hardBreak: boolean;
}

export class KeywordMatcher {
  readonly automaton: Automaton;
  readonly entries: readonly (readonly Entry[])[];
  readonly entryCount: number;
  readonly maxGap: number;
  readonly hasAllow: boolean;

  // Reused scan buffers (scans are synchronous, so one set per matcher is enough).
  private starts = new Int32Array(1024);
  private ends = new Int32Array(1024);
  private codes = new Int32Array(1024);

  constructor(lists: readonly KeywordList[], options: MatcherOptions) {
    this.maxGap = options.maxGap ?? 3;
    const patternIndex = new Map<string, number>();
    const patterns: number[][] = [];
    const entries: Entry[][] = [];
    let count = 0;
    let hasAllow = false;
    for (const list of lists) {
      const file = list.source ?? `list "${list.category}"`;
      const listAction = list.allow === true ? 'block' : options.categoryAction(list.category);
      if (listAction === undefined) {
        throw new KeywordListError('unknown_category', `category "${list.category}" is not defined in the categories config`, { file });
      }
      list.words.forEach((raw, i) => {
        const { word, flags: own } = parseEntry(raw, file, i + 1);
        if (word === '') return;
        const flags: KeywordFlags = { ...list.flags, ...own };
        const norm = normalizeForMatch(word);
        const cps = [...norm.text].map((c) => c.codePointAt(0) ?? 0);
        if (cps.length === 0) {
          throw new KeywordListError('invalid_list', `entry "${word}" has no letters, digits or CJK characters`, { file });
        }
        const breaks = new Uint8Array(Math.max(0, cps.length - 1));
        for (let k = 0; k + 1 < cps.length; k++) {
          if ((norm.ends[k] ?? 0) < (norm.starts[k + 1] ?? 0)) breaks[k] = 1;
        }
        let variants = flags.numerals === true ? numeralVariants(cps, word, file) : [cps];
        if (flags.leet !== false) variants = variants.flatMap((v) => [v, ...leetVariants(v)]);
        const anyStart = flags.substring === true || flags.suffix === true;
        const anyEnd = flags.substring === true || flags.prefix === true;
        for (const variant of variants) {
          const key = String.fromCodePoint(...variant);
          let p = patternIndex.get(key);
          if (p === undefined) {
            p = patterns.length;
            patternIndex.set(key, p);
            patterns.push(variant);
            entries.push([]);
          }
          const entry: Entry = {
            word,
            category: list.allow === true ? 'allow' : list.category,
            action: flags.action ?? listAction,
            allow: list.allow === true,
            breaks,
            startBoundary: !anyStart && isLatinWord(variant[0] ?? 0),
            endBoundary: !anyEnd && isLatinWord(variant[variant.length - 1] ?? 0),
          };
          entries[p]?.push(entry);
          if (entry.allow) hasAllow = true;
        }
        count++;
      });
    }
    this.automaton = new Automaton(patterns);
    this.entries = entries;
    this.entryCount = count;
    this.hasAllow = hasAllow;
  }

  /** All hits in `text` (already length-bounded), allow-list applied, ordered by start. */
  scan(text: string, maxHits: number): KeywordHit[] {
    const a = this.automaton;
    const { symBmp, symAstral, rootNext, edgeStart, edgeSym, edgeTo, fail, terminal, dictLink, patternLength } = a;
    const needed = text.length + 8;
    if (this.starts.length < needed) {
      const size = Math.max(needed, this.starts.length * 2);
      this.starts = new Int32Array(size);
      this.ends = new Int32Array(size);
      this.codes = new Int32Array(size);
    }
    const starts = this.starts;
    const ends = this.ends;
    const codes = this.codes;
    const found: number[] = []; // pairs: pattern index, last stream index
    let n = 0;
    let state = 0;
    const len = text.length;
    let i = 0;
    let expansion: readonly number[] | undefined;
    let expansionAt = 0;
    let cpStart = 0;
    let cpEnd = 0;
    while (i < len || expansion !== undefined) {
      let code: number;
      if (expansion !== undefined) {
        code = expansion[expansionAt++] ?? 0;
        if (expansionAt >= expansion.length) expansion = undefined;
      } else {
        let cp = text.charCodeAt(i);
        cpStart = i;
        if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < len) {
          const lo = text.charCodeAt(i + 1);
          if (lo >= 0xdc00 && lo <= 0xdfff) {
            cp = ((cp - 0xd800) << 10) + (lo - 0xdc00) + 0x10000;
            i += 2;
          } else i += 1;
        } else i += 1;
        cpEnd = i;
        code = charCode(cp);
        if (code <= 0) {
          if (code === CHAR_EXPANDS) {
            expansion = expansionOf(cp);
            expansionAt = 0;
            continue;
          }
          if (code === HARD_BREAK) state = 0;
          continue; // IGNORABLE or SEPARATOR: skipped, offsets kept by starts/ends
        }
      }
      starts[n] = cpStart;
      ends[n] = cpEnd;
      codes[n] = code;
      const sym = code < 0x10000 ? (symBmp[code] ?? 0) : (symAstral.get(code) ?? 0);
      if (sym === 0) {
        state = 0;
        n++;
        continue;
      }
      // Inlined Automaton.next.
      let s = state;
      let to = -1;
      while (s !== 0) {
        const lo = edgeStart[s] ?? 0;
        const hi = edgeStart[s + 1] ?? 0;
        for (let e = lo; e < hi; e++) {
          const v = edgeSym[e] ?? 0;
          if (v === sym) {
            to = edgeTo[e] ?? 0;
            break;
          }
          if (v > sym) break;
        }
        if (to >= 0) break;
        s = fail[s] ?? 0;
      }
      state = to >= 0 ? to : (rootNext[sym] ?? 0);
      if (state !== 0) {
        let o = (terminal[state] ?? -1) >= 0 ? state : (dictLink[state] ?? 0);
        while (o !== 0) {
          found.push(terminal[o] ?? 0, n);
          o = dictLink[o] ?? 0;
        }
      }
      n++;
    }
    if (found.length === 0) return [];
    return this.resolve(text, found, patternLength, n, maxHits);
  }

  private resolve(text: string, found: number[], patternLength: Int32Array, n: number, maxHits: number): KeywordHit[] {
    const accepted: Candidate[] = [];
    const allows: Candidate[] = [];
    for (let k = 0; k < found.length; k += 2) {
      const p = found[k] ?? 0;
      const last = found[k + 1] ?? 0;
      const first = last - (patternLength[p] ?? 1) + 1;
      for (const entry of this.entries[p] ?? []) {
        if (!this.verify(text, entry, first, last, n)) continue;
        (entry.allow ? allows : accepted).push({ entry, first, last });
      }
    }
    const hits: KeywordHit[] = [];
    const seen = new Set<string>();
    for (const c of accepted) {
      const start = this.starts[c.first] ?? 0;
      const end = this.extendEnd(text, this.ends[c.last] ?? 0);
      // An allow entry covering the whole block match suppresses it.
      if (allows.some((al) => (this.starts[al.first] ?? 0) <= start && (this.ends[al.last] ?? 0) >= (this.ends[c.last] ?? 0))) continue;
      const key = `${c.entry.category}\u0000${c.entry.word}\u0000${start}\u0000${end}`;
      if (seen.has(key)) continue;
      seen.add(key);
      hits.push({ word: c.entry.word, category: c.entry.category, action: c.entry.action, start, end, matchedText: text.slice(start, end) });
    }
    hits.sort((x, y) => x.start - y.start || x.end - y.end);
    return hits.length > maxHits ? hits.slice(0, maxHits) : hits;
  }

  /** Takes combining marks and variation selectors that follow the last character into the match. */
  private extendEnd(text: string, end: number): number {
    let e = end;
    while (e < text.length) {
      const cp = text.codePointAt(e) ?? 0;
      if (charCode(cp) !== IGNORABLE || isZeroWidthSpaceLike(cp)) break;
      e += cp > 0xffff ? 2 : 1;
    }
    return e;
  }

  private gap(text: string, from: number, to: number): Gap {
    const g: Gap = { separators: 0, whitespace: false, joinersOnly: true, hardBreak: false };
    for (let i = from; i < to; ) {
      const cp = text.codePointAt(i) ?? 0;
      i += cp > 0xffff ? 2 : 1;
      const code = charCode(cp);
      if (code === IGNORABLE) continue;
      if (code === HARD_BREAK) {
        g.hardBreak = true;
        g.whitespace = true;
        g.joinersOnly = false;
        g.separators++;
        continue;
      }
      if (code === SEPARATOR) {
        g.separators++;
        if (isWhitespace(cp)) g.whitespace = true;
        if (!isJoiner(cp)) g.joinersOnly = false;
      }
    }
    return g;
  }

  /** Whether a separator (not just invisibles) lies between stream characters k and k+1. */
  private separated(text: string, k: number): boolean {
    const from = this.ends[k] ?? 0;
    const to = this.starts[k + 1] ?? 0;
    return from < to && this.gap(text, from, to).separators > 0;
  }

  private verify(text: string, entry: Entry, first: number, last: number, n: number): boolean {
    const codes = this.codes;
    let spaced = false;
    let compoundGaps = 0;
    // 1. Separators inside the match.
    for (let k = first; k < last; k++) {
      const from = this.ends[k] ?? 0;
      const to = this.starts[k + 1] ?? 0;
      if (from >= to) continue;
      const g = this.gap(text, from, to);
      if (g.separators === 0) continue;
      if (g.hardBreak || g.separators > this.maxGap) return false;
      if (entry.breaks[k - first] === 1) continue;
      const left = codes[k] ?? 0;
      const right = codes[k + 1] ?? 0;
      if (isCjk(left) || isCjk(right)) continue; // 屠 杀, 屠*杀, 屠🔪杀
      if (isDigit(left) && isDigit(right)) return false; // 6 4, 6-4: scores and versions, not words
      const leftSingle = k === first || this.separated(text, k - 1);
      const rightSingle = k + 1 === last || this.separated(text, k + 1);
      if (g.whitespace) {
        // "k i l l" is an evasion; "an al" is two words.
        if (!leftSingle || !rightSingle) return false;
        spaced = true;
      } else if (g.joinersOnly && !leftSingle && !rightSingle) {
        compoundGaps++; // "cock-tail" is a compound word; "dis-mem-ber" splits syllables
      }
    }
    if (compoundGaps === 1) return false;
    // 2. Whole-word boundaries for Latin ends.
    if (entry.startBoundary && first > 0) {
      const prev = codes[first - 1] ?? 0;
      if (isLatinWord(prev)) {
        const from = this.ends[first - 1] ?? 0;
        const to = this.starts[first] ?? 0;
        const g = from < to ? this.gap(text, from, to) : undefined;
        if (g === undefined || g.separators === 0 || (g.joinersOnly && !g.hardBreak)) return false;
        if (spaced && !g.hardBreak && (first - 1 === 0 || this.separated(text, first - 2))) return false; // "s k i l l"
      }
    }
    if (entry.endBoundary && last + 1 < n) {
      const next = codes[last + 1] ?? 0;
      if (isLatinWord(next)) {
        const from = this.ends[last] ?? 0;
        const to = this.starts[last + 1] ?? 0;
        const g = from < to ? this.gap(text, from, to) : undefined;
        if (g === undefined || g.separators === 0 || (g.joinersOnly && !g.hardBreak)) return false;
        if (spaced && !g.hardBreak && (last + 2 >= n || this.separated(text, last + 1))) return false;
      }
    }
    return true;
  }
}

function isZeroWidthSpaceLike(cp: number): boolean {
  return (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2060 && cp <= 0x2064) || cp === 0xfeff || cp === 0x00ad;
}

const LEET: Readonly<Record<number, number>> = { 0x61: 0x34, 0x65: 0x33, 0x69: 0x31, 0x6c: 0x31, 0x6f: 0x30, 0x73: 0x35, 0x74: 0x37 };

/**
 * Digit look-alikes in Latin entries of four or more letters (c0caine, sh1t, k1ll): every variant
 * with one or two letters swapped for a digit. '@' and '$' are not covered (they are separators).
 */
function leetVariants(cps: readonly number[]): number[][] {
  if (cps.length < 4 || !cps.every((c) => c >= 0x61 && c <= 0x7a)) return [];
  const out: number[][] = [];
  for (let x = 0; x < cps.length; x++) {
    const lx = LEET[cps[x] ?? 0];
    if (lx === undefined) continue;
    const one = [...cps];
    one[x] = lx;
    out.push(one);
    for (let y = x + 1; y < cps.length; y++) {
      const ly = LEET[cps[y] ?? 0];
      if (ly === undefined) continue;
      const two = [...one];
      two[y] = ly;
      out.push(two);
    }
  }
  return out;
}

function numeralVariants(cps: readonly number[], word: string, file: string): number[][] {
  let variants: number[][] = [[]];
  for (const cp of cps) {
    const group = numeralGroupOf.get(cp);
    const options = group === undefined ? [cp] : [...(NUMERAL_GROUPS[group] ?? '')].map((c) => c.codePointAt(0) ?? 0);
    const next: number[][] = [];
    for (const v of variants) for (const o of options) next.push([...v, o]);
    variants = next;
    if (variants.length > MAX_VARIANTS) {
      throw new KeywordListError('invalid_list', `entry "${word}" with @numerals expands to more than ${MAX_VARIANTS} variants`, { file });
    }
  }
  return variants;
}
