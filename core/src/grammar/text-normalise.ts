/**
 * Character classes and normalisation for chat text typed through real keyboards and IMEs:
 * Chinese IMEs turn `--` into `——`, `—`, `－－`; full-width mode gives `１６：９` and U+3000 spaces.
 */

/** Characters typed (or auto-corrected) where a `-` was meant. */
const DASHES = new Set([
  '-', // hyphen-minus
  '\u2010', // hyphen
  '\u2011', // non-breaking hyphen
  '\u2012', // figure dash
  '\u2013', // en dash (macOS/iOS smart punctuation turns -- into –)
  '\u2014', // em dash (Chinese IMEs)
  '\u2015', // horizontal bar
  '\u2212', // minus sign
  '\u2E3A', // two-em dash
  '\u2E3B', // three-em dash
  '\uFE31', // vertical em dash
  '\uFE32', // vertical en dash
  '\uFE58', // small em dash
  '\uFE63', // small hyphen-minus
  '\uFF0D', // full-width hyphen-minus
  '\u30FC', // katakana prolonged sound mark (Japanese IMEs)
  '\uFF70', // half-width prolonged sound mark
]);

/** Dashes that on their own stand for `--` (an IME or autocorrect merged two hyphens into one). */
const LONG_DASHES = new Set(['\u2013', '\u2014', '\u2015', '\u2212', '\u2E3A', '\u2E3B', '\uFE31', '\uFE32', '\uFE58', '\u30FC', '\uFF70']);

export function isDash(ch: string | undefined): boolean {
  return ch !== undefined && DASHES.has(ch);
}

export function isLongDash(ch: string | undefined): boolean {
  return ch !== undefined && LONG_DASHES.has(ch);
}

/** JavaScript's \s: ASCII whitespace, NBSP, U+2000–U+200A, U+3000 (ideographic space), U+FEFF, … */
export function isSpace(ch: string | undefined): boolean {
  return ch !== undefined && /^\s$/u.test(ch);
}

export function isHan(ch: string | undefined): boolean {
  return ch !== undefined && /^\p{Script=Han}$/u.test(ch);
}

export function isAsciiAlnum(ch: string | undefined): boolean {
  return ch !== undefined && /^[A-Za-z0-9]$/.test(ch);
}

/** Separators between a flag and its value: `--ar=16:9`, `--ar＝16:9`, `--seed:42`. */
export function isAssign(ch: string | undefined): boolean {
  return ch === '=' || ch === '\uFF1D' || ch === ':' || ch === '\uFF1A';
}

/** Folded code points other than ASCII, remembered (normalize is the parser's costliest call); bounded. */
const FOLDED = new Map<string, string>();
const FOLDED_MAX = 4096;

/** One code point folded for matching flag names and values: NFKC (ｓｅｅｄ → seed, １６ → 16), lower case. */
export function fold(ch: string): string {
  if (ch.length === 1) {
    const c = ch.charCodeAt(0);
    // ASCII is its own NFKC form.
    if (c < 0x80) return c >= 0x41 && c <= 0x5a ? String.fromCharCode(c + 0x20) : ch;
  }
  let f = FOLDED.get(ch);
  if (f === undefined) {
    f = ch.normalize('NFKC').toLowerCase();
    if (FOLDED.size < FOLDED_MAX) FOLDED.set(ch, f);
  }
  return f;
}

/** Folds a whole value: NFKC, lower case, every dash to `-`, ratio signs to `:`, whitespace collapsed. */
export function foldValue(value: string): string {
  let out = '';
  for (const ch of value) {
    if (isDash(ch)) out += '-';
    else if (ch === '\u2236') out += ':'; // ratio sign
    else out += fold(ch);
  }
  return out.replace(/\s+/gu, ' ').trim();
}

/** Opening quote → the closers accepted for it (IMEs and phones mix straight and curly quotes). */
const QUOTE_CLOSERS: ReadonlyMap<string, readonly string[]> = new Map([
  ['"', ['"', '\u201D', '\u201C']],
  ['\u201C', ['\u201D', '\u201C', '"']], // “ ”
  ['\u201E', ['\u201C', '\u201D', '"']], // „ “
  ["'", ["'", '\u2019']],
  ['\u2018', ['\u2019', '\u2018', "'"]], // ‘ ’
  ['\u300C', ['\u300D']], // 「 」
  ['\u300E', ['\u300F']], // 『 』
  ['\uFF02', ['\uFF02', '\u201D']], // ＂
  ['\uFF07', ['\uFF07', '\u2019']], // ＇
  ['\u00AB', ['\u00BB']], // « »
]);

/** Quotes that may wrap a stretch of prompt text (single quotes are left out: apostrophes). */
const PROMPT_QUOTES = new Set(['"', '\u201C', '\u201E', '\u300C', '\u300E', '\uFF02', '\u00AB']);

export function isQuoteOpen(ch: string | undefined): boolean {
  return ch !== undefined && QUOTE_CLOSERS.has(ch);
}

export function isPromptQuoteOpen(ch: string | undefined): boolean {
  return ch !== undefined && PROMPT_QUOTES.has(ch);
}

/** Last index of each code point in a text, so that looking for a quote that is never closed costs nothing. */
export type LastIndex = ReadonlyMap<string, number>;

export function lastIndexOfEach(cps: readonly string[]): LastIndex {
  const last = new Map<string, number>();
  cps.forEach((ch, i) => last.set(ch, i));
  return last;
}

/** Index of the closing quote for the opener at cps[open], or -1 when it is never closed. */
export function findQuoteClose(cps: readonly string[], open: number, last?: LastIndex): number {
  const opener = cps[open];
  const closers = opener === undefined ? undefined : QUOTE_CLOSERS.get(opener);
  if (closers === undefined) return -1;
  const end = last === undefined ? cps.length - 1 : Math.max(-1, ...closers.map((c) => last.get(c) ?? -1));
  for (let i = open + 1; i <= end; i++) {
    const ch = cps[i];
    if (ch !== undefined && closers.includes(ch)) return i;
  }
  return -1;
}

/** The usual closer for an opener, for error messages. */
export function expectedCloser(opener: string): string {
  return QUOTE_CLOSERS.get(opener)?.[0] ?? opener;
}

/** Lone UTF-16 surrogates (possible in any JS string) become U+FFFD, as UTF-8 encoding would do. */
export function toWellFormed(text: string): string {
  return text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/**
 * Chinese punctuation that NFKC would fold to ASCII and that we keep as typed in prompts:
 * full-width ！（），：；？～ etc. (U+FF01–FF0F, FF1A–FF20, FF3B–FF40, FF5B–FF60) and … ‥.
 */
function isKeptPunctuation(cp: number): boolean {
  return (
    (cp >= 0xff01 && cp <= 0xff0f) ||
    (cp >= 0xff1a && cp <= 0xff20) ||
    (cp >= 0xff3b && cp <= 0xff40) ||
    (cp >= 0xff5b && cp <= 0xff60) ||
    cp === 0x2026 ||
    cp === 0x2025
  );
}

/** Control and invisible characters dropped from prompts (C0/C1 controls other than whitespace, ZWSP, BOM). */
const DROPPED = /[\u0000-\u0008\u000E-\u001F\u007F-\u009F\u200B\u2060\uFEFF]/g;

/**
 * Prompt text as it goes into a spec: well-formed, NFKC-normalised except for the Chinese punctuation
 * above, controls dropped, every run of whitespace (U+3000 included) one ASCII space, trimmed.
 */
export function normalisePromptText(text: string): string {
  const clean = toWellFormed(text).replace(DROPPED, '');
  let out = '';
  let run = '';
  for (const ch of clean) {
    if (isKeptPunctuation(ch.codePointAt(0) ?? 0)) {
      out += run.normalize('NFKC') + ch;
      run = '';
    } else {
      run += ch;
    }
  }
  out += run.normalize('NFKC');
  return out.replace(/\s+/gu, ' ').trim();
}

/** Removes one pair of quotes wrapping the whole text (`"a cat surfing"` → `a cat surfing`). */
export function unwrapQuotes(text: string): string {
  const cps = Array.from(text);
  if (cps.length < 2 || !isPromptQuoteOpen(cps[0])) return text;
  return findQuoteClose(cps, 0) === cps.length - 1 ? cps.slice(1, -1).join('').trim() : text;
}

/** Shortens user text quoted back in an error message. */
export function ellipsize(text: string, max = 40): string {
  const cps = Array.from(text);
  return cps.length <= max ? text : `${cps.slice(0, max - 1).join('')}…`;
}
