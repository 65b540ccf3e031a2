import { describe, expect, it } from 'vitest';
import { ASPECTS, GenerationSpecSchema, NEGATIVE_MAX_CHARS, PROMPT_MAX_CHARS, type GenerationSpec } from '../model/generation-spec.schema.ts';
import { DURATION_LIMITS, FRAME_SIZES, framesFor } from './grammar-flags.ts';
import type { GrammarErrorCode } from './grammar-error.ts';
import { parseVideoCommand, type ParseOptions } from './prompt-grammar.ts';
import { defaultStylePresets } from './style-presets.ts';

/** The default seed when none is typed: floor(0.25 · 2^32). */
const RANDOM_SEED = 1073741824;
const random = (): number => 0.25;

interface OkCase {
  input: string;
  options?: ParseOptions;
  spec: Partial<GenerationSpec>;
  /** Substrings the folded prompt must contain (style prefix/suffix cases). */
  promptHas?: string[];
}
interface ErrCase {
  input: string;
  options?: ParseOptions;
  error: { code: GrammarErrorCode; param?: string; allowed?: string[] };
  /** Substrings each message must contain. */
  says?: { en?: string[]; 'zh-CN'?: string[] };
}

const FINAL_16_9 = { mode: 'final', aspect: '16:9', width: 1280, height: 720, durationSeconds: 5, frames: 81, fps: 16 } as const;
const DRAFT_16_9 = { mode: 'draft', aspect: '16:9', width: 848, height: 480, durationSeconds: 3, frames: 49, fps: 16 } as const;

const OK: OkCase[] = [
  // Plain English and Chinese, with and without the command word.
  { input: '/video a cat surfing at sunset', spec: { ...FINAL_16_9, prompt: 'a cat surfing at sunset', seed: RANDOM_SEED } },
  {
    input: '/video a cat surfing at sunset --seed 42 --ar 9:16 --draft',
    spec: { prompt: 'a cat surfing at sunset', mode: 'draft', aspect: '9:16', width: 480, height: 848, durationSeconds: 3, frames: 49, seed: 42 },
  },
  { input: 'a fox running through fresh snow --ar=4:3', spec: { prompt: 'a fox running through fresh snow', aspect: '4:3', width: 960, height: 720 } },
  { input: '/VIDEO Golden retriever puppy chasing bubbles', spec: { prompt: 'Golden retriever puppy chasing bubbles' } },
  { input: '/视频 一只橘猫在屋顶上晒太阳，微风吹过。——seed 7', spec: { prompt: '一只橘猫在屋顶上晒太阳，微风吹过。', seed: 7 } },
  { input: '/视频一只柴犬在樱花树下奔跑', spec: { prompt: '一只柴犬在樱花树下奔跑' } },
  // IME dashes: ——, —, －－, —-, –, ⸺.
  { input: '／video 一只熊猫在竹林里吃竹子 —ar 9:16', spec: { prompt: '一只熊猫在竹林里吃竹子', aspect: '9:16', width: 720, height: 1280 } },
  { input: '/video 海边的日落 ——ar＝１：１', spec: { prompt: '海边的日落', aspect: '1:1', width: 720, height: 720 } },
  // A space typed (or inserted by an IME) between the dashes and a known flag name.
  { input: '/video a cat -- ar 9:16', spec: { prompt: 'a cat', aspect: '9:16' } },
  { input: '/video 一只猫 —— draft', spec: { prompt: '一只猫', mode: 'draft' } },
  { input: '/video 一只猫 ——\u3000seed 7', spec: { prompt: '一只猫', seed: 7 } },
  // … but not for words that are no flag: prose dashes stay prompt text.
  { input: '/video a cat -- and then a dog', spec: { prompt: 'a cat -- and then a dog' } },
  { input: '/video 长城上的雪景 —-draft', spec: { ...DRAFT_16_9, prompt: '长城上的雪景' } },
  { input: '/video a red kite over the beach –draft', spec: { ...DRAFT_16_9, prompt: 'a red kite over the beach' } },
  { input: '/video 西湖断桥残雪 ⸺seed 99', spec: { prompt: '西湖断桥残雪', seed: 99 } },
  // Full-width letters, digits, colons and ideographic spaces.
  { input: '/VIDEO Neon city at night －－ｓｅｅｄ　４２', spec: { prompt: 'Neon city at night', seed: 42 } },
  { input: '/video 外滩夜景 --ar １６：９', spec: { prompt: '外滩夜景', aspect: '16:9' } },
  { input: '／视频　雪山上的日出　－－草稿', spec: { ...DRAFT_16_9, prompt: '雪山上的日出' } },
  { input: '／ｖｉｄｅｏ　ＡＩ机器人在跳舞　－－ＡＲ　９：１６', spec: { prompt: 'AI机器人在跳舞', aspect: '9:16' } },
  // Flags before, between and after the prompt; no space before a flag in Chinese.
  { input: '--draft --ar 3:4 a portrait of an old fisherman mending nets', spec: { prompt: 'a portrait of an old fisherman mending nets', mode: 'draft', aspect: '3:4', width: 480, height: 640 } },
  { input: 'a koi pond --seed 123 in autumn rain --draft', spec: { prompt: 'a koi pond in autumn rain', seed: 123, mode: 'draft' } },
  { input: '/video 一只猫在弹钢琴--ar 9:16--draft', spec: { prompt: '一只猫在弹钢琴', aspect: '9:16', mode: 'draft', width: 480, height: 848 } },
  { input: '/video 一只猫在弹钢琴 --seed 42一只狗在唱歌', spec: { prompt: '一只猫在弹钢琴 一只狗在唱歌', seed: 42 } },
  // Negative prompts: every quote style, aliases, unquoted up to the next flag.
  { input: '/video 一只猫 --neg “模糊，低质量”', spec: { prompt: '一只猫', negativePrompt: '模糊，低质量' } },
  { input: '/video 一只猫 --neg「水印」', spec: { prompt: '一只猫', negativePrompt: '水印' } },
  { input: '/video 一只猫 --neg『文字』 --draft', spec: { prompt: '一只猫', negativePrompt: '文字', mode: 'draft' } },
  { input: "/video a cat --no 'text, watermark'", spec: { prompt: 'a cat', negativePrompt: 'text, watermark' } },
  { input: '/video a cat --negative ‘extra legs’', spec: { negativePrompt: 'extra legs' } },
  { input: '/video a city street at dusk --negative blurry, extra limbs --seed 5', spec: { prompt: 'a city street at dusk', negativePrompt: 'blurry, extra limbs', seed: 5 } },
  { input: '/视频 山间小屋 ——反向 模糊、变形 ——草稿', spec: { prompt: '山间小屋', negativePrompt: '模糊、变形', mode: 'draft' } },
  // Styles: names, aliases in Chinese, spacing and case variants, zh flag aliases.
  {
    input: '/video 古镇小桥流水人家 --style 水墨',
    spec: { style: 'ink-wash', negativePrompt: 'saturated colors, photorealistic, 3d render, neon' },
    promptHas: ['traditional Chinese ink wash painting, 古镇小桥流水人家, flowing brush strokes'],
  },
  {
    input: '/video 东京街头的雨夜 --style 动漫 --neg "低质量"',
    spec: { style: 'anime', negativePrompt: '低质量, photorealistic, 3d render, realistic skin texture' },
    promptHas: ['anime style, 东京街头的雨夜, cel shading'],
  },
  { input: '/video robot dancing in a kitchen --style "3D Cartoon"', spec: { style: '3d-cartoon' }, promptHas: ['robot dancing in a kitchen'] },
  { input: '/video a knight fighting a dragon --style=Pixel_Art', spec: { style: 'pixel-art' } },
  { input: '/video 城市夜景 --风格 赛博朋克 --时长 4 --草稿', spec: { style: 'cyberpunk', durationSeconds: 4, frames: 65, mode: 'draft' } },
  { input: '/video 山水之间 --风格水墨 --种子88', spec: { style: 'ink-wash', seed: 88 } },
  { input: '/video an old man feeding pigeons --style vintage-film --ar 4:3 --draft', spec: { style: 'vintage-film', width: 640, height: 480 } },
  { input: '/video 捏泥人的小朋友 --style 黏土', spec: { style: 'claymation' } },
  { input: '/video a detective in the rain --style noir', spec: { style: 'film-noir' } },
  // Durations and frame counts.
  { input: '/video a waterfall in the jungle --duration 10', spec: { durationSeconds: 10, frames: 161, mode: 'final' } },
  { input: '/video a waterfall in the jungle --duration 2.5 --draft', spec: { durationSeconds: 2.5, frames: 41, mode: 'draft' } },
  { input: '/video 黄山云海 --duration 5秒', spec: { durationSeconds: 5, frames: 81 } },
  { input: '/video 黄山云海 ——时长４秒钟', spec: { durationSeconds: 4, frames: 65 } },
  { input: '/video 黄山云海 --duration ３ｓ --draft', spec: { durationSeconds: 3, mode: 'draft' } },
  { input: '/video a candle flickering --duration 1', spec: { durationSeconds: 1, frames: 17 } },
  // Aspect spellings.
  { input: '/video a cat --ar 32:18', spec: { aspect: '16:9' } },
  { input: '/video 一只猫 --ar 竖屏', spec: { aspect: '9:16' } },
  { input: '/video 一只猫 --ar 16比9', spec: { aspect: '16:9' } },
  { input: '/video a cat --AR 1x1', spec: { aspect: '1:1', width: 720, height: 720 } },
  // Seeds at the edges.
  { input: '/video a cat --seed 0', spec: { seed: 0 } },
  { input: '/video a cat --seed 4294967295', spec: { seed: 4294967295 } },
  // Prompt text: quoting, Chinese punctuation kept, whitespace collapsed, NFKC.
  { input: '/video "a neon sign that reads --draft" --seed 3', spec: { prompt: 'a neon sign that reads --draft', mode: 'final', seed: 3 } },
  { input: '/video “一块写着‘欢迎光临’的招牌”', spec: { prompt: '一块写着‘欢迎光临’的招牌' } },
  { input: '/video 他说：“今天——是个好日子！”（慢镜头）', spec: { prompt: '他说：“今天——是个好日子！”（慢镜头）' } },
  { input: '/video 等待……然后，烟花绽放？', spec: { prompt: '等待……然后，烟花绽放？' } },
  { input: '/video   a    cat\n\twith　a   hat  --draft ', spec: { prompt: 'a cat with a hat' } },
  { input: '/video ﬁreﬂies over a ① pond ㎞', spec: { prompt: 'fireflies over a 1 pond km' } },
  { input: '/video 夜空中的极光 — 绚丽多彩', spec: { prompt: '夜空中的极光 — 绚丽多彩' } },
  // Options: defaults and an adapter that already stripped the command.
  {
    input: '一群孩子在放风筝',
    options: { defaults: { mode: 'draft', aspect: '9:16', draftDurationSeconds: 4, style: 'watercolor' }, random },
    spec: { mode: 'draft', aspect: '9:16', width: 480, height: 848, durationSeconds: 4, frames: 65, style: 'watercolor' },
  },
  { input: '一群孩子在放风筝 --style none', options: { defaults: { style: 'watercolor' } }, spec: { prompt: '一群孩子在放风筝' } },
  { input: '/视频 一群孩子在放风筝', options: { requireCommand: true }, spec: { prompt: '一群孩子在放风筝' } },
];

const ERR: ErrCase[] = [
  {
    input: '/video a cat --ar 21:9',
    error: { code: 'out_of_range', param: 'ar', allowed: [...ASPECTS] },
    says: { en: ['Unknown aspect ratio 21:9 for --ar; allowed: 16:9, 9:16, 1:1, 4:3, 3:4'], 'zh-CN': ['--ar 的画幅比例 21:9 不支持，可选：16:9、9:16、1:1、4:3、3:4'] },
  },
  { input: '/video 一只猫 ——ar ２１：９', error: { code: 'out_of_range', param: 'ar' }, says: { en: ['21:9'] } },
  { input: '/video a cat --ar cinema', error: { code: 'bad_value', param: 'ar' }, says: { en: ['cinema', '16:9, 9:16'] } },
  { input: '/video a cat --ar', error: { code: 'missing_value', param: 'ar' } },
  { input: '/video 一只猫 --foo bar', error: { code: 'unknown_flag', param: 'foo' }, says: { en: ['--foo', '--seed, --ar, --duration, --style, --neg, --draft'], 'zh-CN': ['--foo', '--seed、--ar'] } },
  { input: '/video 一只猫 ——speed 2', error: { code: 'unknown_flag', param: 'speed' }, says: { en: ['——speed'] } },
  { input: '/video a cat --seed', error: { code: 'missing_value', param: 'seed' }, says: { en: ['--seed 42'], 'zh-CN': ['缺少'] } },
  { input: '/video a cat --seed --draft', error: { code: 'missing_value', param: 'seed' } },
  { input: '/video a cat --seed abc', error: { code: 'bad_value', param: 'seed' }, says: { en: ['0 to 4294967295'], 'zh-CN': ['0 到 4294967295'] } },
  { input: '/video a cat --seed 4.5', error: { code: 'bad_value', param: 'seed' } },
  { input: '/video a cat --seed -1', error: { code: 'out_of_range', param: 'seed' } },
  { input: '/video a cat --seed 4294967296', error: { code: 'out_of_range', param: 'seed' } },
  { input: '/video 一只猫 ——种子 九九', error: { code: 'bad_value', param: 'seed' } },
  {
    input: '/video a cat --duration 8 --draft',
    error: { code: 'out_of_range', param: 'duration', allowed: ['1–5'] },
    says: { en: ['draft allows 1–5 s', 'final 1–10 s', 'leave out --draft'], 'zh-CN': ['草稿 1–5 秒', '正式 1–10 秒'] },
  },
  { input: '/video a cat --duration 11', error: { code: 'out_of_range', param: 'duration', allowed: ['1–10'] }, says: { en: ['final allows 1–10 s', 'draft 1–5 s'] } },
  { input: '/video a cat --duration 0', error: { code: 'out_of_range', param: 'duration' } },
  { input: '/video a cat --duration fast', error: { code: 'bad_value', param: 'duration' } },
  { input: '/video a cat --duration=', error: { code: 'missing_value', param: 'duration' } },
  { input: '/video', error: { code: 'empty_prompt', param: 'prompt' } },
  { input: '／视频　', error: { code: 'empty_prompt', param: 'prompt' } },
  { input: '/视频 ——seed 42 ——草稿', error: { code: 'empty_prompt', param: 'prompt' } },
  { input: '/video "" --draft', error: { code: 'empty_prompt', param: 'prompt' } },
  { input: '/video --neg blurry low quality', error: { code: 'empty_prompt', param: 'prompt' }, says: { en: ['quote it'], 'zh-CN': ['引号'] } },
  { input: '/video a cat --style vaporwave', error: { code: 'unknown_style', param: 'style' }, says: { en: ['vaporwave', 'cinematic', 'ink-wash'], 'zh-CN': ['ink-wash（水墨）'] } },
  { input: '/video 一只猫 --风格 蒸汽波', error: { code: 'unknown_style', param: 'style' } },
  { input: '一只猫', options: { defaults: { style: 'no-such-style' } }, error: { code: 'unknown_style', param: 'style' } },
  { input: '/video a cat --neg "blurry', error: { code: 'unterminated_quote', param: 'neg' }, says: { en: ['--neg'] } },
  { input: '/video 一只猫 --style “水墨', error: { code: 'unterminated_quote', param: 'style' }, says: { 'zh-CN': ['”'] } },
  { input: '/video 一只猫 --neg 「水印', error: { code: 'unterminated_quote', param: 'neg' }, says: { 'zh-CN': ['」'] } },
  { input: '/video a cat --neg ""', error: { code: 'missing_value', param: 'neg' } },
  { input: '/video a cat --seed 1 --seed 2', error: { code: 'duplicate_flag', param: 'seed' } },
  { input: '/video a cat --neg blur --no text', error: { code: 'duplicate_flag', param: 'neg' } },
  { input: '/video 一只猫 --draft ——草稿', error: { code: 'duplicate_flag', param: 'draft' } },
  { input: 'a cat surfing', options: { requireCommand: true }, error: { code: 'not_a_command' } },
  { input: '/videos of cats', options: { requireCommand: true }, error: { code: 'not_a_command' } },
  { input: `/video ${'a'.repeat(PROMPT_MAX_CHARS + 1)}`, error: { code: 'too_long', param: 'prompt', allowed: [`0-${PROMPT_MAX_CHARS}`] } },
  { input: `/video ${'猫'.repeat(1450)} --style cinematic`, error: { code: 'too_long', param: 'prompt' }, says: { en: ['with style cinematic'] } },
  { input: `/video a cat --neg "${'x'.repeat(NEGATIVE_MAX_CHARS + 1)}"`, error: { code: 'too_long', param: 'negativePrompt' } },
  { input: 'x'.repeat(30_000), error: { code: 'too_long', param: 'prompt' } },
];

describe('parseVideoCommand: accepted commands', () => {
  it.each(OK)('$input', ({ input, options, spec, promptHas }) => {
    const result = parseVideoCommand(input, { random, ...options });
    if (!result.ok) expect.fail(`refused: ${result.error.code} ${result.error.message.en}`);
    expect(GenerationSpecSchema.parse(result.spec)).toEqual(result.spec);
    expect(result.spec).toMatchObject(spec);
    for (const part of promptHas ?? []) expect(result.spec.prompt).toContain(part);
  });
});

describe('parseVideoCommand: refused commands', () => {
  it.each(ERR)('$input', ({ input, options, error, says }) => {
    const result = parseVideoCommand(input, { random, ...options });
    if (result.ok) expect.fail(`accepted: ${JSON.stringify(result.spec)}`);
    expect(result.error).toMatchObject(error);
    if (error.param === undefined) expect(result.error.param).toBeUndefined();
    expect(result.error.message.en.length).toBeGreaterThan(0);
    expect(result.error.message['zh-CN']).toMatch(/\p{Script=Han}/u);
    for (const part of says?.en ?? []) expect(result.error.message.en).toContain(part);
    for (const part of says?.['zh-CN'] ?? []) expect(result.error.message['zh-CN']).toContain(part);
  });
});

describe('spec building', () => {
  it('has at least 40 table cases in each language mix', () => {
    expect(OK.length + ERR.length).toBeGreaterThanOrEqual(40);
    const han = [...OK, ...ERR].filter((c) => /\p{Script=Han}/u.test(c.input)).length;
    expect(han).toBeGreaterThanOrEqual(20);
  });

  it('sizes have the short side 480/720, multiples of 16, and the aspect within 1%', () => {
    for (const mode of ['draft', 'final'] as const) {
      for (const aspect of ASPECTS) {
        const { width, height } = FRAME_SIZES[mode][aspect];
        const [a, b] = aspect.split(':').map(Number) as [number, number];
        expect(Math.min(width, height)).toBe(mode === 'draft' ? 480 : 720);
        expect(width % 16).toBe(0);
        expect(height % 16).toBe(0);
        expect(Math.abs(width / height / (a / b) - 1)).toBeLessThan(0.01);
        const r = parseVideoCommand(`a cat --ar ${aspect}${mode === 'draft' ? ' --draft' : ''}`);
        expect(r.ok && [r.spec.width, r.spec.height]).toEqual([width, height]);
      }
    }
  });

  it('frames are 4·round(duration·fps/4)+1 over both ranges', () => {
    for (const mode of ['draft', 'final'] as const) {
      for (let tenth = DURATION_LIMITS[mode].min * 10; tenth <= DURATION_LIMITS[mode].max * 10; tenth++) {
        const seconds = tenth / 10;
        const r = parseVideoCommand(`a cat --duration ${seconds}${mode === 'draft' ? ' --draft' : ''}`);
        if (!r.ok) expect.fail(r.error.message.en);
        expect(r.spec.frames).toBe(4 * Math.round((seconds * 16) / 4) + 1);
        expect(r.spec.frames).toBe(framesFor(seconds));
        expect(GenerationSpecSchema.safeParse(r.spec).success).toBe(true);
      }
    }
  });

  it('takes the default seed from the injected random source, across its whole range', () => {
    const seedOf = (r: number): number => {
      const result = parseVideoCommand('a cat', { random: () => r });
      return result.ok ? result.spec.seed : -1;
    };
    expect(seedOf(0)).toBe(0);
    expect(seedOf(0.999999999999)).toBe(4294967295);
    expect(seedOf(0.5)).toBe(2147483648);
    expect(seedOf(Number.NaN)).toBe(0);
    expect(seedOf(7)).toBe(4294967295);
  });

  it('folds the style into prompt and negative prompt exactly as styles.json says', () => {
    for (const preset of defaultStylePresets().styles) {
      const r = parseVideoCommand(`一只猫 --style ${preset.name} --neg 模糊`);
      if (!r.ok) expect.fail(r.error.message.en);
      expect(r.spec.style).toBe(preset.name);
      expect(r.spec.prompt).toBe([preset.promptPrefix, '一只猫', preset.promptSuffix].filter((s) => s !== '').join(', '));
      expect(r.spec.negativePrompt).toBe(['模糊', preset.negativePrompt].filter((s) => s !== '').join(', '));
    }
  });

  it('lets the prompt use all of PROMPT_MAX_CHARS without a style, and the rest with one', () => {
    const max = parseVideoCommand('a'.repeat(PROMPT_MAX_CHARS));
    expect(max.ok).toBe(true);
    const over = parseVideoCommand(`${'猫'.repeat(1450)} --style cinematic`);
    if (over.ok) expect.fail('accepted');
    const allowed = Number(over.error.allowed?.[0]?.split('-')[1]);
    const fits = parseVideoCommand(`${'猫'.repeat(allowed)} --style cinematic`);
    if (!fits.ok) expect.fail(fits.error.message.en);
    expect(fits.spec.prompt.length).toBe(PROMPT_MAX_CHARS);
  });

  it('reads the same spec whatever dash, quote or width the IME produced', () => {
    const variants = [
      '/video 一只猫 --seed 42 --ar 9:16 --neg "模糊" --draft',
      '/视频 一只猫 ——seed 42 ——ar 9：16 ——neg “模糊” ——draft',
      '／视频　一只猫　－－ｓｅｅｄ　４２　－－ａｒ　９：１６　－－ｎｅｇ　＂模糊＂　－－ｄｒａｆｔ',
      '/VIDEO 一只猫 —seed=42 —ar=9:16 —neg「模糊」 —draft',
      '一只猫 –seed 42 —-ar 9:16 --no 『模糊』 --草稿',
      '--draft --neg ‘模糊’ --ar 9比16 --种子 42 一只猫',
    ];
    const specs = variants.map((v) => parseVideoCommand(v));
    for (const s of specs) {
      if (!s.ok) expect.fail(s.error.message.en);
      expect(s.spec).toEqual({
        version: 1,
        prompt: '一只猫',
        negativePrompt: '模糊',
        mode: 'draft',
        durationSeconds: 3,
        fps: 16,
        frames: 49,
        aspect: '9:16',
        width: 480,
        height: 848,
        seed: 42,
      });
    }
  });
});
