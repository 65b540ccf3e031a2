import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ContentModerator } from '@framecast/core';
import { createKeywordModerator, defaultKeywordListDir, KeywordFilter } from '../keyword/index.ts';
import { withCategoryLabels } from './category-labels.ts';

const categoriesJson = async (): Promise<{ categories: Record<string, { label?: { en: string; 'zh-CN': string } }> }> =>
  JSON.parse(await readFile(path.join(defaultKeywordListDir(), 'categories.json'), 'utf8')) as { categories: Record<string, { label?: { en: string; 'zh-CN': string } }> };

describe('category labels from categories.json', () => {
  it('the keyword moderator gives each hit its category label, in both languages', async () => {
    const filter = await KeywordFilter.fromDirectory(defaultKeywordListDir());
    const verdict = await createKeywordModerator(filter).moderateText('a knight will behead the dragon');
    expect(verdict.action).toBe('block');
    const labels = (await categoriesJson()).categories;
    expect(verdict.hits[0]).toMatchObject({ category: 'violence', categoryLabel: labels['violence']?.label });
    expect(filter.categoryLabel('violence')).toEqual({ en: 'graphic violence', 'zh-CN': '暴力血腥' });
    expect(filter.categoryLabel('no-such-category')).toBeUndefined();
  });

  it('every category in the shipped categories.json has a label in both languages, nsfw-image included', async () => {
    const { categories } = await categoriesJson();
    expect(Object.keys(categories)).toContain('nsfw-image');
    for (const [name, c] of Object.entries(categories)) {
      expect(c.label?.en, name).toMatch(/\S/);
      expect(c.label?.['zh-CN'], name).toMatch(/\S/);
    }
  });

  it('labels the hits of any checker (an image classifier here) and keeps a label already given', async () => {
    const filter = await KeywordFilter.fromDirectory(defaultKeywordListDir());
    const image: ContentModerator = {
      moderateText: async () => ({ action: 'block', hits: [{ category: 'violence', match: 'x', categoryLabel: { en: 'own', 'zh-CN': '自己的' } }, { category: 'unknown', match: 'y' }], source: 't' }),
      moderateImage: async () => ({ action: 'block', hits: [{ category: 'nsfw-image', match: 'Porn', score: 0.99 }], source: 'nsfw-onnx' }),
    };
    const labelled = withCategoryLabels(image, (c) => filter.categoryLabel(c));
    const v = await labelled.moderateImage?.({ data: new Uint8Array(3), width: 1, height: 1 });
    expect(v?.hits[0]).toMatchObject({ category: 'nsfw-image', categoryLabel: { en: 'sexual imagery', 'zh-CN': '不适宜图片' }, score: 0.99 });
    const t = await labelled.moderateText('x');
    expect(t.hits[0]?.categoryLabel).toEqual({ en: 'own', 'zh-CN': '自己的' });
    expect(t.hits[1]).toEqual({ category: 'unknown', match: 'y' });
  });
});
