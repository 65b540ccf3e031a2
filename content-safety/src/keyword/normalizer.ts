/**
 * Per-code-point normalisation for keyword matching.
 *
 * Every code point of the input is classified once (and cached) as one of:
 * - IGNORABLE: invisible characters used to split words without showing it (zero-width
 *   spaces and joiners, U+2060–U+2064, BOM, soft hyphen, bidi controls, variation selectors,
 *   combining marks, Hangul fillers, tag characters). Skipped entirely; never a word boundary.
 * - SEPARATOR: spaces, punctuation, symbols, emoji. Skipped inside a match (within limits the
 *   matcher checks), and a word boundary for whole-word matching.
 * - HARD_BREAK: line breaks. A match never spans one.
 * - word characters: one or more normalised code points (NFKC, case folded, diacritics
 *   stripped, look-alike Cyrillic/Greek/small-capital letters folded to Latin, enclosed and
 *   styled digits and letters unwrapped, Traditional Chinese folded to Simplified).
 *
 * List entries go through the same function, so text and entries always agree.
 */
import { t2sTable } from './t2s-table.ts';

export const IGNORABLE = -1;
export const SEPARATOR = -2;
export const HARD_BREAK = -3;
/**
 * Stands for a masked letter (f*ck) in masked-variant patterns and in the masked copy of a text
 * that the matcher scans; a private-use code point, kept as a word character.
 */
export const MASK_CP = 0xe000;
const EXPANDS = -4;
const UNKNOWN = 0;

/** Look-alike letters that NFKC leaves alone, folded to the Latin letter they imitate. */
const LOOKALIKES: Record<string, string> = {
  // Cyrillic
  а: 'a', в: 'b', е: 'e', ё: 'e', к: 'k', м: 'm', н: 'h', о: 'o', р: 'p', с: 'c', т: 't', у: 'y', х: 'x',
  і: 'i', ї: 'i', ј: 'j', ѕ: 's', ԁ: 'd', ԛ: 'q', ԝ: 'w', һ: 'h', ӏ: 'l', ү: 'y', ո: 'n', ս: 'u',
  // Greek
  α: 'a', β: 'b', ε: 'e', η: 'n', ι: 'i', κ: 'k', ν: 'v', ο: 'o', ρ: 'p', τ: 't', υ: 'u', χ: 'x', ϲ: 'c',
  // Latin small capitals and other IPA look-alikes
  ᴀ: 'a', ʙ: 'b', ᴄ: 'c', ᴅ: 'd', ᴇ: 'e', ꜰ: 'f', ɢ: 'g', ʜ: 'h', ɪ: 'i', ᴊ: 'j', ᴋ: 'k', ʟ: 'l', ᴍ: 'm',
  ɴ: 'n', ᴏ: 'o', ᴘ: 'p', ǫ: 'q', ʀ: 'r', ꜱ: 's', ᴛ: 't', ᴜ: 'u', ᴠ: 'v', ᴡ: 'w', ʏ: 'y', ᴢ: 'z',
  // Latin letters with hooks and strokes that have no decomposition
  ƒ: 'f', ɓ: 'b', ƀ: 'b', ƈ: 'c', ɗ: 'd', ɖ: 'd', ɠ: 'g', ǥ: 'g', ɦ: 'h', ħ: 'h', ɨ: 'i', ƙ: 'k', ɱ: 'm', ɲ: 'n', ŋ: 'n',
  ƥ: 'p', ʠ: 'q', ɽ: 'r', ʂ: 's', ƭ: 't', ŧ: 't', ʋ: 'v', ⱳ: 'w', ƴ: 'y', ɏ: 'y', ȥ: 'z', ƶ: 'z',
  ı: 'i', ȷ: 'j', ɑ: 'a', ɡ: 'g', ø: 'o', đ: 'd', ł: 'l', ß: 'ss', æ: 'ae', œ: 'oe', þ: 'th',
};

/** Enclosed digits and letters without an NFKC decomposition. */
function enclosedForm(cp: number): string | undefined {
  const letter = (base: number): string => String.fromCharCode(0x61 + cp - base);
  if (cp >= 0x1f150 && cp <= 0x1f169) return letter(0x1f150); // negative circled A–Z
  if (cp >= 0x1f170 && cp <= 0x1f189) return letter(0x1f170); // negative squared A–Z
  if (cp >= 0x1f1e6 && cp <= 0x1f1ff) return letter(0x1f1e6); // regional indicators A–Z
  if (cp >= 0x2776 && cp <= 0x277f) return String(cp - 0x2776 + 1); // ❶–❿
  if (cp >= 0x2780 && cp <= 0x2789) return String(cp - 0x2780 + 1); // ➀–➉
  if (cp >= 0x278a && cp <= 0x2793) return String(cp - 0x278a + 1); // ➊–➓
  if (cp >= 0x24eb && cp <= 0x24f4) return String(cp - 0x24eb + 11); // ⓫–⓴
  if (cp >= 0x24f5 && cp <= 0x24fe) return String(cp - 0x24f5 + 1); // ⓵–⓾
  if (cp === 0x24ff || cp === 0x1f10b || cp === 0x1f10c) return '0'; // ⓿ 🄋 🄌
  return undefined;
}

const IGNORABLE_RE = /^[\p{Default_Ignorable_Code_Point}\p{M}]$/u;
const WORD_RE = /[\p{L}\p{N}]/u;

const bmp = new Int32Array(0x10000);
const astral = new Map<number, number>();
const expansions = new Map<number, readonly number[]>();

function computeCodes(cp: number): number[] | number {
  if (cp === 0x0a || cp === 0x0d || cp === 0x0b || cp === 0x0c || cp === 0x85 || cp === 0x2028 || cp === 0x2029) {
    return HARD_BREAK;
  }
  if (cp === MASK_CP) return MASK_CP;
  const ch = String.fromCodePoint(cp);
  if (IGNORABLE_RE.test(ch)) return IGNORABLE;
  let s = enclosedForm(cp);
  if (s === undefined) {
    s = ch.normalize('NFKD').toLowerCase().replace(/\p{M}/gu, '').normalize('NFC');
  }
  const t2s = t2sTable();
  const out: number[] = [];
  for (const c of s) {
    const folded = LOOKALIKES[c] ?? c;
    for (const f of folded) {
      if (!WORD_RE.test(f)) continue; // drops the brackets and dots of ⑵ ⒊ ㈣ ⒜
      const code = f.codePointAt(0) ?? 0;
      out.push(t2s.get(code) ?? code);
    }
  }
  if (out.length === 0) return SEPARATOR;
  if (out.length === 1) return out[0] ?? SEPARATOR;
  return out;
}

/**
 * The class of a code point: IGNORABLE, SEPARATOR, HARD_BREAK, or a positive normalised code
 * point; for the few code points that expand to several (ﬁ, ⑽, ß, Ⅷ) it returns EXPANDS and
 * `expansionOf` gives the list.
 */
export function charCode(cp: number): number {
  if (cp < 0x10000) {
    const cached = bmp[cp] ?? UNKNOWN;
    if (cached !== UNKNOWN) return cached;
  } else {
    const cached = astral.get(cp);
    if (cached !== undefined) return cached;
  }
  const computed = computeCodes(cp);
  let code: number;
  if (typeof computed === 'number') code = computed;
  else {
    expansions.set(cp, computed);
    code = EXPANDS;
  }
  if (cp < 0x10000) bmp[cp] = code;
  else astral.set(cp, code);
  return code;
}

export function expansionOf(cp: number): readonly number[] {
  return expansions.get(cp) ?? [];
}

export const CHAR_EXPANDS = EXPANDS;

/** Han, kana, Hangul, bopomofo and CJK symbols: matched anywhere, never whole-word. */
export function isCjk(cp: number): boolean {
  return (
    (cp >= 0x2e80 && cp <= 0x2fdf) ||
    (cp >= 0x3005 && cp <= 0x3007) ||
    (cp >= 0x3021 && cp <= 0x3029) ||
    (cp >= 0x3040 && cp <= 0x31ff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0xa960 && cp <= 0xa97f) ||
    (cp >= 0xac00 && cp <= 0xd7ff) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x20000 && cp <= 0x3ffff)
  );
}

/** Separators that join the parts of one word (well-being, rock'n'roll, snake_case). */
export function isJoiner(cp: number): boolean {
  return (
    cp === 0x2d || cp === 0x5f || cp === 0x27 || cp === 0x2019 || cp === 0x2018 || (cp >= 0x2010 && cp <= 0x2013) ||
    cp === 0xff0d || cp === 0xfe63
  );
}

export function isWhitespace(cp: number): boolean {
  return cp === 0x20 || cp === 0x09 || cp === 0xa0 || cp === 0x3000 || cp === 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp === 0x202f || cp === 0x205f;
}

/** One normalised character and the range of the original text it came from. */
export interface NormalizedText {
  /** The normalised word characters only (separators and invisibles removed). */
  text: string;
  /** For each code point of `text` (not code unit), the original start offset (UTF-16). */
  starts: number[];
  /** For each code point of `text`, the original end offset (exclusive). */
  ends: number[];
}

/** Normalises a whole string; used for list entries and by tests. Scans use an inlined loop. */
export function normalizeForMatch(input: string): NormalizedText {
  let text = '';
  const starts: number[] = [];
  const ends: number[] = [];
  for (let i = 0; i < input.length; ) {
    const cp = input.codePointAt(i) ?? 0;
    const width = cp > 0xffff ? 2 : 1;
    const code = charCode(cp);
    if (code > 0) {
      text += String.fromCodePoint(code);
      starts.push(i);
      ends.push(i + width);
    } else if (code === EXPANDS) {
      for (const c of expansionOf(cp)) {
        text += String.fromCodePoint(c);
        starts.push(i);
        ends.push(i + width);
      }
    }
    i += width;
  }
  return { text, starts, ends };
}
