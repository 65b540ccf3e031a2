import { z } from 'zod';
import { ASPECTS, NEGATIVE_MAX_CHARS, PROMPT_MAX_CHARS, type Mode } from '../model/generation-spec.schema.ts';
import type { Locale } from '../model/chat-request.schema.ts';
import { DURATION_LIMITS, FLAGS, KNOWN_FLAGS, SEED_RANGE, type FlagName } from './grammar-flags.ts';
import { ellipsize } from './text-normalise.ts';
import type { StylePresets } from './style-presets.ts';
import { t, tAll, type LocalizedText } from '../i18n/messages.ts';

export const GRAMMAR_ERROR_CODES = [
  'empty_prompt',
  'unknown_flag',
  'missing_value',
  'bad_value',
  'out_of_range',
  'unknown_style',
  'too_long',
  'unterminated_quote',
  'duplicate_flag',
  'not_a_command',
] as const;
export const GrammarErrorCodeSchema = z.enum(GRAMMAR_ERROR_CODES);
export type GrammarErrorCode = z.infer<typeof GrammarErrorCodeSchema>;

/** Why a /video command was refused, with a message for the user in each language. */
export interface GrammarError {
  code: GrammarErrorCode;
  /** The flag concerned without dashes (`seed`, `ar`, …, or the unknown name), or `prompt`/`negativePrompt`. */
  param?: string;
  /** The offending value as typed (shortened). */
  value?: string;
  allowed?: string[];
  message: LocalizedText;
}

const example = (l: Locale): string => t('grammar.example', l);
/** A list as each language writes it: `a, b` in English, `a、b` in Chinese. */
const list = (items: readonly string[], l: Locale): string => items.join(l === 'zh-CN' ? '、' : ', ');

export function emptyPrompt(negSwallowedText: boolean): GrammarError {
  return {
    code: 'empty_prompt',
    param: 'prompt',
    message: tAll(negSwallowedText ? 'grammar.empty_prompt_neg' : 'grammar.empty_prompt', (l) => ({ example: example(l) })),
  };
}

export function notACommand(): GrammarError {
  return { code: 'not_a_command', message: tAll('grammar.not_a_command', (l) => ({ example: example(l) })) };
}

export function unknownFlag(name: string, typed: string): GrammarError {
  const shown = ellipsize(typed);
  return {
    code: 'unknown_flag',
    param: ellipsize(name),
    value: shown,
    allowed: [...KNOWN_FLAGS],
    message: tAll('grammar.unknown_flag', (l) => ({ flag: shown, known: list(KNOWN_FLAGS, l) })),
  };
}

export function missingValue(flag: FlagName): GrammarError {
  return {
    code: 'missing_value',
    param: flag,
    message: tAll('grammar.missing_value', { flag, example: `--${flag} ${FLAGS[flag].example}` }),
  };
}

export function unterminatedQuote(flag: FlagName, closer: string): GrammarError {
  return { code: 'unterminated_quote', param: flag, message: tAll('grammar.unterminated_quote', { flag, closer }) };
}

export function duplicateFlag(flag: FlagName, typed: string): GrammarError {
  return { code: 'duplicate_flag', param: flag, value: ellipsize(typed), message: tAll('grammar.duplicate_flag', { flag }) };
}

const SEED_ALLOWED = [`${SEED_RANGE.min}-${SEED_RANGE.max}`];

export function badSeed(value: string, code: 'bad_value' | 'out_of_range'): GrammarError {
  const shown = ellipsize(value);
  return {
    code,
    param: 'seed',
    value: shown,
    allowed: SEED_ALLOWED,
    message: tAll('grammar.bad_seed', { min: SEED_RANGE.min, max: SEED_RANGE.max, value: shown }),
  };
}

export function badAspect(value: string, code: 'bad_value' | 'out_of_range'): GrammarError {
  const shown = ellipsize(value);
  return {
    code,
    param: 'ar',
    value: shown,
    allowed: [...ASPECTS],
    message: tAll('grammar.bad_aspect', (l) => ({ value: shown, allowed: list(ASPECTS, l) })),
  };
}

const rangeText = (mode: Mode): string => `${DURATION_LIMITS[mode].min}–${DURATION_LIMITS[mode].max}`;

export function badDuration(value: string): GrammarError {
  const shown = ellipsize(value);
  return {
    code: 'bad_value',
    param: 'duration',
    value: shown,
    allowed: [`draft: ${rangeText('draft')}`, `final: ${rangeText('final')}`],
    message: tAll('grammar.bad_duration', { draft: rangeText('draft'), final: rangeText('final'), value: shown }),
  };
}

export function durationOutOfRange(value: string, mode: Mode): GrammarError {
  const shown = ellipsize(value);
  const other: Mode = mode === 'draft' ? 'final' : 'draft';
  const modeName = (m: Mode, l: Locale): string => t(m === 'draft' ? 'grammar.mode_draft' : 'grammar.mode_final', l);
  const longer = mode === 'draft' && Number(value) <= DURATION_LIMITS.final.max;
  return {
    code: 'out_of_range',
    param: 'duration',
    value: shown,
    allowed: [rangeText(mode)],
    message: tAll('grammar.duration_out_of_range', (l) => ({
      value: shown,
      mode: modeName(mode, l),
      range: rangeText(mode),
      other: modeName(other, l),
      otherRange: rangeText(other),
      hint: longer ? t('grammar.duration_longer_hint', l) : '',
    })),
  };
}

export function unknownStyle(value: string, presets: StylePresets): GrammarError {
  const shown = ellipsize(value);
  const names = presets.styles.map((style) => style.name);
  // In Chinese each style is shown with its display name: ink-wash（水墨）.
  const shownNames = (l: Locale): readonly string[] => (l === 'zh-CN' ? presets.styles.map((s) => `${s.name}（${s.displayName['zh-CN']}）`) : names);
  return {
    code: 'unknown_style',
    param: 'style',
    value: shown,
    allowed: names,
    message: tAll('grammar.unknown_style', (l) => ({ value: shown, allowed: list(shownNames(l), l) })),
  };
}

export function tooLong(param: 'prompt' | 'negativePrompt', length: number, max: number, style: string | undefined): GrammarError {
  const absolute = param === 'prompt' ? PROMPT_MAX_CHARS : NEGATIVE_MAX_CHARS;
  const noted = style !== undefined && max < absolute;
  return {
    code: 'too_long',
    param,
    value: String(length),
    allowed: [`0-${max}`],
    message: tAll('grammar.too_long', (l) => ({
      what: t(param === 'prompt' ? 'grammar.what_prompt' : 'grammar.what_negative', l),
      length,
      max,
      styleNote: noted ? t('grammar.style_note', l, { style }) : '',
    })),
  };
}
