import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ASPECTS, GenerationSpecSchema, SEED_MAX } from '../model/generation-spec.schema.ts';
import { GRAMMAR_ERROR_CODES } from './grammar-error.ts';
import { DURATION_LIMITS, FLAGS, FRAME_SIZES } from './grammar-flags.ts';
import { parseVideoCommand, type ParseResult } from './prompt-grammar.ts';
import { defaultStylePresets } from './style-presets.ts';

const presets = defaultStylePresets();

/** Checks the contract on one result; returns nothing, fails the property by throwing. */
function checkContract(result: ParseResult): void {
  if (result.ok) {
    expect(GenerationSpecSchema.parse(result.spec)).toEqual(result.spec);
    return;
  }
  const { error } = result;
  expect(GRAMMAR_ERROR_CODES).toContain(error.code);
  expect(error.message.en.trim()).not.toBe('');
  expect(error.message['zh-CN'].trim()).not.toBe('');
  if (error.allowed !== undefined) expect(error.allowed.length).toBeGreaterThan(0);
}

const DASH_PREFIXES = ['--', '——', '—', '－－', '—-', '–', '-', '−−', '⸺', 'ーー', '﹣﹣', '--'];
const NAMES = [
  ...Object.values(FLAGS).flatMap((def) => [def.name, ...def.aliases]),
  'ＳＥＥＤ', 'ａｒ', 'Draft', 'foo', 'seedling', 'neg-ative', '风格水墨', '草稿纸', 'x',
];
const VALUES = [
  '42', '４２', '-1', '4294967296', '99999999999999999999', '1e3', '0x10', 'NaN', '', ' ',
  '16:9', '１６：９', '21:9', '0:0', '9比16', '竖屏', '16x9', '16/9',
  '5', '5秒', '2.5', '0', '11', '1.0001', '五秒',
  'anime', '动漫', '水墨', 'none', 'vaporwave', '3D Cartoon',
  '"blurry', '“模糊，低质量”', '「水印', '『文字』', "'x'", '""', '“', '”', '«a»',
];
const WORDS = ['一只猫', 'a cat', '在冲浪', 'at sunset', '，', '。', '！', '……', '“你好”', '/video', '／视频', '=', '：', '\u3000', '\n', '\u200b', '\ufeff', '🐱', '👨‍👩‍👧'];

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
const anyText = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.string({ unit: 'grapheme', maxLength: 100 }),
  fc.string({ unit: fc.oneof(loneSurrogate, fc.constantFrom(...DASH_PREFIXES, '"', '“', '「', ' ', '　', '：', '=')), maxLength: 60 }),
);

/** Flag-like soup: tokens that look like the grammar, glued together with and without spaces. */
const flagSoup = fc
  .array(
    fc.oneof(
      fc.tuple(fc.constantFrom(...DASH_PREFIXES), fc.constantFrom(...NAMES)).map(([d, n]) => d + n),
      fc.constantFrom(...VALUES),
      fc.constantFrom(...WORDS),
      fc.string({ unit: 'binary', maxLength: 8 }),
    ),
    { maxLength: 16 },
  )
  .chain((tokens) => fc.array(fc.constantFrom(' ', '', '　', '=', '\t'), { minLength: tokens.length, maxLength: tokens.length }).map((seps) => tokens.map((t, i) => t + (seps[i] ?? '')).join('')))
  .chain((body) => fc.constantFrom('', '/video ', '／视频', '/VIDEO　').map((cmd) => cmd + body));

describe('parseVideoCommand properties', () => {
  it('never throws on arbitrary text; ok results pass GenerationSpecSchema; errors say something in both languages', () => {
    fc.assert(
      fc.property(anyText, fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (text, r) => {
        checkContract(parseVideoCommand(text, { random: () => r }));
      }),
      { numRuns: 1500 },
    );
  });

  it('never throws on flag-like soup, with or without a required command', () => {
    fc.assert(
      fc.property(flagSoup, fc.boolean(), (text, requireCommand) => {
        checkContract(parseVideoCommand(text, { requireCommand }));
      }),
      { numRuns: 3000 },
    );
  });

  it('is a pure function of its input and random source', () => {
    fc.assert(
      fc.property(fc.oneof(flagSoup, anyText), (text) => {
        const a = parseVideoCommand(text, { random: () => 0.125 });
        const b = parseVideoCommand(text, { random: () => 0.125 });
        expect(b).toEqual(a);
      }),
      { numRuns: 500 },
    );
  });

  // A model: generate a well-formed command the way a person would type it, in any IME variant and
  // any order, and check that the spec says exactly what was asked.
  const fullWidth = (s: string): string => s.replace(/[0-9:]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0));
  const command = fc
    .record({
      words: fc.array(fc.constantFrom('一只猫', '在海边', 'a dog', 'surfing', '日落时分，', 'slow motion', '慢镜头！'), { minLength: 1, maxLength: 6 }),
      seed: fc.option(fc.integer({ min: 0, max: SEED_MAX }), { nil: undefined }),
      aspect: fc.option(fc.constantFrom(...ASPECTS), { nil: undefined }),
      draft: fc.boolean(),
      duration: fc.option(fc.integer({ min: 1, max: 10 }), { nil: undefined }),
      style: fc.option(fc.constantFrom(...presets.styles), { nil: undefined }),
      styleAlias: fc.nat(),
      neg: fc.option(fc.constantFrom('模糊', 'blurry, low quality', '水印，文字'), { nil: undefined }),
      dashes: fc.array(fc.constantFrom('--', '——', '—', '－－', '—-', '–'), { minLength: 6, maxLength: 6 }),
      seps: fc.array(fc.constantFrom(' ', '=', '　', '＝'), { minLength: 6, maxLength: 6 }),
      wide: fc.boolean(),
      quote: fc.constantFrom(['"', '"'], ['“', '”'], ['「', '」'], ['『', '』'], ["'", "'"]),
      cmd: fc.constantFrom('', '/video ', '／video ', '/视频 ', '/视频', '／视频　', '/VIDEO '),
      order: fc.array(fc.nat({ max: 100 }), { minLength: 7, maxLength: 7 }),
    })
    .filter((c) => !(c.draft && c.duration !== undefined && c.duration > DURATION_LIMITS.draft.max));

  it('reads back exactly what a well-formed command asked for', () => {
    fc.assert(
      fc.property(command, (c) => {
        const num = (n: number): string => (c.wide ? fullWidth(String(n)) : String(n));
        const flag = (i: number, name: string, value: string): string => `${c.dashes[i]}${name}${c.seps[i]}${value}`;
        const styleName = c.style === undefined ? undefined : [c.style.name, ...c.style.aliases][c.styleAlias % (c.style.aliases.length + 1)];
        const pieces: Array<[number, string]> = [[c.order[0] ?? 0, c.words.join(' ')]];
        if (c.seed !== undefined) pieces.push([c.order[1] ?? 0, flag(0, 'seed', num(c.seed))]);
        if (c.aspect !== undefined) pieces.push([c.order[2] ?? 0, flag(1, 'ar', c.wide ? fullWidth(c.aspect) : c.aspect)]);
        if (c.duration !== undefined) pieces.push([c.order[3] ?? 0, flag(2, 'duration', num(c.duration))]);
        if (styleName !== undefined) pieces.push([c.order[4] ?? 0, flag(3, 'style', `${c.quote[0]}${styleName}${c.quote[1]}`)]);
        if (c.neg !== undefined) pieces.push([c.order[5] ?? 0, flag(4, 'neg', `${c.quote[0]}${c.neg}${c.quote[1]}`)]);
        if (c.draft) pieces.push([c.order[6] ?? 0, `${c.dashes[5]}draft`]);
        pieces.sort((a, b) => a[0] - b[0]);
        const text = c.cmd + pieces.map((p) => p[1]).join(' ');

        const result = parseVideoCommand(text, { random: () => 0.5 });
        if (!result.ok) throw new Error(`${text} → ${result.error.message.en}`);
        const { spec } = result;
        const mode = c.draft ? 'draft' : 'final';
        const aspect = c.aspect ?? '16:9';
        expect(spec.mode).toBe(mode);
        expect(spec.seed).toBe(c.seed ?? 2147483648);
        expect(spec.aspect).toBe(aspect);
        expect([spec.width, spec.height]).toEqual([FRAME_SIZES[mode][aspect].width, FRAME_SIZES[mode][aspect].height]);
        expect(spec.durationSeconds).toBe(c.duration ?? DURATION_LIMITS[mode].default);
        expect(spec.style).toBe(c.style?.name);
        expect(spec.prompt).toContain(c.words.join(' '));
        if (c.neg !== undefined) expect(spec.negativePrompt?.startsWith(c.neg)).toBe(true);
        expect(GenerationSpecSchema.safeParse(spec).success).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});
