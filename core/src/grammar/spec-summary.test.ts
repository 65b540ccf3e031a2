import { describe, expect, it } from 'vitest';
import { formatGrammarHelp } from './grammar-help.ts';
import { KNOWN_FLAGS } from './grammar-flags.ts';
import { parseVideoCommand } from './prompt-grammar.ts';
import { formatSpecSummary } from './spec-summary.ts';
import { defaultStylePresets } from './style-presets.ts';

const specOf = (text: string) => {
  const r = parseVideoCommand(text, { random: () => 0 });
  if (!r.ok) throw new Error(r.error.message.en);
  return r.spec;
};

describe('formatSpecSummary', () => {
  it('renders one line in English and in Chinese', () => {
    const spec = specOf('a cat --draft --seed 42 --style 动漫');
    expect(formatSpecSummary(spec, 'en')).toBe('draft · 16:9 848×480 · 3 s · seed 42 · style anime');
    expect(formatSpecSummary(spec, 'zh-CN')).toBe('草稿 · 16:9 848×480 · 3 秒 · 种子 42 · 风格 动漫');
  });

  it('leaves out the style when there is none, and shows fractional seconds and a reference image', () => {
    const spec = specOf('一只猫 --ar 9:16 --duration 2.5');
    expect(formatSpecSummary(spec, 'en')).toBe('final · 9:16 720×1280 · 2.5 s · seed 0');
    const withImage = { ...spec, referenceImage: { ref: 'refs/a.png', width: 720, height: 1280, sha256: 'a'.repeat(64) } };
    expect(formatSpecSummary(withImage, 'zh-CN')).toBe('正式 · 9:16 720×1280 · 2.5 秒 · 种子 0 · 参考图');
  });

  it('never shows the prompt text', () => {
    const spec = specOf('a very secret prompt --style ink-wash');
    for (const locale of ['en', 'zh-CN'] as const) expect(formatSpecSummary(spec, locale)).not.toContain('secret');
    expect(formatSpecSummary(spec, 'zh-CN')).toContain('风格 水墨');
  });
});

describe('formatGrammarHelp', () => {
  it('lists every option and every style in both languages', () => {
    for (const locale of ['en', 'zh-CN'] as const) {
      const help = formatGrammarHelp(locale);
      for (const flag of KNOWN_FLAGS) expect(help).toContain(flag);
      for (const s of defaultStylePresets().styles) expect(help).toContain(s.name);
    }
    expect(formatGrammarHelp('zh-CN')).toContain('水墨（ink-wash）');
  });
});
