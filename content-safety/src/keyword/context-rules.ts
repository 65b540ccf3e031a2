/**
 * Context rules of the keyword lists (a list file with the `@rules` header):
 *
 *     allow nude after 2: lipstick*, heels, colour, coloured, 色
 *     allow nude before 2: matte, glossy
 *     escalate minor, minors + sexual, suggestive within 8: block csam
 *
 * - `allow <entry> before|after|near <N>: <context>, ...` drops a hit of that entry when one of
 *   the context words starts within N words after it (ends within N words before it; `near`:
 *   either side). A context word ending in `*` also matches longer words (lipstick* → lipsticks).
 * - `escalate <A> + <B> within <N>: <action> <category>` adds a hit of <category> with <action>
 *   when a hit of A and a hit of B lie within N words of each other. A and B are lists of names,
 *   each a category (its hits, after allowed contexts) or a term set (`@terms <name>` lists).
 *
 * Words are counted on the normalised text: a Latin word or number is one word, and so is every
 * Chinese character.
 */
import { KeywordListError } from './keyword-list-error.ts';
import type { KeywordAction } from './keyword-list-format.ts';
import type { KeywordHit } from './keyword-matcher.ts';
import { CHAR_EXPANDS, IGNORABLE, charCode, isCjk, normalizeForMatch } from './normalizer.ts';

/** One context word: its normalised tokens; `prefix` lets the last token continue (lipstick*). */
export interface ContextWord {
  tokens: string[];
  prefix: boolean;
}

export interface AllowContextRule {
  kind: 'allow';
  /** The list entry (as written, without flags) whose hits the rule may drop. */
  word: string;
  side: 'before' | 'after' | 'near';
  within: number;
  contexts: ContextWord[];
}

export interface EscalateRule {
  kind: 'escalate';
  left: string[];
  right: string[];
  within: number;
  action: KeywordAction;
  category: string;
}

export type ContextRule = (AllowContextRule | EscalateRule) & { source?: string; line?: number };

/** Most words a rule may look across. */
const MAX_WITHIN = 50;

const ALLOW_RE = /^allow\s+(.+?)\s+(before|after|near)\s+(\d+)\s*:\s*(.+)$/;
const ESCALATE_RE = /^escalate\s+(.+?)\s*\+\s*(.+?)\s+within\s+(\d+)\s*:\s*(block|review)\s+([a-z][a-z0-9-]*)$/;
const NAME_RE = /^[a-z][a-z0-9-]*$/;

function within(raw: string, file: string, line: number): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > MAX_WITHIN) {
    throw new KeywordListError('invalid_list', `distance must be 1–${MAX_WITHIN} words, got ${raw}`, { file, line });
  }
  return n;
}

/** Parses one line of a `@rules` file (comments already removed). */
export function parseRuleLine(text: string, file: string, line: number): ContextRule {
  const allow = ALLOW_RE.exec(text);
  if (allow !== null) {
    const [, word = '', side = 'after', n = '', list = ''] = allow;
    const contexts = list
      .split(',')
      .map((c) => c.trim())
      .filter((c) => c !== '')
      .map((c) => {
        const prefix = c.endsWith('*');
        return { tokens: tokenize(prefix ? c.slice(0, -1) : c).tokens, prefix };
      });
    if (contexts.length === 0 || contexts.some((c) => c.tokens.length === 0)) {
      throw new KeywordListError('invalid_list', 'allow rule needs context words with letters or characters', { file, line });
    }
    return { kind: 'allow', word: word.trim(), side: side as AllowContextRule['side'], within: within(n, file, line), contexts, source: file, line };
  }
  const esc = ESCALATE_RE.exec(text);
  if (esc !== null) {
    const [, a = '', b = '', n = '', action = 'block', category = ''] = esc;
    const names = (s: string): string[] => s.split(',').map((x) => x.trim());
    const left = names(a);
    const right = names(b);
    for (const name of [...left, ...right]) {
      if (!NAME_RE.test(name)) throw new KeywordListError('invalid_list', `"${name}" is not a category or term set name`, { file, line });
    }
    return { kind: 'escalate', left, right, within: within(n, file, line), action: action as KeywordAction, category, source: file, line };
  }
  throw new KeywordListError(
    'invalid_list',
    `rule expected ("allow <entry> before|after|near <N>: word, ..." or "escalate <a> + <b> within <N>: block|review <category>"), got "${text}"`,
    { file, line },
  );
}

/** The words of a text: normalised tokens and their offsets in the original (UTF-16). */
interface Tokens {
  tokens: string[];
  starts: number[];
  ends: number[];
}

function onlyIgnorable(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; ) {
    const cp = text.codePointAt(i) ?? 0;
    if (charCode(cp) !== IGNORABLE) return false;
    i += cp > 0xffff ? 2 : 1;
  }
  return true;
}

/** Latin letters and digits that touch form one word; every CJK character is a word. */
export function tokenize(text: string): Tokens {
  const n = normalizeForMatch(text);
  const cps = [...n.text];
  const out: Tokens = { tokens: [], starts: [], ends: [] };
  let k = 0;
  while (k < cps.length) {
    const c = cps[k] ?? '';
    const start = n.starts[k] ?? 0;
    if (isCjk(c.codePointAt(0) ?? 0)) {
      out.tokens.push(c);
      out.starts.push(start);
      out.ends.push(n.ends[k] ?? 0);
      k++;
      continue;
    }
    let word = c;
    let j = k + 1;
    while (j < cps.length && !isCjk(cps[j]?.codePointAt(0) ?? 0) && onlyIgnorable(text, n.ends[j - 1] ?? 0, n.starts[j] ?? 0)) {
      word += cps[j] ?? '';
      j++;
    }
    out.tokens.push(word);
    out.starts.push(start);
    out.ends.push(n.ends[j - 1] ?? 0);
    k = j;
  }
  return out;
}

/** Whether context word `c` occurs at token index `at`; returns its last token index or -1. */
function matchAt(t: Tokens, c: ContextWord, at: number): number {
  if (at < 0 || at + c.tokens.length > t.tokens.length) return -1;
  for (let i = 0; i < c.tokens.length; i++) {
    const want = c.tokens[i] ?? '';
    const got = t.tokens[at + i] ?? '';
    const last = i === c.tokens.length - 1;
    if (got === want || (last && c.prefix && got.startsWith(want))) continue;
    return -1;
  }
  return at + c.tokens.length - 1;
}

/** Index of the first token ending after `start`, and of the last starting before `end` (binary search). */
function tokenRange(t: Tokens, start: number, end: number): [number, number] {
  let lo = 0;
  let hi = t.tokens.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((t.ends[mid] ?? 0) > start) hi = mid;
    else lo = mid + 1;
  }
  const first = lo;
  lo = 0;
  hi = t.tokens.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((t.starts[mid] ?? 0) < end) lo = mid + 1;
    else hi = mid;
  }
  return [first, lo - 1];
}

/** Characters looked at around a hit per word of a rule's reach (a generous word length). */
const CHARS_PER_WORD = 48;

/**
 * Whether a context word of `rule` lies within reach of the hit. Only a window around the hit is
 * tokenised (CHARS_PER_WORD per word of reach), so a long text costs no more than a short one.
 */
function allowedByContext(text: string, hit: KeywordHit, rule: AllowContextRule): boolean {
  const longest = Math.max(...rule.contexts.map((c) => c.tokens.length));
  const reach = CHARS_PER_WORD * (rule.within + longest) + 64;
  const from = rule.side === 'after' ? hit.start : Math.max(0, hit.start - reach);
  const to = rule.side === 'before' ? hit.end : Math.min(text.length, hit.end + reach);
  const t = tokenize(text.slice(from, to));
  const [first, last] = tokenRange(t, hit.start - from, hit.end - from);
  for (const c of rule.contexts) {
    if (rule.side !== 'before') {
      for (let at = last + 1; at <= last + rule.within; at++) if (matchAt(t, c, at) >= 0) return true;
    }
    if (rule.side !== 'after') {
      for (let at = first - rule.within - c.tokens.length + 1; at < first; at++) {
        const end = matchAt(t, c, at);
        if (end >= 0 && end < first && end >= first - rule.within) return true;
      }
    }
  }
  return false;
}

/**
 * Words in text[from, to), counting stops once it passes `limit`: a Latin word or number is one
 * word (invisible characters inside do not split it), every CJK character is one.
 */
function countWords(text: string, from: number, to: number, limit: number): number {
  let n = 0;
  let inWord = false;
  for (let i = from; i < to; ) {
    const cp = text.codePointAt(i) ?? 0;
    i += cp > 0xffff ? 2 : 1;
    const code = charCode(cp);
    if (code === IGNORABLE) continue;
    if (code > 0 && isCjk(code)) {
      n++;
      inWord = false;
    } else if (code > 0 || code === CHAR_EXPANDS) {
      if (!inWord) n++;
      inWord = true;
    } else inWord = false;
    if (n > limit) return n;
  }
  return n;
}

/** Words strictly between two hits (0 when they touch or overlap), counted up to limit + 1. */
function wordsBetween(text: string, a: KeywordHit, b: KeywordHit, limit: number): number {
  const [x, y] = a.start <= b.start ? [a, b] : [b, a];
  if (y.start <= x.end) return 0;
  return countWords(text, x.end, y.start, limit);
}

/** Context rules compiled for one list load. */
export class ContextRules {
  private readonly allowByWord = new Map<string, AllowContextRule[]>();
  private readonly escalations: EscalateRule[] = [];
  private readonly escalationNames = new Set<string>();

  constructor(rules: readonly ContextRule[], known: { categories: ReadonlySet<string>; termSets: ReadonlySet<string> }) {
    for (const rule of rules) {
      if (rule.kind === 'allow') {
        const list = this.allowByWord.get(rule.word) ?? [];
        list.push(rule);
        this.allowByWord.set(rule.word, list);
        continue;
      }
      const where = { ...(rule.source === undefined ? {} : { file: rule.source }), ...(rule.line === undefined ? {} : { line: rule.line }) };
      if (!known.categories.has(rule.category)) {
        throw new KeywordListError('unknown_category', `escalation category "${rule.category}" is not defined in the categories config`, where);
      }
      for (const name of [...rule.left, ...rule.right]) {
        if (!known.categories.has(name) && !known.termSets.has(name)) {
          throw new KeywordListError('invalid_list', `"${name}" is neither a category nor a term set`, where);
        }
        this.escalationNames.add(name);
      }
      this.escalations.push(rule);
    }
  }

  get empty(): boolean {
    return this.allowByWord.size === 0 && this.escalations.length === 0;
  }

  /**
   * Drops hits whose entry is allowed in its context, then adds escalation hits. `terms` are
   * the term-set hits of the same scan (used by escalations only, never returned).
   */
  apply(text: string, hits: KeywordHit[], terms: readonly KeywordHit[]): KeywordHit[] {
    const needsAllow = hits.some((h) => this.allowByWord.has(h.word)) || terms.some((h) => this.allowByWord.has(h.word));
    const needsEscalation = this.escalations.length > 0 && (hits.length > 0 || terms.length > 0);
    if (!needsAllow && !needsEscalation) return hits;
    let kept = hits;
    let keptTerms = terms;
    if (needsAllow) {
      const allowed = (h: KeywordHit): boolean => {
        const rules = this.allowByWord.get(h.word);
        return rules === undefined || !rules.some((r) => allowedByContext(text, h, r));
      };
      kept = hits.filter(allowed);
      keptTerms = terms.filter(allowed);
    }
    for (const rule of this.escalations) {
      const pick = (names: readonly string[]): KeywordHit[] => [...kept, ...keptTerms].filter((h) => names.includes(h.category));
      const left = pick(rule.left);
      if (left.length === 0) continue;
      const right = pick(rule.right).sort((x, y) => x.start - y.start);
      if (right.length === 0) continue;
      let joined: KeywordHit | undefined;
      const join = (a: KeywordHit, b: KeywordHit): KeywordHit => {
        const start = Math.min(a.start, b.start);
        const end = Math.max(a.end, b.end);
        return { word: `${a.word} + ${b.word}`, category: rule.category, action: rule.action, start, end, matchedText: text.slice(start, end), rule: 'escalation' };
      };
      for (const a of left) {
        // From the right hits nearest to `a`, outwards on each side until one is out of reach.
        let lo = 0;
        let hi = right.length;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if ((right[mid]?.start ?? 0) < a.start) lo = mid + 1;
          else hi = mid;
        }
        for (let i = lo; i < right.length && joined === undefined; i++) {
          const b = right[i];
          if (b === undefined || b === a || (a.start === b.start && a.end === b.end)) continue;
          if (wordsBetween(text, a, b, rule.within) > rule.within) break;
          joined = join(a, b);
        }
        for (let i = lo - 1; i >= 0 && joined === undefined; i--) {
          const b = right[i];
          if (b === undefined || b === a || (a.start === b.start && a.end === b.end)) continue;
          if (wordsBetween(text, a, b, rule.within) > rule.within) break;
          joined = join(a, b);
        }
        if (joined !== undefined) break;
      }
      if (joined !== undefined) kept = [...kept, joined];
    }
    return kept;
  }
}
