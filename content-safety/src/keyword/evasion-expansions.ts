/**
 * Load-time expansions of list entries for the evasions people type on purpose:
 *
 * - homophones: one character of a Chinese entry replaced by a character with the same pinyin
 *   (tones ignored), from a table derived from pinyin-pro;
 * - pinyin: the Chinese entry written in pinyin, syllables spaced or run together, with tone
 *   marks (folded away by the normaliser), tone digits or no tones, and the entry with one
 *   syllable of three or more letters written in pinyin (zuo爱);
 * - masked letters: an English entry with inner letters replaced by a mask symbol (f*ck, p#rn).
 *
 * Everything here runs once per list load; the scan only walks the bigger automaton.
 */
import { pinyin } from 'pinyin-pro';
import { MASK_CP, isCjk } from './normalizer.ts';

export { MASK_CP };
/** Symbols that stand for one letter inside a word: f*ck, p#rn, n_de, r.pe. */
export const MASK_SYMBOLS = '*#_.';
const MASK_RE = /[A-Za-z][*#_.]{1,2}[A-Za-z]/;

/** Shortest English entry that gets masked variants. */
export const MASK_MIN_LETTERS = 4;
/** Most masked letters in one word. */
const MASK_MAX = 2;

/** Homophones tried per character of an entry (common characters first). */
export const HOMOPHONES_PER_CHAR = 40;
/** Shortest Chinese entry that gets homophone variants without the @homophones flag. */
export const HOMOPHONE_MIN_CHARS = 3;
/** Fewest letters in a run-together toneless pinyin form (shorter ones are English words: dama, anal). */
const PINYIN_MIN_LETTERS = 5;
/** Fewest letters of a pinyin syllable written inside a Chinese entry (zuo爱; not 做ai, "make AI"). */
const MIXED_MIN_LETTERS = 3;

/**
 * Pinyin syllables that are also everyday English words: a spaced toneless form made only of
 * these ("you you", "he he", "ban fan") is English, not pinyin, and is not generated.
 */
const ENGLISH_SYLLABLES = new Set(
  'a an ai bag ban bang be bin bo can cha chi da dang den die dig e en fan gang gen ha hang he hen hi ho hong ju kan lan lang le lie lin long ma man me men mi min mo na nan ne ni no pa pan pang pen pi pin po ran sang sen sha she shi shun si so sun ta tan tang ten tie tin ting to wan wang we wen wo ya yang ye yi yo you yu zen'.split(
    ' ',
  ),
);

let homophoneIndex: Map<string, string[]> | undefined;
let homophoneIndexMs = 0;

/**
 * Syllable (no tone, ü as v) → the GB2312 characters read that way, level 1 (the 3,755 common
 * characters) before level 2. Built once per process from pinyin-pro.
 */
function syllableIndex(): Map<string, string[]> {
  if (homophoneIndex !== undefined) return homophoneIndex;
  const t0 = performance.now();
  const index = new Map<string, string[]>();
  const decoder = new TextDecoder('gbk');
  const bytes = new Uint8Array(2);
  for (let hi = 0xb0; hi <= 0xf7; hi++) {
    for (let lo = 0xa1; lo <= 0xfe; lo++) {
      bytes[0] = hi;
      bytes[1] = lo;
      const c = decoder.decode(bytes);
      if (c.length !== 1 || !isCjk(c.charCodeAt(0))) continue;
      const readings = pinyin(c, { toneType: 'none', type: 'array', multiple: true, v: true });
      for (const r of new Set(readings)) {
        let list = index.get(r);
        if (list === undefined) index.set(r, (list = []));
        list.push(c);
      }
    }
  }
  homophoneIndex = index;
  homophoneIndexMs = performance.now() - t0;
  return index;
}

/** How long the one-off homophone index took to build (ms; 0 before it was needed). */
export function homophoneIndexBuildMs(): number {
  return homophoneIndexMs;
}

/** The pinyin of each character of a Chinese word in context (polyphones read as in the word). */
function wordSyllables(word: string, toneType: 'none' | 'num' | 'symbol'): string[] {
  return pinyin(word, { toneType, type: 'array', v: toneType !== 'symbol' });
}

/**
 * For a Chinese entry: every variant with one character replaced by a same-sounding one (its
 * reading in this word, tones ignored). Returns code-point arrays.
 */
export function homophoneVariants(word: string, cache: Map<string, string[]>, perChar: number = HOMOPHONES_PER_CHAR): number[][] {
  const chars = [...word];
  if (!chars.every((c) => isCjk(c.codePointAt(0) ?? 0))) return [];
  const syllables = wordSyllables(word, 'none');
  if (syllables.length !== chars.length) return [];
  const index = syllableIndex();
  const out: number[][] = [];
  chars.forEach((c, j) => {
    const syllable = syllables[j] ?? '';
    const key = `${c}\u0000${syllable}\u0000${perChar}`;
    let sames = cache.get(key);
    if (sames === undefined) {
      sames = (index.get(syllable) ?? []).filter((h) => h !== c).slice(0, perChar);
      cache.set(key, sames);
    }
    for (const h of sames) {
      const v = chars.map((x) => x.codePointAt(0) ?? 0);
      v[j] = h.codePointAt(0) ?? 0;
      out.push(v);
    }
  });
  return out;
}

/** A pinyin form: its code points and where a separator may stand (between syllables). */
export interface PinyinForm {
  cps: number[];
  breaks: number[];
}

function formOf(parts: readonly string[]): PinyinForm {
  const cps: number[] = [];
  const breaks: number[] = [];
  parts.forEach((p, i) => {
    const pc = [...p].map((c) => c.codePointAt(0) ?? 0);
    pc.forEach((cp, k) => {
      if (cps.length > 0) breaks.push(i > 0 && k === 0 ? 1 : 0);
      cps.push(cp);
    });
  });
  return { cps, breaks };
}

/**
 * Pinyin forms of a Chinese entry of two or more characters:
 * - toneless syllables, spaced or run together ("se qing", "seqing", "SeQing"); tone marks fold
 *   to these in the normaliser ("sè qíng");
 * - tone digits after each syllable ("se4 qing2", "se4qing2");
 * - ü as v and as u (nv, nu);
 * - the entry with one syllable of 3+ letters in pinyin and the rest in characters (zuo爱, 色qing).
 * A form that could be plain English is left out: run-together toneless forms under five letters,
 * and forms whose syllables are all everyday English words ("you you").
 */
export function pinyinForms(word: string): PinyinForm[] {
  const chars = [...word];
  if (chars.length < 2 || !chars.every((c) => isCjk(c.codePointAt(0) ?? 0))) return [];
  const plain = wordSyllables(word, 'none');
  const num = wordSyllables(word, 'num');
  if (plain.length !== chars.length || num.length !== chars.length) return [];
  if (!plain.every((s) => /^[a-zv]+$/.test(s))) return [];
  const forms: PinyinForm[] = [];
  const spellings = plain.some((s) => s.includes('v')) ? [plain, plain.map((s) => s.replace(/v/g, 'u'))] : [plain];
  for (const syl of spellings) {
    const letters = syl.join('').length;
    const english = syl.every((s) => ENGLISH_SYLLABLES.has(s));
    if (letters >= PINYIN_MIN_LETTERS && !english) forms.push(formOf(syl));
  }
  // Tone digits: the neutral tone may be written 5, 0 or not at all; pinyin-pro writes none.
  const toned = num.map((s) => (/[0-9]$/.test(s) ? s : `${s}5`));
  for (const n of plain.some((s) => s.includes('v')) ? [toned, toned.map((s) => s.replace(/v/g, 'u'))] : [toned]) forms.push(formOf(n));
  // Mixed: one syllable in pinyin, the rest as characters.
  plain.forEach((s, j) => {
    if (s.length < MIXED_MIN_LETTERS || chars.length < 2) return;
    const parts = chars.map((c, k) => (k === j ? s : c));
    forms.push(formOf(parts));
  });
  return forms;
}

/**
 * Masked variants of an English entry: in each of its words of MASK_MIN_LETTERS or more letters,
 * one inner letter replaced by MASK_CP (never the first or last letter of the word, so a mask
 * always has a real letter on each side), and in a one-word entry also two (f**k, at most half of
 * the letters). `breaks` marks the word boundaries of a phrase (make a b*mb).
 */
export function maskedVariants(cps: readonly number[], breaks: readonly number[]): number[][] {
  if (!cps.every((c) => (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39))) return [];
  const words: [number, number][] = [];
  let from = 0;
  for (let k = 0; k < cps.length; k++) {
    if (k === cps.length - 1 || breaks[k] === 1) {
      words.push([from, k + 1]);
      from = k + 1;
    }
  }
  const out: number[][] = [];
  const single = words.length === 1;
  for (const [a0, b0] of words) {
    const len = b0 - a0;
    if (len < MASK_MIN_LETTERS) continue;
    let letters = true;
    for (let k = a0; k < b0; k++) if ((cps[k] ?? 0) < 0x61) letters = false;
    if (!letters) continue;
    const most = single ? Math.min(MASK_MAX, Math.floor(len / 2)) : 1;
    for (let a = a0 + 1; a < b0 - 1; a++) {
      const one = [...cps];
      one[a] = MASK_CP;
      out.push(one);
      if (most < 2) continue;
      for (let b = a + 1; b < b0 - 1; b++) {
        const two = [...one];
        two[b] = MASK_CP;
        out.push(two);
      }
    }
  }
  return out;
}

/**
 * The mask runs of `text`: every run of one or two mask symbols with an ASCII letter right before
 * and right after it, as edits (pairs: the position of each of its characters, MASK_CP), in order;
 * empty when there is none. `maskedCopy` applies them. When there is one, a MASK_CP typed in the
 * text is listed too (an edit that changes nothing): the masked variants match it like a replaced
 * run, so a scan of the copy near its edits only must look there as well.
 */
export function maskedEdits(text: string): number[] {
  const edits: number[] = [];
  if (!MASK_RE.test(text)) return edits;
  for (let i = 1; i < text.length - 1; i++) {
    if (!isMaskSymbol(text.charCodeAt(i))) continue;
    let j = i;
    while (j < text.length && isMaskSymbol(text.charCodeAt(j))) j++;
    if (j - i <= MASK_MAX && isAsciiLetter(text.charCodeAt(i - 1)) && j < text.length && isAsciiLetter(text.charCodeAt(j))) {
      for (let k = i; k < j; k++) edits.push(k, MASK_CP);
    }
    i = j - 1;
  }
  if (edits.length === 0 || !text.includes(MASK_CHAR)) return edits;
  // Merge the typed ones in, in order (they are never where a run was replaced).
  const merged: number[] = [];
  let k = 0;
  for (let at = text.indexOf(MASK_CHAR); at !== -1; at = text.indexOf(MASK_CHAR, at + 1)) {
    for (; k < edits.length && (edits[k] ?? 0) < at; k += 2) merged.push(edits[k] ?? 0, MASK_CP);
    merged.push(at, MASK_CP);
  }
  for (; k < edits.length; k += 2) merged.push(edits[k] ?? 0, MASK_CP);
  return merged;
}

const MASK_CHAR = String.fromCharCode(MASK_CP);

/**
 * A copy of `text` (same length) with every run of one or two mask symbols that has an ASCII
 * letter right before and right after it replaced by MASK_CP, or undefined when there is none.
 */
export function maskedCopy(text: string): string | undefined {
  const edits = maskedEdits(text);
  return edits.length === 0 ? undefined : applyEdits(text, edits, 0, edits.length, 0, text.length);
}

/**
 * text.slice(from, to) with the edits (pairs: position, replacing code unit; in order) of
 * edits[k0..k1) applied; those positions lie in [from, to).
 */
export function applyEdits(text: string, edits: readonly number[], k0: number, k1: number, from: number, to: number): string {
  const parts: string[] = [];
  let copied = from;
  for (let k = k0; k < k1; k += 2) {
    const at = edits[k] ?? 0;
    parts.push(text.slice(copied, at), String.fromCharCode(edits[k + 1] ?? 0));
    copied = at + 1;
  }
  parts.push(text.slice(copied, to));
  return parts.join('');
}

function isMaskSymbol(c: number): boolean {
  return c === 0x2a || c === 0x23 || c === 0x5f || c === 0x2e; // * # _ .
}

function isAsciiLetter(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a);
}
