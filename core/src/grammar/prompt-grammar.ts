/**
 * The `/video` prompt grammar: chat text → GenerationSpec, or a localised GrammarError.
 *
 *   /video <prompt> [--seed N] [--ar 16:9|9:16|1:1|4:3|3:4] [--duration S] [--style NAME] [--neg "text"] [--draft]
 *
 * As people type it:
 * - the command word is optional (`/video`, `／video`, `/VIDEO`, `/视频`, `／视频`, or already stripped);
 * - a flag starts with two dashes of any kind (`--`, `——`, `－－`, `—-`, `−−`) or one long dash (`—`, `–`),
 *   names may be full-width (`－－ｓｅｅｄ`) or Chinese (`--种子`, `--风格`, `--时长`, `--反向`, `--草稿`);
 * - a value follows after whitespace (U+3000 too) or `=`/`＝`/`:`, in any quotes (" “” ‘’ 「」 『』) or none;
 * - flags may come before, between or after the prompt; in Chinese text they may follow without a space
 *   (`一只猫--ar 9:16`), and number values end at the first Chinese character (`--seed 42一只狗`);
 * - an unquoted `--neg` runs to the next flag (`--neg blurry, low quality --draft`);
 * - a quoted stretch of prompt is taken as typed (`"a sign reading --draft"`);
 * - prompt text is NFKC-normalised except for full-width Chinese punctuation (，。！？：（）…), whitespace
 *   collapsed, one pair of quotes around the whole prompt removed.
 * Unknown flags are reported only at a token start after two dashes, so dashes in prose stay prompt text.
 *
 * Pure: no I/O except reading core/styles.json once when no presets are passed; never throws.
 */
import { z } from 'zod';
import {
  ASPECTS,
  AspectSchema,
  ModeSchema,
  NEGATIVE_MAX_CHARS,
  PROMPT_MAX_CHARS,
  SEED_MAX,
  type Aspect,
  type GenerationSpec,
  type Mode,
} from '../model/generation-spec.schema.ts';
import { scanCommand, type FlagOccurrence } from './command-scanner.ts';
import {
  badAspect,
  badDuration,
  badSeed,
  durationOutOfRange,
  emptyPrompt,
  notACommand,
  tooLong,
  unknownStyle,
  type GrammarError,
} from './grammar-error.ts';
import { DURATION_LIMITS, FPS, FRAME_SIZES, framesFor } from './grammar-flags.ts';
import { defaultStylePresets, findStylePreset, normaliseStyleName, STYLE_OFF_WORDS, type StylePreset, type StylePresets } from './style-presets.ts';
import { foldValue, normalisePromptText, toWellFormed, unwrapQuotes } from './text-normalise.ts';

export type ParseResult = { ok: true; spec: GenerationSpec } | { ok: false; error: GrammarError };

/** Per-tenant or per-tier defaults (e.g. a free tier always drafts, a WeChat group prefers 9:16). */
export const GrammarDefaultsSchema = z.strictObject({
  mode: ModeSchema,
  aspect: AspectSchema,
  /** Used when no --duration is given; clamped into the mode's range. */
  draftDurationSeconds: z.number().positive(),
  finalDurationSeconds: z.number().positive(),
  /** A style preset applied when no --style is given (`--style none` turns it off). */
  style: z.string().min(1).max(64).optional(),
});
export type GrammarDefaults = z.infer<typeof GrammarDefaultsSchema>;

export interface ParseOptions {
  defaults?: Partial<GrammarDefaults>;
  /** Style presets; core/styles.json when left out. */
  styles?: StylePresets;
  /** Source of the default seed, [0, 1) like Math.random (the default). */
  random?: () => number;
  /** Refuse text that does not start with /video (a bot reading every chat message); default false. */
  requireCommand?: boolean;
}

/** Longer input is refused before scanning; chat requests carry at most 8000 characters anyway. */
export const MAX_COMMAND_CHARS = 20_000;

type Outcome<T> = { ok: true; value: T } | { ok: false; error: GrammarError };

function parseSeed(occ: FlagOccurrence | undefined, random: () => number): Outcome<number> {
  if (occ?.value === undefined) {
    const r = random();
    const seed = Number.isFinite(r) ? Math.floor(r * (SEED_MAX + 1)) : 0;
    return { ok: true, value: Math.min(SEED_MAX, Math.max(0, seed)) };
  }
  const v = foldValue(occ.value);
  if (/^\d+$/.test(v)) {
    const seed = Number(v);
    return v.length <= 10 && seed <= SEED_MAX ? { ok: true, value: seed } : { ok: false, error: badSeed(v, 'out_of_range') };
  }
  return { ok: false, error: badSeed(v, /^-\d+$/.test(v) ? 'out_of_range' : 'bad_value') };
}

const ASPECT_WORDS: Readonly<Record<string, Aspect>> = {
  landscape: '16:9',
  wide: '16:9',
  横屏: '16:9',
  portrait: '9:16',
  vertical: '9:16',
  竖屏: '9:16',
  square: '1:1',
  方形: '1:1',
  正方形: '1:1',
};

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

function parseAspect(occ: FlagOccurrence | undefined, fallback: Aspect): Outcome<Aspect> {
  if (occ?.value === undefined) return { ok: true, value: fallback };
  const v = foldValue(occ.value).replace(/\s+/g, '');
  const word = ASPECT_WORDS[v];
  if (word !== undefined) return { ok: true, value: word };
  const m = /^(\d{1,5})[:x×/比](\d{1,5})$/u.exec(v);
  if (m === null) return { ok: false, error: badAspect(v, 'bad_value') };
  const w = Number(m[1]);
  const h = Number(m[2]);
  if (w === 0 || h === 0) return { ok: false, error: badAspect(v, 'bad_value') };
  const g = gcd(w, h);
  const ratio = `${w / g}:${h / g}`;
  const aspect = ASPECTS.find((a) => a === ratio);
  return aspect === undefined ? { ok: false, error: badAspect(`${w}:${h}`, 'out_of_range') } : { ok: true, value: aspect };
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

function parseDuration(occ: FlagOccurrence | undefined, mode: Mode, defaults: Partial<GrammarDefaults>): Outcome<number> {
  const limits = DURATION_LIMITS[mode];
  if (occ?.value === undefined) {
    const wanted = mode === 'draft' ? defaults.draftDurationSeconds : defaults.finalDurationSeconds;
    return { ok: true, value: wanted !== undefined && Number.isFinite(wanted) ? clamp(wanted, limits.min, limits.max) : limits.default };
  }
  const v = foldValue(occ.value);
  const m = /^(\d{1,6}(?:\.\d{1,3})?) ?(?:s|sec|secs|second|seconds|秒|秒钟)?$/u.exec(v);
  if (m === null) return { ok: false, error: badDuration(v) };
  const seconds = Number(m[1]);
  if (seconds < limits.min || seconds > limits.max) return { ok: false, error: durationOutOfRange(m[1] ?? v, mode) };
  return { ok: true, value: seconds };
}

function parseStyle(
  occ: FlagOccurrence | undefined,
  defaults: Partial<GrammarDefaults>,
  presets: StylePresets,
): Outcome<StylePreset | undefined> {
  const wanted = occ?.value ?? defaults.style;
  if (wanted === undefined) return { ok: true, value: undefined };
  const name = normaliseStyleName(foldValue(wanted));
  if (STYLE_OFF_WORDS.includes(name)) return { ok: true, value: undefined };
  const preset = findStylePreset(presets, name);
  return preset === undefined ? { ok: false, error: unknownStyle(foldValue(wanted), presets) } : { ok: true, value: preset };
}

/** Turns a /video command into a GenerationSpec. Never throws; a refusal comes back as `{ ok: false, error }`. */
export function parseVideoCommand(text: string, options: ParseOptions = {}): ParseResult {
  if (typeof text !== 'string') return { ok: false, error: emptyPrompt(false) };
  if (text.length > MAX_COMMAND_CHARS) return { ok: false, error: tooLong('prompt', text.length, PROMPT_MAX_CHARS, undefined) };
  const defaults = options.defaults ?? {};
  const scan = scanCommand(Array.from(toWellFormed(text)));
  if (!scan.ok) return scan;
  if (options.requireCommand === true && !scan.commandFound) return { ok: false, error: notACommand() };
  const { flags } = scan;

  // Defaults come from config (typed, but maybe not validated): anything unknown falls back. None
  // given is not checked (a failed zod parse builds an error: the parser's costliest step).
  const defaultMode = defaults.mode === undefined ? undefined : ModeSchema.safeParse(defaults.mode);
  const defaultAspect = defaults.aspect === undefined ? undefined : AspectSchema.safeParse(defaults.aspect);
  const mode: Mode = flags.has('draft') ? 'draft' : defaultMode?.success === true ? defaultMode.data : 'final';
  const seed = parseSeed(flags.get('seed'), options.random ?? Math.random);
  if (!seed.ok) return seed;
  const aspect = parseAspect(flags.get('ar'), defaultAspect?.success === true ? defaultAspect.data : '16:9');
  if (!aspect.ok) return aspect;
  const duration = parseDuration(flags.get('duration'), mode, defaults);
  if (!duration.ok) return duration;
  const style = parseStyle(flags.get('style'), defaults, options.styles ?? defaultStylePresets());
  if (!style.ok) return style;

  const negOcc = flags.get('neg');
  const userNeg = negOcc?.value === undefined ? '' : unwrapQuotes(normalisePromptText(negOcc.value));
  const prompt = unwrapQuotes(normalisePromptText(scan.text));
  if (prompt === '') {
    const swallowed = negOcc !== undefined && !negOcc.quoted && /\s/u.test(userNeg);
    return { ok: false, error: emptyPrompt(swallowed) };
  }

  const preset = style.value;
  const fullPrompt = [preset?.promptPrefix ?? '', prompt, preset?.promptSuffix ?? ''].filter((s) => s !== '').join(', ');
  if (fullPrompt.length > PROMPT_MAX_CHARS) {
    const max = PROMPT_MAX_CHARS - (fullPrompt.length - prompt.length);
    return { ok: false, error: tooLong('prompt', prompt.length, max, preset?.name) };
  }
  const negative = [userNeg, preset?.negativePrompt ?? ''].filter((s) => s !== '').join(', ');
  if (negative.length > NEGATIVE_MAX_CHARS) {
    const max = NEGATIVE_MAX_CHARS - (negative.length - userNeg.length);
    return { ok: false, error: tooLong('negativePrompt', userNeg.length, max, preset?.name) };
  }

  const size = FRAME_SIZES[mode][aspect.value];
  const spec: GenerationSpec = {
    version: 1,
    prompt: fullPrompt,
    mode,
    durationSeconds: duration.value,
    fps: FPS,
    frames: framesFor(duration.value, FPS),
    aspect: aspect.value,
    width: size.width,
    height: size.height,
    seed: seed.value,
  };
  if (negative !== '') spec.negativePrompt = negative;
  if (preset !== undefined) spec.style = preset.name;
  return { ok: true, spec };
}
