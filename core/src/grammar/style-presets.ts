import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

/** Lower-case, NFKC, spaces and underscores as hyphens: `3D Cartoon` and `3d_cartoon` → `3d-cartoon`. */
export function normaliseStyleName(name: string): string {
  return name
    .normalize('NFKC')
    .toLowerCase()
    .trim()
    .replace(/[\s_]+/gu, '-');
}

/** `--style none` (or 无 / 不要) turns off a default style. */
export const STYLE_OFF_WORDS: readonly string[] = ['none', 'off', '无', '不要'];

const StyleNameSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, 'style names are lower-case kebab-case');

const PhraseSchema = z.string().max(200);

export const StylePresetSchema = z.strictObject({
  name: StyleNameSchema,
  displayName: z.strictObject({ 'zh-CN': z.string().min(1).max(32), en: z.string().min(1).max(32) }),
  /** Other names people type (`动漫`, `水墨`, `pixel`); matched after normaliseStyleName. */
  aliases: z.array(z.string().min(1).max(64)).max(20).default([]),
  /** Folded into the prompt as `prefix, <prompt>, suffix`. */
  promptPrefix: PhraseSchema.default(''),
  promptSuffix: PhraseSchema.default(''),
  /** Appended to the user's negative prompt. */
  negativePrompt: PhraseSchema.default(''),
});
export type StylePreset = z.infer<typeof StylePresetSchema>;

export const StylePresetsSchema = z
  .strictObject({
    version: z.literal(1),
    styles: z.array(StylePresetSchema).min(1).max(200),
  })
  .superRefine((presets, ctx) => {
    const seen = new Map<string, string>();
    presets.styles.forEach((style, index) => {
      for (const key of [style.name, ...style.aliases]) {
        const norm = normaliseStyleName(key);
        const owner = seen.get(norm);
        if (owner !== undefined && owner !== style.name) {
          ctx.addIssue({ code: 'custom', path: ['styles', index], message: `"${key}" names both ${owner} and ${style.name}` });
        }
        seen.set(norm, style.name);
      }
    });
    for (const reserved of STYLE_OFF_WORDS) {
      if (seen.has(reserved)) {
        ctx.addIssue({ code: 'custom', path: ['styles'], message: `"${reserved}" is reserved (--style ${reserved} turns styles off)` });
      }
    }
  });
export type StylePresets = z.infer<typeof StylePresetsSchema>;

export const DEFAULT_STYLES_PATH = fileURLToPath(new URL('../../styles.json', import.meta.url));

/** Reads and validates a style preset file (default: core/styles.json). Throws on a bad file: a deploy error. */
export function loadStylePresets(path: string = DEFAULT_STYLES_PATH): StylePresets {
  const raw: unknown = JSON.parse(readFileSync(path, 'utf8'));
  return StylePresetsSchema.parse(raw);
}

let defaultPresets: StylePresets | undefined;

/** core/styles.json, read once per process. */
export function defaultStylePresets(): StylePresets {
  defaultPresets ??= loadStylePresets();
  return defaultPresets;
}

const indexes = new WeakMap<StylePresets, ReadonlyMap<string, StylePreset>>();

function indexOf(presets: StylePresets): ReadonlyMap<string, StylePreset> {
  let index = indexes.get(presets);
  if (index === undefined) {
    const map = new Map<string, StylePreset>();
    for (const style of presets.styles) {
      map.set(normaliseStyleName(style.name), style);
      for (const alias of style.aliases) map.set(normaliseStyleName(alias), style);
    }
    index = map;
    indexes.set(presets, index);
  }
  return index;
}

/** The preset a user's `--style` value names (by name or alias), if any. */
export function findStylePreset(presets: StylePresets, name: string): StylePreset | undefined {
  return indexOf(presets).get(normaliseStyleName(name));
}
