/**
 * Compiled keyword lists: one Aho–Corasick automaton over normalised text plus the per-entry
 * rules checked on each candidate match (whole-word boundaries for Latin words, how separators
 * inside a match may look, allow-list precedence). Immutable once built.
 */
import { Automaton, BASE, CHECK, FAIL, MASK, NODE_STRIDE } from './automaton.ts';
import { KeywordListError } from './keyword-list-error.ts';
import type { KeywordAction, KeywordFlags, KeywordList } from './keyword-list-format.ts';
import { parseEntry, parseVariantLine } from './keyword-list-format.ts';
import { HOMOPHONES_PER_CHAR, HOMOPHONE_MIN_CHARS, applyEdits, homophoneVariants, maskedEdits, maskedVariants, pinyinForms } from './evasion-expansions.ts';
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
  /**
   * How an evasion matched, when it was not the entry itself (or its normalised, spaced, leet
   * or repeated forms): `masked` (f*ck), `homophone` (涩情 for 色情's list entry 儿童色情),
   * `pinyin` (se qing, se4qing2, zuo爱), `variant` (a slang spelling from a @variants list;
   * `word` is the canonical word), `escalation` (a context rule joined two hits).
   */
  rule?: HitRule;
}

export type HitRule = 'masked' | 'homophone' | 'pinyin' | 'variant' | 'escalation';

/** Load-time expansions that can be switched off (all on by default). */
export interface ExpansionOptions {
  homophones?: boolean;
  pinyin?: boolean;
  masked?: boolean;
}

/** What the load-time expansions added. */
export interface ExpansionStats {
  /** Patterns added per rule. */
  patterns: { masked: number; homophone: number; pinyin: number; variant: number };
  /** Total automaton patterns and states. */
  totalPatterns: number;
  states: number;
  /**
   * True when a budget cut the expansions: pinyin forms stop at MAX_EXPANSION_PATTERNS and
   * homophones share what is left evenly (fewer than HOMOPHONES_PER_CHAR per character); masked
   * variants stop at MAX_MASKED_PATTERNS.
   */
  capped: boolean;
  /** Time spent building the matcher (ms), expansions and automaton included. */
  buildMs: number;
}

/**
 * Most patterns the pinyin and homophone expansions add to the main automaton per load: bounds
 * load time and memory, and the scan slows as the automaton grows (the shipped lists add ~10,000).
 */
export const MAX_EXPANSION_PATTERNS = 50_000;
/** Most masked variants per load (their own automaton, scanned only for texts with a mask). */
export const MAX_MASKED_PATTERNS = 100_000;

interface Entry {
  word: string;
  category: string;
  action: KeywordAction;
  allow: boolean;
  /** breaks[k] = 1 when the entry itself has a separator between its code points k and k+1. */
  breaks: Uint8Array;
  /** The entry has @numerals: digits of it may be spaced out (6 4事件, ⑥-④事件). */
  numerals: boolean;
  startBoundary: boolean;
  endBoundary: boolean;
  rule: HitRule | undefined;
}

export interface MatcherOptions {
  /** Most separator code points skipped between two characters of a match (default 3). */
  maxGap?: number;
  categoryAction: (category: string) => KeywordAction | undefined;
  expansions?: ExpansionOptions;
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
  /** The match spans a line break inside a CJK word: held for review at most. */
  crossLine: boolean;
}

const VERIFY_REJECT = 0;
const VERIFY_OK = 1;
const VERIFY_CROSS_LINE = 2;

/** How the separators between two stream characters look. */
interface Gap {
  /** Separator code points, a run of one repeated separator counted once (屠。。。。杀, k....i). */
  separators: number;
  /** Line breaks (CR LF counts as one). */
  lineBreaks: number;
  whitespace: boolean;
  joinersOnly: boolean;
  hardBreak: boolean;
}

export class KeywordMatcher {
  readonly automaton: Automaton;
  readonly entries: readonly (readonly Entry[])[];
  /**
   * Masked variants (f*ck) live in their own automaton, scanned only over the masked copy of a
   * text that has a mask symbol between two letters; the main scan never pays for them.
   */
  readonly maskAutomaton: Automaton;
  readonly maskEntries: readonly (readonly Entry[])[];
  readonly entryCount: number;
  readonly maxGap: number;
  readonly hasAllow: boolean;
  /** Names of the term sets (their hits are for context rules only). */
  readonly termSets: ReadonlySet<string>;
  readonly stats: ExpansionStats;

  // Reused scan buffers (scans are synchronous, so one set per matcher is enough).
  private starts = new Int32Array(1024);
  private ends = new Int32Array(1024);
  private codes = new Int32Array(1024);

  constructor(lists: readonly KeywordList[], options: MatcherOptions) {
    const t0 = performance.now();
    this.maxGap = options.maxGap ?? 3;
    const ex = options.expansions ?? {};
    const main: PatternTable = { index: new Map(), patterns: [], entries: [] };
    const maskTable: PatternTable = { index: new Map(), patterns: [], entries: [] };
    const stats: ExpansionStats = {
      patterns: { masked: 0, homophone: 0, pinyin: 0, variant: 0 },
      totalPatterns: 0,
      states: 0,
      capped: false,
      buildMs: 0,
    };
    const homophoneCache = new Map<string, string[]>();
    // Homophones come last, sharing what is left of the budget evenly over every character.
    const homophoneWork: { spelling: string; word: string; list: KeywordList; action: KeywordAction; flags: KeywordFlags; seen: Set<string> }[] = [];
    let homophonePositions = 0;
    // Most variants share their breaks (all zero for one word): one typed array per shape.
    const breaksCache = new Map<string, Uint8Array>();
    const breaksOf = (b: readonly number[]): Uint8Array => {
      const key = b.join('');
      let arr = breaksCache.get(key);
      if (arr === undefined) breaksCache.set(key, (arr = Uint8Array.from(b)));
      return arr;
    };
    let added = 0;
    let maskedAdded = 0;
    let count = 0;
    let hasAllow = false;
    const termSets = new Set<string>();
    const addVariants = (
      variants: readonly Variant[],
      word: string,
      list: KeywordList,
      action: KeywordAction,
      flags: KeywordFlags,
      rule: HitRule | undefined,
      seen: Set<string>,
      table: PatternTable = main,
    ): void => {
      const { index: patternIndex, patterns, entries } = table;
      const anyStart = flags.substring === true || flags.suffix === true;
      const anyEnd = flags.substring === true || flags.prefix === true;
      for (const { cps: variant, breaks: variantBreaks } of variants) {
        const key = String.fromCodePoint(...variant);
        if (seen.has(key)) continue;
        seen.add(key);
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
          action,
          allow: list.allow === true,
          breaks: breaksOf(variantBreaks),
          numerals: flags.numerals === true,
          startBoundary: !anyStart && isLatinWord(variant[0] ?? 0),
          endBoundary: !anyEnd && isLatinWord(variant[variant.length - 1] ?? 0),
          rule,
        };
        entries[p]?.push(entry);
        if (entry.allow) hasAllow = true;
        if (rule === 'masked' || rule === 'homophone' || rule === 'pinyin') {
          stats.patterns[rule]++;
          if (rule === 'masked') maskedAdded++;
          else added++;
        }
      }
    };
    for (const list of lists) {
      if (list.rules !== undefined) continue;
      const file = list.source ?? `list "${list.category}"`;
      if (list.terms === true) termSets.add(list.category);
      const listAction = list.allow === true || list.terms === true ? 'block' : options.categoryAction(list.category);
      if (listAction === undefined) {
        throw new KeywordListError('unknown_category', `category "${list.category}" is not defined in the categories config`, { file });
      }
      // Evasion expansions are for real categories only: allow-lists and term sets match as written.
      const expand = list.allow !== true && list.terms !== true;
      list.words.forEach((raw, i) => {
        const forms: { word: string; spelling: string; flags: KeywordFlags; variant: boolean }[] = [];
        if (list.variants === true) {
          const v = parseVariantLine(raw, file, i + 1);
          for (const spelling of v.variants) forms.push({ word: v.canonical, spelling, flags: v.flags, variant: true });
        } else {
          const { word, flags } = parseEntry(raw, file, i + 1);
          if (word === '') return;
          forms.push({ word, spelling: word, flags, variant: false });
        }
        for (const form of forms) {
          const flags: KeywordFlags = { ...list.flags, ...form.flags };
          const norm = normalizeForMatch(form.spelling);
          const cps = [...norm.text].map((c) => c.codePointAt(0) ?? 0);
          if (cps.length === 0) {
            throw new KeywordListError('invalid_list', `entry "${form.spelling}" has no letters, digits or CJK characters`, { file });
          }
          const breaks: number[] = [];
          for (let k = 0; k + 1 < cps.length; k++) {
            breaks.push((norm.ends[k] ?? 0) < (norm.starts[k + 1] ?? 0) ? 1 : 0);
          }
          const base: Variant = { cps, breaks };
          let variants = flags.numerals === true ? numeralVariants(base, form.spelling, file) : [base];
          variants = variants.flatMap((v) => [v, ...repeatVariants(v)]);
          if (flags.leet !== false) variants = [...variants, ...leetVariants(base)];
          const action = flags.action ?? listAction;
          const seen = new Set<string>();
          const baseRule: HitRule | undefined = form.variant ? 'variant' : undefined;
          addVariants(variants, form.word, list, action, flags, baseRule, seen);
          // Allow entries also suppress masked hits, so the mask automaton has them too.
          if (list.allow === true) addVariants(variants, form.word, list, action, flags, baseRule, new Set(), maskTable);
          if (form.variant) stats.patterns.variant++;
          if (!expand) continue;
          const cjk = cps.every(isCjk);
          const maskRoom = (): boolean => {
            if (maskedAdded < MAX_MASKED_PATTERNS) return true;
            stats.capped = true;
            return false;
          };
          const roomLeft = (): boolean => {
            if (added < MAX_EXPANSION_PATTERNS) return true;
            stats.capped = true;
            return false;
          };
          if (ex.masked !== false && flags.mask !== false && !cjk && maskRoom()) {
            const masked = maskedVariants(cps, breaks).map((m) => ({ cps: m, breaks }));
            addVariants(masked, form.word, list, action, flags, form.variant ? 'variant' : 'masked', seen, maskTable);
          }
          if (!cjk) continue;
          const spelling = String.fromCodePoint(...cps);
          if (ex.pinyin !== false && flags.pinyin !== false && roomLeft()) {
            addVariants(pinyinForms(spelling), form.word, list, action, { ...flags, substring: false, prefix: false, suffix: false }, 'pinyin', seen);
          }
          if (ex.homophones !== false && (flags.homophones ?? cps.length >= HOMOPHONE_MIN_CHARS)) {
            homophoneWork.push({ spelling, word: form.word, list, action, flags, seen });
            homophonePositions += cps.length;
          }
        }
        count++;
      });
    }
    if (homophoneWork.length > 0) {
      const left = MAX_EXPANSION_PATTERNS - added;
      const perChar = Math.min(HOMOPHONES_PER_CHAR, Math.floor(left / homophonePositions));
      if (perChar < HOMOPHONES_PER_CHAR) stats.capped = true;
      if (perChar > 0) {
        for (const w of homophoneWork) {
          const homophones = homophoneVariants(w.spelling, homophoneCache, perChar).map((h) => ({ cps: h, breaks: h.slice(1).map(() => 0) }));
          addVariants(homophones, w.word, w.list, w.action, w.flags, 'homophone', w.seen);
        }
      }
    }
    this.automaton = new Automaton(main.patterns);
    this.entries = main.entries;
    this.maskAutomaton = new Automaton(maskTable.patterns);
    this.maskEntries = maskTable.entries;
    this.entryCount = count;
    this.hasAllow = hasAllow;
    this.termSets = termSets;
    stats.totalPatterns = main.patterns.length + maskTable.patterns.length;
    stats.states = this.automaton.stateCount + this.maskAutomaton.stateCount;
    stats.buildMs = Math.round(performance.now() - t0);
    this.stats = stats;
  }

  /**
   * All hits in `text` (already length-bounded), allow-list applied, ordered by start.
   *
   * Symbols used as letters (r@pe, $hit, sh!t, ki||) are found by scanning again a copy of the
   * text of the same length with those symbols replaced by their letters; only texts that have
   * such a symbol next to a letter pay for it. The first pass still reads them as separators, so
   * f!u!c!k and p|o|r|n keep matching. Masked letters (f*ck, p#rn) likewise, in a copy with each
   * mask run between two letters replaced by MASK_CP, which only the masked variants contain.
   * Those copies are scanned only around their edits (`scanEdited`); `windowed: false` scans them
   * whole (the reference the windows are tested against).
   */
  scan(text: string, maxHits: number, windowed = true): KeywordHit[] {
    const hits = this.scanOnce(text, maxHits);
    const more: KeywordHit[] = [];
    if (this.maskAutomaton.stateCount > 1) {
      const masked = maskedEdits(text);
      if (masked.length > 0) more.push(...this.scanEdited(text, masked, maxHits, this.maskAutomaton, this.maskEntries, windowed));
    }
    if (SYMBOL_RE.test(text)) {
      const asL = symbolEdits(text, 0x6c);
      if (asL.length > 0) {
        more.push(...this.scanEdited(text, asL, maxHits, this.automaton, this.entries, windowed));
        if (text.includes('|')) {
          const asI = symbolEdits(text, 0x69);
          if (asI.length > 0) more.push(...this.scanEdited(text, asI, maxHits, this.automaton, this.entries, windowed));
        }
      }
    }
    if (more.length === 0) return hits;
    const seen = new Set(hits.map(hitKey));
    for (const h of more) {
      const key = hitKey(h);
      if (seen.has(key)) continue;
      seen.add(key);
      hits.push({ ...h, matchedText: text.slice(h.start, h.end) });
    }
    hits.sort((x, y) => x.start - y.start || x.end - y.end);
    return hits.length > maxHits ? hits.slice(0, maxHits) : hits;
  }

  /**
   * The hits near an edit (within the automaton's longest pattern and three more stream
   * characters) of the copy of `text` with `edits` applied, scanning that copy only in windows
   * around the edits; a hit farther from every edit is the first pass's to find (the copy is the
   * text there). Distances count a run of one character twice at most (the scan may skip its
   * later copies, and a hit's end is stretched over them, possibly onto an edit). The same hits as a scan of the whole copy: a window starts where the L + 2 stream
   * characters before its kept zone hold no third copy of a character in a row and no expansion
   * (L: the longest pattern), so the scan emits there exactly what a whole scan emits and, L
   * characters on, is in the same automaton state; it ends L + 3 characters past the kept zone and
   * not inside a run of one character (the verifier's neighbours, allow entries that contain a
   * hit, and a hit's end stretched over repeats all lie inside). A window that reaches the text's
   * start or end keeps everything on that side.
   */
  private scanEdited(text: string, edits: readonly number[], maxHits: number, a: Automaton, table: readonly (readonly Entry[])[], windowed: boolean): KeywordHit[] {
    if (!windowed) return this.scanOnce(applyEdits(text, edits, 0, edits.length, 0, text.length), maxHits, a, table);
    const longest = a.maxPatternLength;
    const margin = longest + 3;
    const out: KeywordHit[] = [];
    let k = 0;
    while (k < edits.length) {
      const k0 = k;
      const first = edits[k] ?? 0;
      let safeStart = walkUnits(text, first, margin, -1);
      const ws = calmBack(text, safeStart, longest + 2);
      let safeEnd = walkUnits(text, first + 1, margin, 1);
      let we = windowEnd(text, safeEnd, margin);
      k += 2;
      // Edits inside this window join it (their own margins stretch it).
      while (k < edits.length && (edits[k] ?? 0) < we) {
        safeEnd = walkUnits(text, (edits[k] ?? 0) + 1, margin, 1);
        we = windowEnd(text, safeEnd, margin);
        k += 2;
      }
      if (ws === 0) safeStart = 0;
      if (we >= text.length) safeEnd = text.length;
      for (const h of this.scanOnce(applyEdits(text, edits, k0, k, ws, we), maxHits, a, table)) {
        const start = h.start + ws;
        if (start < safeStart || start > safeEnd) continue;
        out.push({ ...h, start, end: h.end + ws });
      }
    }
    return out;
  }

  private scanOnce(text: string, maxHits: number, a: Automaton = this.automaton, table: readonly (readonly Entry[])[] = this.entries): KeywordHit[] {
    const found: number[] = []; // pairs: pattern index, last stream index
    const n = this.collect(text, a, found);
    if (found.length === 0) return [];
    return this.resolve(text, found, a.patternLength, n, maxHits, table);
  }

  /**
   * The stream and the candidates of one scan, copied out, for tests that hold the scan against a
   * plain reference: for each stream character its original range and normalised code, and the
   * pairs (pattern index, last stream index) of every pattern occurrence, in the order found.
   */
  candidates(text: string, which: 'main' | 'masked' = 'main'): { starts: number[]; ends: number[]; codes: number[]; found: number[] } {
    const found: number[] = [];
    const n = this.collect(text, which === 'main' ? this.automaton : this.maskAutomaton, found);
    return { starts: [...this.starts.subarray(0, n)], ends: [...this.ends.subarray(0, n)], codes: [...this.codes.subarray(0, n)], found };
  }

  /**
   * One pass that normalises and walks the automaton together: fills this.starts/ends/codes with
   * the stream (no intermediate string) and `found` with the candidates; returns the stream length.
   */
  private collect(text: string, a: Automaton, found: number[]): number {
    const { symBmp, symAstral, node } = a;
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
    let n = 0;
    let state = 0;
    const len = text.length;
    let i = 0;
    let expansion: readonly number[] | undefined;
    let expansionAt = 0;
    let cpStart = 0;
    let cpEnd = 0;
    let prevCode = 0;
    let run = 0;
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
          if (code !== IGNORABLE) prevCode = 0;
          // IGNORABLE, SEPARATOR or HARD_BREAK: skipped, offsets kept by starts/ends. The state is
          // kept across a line break too (verify() accepts one only inside a CJK word).
          continue;
        }
      }
      if (code === prevCode) {
        // Third and later copies of a repeated character (fuuuck, kiiill) are skipped when the
        // automaton has no edge for them, so a run matches like a double; repeatVariants() lets
        // a double match a single letter of the entry.
        if (++run >= 2 && state !== 0 && !a.hasEdge(state, a.symbolOf(code))) continue;
      } else {
        prevCode = code;
        run = 0;
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
      // Inlined Automaton.next: slot base(s) + sym is the child when its check is s.
      // The child mask rules most missing children out without reading their slot.
      const bit = 1 << (sym & 31);
      let s = state;
      for (;;) {
        const at = s * NODE_STRIDE;
        if (((node[at + MASK] ?? 0) & bit) !== 0) {
          const to = (node[at + BASE] ?? 0) + sym;
          if (node[to * NODE_STRIDE + CHECK] === s) {
            state = to;
            break;
          }
        }
        if (s === 0) {
          state = 0;
          break;
        }
        s = (node[at + FAIL] ?? 0) >> 1;
      }
      if (((node[state * NODE_STRIDE + FAIL] ?? 0) & 1) !== 0) a.outputs(state, n, found);
      n++;
    }
    return n;
  }

  private resolve(text: string, found: number[], patternLength: Int32Array, n: number, maxHits: number, table: readonly (readonly Entry[])[]): KeywordHit[] {
    const accepted: Candidate[] = [];
    const allows: Candidate[] = [];
    for (let k = 0; k < found.length; k += 2) {
      const p = found[k] ?? 0;
      const last = found[k + 1] ?? 0;
      const first = last - (patternLength[p] ?? 1) + 1;
      for (const entry of table[p] ?? []) {
        const v = this.verify(text, entry, first, last, n);
        if (v === VERIFY_REJECT) continue;
        (entry.allow ? allows : accepted).push({ entry, first, last, crossLine: v === VERIFY_CROSS_LINE });
      }
    }
    const hits: KeywordHit[] = [];
    const seen = new Set<string>();
    for (const c of accepted) {
      const start = this.starts[c.first] ?? 0;
      const end = this.extendEnd(text, this.ends[c.last] ?? 0, this.codes[c.last] ?? 0);
      // An allow entry covering the whole block match suppresses it.
      if (allows.some((al) => (this.starts[al.first] ?? 0) <= start && (this.ends[al.last] ?? 0) >= (this.ends[c.last] ?? 0))) continue;
      const key = `${c.entry.category}\u0000${c.entry.word}\u0000${start}\u0000${end}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const action = c.crossLine ? 'review' : c.entry.action;
      const hit: KeywordHit = { word: c.entry.word, category: c.entry.category, action, start, end, matchedText: text.slice(start, end) };
      if (c.entry.rule !== undefined) hit.rule = c.entry.rule;
      hits.push(hit);
    }
    hits.sort((x, y) => x.start - y.start || x.end - y.end);
    return hits.length > maxHits ? hits.slice(0, maxHits) : hits;
  }

  /**
   * Takes combining marks and variation selectors that follow the last character into the match,
   * and further copies of the last character that the scan skipped (kiiilll).
   */
  private extendEnd(text: string, end: number, lastCode: number): number {
    let e = end;
    while (e < text.length) {
      const cp = text.codePointAt(e) ?? 0;
      const code = charCode(cp);
      if (code !== lastCode && (code !== IGNORABLE || isZeroWidthSpaceLike(cp))) break;
      e += cp > 0xffff ? 2 : 1;
    }
    return e;
  }

  private gap(text: string, from: number, to: number): Gap {
    const g: Gap = { separators: 0, lineBreaks: 0, whitespace: false, joinersOnly: true, hardBreak: false };
    let previous = -1;
    for (let i = from; i < to; ) {
      const cp = text.codePointAt(i) ?? 0;
      i += cp > 0xffff ? 2 : 1;
      const code = charCode(cp);
      if (code === IGNORABLE) continue;
      if (code === HARD_BREAK) {
        g.hardBreak = true;
        g.whitespace = true;
        g.joinersOnly = false;
        if (!(cp === 0x0a && previous === 0x0d)) g.lineBreaks++;
        if (cp !== previous) g.separators++;
        previous = cp;
        continue;
      }
      if (code === SEPARATOR) {
        if (cp !== previous) g.separators++; // a run of one repeated separator counts once
        if (isWhitespace(cp)) g.whitespace = true;
        if (!isJoiner(cp)) g.joinersOnly = false;
        previous = cp;
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

  private verify(text: string, entry: Entry, first: number, last: number, n: number): number {
    const codes = this.codes;
    let spaced = false;
    let compoundGaps = 0;
    let crossLine = false;
    // 1. Separators inside the match.
    for (let k = first; k < last; k++) {
      const from = this.ends[k] ?? 0;
      const to = this.starts[k + 1] ?? 0;
      if (from >= to) continue;
      const g = this.gap(text, from, to);
      if (g.separators === 0) continue;
      if (g.separators > this.maxGap) return VERIFY_REJECT;
      const left = codes[k] ?? 0;
      const right = codes[k + 1] ?? 0;
      if (g.hardBreak) {
        // One line break inside a CJK word (屠\n杀) is an evasion; Latin words never span lines.
        if (g.lineBreaks !== 1 || !isCjk(left) || !isCjk(right)) return VERIFY_REJECT;
        crossLine = true;
        continue;
      }
      if (entry.breaks[k - first] === 1) continue;
      if (isCjk(left) || isCjk(right)) continue; // 屠 杀, 屠*杀, 屠🔪杀
      if (isDigit(left) && isDigit(right)) {
        if (entry.numerals) continue; // 6 4事件, ⑥-④事件
        return VERIFY_REJECT; // 6 4, 6-4: scores and versions, not words
      }
      const leftSingle = k === first || this.separated(text, k - 1);
      const rightSingle = k + 1 === last || this.separated(text, k + 1);
      if (g.whitespace) {
        // "k i l l" is an evasion; "an al" is two words.
        if (!leftSingle || !rightSingle) return VERIFY_REJECT;
        spaced = true;
      } else if (g.joinersOnly && !leftSingle && !rightSingle) {
        compoundGaps++; // "cock-tail" is a compound word; "dis-mem-ber" splits syllables
      }
    }
    if (compoundGaps === 1) return VERIFY_REJECT;
    // 2. Whole-word boundaries for Latin ends.
    if (entry.startBoundary && first > 0) {
      const prev = codes[first - 1] ?? 0;
      if (isLatinWord(prev)) {
        const from = this.ends[first - 1] ?? 0;
        const to = this.starts[first] ?? 0;
        const g = from < to ? this.gap(text, from, to) : undefined;
        if (g === undefined || g.separators === 0 || (g.joinersOnly && !g.hardBreak)) return VERIFY_REJECT;
        const single = first - 1 === 0 || this.separated(text, first - 2);
        if (spaced && !g.hardBreak && single && !this.wordBeside(text, prev, from, to, first)) return VERIFY_REJECT; // "s k i l l"
      }
    }
    if (entry.endBoundary && last + 1 < n) {
      const next = codes[last + 1] ?? 0;
      if (isLatinWord(next)) {
        const from = this.ends[last] ?? 0;
        const to = this.starts[last + 1] ?? 0;
        const g = from < to ? this.gap(text, from, to) : undefined;
        if (g === undefined || g.separators === 0 || (g.joinersOnly && !g.hardBreak)) return VERIFY_REJECT;
        const single = last + 2 >= n || this.separated(text, last + 1);
        if (spaced && !g.hardBreak && single && !this.wordBeside(text, next, from, to, last - 1)) return VERIFY_REJECT;
      }
    }
    return crossLine ? VERIFY_CROSS_LINE : VERIFY_OK;
  }

  /**
   * A single letter beside a spelled-out match ("I k i l l", "k i l l a man") is a word of its own
   * when it is a one-letter word (a, i, u, o), or when the separators between it and the match
   * differ from those between the match's own letters ("s  k i l l", "s, k i l l"). Otherwise it
   * continues the spelling ("s k i l l" is skill, not kill).
   */
  private wordBeside(text: string, letter: number, from: number, to: number, inner: number): boolean {
    if (letter === 0x61 || letter === 0x69 || letter === 0x75 || letter === 0x6f) return true;
    const innerFrom = this.ends[inner] ?? 0;
    const innerTo = this.starts[inner + 1] ?? 0;
    return text.slice(from, to) !== text.slice(innerFrom, innerTo);
  }
}

/** Patterns being collected for one automaton, and the entries behind each. */
interface PatternTable {
  index: Map<string, number>;
  patterns: number[][];
  entries: Entry[][];
}

function isZeroWidthSpaceLike(cp: number): boolean {
  return (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2060 && cp <= 0x2064) || cp === 0xfeff || cp === 0x00ad;
}

/** One pattern of an entry: its code points and, between each two, whether the entry has a separator there. */
interface Variant {
  cps: number[];
  breaks: number[];
}

function hitKey(h: KeywordHit): string {
  return `${h.category}\u0000${h.word}\u0000${h.start}\u0000${h.end}`;
}

/** Symbols that stand in for letters: r@pe, $hit, sh!t, ki||. */
const SYMBOL_RE = /[@$!|]/;
const SYMBOL_LETTER: Readonly<Record<number, number>> = { 0x40: 0x61, 0x24: 0x73, 0x21: 0x69 };

function isAsciiLetter(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a);
}

/**
 * The look-alike symbols of `text` that stand where a letter could, as edits (pairs: position, the
 * letter it imitates, '|' as `pipe`), in order: a run of them must be followed by a letter (r@pe,
 * $hit, @ss), or, for '$' and '|', follow one (a$$, ki||). '!' and '@' after a word are
 * punctuation and handles, and stay separators. Empty when there is none.
 */
export function symbolEdits(text: string, pipe: number): number[] {
  const edits: number[] = [];
  const len = text.length;
  for (let i = 0; i < len; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x40 && c !== 0x24 && c !== 0x21 && c !== 0x7c) continue;
    let j = i;
    while (j < len) {
      const d = text.charCodeAt(j);
      if (d !== 0x40 && d !== 0x24 && d !== 0x21 && d !== 0x7c) break;
      j++;
    }
    const before = i > 0 && isAsciiLetter(text.charCodeAt(i - 1));
    const after = j < len && isAsciiLetter(text.charCodeAt(j));
    if (before || after) {
      for (let k = i; k < j; k++) {
        const d = text.charCodeAt(k);
        if (!after && d !== 0x24 && d !== 0x7c) continue;
        edits.push(k, d === 0x7c ? pipe : (SYMBOL_LETTER[d] ?? d));
      }
    }
    i = j - 1;
  }
  return edits;
}

/** A copy of `text` (same length, so offsets hold) with symbolEdits applied, or undefined when there is none. */
export function symbolsAsLetters(text: string, pipe: number): string | undefined {
  const edits = symbolEdits(text, pipe);
  return edits.length === 0 ? undefined : applyEdits(text, edits, 0, edits.length, 0, text.length);
}

/** Whether a class from charCode is a stream character (one the scan emits, or several: an expansion). */
function isUnit(code: number): boolean {
  return code > 0 || code === CHAR_EXPANDS;
}

/** The code point that ends at `i` (exclusive), as [code point, its length in code units]. */
function codePointBefore(text: string, i: number): [number, number] {
  const lo = text.charCodeAt(i - 1);
  if (lo >= 0xdc00 && lo <= 0xdfff && i >= 2) {
    const hi = text.charCodeAt(i - 2);
    if (hi >= 0xd800 && hi <= 0xdbff) return [((hi - 0xd800) << 10) + (lo - 0xdc00) + 0x10000, 2];
  }
  return [lo, 1];
}

/**
 * Where `units` stream characters from `from` end, walking back (`step` -1: where the last ones
 * before it begin) or on (+1); the text's start or end when it has fewer. A run of one character
 * counts twice at most: the scan may skip its third and later copies, so the stretch holds at least
 * `units` characters of the scan's stream.
 */
function walkUnits(text: string, from: number, units: number, step: -1 | 1): number {
  let i = from;
  let n = 0;
  let previous = 0;
  let run = 0;
  while (n < units && (step < 0 ? i > 0 : i < text.length)) {
    let cp: number;
    if (step < 0) {
      const [c, w] = codePointBefore(text, i);
      cp = c;
      i -= w;
    } else {
      cp = text.codePointAt(i) ?? 0;
      i += cp > 0xffff ? 2 : 1;
    }
    const c = charCode(cp);
    if (!isUnit(c)) continue;
    run = c === previous && c !== CHAR_EXPANDS ? run + 1 : 0;
    previous = c;
    if (run < 2) n++;
  }
  return i;
}

/**
 * Where a scan may start so that, by `from`, it emits what a scan from the text's start emits and
 * is in the same state: the start of the `need` stream characters before `from` that are neither a
 * third copy of one character in a row (the only ones a scan may skip, depending on its state) nor
 * an expansion, plus the two before them (the repeat count's context). 0 when there are none such.
 * Separators are looked through (conservative: a run they break is still counted as one).
 */
function calmBack(text: string, from: number, need: number): number {
  let i = from;
  let calm = 0;
  let seen = 0;
  let c1 = 0; // the stream character right after the current one
  let c2 = 0; // and the one after that
  while (i > 0) {
    const [cp, w] = codePointBefore(text, i);
    i -= w;
    const c = charCode(cp);
    if (!isUnit(c)) continue;
    seen++;
    if (seen >= 3) {
      if (c2 !== CHAR_EXPANDS && !(c === c1 && c1 === c2)) {
        if (++calm >= need) return i;
      } else calm = 0;
    }
    c2 = c1;
    c1 = c;
  }
  return 0;
}

/** walkUnits onward, then on past invisibles and further copies of the last character (a hit's end is stretched over them). */
function windowEnd(text: string, from: number, units: number): number {
  let i = walkUnits(text, from, units, 1);
  let last = 0;
  for (let j = i; j > from && last === 0; ) {
    const [cp, w] = codePointBefore(text, j);
    j -= w;
    const c = charCode(cp);
    if (isUnit(c)) last = c;
  }
  while (i < text.length) {
    const cp = text.codePointAt(i) ?? 0;
    const c = charCode(cp);
    if (c !== IGNORABLE && c !== last) break;
    i += cp > 0xffff ? 2 : 1;
  }
  return i;
}

function isAsciiLower(c: number): boolean {
  return c >= 0x61 && c <= 0x7a;
}

/**
 * Doubled letters (fuuck, kiill, 摇头头丸): for Latin entries of four or more letters, a variant
 * with each single letter doubled (not where the entry already has a double: "kill" gets "kiill"
 * but not "killl"); for CJK entries of three or more characters, each inner character doubled
 * (two-character words already match inside 屠屠杀). Runs of three or more are shortened to two by
 * the scan.
 */
function repeatVariants(v: Variant): Variant[] {
  const { cps, breaks } = v;
  const latin = cps.length >= 4 && cps.every(isAsciiLower);
  const cjk = cps.length >= 3 && cps.every(isCjk);
  if (!latin && !cjk) return [];
  const out: Variant[] = [];
  for (let j = latin ? 0 : 1; j < (latin ? cps.length : cps.length - 1); j++) {
    const c = cps[j] ?? 0;
    if (cps[j - 1] === c || cps[j + 1] === c) continue;
    out.push({ cps: [...cps.slice(0, j + 1), c, ...cps.slice(j + 1)], breaks: [...breaks.slice(0, j), 0, ...breaks.slice(j)] });
  }
  return out;
}

const LEET: Readonly<Record<number, number>> = { 0x61: 0x34, 0x65: 0x33, 0x69: 0x31, 0x6c: 0x31, 0x6f: 0x30, 0x73: 0x35, 0x74: 0x37 };
const MAX_LEET_VARIANTS = 512;

/**
 * Digit look-alikes in Latin entries of four or more letters (c0caine, sh1t, k1ll, c0c41ne): every
 * variant with letters swapped for digits, up to two in a four-letter entry, and up to all but two
 * letters in longer ones (at least two real letters stay, so a run of digits never matches a word).
 * Entries with very many look-alike letters stop at MAX_LEET_VARIANTS (fewest swaps first).
 */
function leetVariants(v: Variant): Variant[] {
  const { cps, breaks } = v;
  if (cps.length < 4 || !cps.every(isAsciiLower)) return [];
  const maxSwaps = cps.length === 4 ? 2 : cps.length - 2;
  const positions: number[] = [];
  cps.forEach((c, x) => {
    if (LEET[c] !== undefined) positions.push(x);
  });
  const out: Variant[] = [];
  // Breadth-first by number of swaps, each set of positions built once (ascending order).
  let level: { cps: number[]; lastPos: number }[] = [{ cps: [...cps], lastPos: -1 }];
  for (let swaps = 1; swaps <= maxSwaps && level.length > 0; swaps++) {
    const next: { cps: number[]; lastPos: number }[] = [];
    for (const item of level) {
      for (let p = item.lastPos + 1; p < positions.length; p++) {
        const x = positions[p] ?? 0;
        const swapped = [...item.cps];
        swapped[x] = LEET[cps[x] ?? 0] ?? 0;
        next.push({ cps: swapped, lastPos: p });
        out.push({ cps: swapped, breaks });
        if (out.length >= MAX_LEET_VARIANTS) return out;
      }
    }
    level = next;
  }
  return out;
}

/** Chinese place-value forms of a two-digit number (64 → 六十四, 陆拾肆; 10 → 十; 15 → 十五, 一十五). */
function placeValueForms(tens: number, ones: number): number[][] {
  if (tens === 0) return [];
  const forms: string[] = [];
  for (const [digits, ten] of [['〇一二三四五六七八九', '十'], ['零壹贰叁肆伍陆柒捌玖', '拾']] as const) {
    const unit = ones === 0 ? '' : (digits[ones] ?? '');
    if (tens === 1) forms.push(ten + unit);
    forms.push((digits[tens] ?? '') + ten + unit);
  }
  return forms.map((f) => [...f].map((c) => c.codePointAt(0) ?? 0));
}

/**
 * @numerals variants: each digit or Chinese numeral in any of its forms (6, 六, 陆), and a run of
 * exactly two numerals also as a Chinese place-value number (六四 → 六十四, 35 → 三十五).
 */
function numeralVariants(v: Variant, word: string, file: string): Variant[] {
  const { cps, breaks } = v;
  // Segments: [start, end) of cps, with their alternative spellings.
  let variants: Variant[] = [{ cps: [], breaks: [] }];
  for (let i = 0; i < cps.length; ) {
    let j = i;
    while (j < cps.length && numeralGroupOf.has(cps[j] ?? 0)) j++;
    const options: Variant[] = [];
    let end: number;
    if (j === i) {
      options.push({ cps: [cps[i] ?? 0], breaks: [] });
      end = i + 1;
    } else {
      // Per-character forms for the whole run.
      let run: Variant[] = [{ cps: [], breaks: [] }];
      for (let k = i; k < j; k++) {
        const group = numeralGroupOf.get(cps[k] ?? 0) ?? 0;
        const forms = [...(NUMERAL_GROUPS[group] ?? '')].map((c) => c.codePointAt(0) ?? 0);
        run = run.flatMap((r) => forms.map((f) => ({ cps: [...r.cps, f], breaks: k === i ? [] : [...r.breaks, breaks[k - 1] ?? 0] })));
      }
      options.push(...run);
      if (j - i === 2) {
        const tens = numeralGroupOf.get(cps[i] ?? 0) ?? 0;
        const ones = numeralGroupOf.get(cps[i + 1] ?? 0) ?? 0;
        for (const f of placeValueForms(tens, ones)) options.push({ cps: f, breaks: f.slice(1).map(() => 0) });
      }
      end = j;
    }
    const joinBreak = i === 0 ? undefined : (breaks[i - 1] ?? 0);
    const next: Variant[] = [];
    for (const prefix of variants) {
      for (const o of options) {
        next.push({
          cps: [...prefix.cps, ...o.cps],
          breaks: joinBreak === undefined ? [...o.breaks] : [...prefix.breaks, joinBreak, ...o.breaks],
        });
      }
    }
    variants = next;
    if (variants.length > MAX_VARIANTS) {
      throw new KeywordListError('invalid_list', `entry "${word}" with @numerals expands to more than ${MAX_VARIANTS} variants`, { file });
    }
    i = end;
  }
  return variants;
}
