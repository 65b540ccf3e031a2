/**
 * The on-disk format of keyword lists (see content-safety/lists/README.md) and the categories
 * config. Parsing is pure: text in, lists out, or a KeywordListError naming the file and line.
 */
import { z } from 'zod';
import { KeywordListError } from './keyword-list-error.ts';
import type { ContextRule } from './context-rules.ts';
import { parseRuleLine } from './context-rules.ts';

export const KeywordActionSchema = z.enum(['block', 'review']);
export type KeywordAction = z.infer<typeof KeywordActionSchema>;

export const KEYWORD_FLAGS = [
  'numerals',
  'prefix',
  'suffix',
  'substring',
  'block',
  'review',
  'noleet',
  'homophones',
  'nohomophones',
  'nopinyin',
  'nomask',
] as const;
export type KeywordFlag = (typeof KEYWORD_FLAGS)[number];

/** Per-entry options; a list's `flags` apply to all its entries, an entry's own add to them. */
export interface KeywordFlags {
  /** Digits and Chinese numerals (一/壹/六/陆 …) in the entry match each other. */
  numerals?: boolean;
  /** Latin entry may be followed by more letters ("fuck" hits "fucking"). */
  prefix?: boolean;
  /** Latin entry may be preceded by more letters ("fucker" hits "motherfucker"). */
  suffix?: boolean;
  /** Both of the above: the Latin entry matches inside words. */
  substring?: boolean;
  /** Latin entries of 4+ letters also match with one or two digit look-alikes (c0caine); default true. */
  leet?: boolean;
  /** Overrides the category's action for this entry. */
  action?: KeywordAction;
  /**
   * A Chinese entry also matches with one character replaced by a same-sounding one. Default:
   * on for entries of three or more characters, off for two (`@homophones` turns it on).
   */
  homophones?: boolean;
  /** A Chinese entry also matches written in pinyin (default true; `@nopinyin` turns it off). */
  pinyin?: boolean;
  /** An English entry of 4+ letters also matches with inner letters masked, f*ck (default true). */
  mask?: boolean;
}

export interface KeywordList {
  category: string;
  words: string[];
  /** An allow-list: its entries suppress any block/review hit they cover. */
  allow?: boolean;
  /**
   * A term set (`@terms <name>`; `category` holds the name): its entries never make a hit alone,
   * context rules use them (`escalate minor + sexual ...`).
   */
  terms?: boolean;
  /** Entries are `canonical: variant, variant`: slang spellings reported as the canonical word. */
  variants?: boolean;
  /** Context rules (`@rules` file): allowed contexts and escalations. */
  rules?: ContextRule[];
  flags?: KeywordFlags;
  /** Where it came from (file name), for error messages. */
  source?: string;
}

export const CategoryConfigSchema = z.object({
  action: KeywordActionSchema,
  /** Shown to users when a prompt is refused. */
  label: z.object({ en: z.string().min(1), 'zh-CN': z.string().min(1) }).optional(),
  description: z.string().optional(),
});
export type CategoryConfig = z.infer<typeof CategoryConfigSchema>;

export const CategoriesFileSchema = z.object({
  version: z.literal(1),
  categories: z.record(z.string().regex(/^[a-z][a-z0-9-]*$/), CategoryConfigSchema),
});
export type CategoriesFile = z.infer<typeof CategoriesFileSchema>;

/** Built-in category actions, used by `fromLists` when no config is given. */
export const DEFAULT_CATEGORY_ACTIONS: Readonly<Record<string, KeywordAction>> = Object.freeze({
  violence: 'block',
  sexual: 'block',
  minors: 'block',
  drugs: 'block',
  fraud: 'review',
  hate: 'block',
  extremism: 'block',
  'self-harm': 'review',
  politics: 'review',
  profanity: 'review',
});

export function parseCategoriesFile(text: string, file: string): CategoriesFile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new KeywordListError('invalid_config', 'not valid JSON', { file, cause });
  }
  const parsed = CategoriesFileSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new KeywordListError('invalid_config', issues, { file });
  }
  return parsed.data;
}

/** Splits "word @flag @flag" into the word and its flags; throws on an unknown flag. */
export function parseEntry(raw: string, file: string, line: number): { word: string; flags: KeywordFlags } {
  const flags: KeywordFlags = {};
  const parts = raw.split(/\s+@/);
  const word = (parts[0] ?? '').trim();
  for (const flag of parts.slice(1)) applyFlag(flags, flag.trim(), file, line);
  if (word.startsWith('@')) throw new KeywordListError('invalid_list', `entry expected, got "${word}"`, { file, line });
  return { word, flags };
}

function applyFlag(flags: KeywordFlags, flag: string, file: string, line: number): void {
  switch (flag) {
    case 'numerals':
    case 'prefix':
    case 'suffix':
    case 'substring':
      flags[flag] = true;
      return;
    case 'block':
    case 'review':
      flags.action = flag;
      return;
    case 'noleet':
      flags.leet = false;
      return;
    case 'homophones':
      flags.homophones = true;
      return;
    case 'nohomophones':
      flags.homophones = false;
      return;
    case 'nopinyin':
      flags.pinyin = false;
      return;
    case 'nomask':
      flags.mask = false;
      return;
    default:
      throw new KeywordListError('invalid_list', `unknown flag "@${flag}" (known: ${KEYWORD_FLAGS.map((f) => `@${f}`).join(' ')})`, {
        file,
        line,
      });
  }
}

/** Splits a variants line "canonical: v1, v2 @flags" into the canonical word, its variants and flags. */
export function parseVariantLine(raw: string, file: string, line: number): { canonical: string; variants: string[]; flags: KeywordFlags } {
  const colon = raw.indexOf(':');
  if (colon <= 0) throw new KeywordListError('invalid_list', `variants line expected ("word: variant, variant"), got "${raw}"`, { file, line });
  const canonical = raw.slice(0, colon).trim();
  const { word: rest, flags } = parseEntry(raw.slice(colon + 1), file, line);
  const variants = rest
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
  if (canonical === '' || canonical.startsWith('@') || variants.length === 0) {
    throw new KeywordListError('invalid_list', `variants line needs a word and at least one variant, got "${raw}"`, { file, line });
  }
  return { canonical, variants, flags };
}

/**
 * Parses one list file:
 *
 *     # comment
 *     @category violence      (required, unless @allow)
 *     @allow                  (this file is an allow-list)
 *     @terms minor            (a term set: entries used by context rules only)
 *     @variants               (entries are "canonical: variant, variant")
 *     @rules                  (lines are context rules, see context-rules.ts)
 *     @flags numerals         (default flags for every entry below)
 *     word
 *     multi word phrase @prefix @review
 */
export function parseListFile(text: string, file: string): KeywordList {
  let category: string | undefined;
  let allow = false;
  let terms = false;
  let variants = false;
  let rulesFile = false;
  const rules: ContextRule[] = [];
  const fileFlags: KeywordFlags = {};
  const words: string[] = [];
  let seenEntry = false;
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((rawLine, index) => {
    const line = index + 1;
    const noComment = rawLine.replace(/(^|\s)#.*$/, '').trim();
    if (noComment === '') return;
    if (noComment.startsWith('@')) {
      const [directive = '', ...args] = noComment.slice(1).split(/\s+/);
      if (seenEntry) {
        throw new KeywordListError('invalid_list', `header "@${directive}" after the first entry`, { file, line });
      }
      switch (directive) {
        case 'category':
          if (args.length !== 1 || !/^[a-z][a-z0-9-]*$/.test(args[0] ?? '')) {
            throw new KeywordListError('invalid_list', '"@category" takes one lowercase name', { file, line });
          }
          category = args[0];
          return;
        case 'allow':
          allow = true;
          return;
        case 'terms':
          if (args.length !== 1 || !/^[a-z][a-z0-9-]*$/.test(args[0] ?? '')) {
            throw new KeywordListError('invalid_list', '"@terms" takes one lowercase name', { file, line });
          }
          terms = true;
          category = args[0];
          return;
        case 'variants':
          variants = true;
          return;
        case 'rules':
          rulesFile = true;
          return;
        case 'flags':
          for (const a of args) applyFlag(fileFlags, a.replace(/^@/, ''), file, line);
          return;
        default:
          throw new KeywordListError('invalid_list', `unknown header "@${directive}" (known: @category @allow @terms @variants @rules @flags)`, { file, line });
      }
    }
    seenEntry = true;
    if (rulesFile) {
      rules.push(parseRuleLine(noComment, file, line));
      return;
    }
    if (variants) parseVariantLine(noComment, file, line);
    else parseEntry(noComment, file, line); // validates flags now, so the error names the line
    words.push(noComment);
  });
  if (rulesFile) return { category: 'rules', words: [], rules, source: file };
  if (category === undefined && !allow) {
    throw new KeywordListError('invalid_list', 'missing "@category <name>" header', { file });
  }
  const list: KeywordList = { category: category ?? 'allow', words, source: file };
  if (allow) list.allow = true;
  if (terms) list.terms = true;
  if (variants) list.variants = true;
  if (Object.keys(fileFlags).length > 0) list.flags = fileFlags;
  return list;
}
