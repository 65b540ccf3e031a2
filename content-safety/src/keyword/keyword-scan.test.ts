/**
 * The fast scan held against a plain reference kept here: a textbook Aho–Corasick over a trie of
 * Map children, fed by a loop that normalises one code point at a time with the rules the matcher
 * documents (invisibles skipped, separators skipped and ending a run, expansions, third copies of
 * a repeated character skipped when the state has no edge for them). On random mixed text (CJK,
 * Latin, full-width, upper case, look-alikes, traditional characters, zero-width characters,
 * combining marks, ligatures, astral letters, separators, masks and symbols) the two give the same
 * stream and the same candidates, for the main automaton, the masked-letter one, and the text with
 * symbols read as letters. The slice-built copies (masked, symbols as letters) are held against
 * the per-character versions they replaced.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Automaton } from './automaton.ts';
import { maskedCopy } from './evasion-expansions.ts';
import type { KeywordList } from './keyword-list-format.ts';
import { KeywordMatcher, symbolsAsLetters } from './keyword-matcher.ts';
import { CHAR_EXPANDS, IGNORABLE, MASK_CP, charCode, expansionOf } from './normalizer.ts';

/** A trie with Map children, failure links breadth first, every output on the failure chain. */
class ReferenceAutomaton {
  private readonly children: Map<number, number>[] = [new Map()];
  private readonly terminal: number[] = [-1];
  private readonly fail: number[] = [0];

  constructor(patterns: readonly (readonly number[])[]) {
    patterns.forEach((pattern, index) => {
      let s = 0;
      for (const cp of pattern) {
        const node = this.children[s] ?? new Map<number, number>();
        let to = node.get(cp);
        if (to === undefined) {
          to = this.children.length;
          this.children.push(new Map());
          this.terminal.push(-1);
          this.fail.push(0);
          node.set(cp, to);
        }
        s = to;
      }
      if (pattern.length > 0 && this.terminal[s] === -1) this.terminal[s] = index;
    });
    const queue = [...(this.children[0]?.values() ?? [])];
    for (let head = 0; head < queue.length; head++) {
      const s = queue[head] ?? 0;
      for (const [cp, to] of this.children[s] ?? new Map<number, number>()) {
        if (s === 0) this.fail[to] = 0;
        else {
          let f = this.fail[s] ?? 0;
          while (f !== 0 && !this.hasEdge(f, cp)) f = this.fail[f] ?? 0;
          this.fail[to] = this.children[f]?.get(cp) ?? 0;
        }
        queue.push(to);
      }
    }
  }

  hasEdge(state: number, cp: number): boolean {
    return this.children[state]?.has(cp) ?? false;
  }

  next(state: number, cp: number): number {
    let s = state;
    while (s !== 0 && !this.hasEdge(s, cp)) s = this.fail[s] ?? 0;
    return this.children[s]?.get(cp) ?? 0;
  }

  /** Patterns ending at `state`: its own, then those of its failure chain, nearest first. */
  outputs(state: number): number[] {
    const out: number[] = [];
    for (let s = state; s !== 0; s = this.fail[s] ?? 0) {
      const p = this.terminal[s] ?? -1;
      if (p >= 0) out.push(p);
    }
    return out;
  }
}

interface Candidates {
  starts: number[];
  ends: number[];
  codes: number[];
  found: number[];
}

/** The stream and candidates the straightforward way: one code point, one rule at a time. */
function referenceCandidates(text: string, a: ReferenceAutomaton): Candidates {
  const r: Candidates = { starts: [], ends: [], codes: [], found: [] };
  let state = 0;
  let prevCode = 0;
  let run = 0;
  const word = (code: number, start: number, end: number): void => {
    if (code === prevCode) {
      run++;
      if (run >= 2 && state !== 0 && !a.hasEdge(state, code)) return;
    } else {
      prevCode = code;
      run = 0;
    }
    const n = r.codes.length;
    r.starts.push(start);
    r.ends.push(end);
    r.codes.push(code);
    state = a.next(state, code);
    for (const p of a.outputs(state)) r.found.push(p, n);
  };
  let i = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    const end = i + ch.length;
    const code = charCode(cp);
    if (code === CHAR_EXPANDS) for (const c of expansionOf(cp)) word(c, i, end);
    else if (code > 0) word(code, i, end);
    else if (code !== IGNORABLE) prevCode = 0;
    i = end;
  }
  return r;
}

/** The per-character versions the slice-built copies replaced. */
function referenceMaskedCopy(text: string): string | undefined {
  const out = text.split('');
  const letter = (c: number): boolean => (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a);
  let changed = false;
  for (let i = 1; i < out.length - 1; i++) {
    if (!'*#_.'.includes(out[i] ?? '')) continue;
    let j = i;
    while (j < out.length && '*#_.'.includes(out[j] ?? '')) j++;
    if (j - i <= 2 && letter(text.charCodeAt(i - 1)) && j < out.length && letter(text.charCodeAt(j))) {
      for (let k = i; k < j; k++) out[k] = String.fromCharCode(MASK_CP);
      changed = true;
    }
    i = j - 1;
  }
  return changed ? out.join('') : undefined;
}

function referenceSymbolsAsLetters(text: string, pipe: number): string | undefined {
  const letterOf: Record<string, string> = { '@': 'a', $: 's', '!': 'i', '|': String.fromCharCode(pipe) };
  const letter = (c: string | undefined): boolean => c !== undefined && /^[A-Za-z]$/.test(c);
  const chars = text.split('');
  let out: string[] | undefined;
  for (let i = 0; i < chars.length; i++) {
    if (letterOf[chars[i] ?? ''] === undefined) continue;
    let j = i;
    while (j < chars.length && letterOf[chars[j] ?? ''] !== undefined) j++;
    const before = i > 0 && letter(chars[i - 1]);
    const after = j < chars.length && letter(chars[j]);
    if (before || after) {
      for (let k = i; k < j; k++) {
        if (!after && chars[k] !== '$' && chars[k] !== '|') continue;
        out ??= [...chars];
        out[k] = letterOf[chars[k] ?? ''] ?? '';
      }
    }
    i = j - 1;
  }
  return out?.join('');
}

// Word characters for the lists, and what the text may hold besides them.
const CJK = [...'屠杀人色情门毒品炸弹六四'];
const LATIN = [...'abcdeiklnoprstu'];
const NOISE = [
  ...'ABKLPＡｋｉｌаоср殺門們學ﬁß⑥①𝐤𝕜🔪 *.#_@$!|\n\r\t。，-\'',
  '\u200b',
  '\u200d',
  '\u0301',
  '\ufe0f',
  '\u00ad',
  '\ue000', // the mask code point itself, typed
];
const wordArb = fc.oneof(
  fc.array(fc.constantFrom(...CJK), { minLength: 2, maxLength: 4 }).map((cs) => cs.join('')),
  fc.array(fc.constantFrom(...LATIN), { minLength: 3, maxLength: 7 }).map((cs) => cs.join('')),
  fc.array(fc.constantFrom(...LATIN, '4', '6'), { minLength: 4, maxLength: 6 }).map((cs) => cs.join('')),
);
const listsArb = fc.tuple(fc.uniqueArray(wordArb, { minLength: 1, maxLength: 8 }), fc.uniqueArray(wordArb, { maxLength: 4 })).map(
  ([violence, sexual]): KeywordList[] => [
    { category: 'violence', words: violence },
    ...(sexual.length > 0 ? [{ category: 'sexual', words: sexual.map((w) => `${w} @substring`) }] : []),
  ],
);
/** Text pieces: list words (maybe with noise inside), single characters, and runs of one. */
const textArb = (lists: readonly KeywordList[]): fc.Arbitrary<string> => {
  const words = lists.flatMap((l) => l.words.map((w) => w.replace(/ @.*$/, '')));
  const piece = fc.oneof(
    fc.constantFrom(...words),
    fc.tuple(fc.constantFrom(...words), fc.constantFrom(...NOISE), fc.nat()).map(([w, x, at]) => {
      const cs = [...w];
      cs.splice(at % (cs.length + 1), 0, x);
      return cs.join('');
    }),
    // A list word with an inner letter masked (f*ck, p.rn), maybe with a character before it.
    fc.tuple(fc.constantFrom(...words), fc.constantFrom('*', '#', '_', '.', '**'), fc.nat(), fc.constantFrom('', '', ' ', '门', 'x')).map(([w, mask, at, before]) => {
      const cs = [...w];
      if (cs.length >= 3) cs[1 + (at % (cs.length - 2))] = mask;
      return before + cs.join('');
    }),
    fc.constantFrom(...CJK, ...LATIN, ...NOISE),
    fc.tuple(fc.constantFrom(...LATIN, ...CJK), fc.integer({ min: 2, max: 5 })).map(([c, k]) => c.repeat(k)),
  );
  return fc.array(piece, { maxLength: 40 }).map((ps) => ps.join(''));
};

describe('the fast scan and a plain reference', () => {
  it('read the same patterns back from the double array', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.constantFrom(0x61, 0x62, 0x63, 0x4e00, 0x4e01, 0x1d400, 0xe000), { maxLength: 6 }), { maxLength: 60 }),
        (patterns) => {
          const a = new Automaton(patterns);
          const expected = patterns.map((p, i) => (patterns.findIndex((q) => q.join() === p.join()) === i ? p : []));
          expect(a.patterns()).toEqual(expected);
          expect([...a.patternLength]).toEqual(patterns.map((p) => p.length));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('find the same candidates in random symbol strings', () => {
    const alphabet = [0x61, 0x62, 0x63, 0x64, 0x4e00, 0x4e01, 0x1d400];
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.constantFrom(...alphabet), { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 40 }),
        fc.array(fc.constantFrom(...alphabet, 0x65), { maxLength: 60 }),
        (patterns, text) => {
          const fast = new Automaton(patterns);
          const ref = new ReferenceAutomaton(patterns);
          const got: number[] = [];
          const want: number[] = [];
          let s = 0;
          let t = 0;
          text.forEach((cp, n) => {
            const sym = fast.symbolOf(cp);
            s = sym === 0 ? 0 : fast.next(s, sym);
            fast.outputs(s, n, got);
            t = ref.next(t, cp);
            for (const p of ref.outputs(t)) want.push(p, n);
          });
          expect(got).toEqual(want);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('give the same stream and candidates on random mixed text, all normalising and expansions on', () => {
    fc.assert(
      fc.property(
        listsArb.chain((lists) => fc.tuple(fc.constant(lists), fc.array(textArb(lists), { minLength: 1, maxLength: 4 }))),
        ([lists, texts]) => {
          const m = new KeywordMatcher(lists, { categoryAction: () => 'block' });
          const main = new ReferenceAutomaton(m.automaton.patterns());
          const masked = new ReferenceAutomaton(m.maskAutomaton.patterns());
          for (const text of texts) {
            expect(m.candidates(text), text).toEqual(referenceCandidates(text, main));
            const mc = maskedCopy(text);
            expect(mc, text).toBe(referenceMaskedCopy(text));
            if (mc !== undefined) expect(m.candidates(mc, 'masked'), text).toEqual(referenceCandidates(mc, masked));
            for (const pipe of [0x6c, 0x69]) {
              const sc = symbolsAsLetters(text, pipe);
              expect(sc, text).toBe(referenceSymbolsAsLetters(text, pipe));
              if (sc !== undefined) expect(m.candidates(sc), text).toEqual(referenceCandidates(sc, main));
            }
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('the masked and symbol copies scanned in windows around their edits', () => {
  it('find the same hits as scanning the whole copies, on long random mixed text', () => {
    const longTextArb = (lists: readonly KeywordList[]) => fc.array(textArb(lists), { minLength: 4, maxLength: 8 }).map((ts) => ts.join(''));
    let windowsUsed = 0;
    fc.assert(
      fc.property(
        listsArb.chain((lists) => fc.tuple(fc.constant(lists), fc.array(longTextArb(lists), { minLength: 1, maxLength: 3 }))),
        ([lists, texts]) => {
          const m = new KeywordMatcher(lists, { categoryAction: () => 'block' });
          for (const text of texts) {
            const whole = m.scan(text, 100_000, false);
            expect(m.scan(text, 100_000), text).toEqual(whole);
            if (text.length > 8 * (m.automaton.maxPatternLength + 3) && /[@$!|*#_.]/.test(text)) windowsUsed++;
          }
        },
      ),
      { numRuns: 1000 },
    );
    // Texts long enough for a window to leave part of them out were among those checked.
    expect(windowsUsed).toBeGreaterThan(500);
  });

  it('hold on the cases the property found: a typed mask code point far from a mask, a hit stretched over a run onto an edit', () => {
    const a = new KeywordMatcher(
      [{ category: 'violence', words: ['uctbnnt', 'ecueulr'] }, { category: 'sexual', words: ['lcan4d @substring', 'ttsbbbn @substring'] }],
      { categoryAction: () => 'block' },
    );
    const typed = 'u*tbnntAuctbnnttt\ue000sbbbn';
    expect(a.scan(typed, 100).map((h) => [h.word, h.start, h.end])).toEqual(a.scan(typed, 100, false).map((h) => [h.word, h.start, h.end]));
    expect(a.scan(typed, 100).some((h) => h.rule === 'masked' && h.start === 15)).toBe(true);
    const b = new KeywordMatcher([{ category: 'violence', words: ['ubdr'] }, { category: 'sexual', words: ['eekpds @substring', 'onbiiri @substring'] }], { categoryAction: () => 'block' });
    const stretched = 'xx onbiiri\uff49iiii|\u95e8ee*pds';
    expect(b.scan(stretched, 100)).toEqual(b.scan(stretched, 100, false));
    expect(b.scan(stretched, 100).filter((h) => h.word === 'onbiiri').map((h) => h.matchedText)).toEqual(['onbiiri\uff49iiii', 'onbiiri\uff49iiii|']);
  });

  it('find an evasion far into a long text, and none in a long text without one', () => {
    const m = new KeywordMatcher([{ category: 'violence', words: ['kill', 'rape', '屠杀'] }], { categoryAction: () => 'block' });
    const filler = '今天天气很好 we walk to the park and eat lunch. '.repeat(400);
    const text = `${filler}r@pe ${filler}k*ll ${filler}屠$杀 ${filler}a$$ k!ll`;
    const hits = m.scan(text, 1000).map((h) => [h.matchedText, h.start]);
    expect(hits).toEqual(m.scan(text, 1000, false).map((h) => [h.matchedText, h.start]));
    expect(hits.map(([t]) => t)).toEqual(['r@pe', 'k*ll', '屠$杀', 'k!ll']);
    expect(m.scan(filler.replace(/\./g, '!'), 1000)).toEqual([]);
  });
});
