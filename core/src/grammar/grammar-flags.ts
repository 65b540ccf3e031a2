import { SEED_MAX, type Aspect, type Mode } from '../model/generation-spec.schema.ts';

export const FLAG_NAMES = ['seed', 'ar', 'duration', 'style', 'neg', 'draft'] as const;
export type FlagName = (typeof FLAG_NAMES)[number];

/**
 * How a flag's value is read when it is not quoted:
 * - `token`: up to the next whitespace;
 * - `number`: up to whitespace or the first Chinese character (`--seed 42一只猫`), units such as 秒 kept;
 * - `rest`: up to the next flag, so `--neg blurry, low quality` works unquoted;
 * - `none`: a switch.
 */
export type FlagValueKind = 'token' | 'number' | 'rest' | 'none';

export interface FlagDef {
  name: FlagName;
  value: FlagValueKind;
  /** Other names, matched after NFKC and lower-casing. */
  aliases: readonly string[];
  /** An example value for missing-value messages. */
  example: string;
}

export const FLAGS: Readonly<Record<FlagName, FlagDef>> = {
  seed: { name: 'seed', value: 'number', aliases: ['种子', '随机种子'], example: '42' },
  ar: { name: 'ar', value: 'number', aliases: ['aspect', 'aspect-ratio', 'ratio', '比例', '画幅', '画面比例'], example: '16:9' },
  duration: { name: 'duration', value: 'number', aliases: ['dur', 'length', '时长', '秒数'], example: '5' },
  style: { name: 'style', value: 'token', aliases: ['风格'], example: 'anime' },
  neg: {
    name: 'neg',
    value: 'rest',
    aliases: ['no', 'negative', 'negative-prompt', '反向', '负面', '反向提示词', '负面提示词'],
    example: '"blurry, low quality"',
  },
  draft: { name: 'draft', value: 'none', aliases: ['preview', '草稿', '预览'], example: '' },
};

const BY_NAME: ReadonlyMap<string, FlagDef> = new Map(
  Object.values(FLAGS).flatMap((def) => [[def.name, def] as const, ...def.aliases.map((alias) => [alias, def] as const)]),
);

/** Chinese aliases of flags that take a value, longest first: `--风格水墨` reads as `--风格 水墨`. */
const HAN_VALUE_ALIASES: readonly string[] = Object.values(FLAGS)
  .filter((def) => def.value !== 'none')
  .flatMap((def) => def.aliases.filter((alias) => /^\p{Script=Han}+$/u.test(alias)))
  .sort((a, b) => b.length - a.length);

export function lookupFlag(foldedName: string): FlagDef | undefined {
  return BY_NAME.get(foldedName);
}

/** The longest Chinese alias of a value flag that starts `hanName`, if any. */
export function hanAliasPrefix(hanName: string): string | undefined {
  return HAN_VALUE_ALIASES.find((alias) => hanName.startsWith(alias) && hanName.length > alias.length);
}

export const KNOWN_FLAGS: readonly string[] = FLAG_NAMES.map((name) => `--${name}`);

export const SEED_RANGE = { min: 0, max: SEED_MAX } as const;

/** Frames per second of every generated video. */
export const FPS = 16;

export const DURATION_LIMITS: Readonly<Record<Mode, { min: number; max: number; default: number }>> = {
  draft: { min: 1, max: 5, default: 3 },
  final: { min: 1, max: 10, default: 5 },
};

/** Output sizes: short side 480 (draft) or 720 (final), long side rounded down to a multiple of 16. */
export const FRAME_SIZES: Readonly<Record<Mode, Readonly<Record<Aspect, { width: number; height: number }>>>> = {
  draft: {
    '16:9': { width: 848, height: 480 },
    '9:16': { width: 480, height: 848 },
    '1:1': { width: 480, height: 480 },
    '4:3': { width: 640, height: 480 },
    '3:4': { width: 480, height: 640 },
  },
  final: {
    '16:9': { width: 1280, height: 720 },
    '9:16': { width: 720, height: 1280 },
    '1:1': { width: 720, height: 720 },
    '4:3': { width: 960, height: 720 },
    '3:4': { width: 720, height: 960 },
  },
};

/** Frame count for a duration: 4k+1 (the Wan VAE's temporal stride), k = round(seconds·fps/4). */
export function framesFor(durationSeconds: number, fps: number = FPS): number {
  return 4 * Math.round((durationSeconds * fps) / 4) + 1;
}
