import { z } from 'zod';
import { ASPECTS, NEGATIVE_MAX_CHARS, PROMPT_MAX_CHARS, type Mode } from '../model/generation-spec.schema.ts';
import type { Locale } from '../model/chat-request.schema.ts';
import { DURATION_LIMITS, FLAGS, KNOWN_FLAGS, SEED_RANGE, type FlagName } from './grammar-flags.ts';
import { ellipsize } from './text-normalise.ts';
import type { StylePresets } from './style-presets.ts';

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

type LocalisedText = Record<Locale, string>;

/** Why a /video command was refused, with a message for the user in each language. */
export interface GrammarError {
  code: GrammarErrorCode;
  /** The flag concerned without dashes (`seed`, `ar`, …, or the unknown name), or `prompt`/`negativePrompt`. */
  param?: string;
  /** The offending value as typed (shortened). */
  value?: string;
  allowed?: string[];
  message: LocalisedText;
}

const EXAMPLE = { en: '/video a cat surfing at sunset --ar 9:16', 'zh-CN': '/video 日落时冲浪的猫 --ar 9:16' };

const enList = (items: readonly string[]): string => items.join(', ');
const zhList = (items: readonly string[]): string => items.join('、');

export function emptyPrompt(negSwallowedText: boolean): GrammarError {
  const en = `Please describe the video, e.g. ${EXAMPLE.en}`;
  const zh = `请写上视频的描述，例如：${EXAMPLE['zh-CN']}`;
  return {
    code: 'empty_prompt',
    param: 'prompt',
    message: negSwallowedText
      ? {
          en: `${en}. Everything after --neg up to the next option is the negative prompt; quote it: --neg "blurry"`,
          'zh-CN': `${zh}。--neg 之后直到下一个参数的文字都算反向提示词，请加引号：--neg “模糊”`,
        }
      : { en, 'zh-CN': zh },
  };
}

export function notACommand(): GrammarError {
  return {
    code: 'not_a_command',
    message: { en: `Not a /video command; try ${EXAMPLE.en}`, 'zh-CN': `这不是 /video 指令，试试：${EXAMPLE['zh-CN']}` },
  };
}

export function unknownFlag(name: string, typed: string): GrammarError {
  const shown = ellipsize(typed);
  return {
    code: 'unknown_flag',
    param: ellipsize(name),
    value: shown,
    allowed: [...KNOWN_FLAGS],
    message: {
      en: `Unknown option ${shown}; known options: ${enList(KNOWN_FLAGS)}`,
      'zh-CN': `不认识的参数 ${shown}，可用参数：${zhList(KNOWN_FLAGS)}`,
    },
  };
}

export function missingValue(flag: FlagName): GrammarError {
  const example = `--${flag} ${FLAGS[flag].example}`;
  return {
    code: 'missing_value',
    param: flag,
    message: { en: `--${flag} needs a value, e.g. ${example}`, 'zh-CN': `--${flag} 缺少取值，例如 ${example}` },
  };
}

export function unterminatedQuote(flag: FlagName, closer: string): GrammarError {
  return {
    code: 'unterminated_quote',
    param: flag,
    message: {
      en: `The quote after --${flag} is never closed; add the closing ${closer}`,
      'zh-CN': `--${flag} 后面的引号没有闭合，请补上 ${closer}`,
    },
  };
}

export function duplicateFlag(flag: FlagName, typed: string): GrammarError {
  return {
    code: 'duplicate_flag',
    param: flag,
    value: ellipsize(typed),
    message: {
      en: `--${flag} is given more than once; keep one`,
      'zh-CN': `--${flag} 重复出现了，请只保留一个`,
    },
  };
}

const SEED_ALLOWED = [`${SEED_RANGE.min}-${SEED_RANGE.max}`];

export function badSeed(value: string, code: 'bad_value' | 'out_of_range'): GrammarError {
  const shown = ellipsize(value);
  return {
    code,
    param: 'seed',
    value: shown,
    allowed: SEED_ALLOWED,
    message: {
      en: `--seed must be a whole number from ${SEED_RANGE.min} to ${SEED_RANGE.max}, not ${shown}`,
      'zh-CN': `--seed 必须是 ${SEED_RANGE.min} 到 ${SEED_RANGE.max} 之间的整数，${shown} 不行`,
    },
  };
}

export function badAspect(value: string, code: 'bad_value' | 'out_of_range'): GrammarError {
  const shown = ellipsize(value);
  return {
    code,
    param: 'ar',
    value: shown,
    allowed: [...ASPECTS],
    message: {
      en: `Unknown aspect ratio ${shown} for --ar; allowed: ${enList(ASPECTS)}`,
      'zh-CN': `--ar 的画幅比例 ${shown} 不支持，可选：${zhList(ASPECTS)}`,
    },
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
    message: {
      en: `--duration must be a number of seconds (draft ${rangeText('draft')} s, final ${rangeText('final')} s), not ${shown}`,
      'zh-CN': `--duration 应为秒数（草稿 ${rangeText('draft')} 秒，正式 ${rangeText('final')} 秒），${shown} 不行`,
    },
  };
}

export function durationOutOfRange(value: string, mode: Mode): GrammarError {
  const shown = ellipsize(value);
  const other: Mode = mode === 'draft' ? 'final' : 'draft';
  const zhMode = { draft: '草稿', final: '正式' } as const;
  const hint =
    mode === 'draft' && Number(value) <= DURATION_LIMITS.final.max
      ? { en: '; leave out --draft for a longer video', 'zh-CN': '；想要更长的视频请去掉 --draft' }
      : { en: '', 'zh-CN': '' };
  return {
    code: 'out_of_range',
    param: 'duration',
    value: shown,
    allowed: [rangeText(mode)],
    message: {
      en: `--duration ${shown} s is out of range for ${mode} mode: ${mode} allows ${rangeText(mode)} s, ${other} ${rangeText(other)} s${hint.en}`,
      'zh-CN': `--duration ${shown} 秒超出${zhMode[mode]}模式的范围：${zhMode[mode]} ${rangeText(mode)} 秒，${zhMode[other]} ${rangeText(other)} 秒${hint['zh-CN']}`,
    },
  };
}

export function unknownStyle(value: string, presets: StylePresets): GrammarError {
  const shown = ellipsize(value);
  const names = presets.styles.map((style) => style.name);
  return {
    code: 'unknown_style',
    param: 'style',
    value: shown,
    allowed: names,
    message: {
      en: `Unknown style "${shown}" for --style; allowed: ${enList(names)}`,
      'zh-CN': `没有名为“${shown}”的风格（--style），可选：${zhList(presets.styles.map((s) => `${s.name}（${s.displayName['zh-CN']}）`))}`,
    },
  };
}

export function tooLong(param: 'prompt' | 'negativePrompt', length: number, max: number, style: string | undefined): GrammarError {
  const absolute = param === 'prompt' ? PROMPT_MAX_CHARS : NEGATIVE_MAX_CHARS;
  const styleNote =
    style !== undefined && max < absolute
      ? { en: ` with style ${style}`, 'zh-CN': `（使用风格 ${style} 时）` }
      : { en: '', 'zh-CN': '' };
  const what = param === 'prompt' ? { en: 'The prompt', 'zh-CN': '描述' } : { en: 'The negative prompt (--neg)', 'zh-CN': '反向提示词（--neg）' };
  return {
    code: 'too_long',
    param,
    value: String(length),
    allowed: [`0-${max}`],
    message: {
      en: `${what.en} is too long: ${length} characters, at most ${max}${styleNote.en}`,
      'zh-CN': `${what['zh-CN']}太长了：${length} 个字符，最多 ${max} 个${styleNote['zh-CN']}`,
    },
  };
}
