/**
 * Recall and false-positive rate of the default keyword lists on the evasion corpus.
 *
 * - test/corpus/evasion/cases.jsonl: the tuned set (the lists and matcher were adjusted on it).
 * - test/corpus/evasion/heldout.jsonl: a held-out set, written before the matcher changes that it
 *   measures and never tuned on afterwards; its recall is the honest number.
 *
 * One JSON object per line, {text, expect, category, lang, evasion}. A should-hit case counts as
 * found when the filter does not allow it and one hit has the expected category; a benign case is
 * a false positive when the filter returns anything but allow. Recall is printed per evasion class
 * so a regression in one technique shows even when the total stays above its floor.
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

const EVASION_CLASSES = [
  'plain',
  'list',
  'spacing',
  'symbols',
  'leet',
  'repeats',
  'traditional',
  'numerals',
  'width',
  'zero-width',
  'line-breaks',
  'look-alikes',
] as const;
type EvasionClass = (typeof EVASION_CLASSES)[number];

/** The tuned corpus uses finer labels; each maps to one class (the first technique named). */
const LABEL_CLASS: Readonly<Record<string, EvasionClass>> = {
  plain: 'plain',
  prefix: 'plain',
  overlap: 'plain',
  upper: 'width',
  'latin+cjk': 'plain',
  space: 'spacing',
  spaced: 'spacing',
  'spaced+upper': 'spacing',
  'double-space': 'spacing',
  'ideographic-space': 'spacing',
  hyphen: 'symbols',
  symbol: 'symbols',
  emoji: 'symbols',
  'traditional+symbol': 'traditional',
  traditional: 'traditional',
  'zero-width+traditional': 'zero-width',
  'zero-width': 'zero-width',
  'soft-hyphen': 'zero-width',
  'word-joiner': 'zero-width',
  bom: 'zero-width',
  'combining-marks': 'zero-width',
  fullwidth: 'width',
  'fullwidth-digits': 'width',
  'math-bold': 'width',
  'math-script': 'width',
  'mixed-styles': 'width',
  circled: 'width',
  'circled-upper': 'width',
  parenthesised: 'width',
  'regional-indicator': 'width',
  'negative-squared': 'width',
  numerals: 'numerals',
  digits: 'numerals',
  'circled-numbers': 'numerals',
  'parenthesised-numbers': 'numerals',
  'numerals+traditional': 'numerals',
  leet: 'leet',
  'leet-partial': 'leet',
  'cyrillic-o': 'look-alikes',
  'cyrillic+spaced': 'look-alikes',
  diacritic: 'look-alikes',
  'small-caps': 'look-alikes',
  'latin-hook': 'look-alikes',
};

function classOf(c: Case): EvasionClass | undefined {
  if ((EVASION_CLASSES as readonly string[]).includes(c.evasion)) return c.evasion as EvasionClass;
  return LABEL_CLASS[c.evasion];
}

function load(name: string): Case[] {
  const file = path.join(path.dirname(fileURLToPath(import.meta.url)), 'corpus/evasion', name);
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => CaseSchema.parse(JSON.parse(l)));
}

const tuned = load('cases.jsonl');
const heldOut = load('heldout.jsonl');
const filterPromise = KeywordFilter.fromDirectory(defaultKeywordListDir());

interface Measured {
  recall: number;
  fpr: number;
  perClass: Record<string, string>;
  missed: string[];
  falsePositives: string[];
}

async function measure(set: string, cases: readonly Case[]): Promise<Measured> {
  const filter = await filterPromise;
  const positives = cases.filter((c) => c.expect !== 'allow');
  const benign = cases.filter((c) => c.expect === 'allow');
  const byClass = new Map<string, { found: number; total: number }>();
  const missed: string[] = [];
  for (const c of positives) {
    const cls = classOf(c) ?? 'unclassified';
    const r = filter.scan(c.text);
    const found = r.action !== 'allow' && r.hits.some((h) => h.category === c.category);
    const slot = byClass.get(cls) ?? { found: 0, total: 0 };
    slot.total++;
    if (found) slot.found++;
    else missed.push(`${cls}: ${JSON.stringify(c.text)} → ${r.action} ${r.hits.map((h) => `${h.word}/${h.category}`).join(',')}`);
    byClass.set(cls, slot);
  }
  const falsePositives = benign
    .map((c) => ({ c, r: filter.scan(c.text) }))
    .filter(({ r }) => r.action !== 'allow')
    .map(({ c, r }) => `${JSON.stringify(c.text)} → ${r.hits.map((h) => h.word).join(',')}`);
  const perClass: Record<string, string> = {};
  for (const cls of [...EVASION_CLASSES, 'unclassified']) {
    const s = byClass.get(cls);
    if (s !== undefined) perClass[cls] = `${s.found}/${s.total} = ${(s.found / s.total).toFixed(2)}`;
  }
  const recall = (positives.length - missed.length) / positives.length;
  const fpr = benign.length === 0 ? 0 : falsePositives.length / benign.length;
  console.log(
    JSON.stringify(
      { corpus: `evasion/${set}`, positives: positives.length, benign: benign.length, recall: Number(recall.toFixed(4)), falsePositiveRate: Number(fpr.toFixed(4)), perClass, missed, falsePositives },
      null,
      1,
    ),
  );
  return { recall, fpr, perClass, missed, falsePositives };
}

describe('keyword filter on the evasion corpus', () => {
  it('has labelled zh and en cases, each positive in a known evasion class', () => {
    expect(tuned.length).toBeGreaterThanOrEqual(150);
    expect(tuned.filter((c) => c.lang === 'zh').length).toBeGreaterThan(50);
    expect(tuned.filter((c) => c.lang === 'en').length).toBeGreaterThan(50);
    expect(heldOut.filter((c) => c.expect !== 'allow').length).toBeGreaterThanOrEqual(60);
    expect([...tuned, ...heldOut].filter((c) => c.expect === 'allow').length).toBeGreaterThan(100);
    for (const c of [...tuned, ...heldOut]) if (c.expect !== 'allow') expect(classOf(c), c.evasion).toBeDefined();
    for (const cls of EVASION_CLASSES) expect(heldOut.some((c) => classOf(c) === cls) || cls === 'plain', cls).toBe(true);
  });

  it('reaches the recall floor on the tuned set', async () => {
    const m = await measure('tuned', tuned);
    expect(m.missed).toEqual([]);
    expect(m.recall).toBeGreaterThanOrEqual(0.98);
  });

  it('reaches the recall floor on the held-out set', async () => {
    const m = await measure('held-out', heldOut);
    expect(m.recall).toBeGreaterThanOrEqual(0.9);
  });

  it('keeps the false-positive rate on all benign prompts at or below 2%', async () => {
    const filter = await filterPromise;
    const benign = [...tuned, ...heldOut].filter((c) => c.expect === 'allow');
    const fp = benign.filter((c) => filter.scan(c.text).action !== 'allow').map((c) => c.text);
    console.log(JSON.stringify({ benign: benign.length, falsePositives: fp }));
    expect(fp.length / benign.length).toBeLessThanOrEqual(0.02);
  });

  it('reports offsets that cover the disguised text for every hit', async () => {
    const filter = await filterPromise;
    for (const c of [...tuned, ...heldOut]) {
      for (const h of filter.scan(c.text).hits) {
        expect(c.text.slice(h.start, h.end)).toBe(h.matchedText);
        expect(h.start).toBeGreaterThanOrEqual(0);
        expect(h.end).toBeLessThanOrEqual(c.text.length);
        expect(h.end).toBeGreaterThan(h.start);
      }
    }
  });
});
