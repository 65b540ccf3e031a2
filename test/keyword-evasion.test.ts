/**
 * Recall and false-positive rate of the default keyword lists on the evasion corpus
 * (test/corpus/evasion/cases.jsonl: one JSON object per line, {text, expect, category, lang, evasion}).
 * A should-hit case counts as found when the filter does not allow it and one hit has the expected
 * category; a benign case is a false positive when the filter returns anything but allow.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KeywordFilter, defaultKeywordListDir } from '@framecast/content-safety';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';

const CaseSchema = z.object({
  text: z.string().min(1),
  expect: z.enum(['block', 'review', 'allow']),
  category: z.string(),
  lang: z.enum(['zh', 'en']),
  evasion: z.string(),
});
type Case = z.infer<typeof CaseSchema>;

const corpusFile = path.join(path.dirname(fileURLToPath(import.meta.url)), 'corpus/evasion/cases.jsonl');
const cases: Case[] = readFileSync(corpusFile, 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => CaseSchema.parse(JSON.parse(l)));

describe('keyword filter on the evasion corpus', () => {
  it('has a corpus of at least 150 labelled zh and en cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(150);
    expect(cases.filter((c) => c.lang === 'zh').length).toBeGreaterThan(50);
    expect(cases.filter((c) => c.lang === 'en').length).toBeGreaterThan(50);
    expect(cases.filter((c) => c.expect === 'allow').length).toBeGreaterThan(50);
  });

  it('reaches the recall and false-positive floors with the default lists', async () => {
    const filter = await KeywordFilter.fromDirectory(defaultKeywordListDir());
    const positives = cases.filter((c) => c.expect !== 'allow');
    const benign = cases.filter((c) => c.expect === 'allow');
    const missed: string[] = [];
    let actionMatches = 0;
    for (const c of positives) {
      const r = filter.scan(c.text);
      if (r.action !== 'allow' && r.hits.some((h) => h.category === c.category)) {
        if (r.action === c.expect) actionMatches++;
      } else missed.push(`${c.evasion}: ${JSON.stringify(c.text)}`);
    }
    const falsePositives = benign
      .map((c) => ({ c, r: filter.scan(c.text) }))
      .filter(({ r }) => r.action !== 'allow')
      .map(({ c, r }) => `${JSON.stringify(c.text)} → ${r.hits.map((h) => h.word).join(',')}`);
    const recall = (positives.length - missed.length) / positives.length;
    const fpr = falsePositives.length / benign.length;
    console.log(
      JSON.stringify({
        corpus: 'evasion',
        cases: cases.length,
        positives: positives.length,
        benign: benign.length,
        recall: Number(recall.toFixed(4)),
        falsePositiveRate: Number(fpr.toFixed(4)),
        actionAccuracy: Number((actionMatches / positives.length).toFixed(4)),
        missed,
        falsePositives,
      }),
    );
    expect(recall).toBeGreaterThanOrEqual(0.95);
    expect(fpr).toBeLessThanOrEqual(0.02);
  });

  it('reports offsets that cover the disguised text for every hit', async () => {
    const filter = await KeywordFilter.fromDirectory(defaultKeywordListDir());
    for (const c of cases) {
      for (const h of filter.scan(c.text).hits) {
        expect(c.text.slice(h.start, h.end)).toBe(h.matchedText);
        expect(h.start).toBeGreaterThanOrEqual(0);
        expect(h.end).toBeLessThanOrEqual(c.text.length);
        expect(h.end).toBeGreaterThan(h.start);
      }
    }
  });
});
