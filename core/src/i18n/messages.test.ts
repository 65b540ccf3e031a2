import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MESSAGES, t, tAll, type MessageId } from './messages.ts';

const LOCALES = ['zh-CN', 'en'] as const;
const placeholders = (text: string): string[] => [...new Set([...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1] ?? ''))].sort();

describe('the message catalogue', () => {
  it('has every entry in both languages, with the same {placeholders} in each', () => {
    for (const [id, entry] of Object.entries(MESSAGES)) {
      expect(Object.keys(entry).sort(), id).toEqual([...LOCALES].sort());
      for (const l of LOCALES) expect(entry[l].trim(), `${id} ${l}`).not.toBe('');
      expect(placeholders(entry['zh-CN']), id).toEqual(placeholders(entry.en));
    }
  });

  it('writes Chinese only in the Chinese texts', () => {
    for (const [id, entry] of Object.entries(MESSAGES)) expect(entry.en, id).not.toMatch(/[\u4e00-\u9fff]/);
  });

  it('fills placeholders per language', () => {
    expect(t('job.not_found', 'en', { jobId: 'j1' })).toBe('No job j1.');
    expect(tAll('refusal.image_invalid', (l) => ({ detail: t('image.not_supported_here', l) }))).toEqual({
      en: 'The reference image could not be used: images are not supported here',
      'zh-CN': '参考图片无法使用：此处不支持图片',
    });
    // A value that looks like a placeholder is not filled again.
    expect(t('job.not_found', 'en', { jobId: '{jobId}' })).toBe('No job {jobId}.');
    expect(t('job.not_found' satisfies MessageId, 'en')).toBe('No job {jobId}.');
  });
});

/**
 * Every user-facing text lives in the catalogue: no source file of core, gpu-worker or
 * content-safety (tests aside) holds a LocalizedText literal — a `'zh-CN':` key with a string
 * value. Code refers to catalogue ids instead.
 */
describe('no text outside the catalogue', () => {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
  const catalogue = path.join(root, 'core/src/i18n/messages.ts');
  const LITERAL = /['"]zh-CN['"]\s*:\s*['"`]/;

  async function sources(dir: string): Promise<string[]> {
    const out: string[] = [];
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) out.push(...(await sources(p)));
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && p !== catalogue) out.push(p);
    }
    return out;
  }

  it('finds no LocalizedText literal in core, gpu-worker or content-safety sources', async () => {
    const files = (await Promise.all(['core/src', 'gpu-worker/src', 'content-safety/src'].map((d) => sources(path.join(root, d))))).flat();
    expect(files.length).toBeGreaterThan(50);
    const offenders: string[] = [];
    for (const file of files) {
      const lines = (await readFile(file, 'utf8')).split('\n');
      lines.forEach((line, i) => {
        if (LITERAL.test(line)) offenders.push(`${path.relative(root, file)}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(offenders).toEqual([]);
  });

  it('would catch one', () => {
    expect(LITERAL.test(`const X = { en: 'Hi', 'zh-CN': '你好' };`)).toBe(true);
    expect(LITERAL.test(`  "zh-CN": \`你好 \${name}\`,`)).toBe(true);
    expect(LITERAL.test(`const S = z.object({ 'zh-CN': z.string(), en: z.string() });`)).toBe(false);
  });
});
