import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseVideoCommand } from './prompt-grammar.ts';
import { DEFAULT_STYLES_PATH, findStylePreset, loadStylePresets, normaliseStyleName, type StylePresets } from './style-presets.ts';

const dir = mkdtempSync(join(tmpdir(), 'framecast-styles-'));
const writePresets = (name: string, data: unknown): string => {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(data));
  return path;
};
const style = (name: string, aliases: string[] = []) => ({
  name,
  displayName: { 'zh-CN': name, en: name },
  aliases,
  promptPrefix: `${name} prefix`,
});

describe('core/styles.json', () => {
  const presets = loadStylePresets();

  it('holds at least a dozen real presets, each with both display names and some text to fold in', () => {
    expect(presets.styles.length).toBeGreaterThanOrEqual(12);
    const names = presets.styles.map((s) => s.name);
    for (const required of ['cinematic', 'anime', 'watercolor', 'documentary', '3d-cartoon', 'pixel-art', 'ink-wash', 'cyberpunk', 'vintage-film', 'claymation']) {
      expect(names).toContain(required);
    }
    for (const s of presets.styles) {
      expect(s.displayName['zh-CN']).toMatch(/\p{Script=Han}/u);
      expect(s.promptPrefix.length + s.promptSuffix.length).toBeGreaterThan(0);
    }
  });

  it('finds presets by name and by alias, whatever the spacing, case or width', () => {
    expect(findStylePreset(presets, '动漫')?.name).toBe('anime');
    expect(findStylePreset(presets, '水墨')?.name).toBe('ink-wash');
    expect(findStylePreset(presets, 'Pixel Art')?.name).toBe('pixel-art');
    expect(findStylePreset(presets, 'ＣＹＢＥＲＰＵＮＫ')?.name).toBe('cyberpunk');
    expect(findStylePreset(presets, 'vaporwave')).toBeUndefined();
    expect(normaliseStyleName(' 3D_Cartoon ')).toBe('3d-cartoon');
  });

  it('is read from the file, not from code: a different file gives different styles', () => {
    const path = writePresets('custom.json', { version: 1, styles: [{ ...style('sketch', ['素描']), negativePrompt: 'color' }] });
    const custom = loadStylePresets(path);
    const r = parseVideoCommand('a horse --style 素描', { styles: custom });
    if (!r.ok) expect.fail(r.error.message.en);
    expect(r.spec).toMatchObject({ style: 'sketch', prompt: 'sketch prefix, a horse', negativePrompt: 'color' });
    const e = parseVideoCommand('a horse --style anime', { styles: custom });
    expect(e.ok ? undefined : e.error).toMatchObject({ code: 'unknown_style', allowed: ['sketch'] });
  });

  it('the default path is core/styles.json', () => {
    expect(JSON.parse(readFileSync(DEFAULT_STYLES_PATH, 'utf8'))).toMatchObject({ version: 1 });
  });
});

describe('loadStylePresets validation', () => {
  const bad: Array<[string, unknown, RegExp]> = [
    ['an alias naming two styles', { version: 1, styles: [style('a-one', ['x']), style('b-two', ['X'])] }, /names both/],
    ['a name that is not kebab-case', { version: 1, styles: [style('Film Noir')] }, /kebab-case/],
    ['the reserved word none', { version: 1, styles: [style('plain', ['none'])] }, /reserved/],
    ['an unknown field', { version: 1, styles: [{ ...style('x'), prompt: 'oops' }] }, /prompt/],
    ['a missing display name', { version: 1, styles: [{ name: 'x' }] }, /displayName/],
    ['no styles at all', { version: 1, styles: [] }, /styles/],
    ['another version', { version: 2, styles: [style('x')] }, /version/],
    ['an over-long phrase', { version: 1, styles: [{ ...style('x'), promptSuffix: 'y'.repeat(201) }] }, /promptSuffix/],
  ];
  it.each(bad)('rejects %s', (_what, data, why) => {
    const path = writePresets(`bad-${Math.random().toString(36).slice(2)}.json`, data);
    expect(() => loadStylePresets(path)).toThrow(why);
  });

  it('rejects a file that is not JSON', () => {
    const path = join(dir, 'broken.json');
    writeFileSync(path, '{ "version": 1, ');
    expect(() => loadStylePresets(path)).toThrow(SyntaxError);
  });

  it('fills in defaults for optional texts', () => {
    const presets: StylePresets = loadStylePresets(writePresets('minimal.json', { version: 1, styles: [{ name: 'bare', displayName: { 'zh-CN': '无修饰', en: 'Bare' } }] }));
    expect(presets.styles[0]).toEqual({ name: 'bare', displayName: { 'zh-CN': '无修饰', en: 'Bare' }, aliases: [], promptPrefix: '', promptSuffix: '', negativePrompt: '' });
    const r = parseVideoCommand('a horse --style bare', { styles: presets });
    expect(r.ok && [r.spec.prompt, r.spec.negativePrompt, r.spec.style]).toEqual(['a horse', undefined, 'bare']);
  });
});
