/**
 * Splits a /video command (as code points) into prompt text and flag occurrences. Knows the shapes
 * of flags and values; what the values mean is prompt-grammar.ts's business.
 */
import { duplicateFlag, missingValue, unknownFlag, unterminatedQuote, type GrammarError } from './grammar-error.ts';
import { hanAliasPrefix, lookupFlag, type FlagDef, type FlagName } from './grammar-flags.ts';
import {
  expectedCloser,
  findQuoteClose,
  fold,
  isAsciiAlnum,
  isAssign,
  isDash,
  isHan,
  isLongDash,
  isPromptQuoteOpen,
  isQuoteOpen,
  isSpace,
  lastIndexOfEach,
  type LastIndex,
} from './text-normalise.ts';

export interface FlagOccurrence {
  def: FlagDef;
  /** The flag as typed, e.g. `——ｓｅｅｄ`. */
  typed: string;
  /** The raw value (quotes removed), undefined for switches. */
  value: string | undefined;
  quoted: boolean;
}

export type ScanResult =
  | { ok: true; commandFound: boolean; text: string; flags: Map<FlagName, FlagOccurrence> }
  | { ok: false; error: GrammarError };

const COMMAND_WORDS = new Set(['video', '视频']);
const LETTERS = /^[a-z]+$/;

/** Where the text after a leading `/video`, `／video`, `/视频`, `/VIDEO` starts; undefined when there is none. */
function commandEnd(cps: readonly string[]): number | undefined {
  let i = 0;
  while (i < cps.length && isSpace(cps[i])) i++;
  if (cps[i] !== '/' && cps[i] !== '\uFF0F') return undefined;
  i++;
  let word = '';
  if (isHan(cps[i])) {
    const wordStart = i;
    while (i < cps.length && isHan(cps[i])) word += fold(cps[i++] ?? '');
    // `/视频一只猫`: Chinese needs no space after the command.
    for (const w of COMMAND_WORDS) {
      if (isHan(w[0]) && word.startsWith(w)) return wordStart + Array.from(w).length;
    }
    return undefined;
  }
  while (i < cps.length && LETTERS.test(fold(cps[i] ?? ''))) word += fold(cps[i++] ?? '');
  if (!COMMAND_WORDS.has(word)) return undefined;
  const next = cps[i];
  return next === undefined || !/^[\p{L}\p{N}_]$/u.test(fold(next)) ? i : undefined;
}

interface FlagHead {
  dashLen: number;
  /** NFKC, lower-cased name. */
  name: string;
  nameEnd: number;
  ascii: boolean;
}

/** More dashes than this are a line or a divider, not a flag (and bounding it keeps scanning linear). */
const MAX_FLAG_DASHES = 3;

function readFlagHead(cps: readonly string[], start: number): FlagHead | undefined {
  let j = start;
  while (j < cps.length && isDash(cps[j]) && j - start <= MAX_FLAG_DASHES) j++;
  const dashLen = j - start;
  const first = cps[j];
  if (dashLen === 0 || dashLen > MAX_FLAG_DASHES || first === undefined) return undefined;
  let name = '';
  let k = j;
  if (LETTERS.test(fold(first))) {
    while (k < cps.length) {
      const f = fold(cps[k] ?? '');
      if (LETTERS.test(f)) {
        name += f;
        k++;
      } else if (f === '-' && LETTERS.test(fold(cps[k + 1] ?? ''))) {
        name += '-';
        k++;
      } else {
        break;
      }
    }
    return { dashLen, name, nameEnd: k, ascii: true };
  }
  if (isHan(first)) {
    while (k < cps.length && isHan(cps[k])) name += fold(cps[k++] ?? '');
    return { dashLen, name, nameEnd: k, ascii: false };
  }
  return undefined;
}

type Detected = { kind: 'known'; def: FlagDef; nameEnd: number } | { kind: 'unknown'; name: string; nameEnd: number };

/**
 * Is there a flag at cps[i]? `boundary`: i starts a whitespace-separated token. A flag needs two
 * dashes of any kind or one long dash (— –); in the middle of a token (`一只猫--ar 9:16`) only an
 * English-named known flag counts, and not after a letter or digit (`well--known`) except inside a
 * one-word value (`--ar 9:16--draft`). An unknown name
 * is reported only at a token start after two dashes, so prose dashes stay prompt text.
 */
function detectFlag(cps: readonly string[], i: number, boundary: boolean, inValue = false): Detected | undefined {
  if (!isDash(cps[i])) return undefined;
  const head = readFlagHead(cps, i);
  if (head === undefined) return boundary ? detectSpacedFlag(cps, i) : undefined;
  if (head.dashLen < 2 && !isLongDash(cps[i])) return undefined;
  if (!boundary && (!head.ascii || (!inValue && isAsciiAlnum(cps[i - 1])))) return undefined;
  const def = lookupFlag(head.name);
  if (def !== undefined) return { kind: 'known', def, nameEnd: head.nameEnd };
  if (!head.ascii && boundary) {
    const alias = hanAliasPrefix(head.name);
    const aliasDef = alias === undefined ? undefined : lookupFlag(alias);
    if (alias !== undefined && aliasDef !== undefined) {
      return { kind: 'known', def: aliasDef, nameEnd: i + head.dashLen + Array.from(alias).length };
    }
  }
  if (head.ascii && boundary && head.dashLen >= 2) return { kind: 'unknown', name: head.name, nameEnd: head.nameEnd };
  return undefined;
}

/**
 * `-- ar 9:16`, `—— draft`: dashes, one space, then a known English flag name. People type the
 * space (or an IME inserts one); only known names count, so prose like `-- and then` stays text.
 */
function detectSpacedFlag(cps: readonly string[], i: number): Detected | undefined {
  let j = i;
  while (j < cps.length && isDash(cps[j]) && j - i <= MAX_FLAG_DASHES) j++;
  const dashLen = j - i;
  if (dashLen === 0 || dashLen > MAX_FLAG_DASHES || (dashLen < 2 && !isLongDash(cps[i]))) return undefined;
  if (cps[j] !== ' ' && cps[j] !== '\u3000') return undefined;
  const head = readFlagHead([...cps.slice(i, j), ...cps.slice(j + 1)], 0);
  if (head === undefined || !head.ascii) return undefined;
  const def = lookupFlag(head.name);
  return def === undefined ? undefined : { kind: 'known', def, nameEnd: i + head.nameEnd + 1 };
}

/** Chinese characters that belong to a number-like value: `5秒`, `5秒钟`, `16比9`. */
const VALUE_HAN: Partial<Record<FlagName, ReadonlySet<string>>> = {
  duration: new Set(['秒', '钟']),
  ar: new Set(['比']),
};

type ValueRead = { ok: true; value: string; quoted: boolean; end: number } | { ok: false; error: GrammarError };

function readValue(cps: readonly string[], def: FlagDef, from: number, last: LastIndex): ValueRead {
  const n = cps.length;
  let v = from;
  if (isAssign(cps[v])) v++;
  while (v < n && isSpace(cps[v])) v++;
  if (v >= n || detectFlag(cps, v, true) !== undefined) return { ok: false, error: missingValue(def.name) };
  const first = cps[v] ?? '';
  if (isQuoteOpen(first)) {
    const close = findQuoteClose(cps, v, last);
    if (close < 0) return { ok: false, error: unterminatedQuote(def.name, expectedCloser(first)) };
    return { ok: true, value: cps.slice(v + 1, close).join(''), quoted: true, end: close + 1 };
  }
  let e = v;
  if (def.value === 'rest') {
    let boundary = true;
    while (e < n) {
      if (e > v && detectFlag(cps, e, boundary) !== undefined) break;
      if (boundary && isPromptQuoteOpen(cps[e])) {
        const close = findQuoteClose(cps, e, last);
        if (close >= 0) {
          e = close + 1;
          boundary = false;
          continue;
        }
      }
      boundary = isSpace(cps[e]);
      e++;
    }
  } else if (def.value === 'number' && isHan(first)) {
    // A word value: `--ar 竖屏`, `--duration 五秒` (rejected later with the allowed values).
    while (e < n && isHan(cps[e])) e++;
  } else {
    const keep = VALUE_HAN[def.name];
    while (e < n) {
      const ch = cps[e];
      if (isSpace(ch)) break;
      if (e > v && detectFlag(cps, e, false, true) !== undefined) break;
      if (def.value === 'number' && isHan(ch) && !(keep?.has(ch ?? '') ?? false)) break;
      e++;
    }
  }
  return { ok: true, value: cps.slice(v, e).join('').trimEnd(), quoted: false, end: e };
}

/** Scans the whole command. Errors come out in reading order, the first one wins. */
export function scanCommand(cps: readonly string[]): ScanResult {
  const end = commandEnd(cps);
  const commandFound = end !== undefined;
  const n = cps.length;
  const text: string[] = [];
  const flags = new Map<FlagName, FlagOccurrence>();
  const last = lastIndexOfEach(cps);
  let i = end ?? 0;
  let boundary = true;
  while (i < n) {
    const ch = cps[i] ?? '';
    if (isSpace(ch)) {
      text.push(ch);
      boundary = true;
      i++;
      continue;
    }
    const flag = detectFlag(cps, i, boundary);
    if (flag?.kind === 'unknown') {
      return { ok: false, error: unknownFlag(flag.name, cps.slice(i, flag.nameEnd).join('')) };
    }
    if (flag?.kind === 'known') {
      const typed = cps.slice(i, flag.nameEnd).join('');
      if (flags.has(flag.def.name)) return { ok: false, error: duplicateFlag(flag.def.name, typed) };
      let value: string | undefined;
      let quoted = false;
      let next = flag.nameEnd;
      if (flag.def.value !== 'none') {
        const read = readValue(cps, flag.def, flag.nameEnd, last);
        if (!read.ok) return read;
        if (read.value.trim() === '') return { ok: false, error: missingValue(flag.def.name) };
        ({ value, quoted } = read);
        next = read.end;
      }
      flags.set(flag.def.name, { def: flag.def, typed, value, quoted });
      text.push(' ');
      boundary = true;
      i = next;
      continue;
    }
    if (boundary && isPromptQuoteOpen(ch)) {
      // A quoted stretch of prompt is taken as typed: `"a sign reading --draft"`.
      const close = findQuoteClose(cps, i, last);
      if (close >= 0) {
        text.push(cps.slice(i, close + 1).join(''));
        boundary = false;
        i = close + 1;
        continue;
      }
    }
    text.push(ch);
    boundary = false;
    i++;
  }
  return { ok: true, commandFound, text: text.join(''), flags };
}
