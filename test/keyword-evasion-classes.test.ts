/**
 * The evasion classes of issue 14, each with examples written for these tests (not the held-out
 * set): masked letters, slang variants, Chinese homophones, pinyin, allowed contexts and the
 * minors + sexual escalation. Then the shipped lists on test/corpus/evasion/classes.jsonl (per
 * class) and benign-real.jsonl (300+ real-world prompts, zero blocks), and a property test: text
 * built at random from the benign vocabulary is never blocked.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KeywordFilter, KeywordListError, createKeywordModerator, defaultKeywordListDir, parseListFile } from '@framecast/content-safety';
import type { KeywordList } from '@framecast/content-safety';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';

const here = path.dirname(fileURLToPath(import.meta.url));
const ClassCaseSchema = z.object({
  text: z.string().min(1),
  class: z.enum(['masked', 'variant', 'homophone', 'pinyin', 'escalation']),
  category: z.string(),
  expect: z.enum(['block', 'review']),
  lang: z.enum(['zh', 'en']),
});
const BenignSchema = z.object({ text: z.string().min(1), domain: z.string(), lang: z.enum(['zh', 'en']), near: z.string().optional() });
const readJsonl = <T>(name: string, schema: z.ZodType<T>): T[] =>
  readFileSync(path.join(here, 'corpus/evasion', name), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => schema.parse(JSON.parse(l)));

const shippedPromise = KeywordFilter.fromDirectory(defaultKeywordListDir());
const words = (f: KeywordFilter, text: string): string[] => f.scan(text).hits.map((h) => `${h.word}/${h.category}/${h.rule ?? 'plain'}`);

describe('masked letters', () => {
  const f = KeywordFilter.fromLists([
    { category: 'sexual', words: ['porn @substring', 'rape', 'bestiality'] },
    { category: 'profanity', words: ['fuck @prefix', 'shit', 'ass', 'cum'] },
    { category: 'violence', words: ['make a bomb'] },
  ]);

  it('finds one or two inner letters masked by * # _ .', () => {
    for (const t of ['p*rn', 'p#rn', 'p_rn', 'p.rn', 'r*pe', 'b*stiality', 'f*ck', 'f**k', 'sh*t', 'f*cking', 'make a b*mb', 'watch p*rnhub']) {
      expect(f.scan(t).action, t).not.toBe('allow');
      expect(f.scan(t).hits.some((h) => h.rule === 'masked'), t).toBe(true);
    }
    expect(f.scan('what the f#ck').hits.map((h) => [h.word, h.matchedText])).toEqual([['fuck', 'f#ck']]);
  });

  it('leaves short words, word edges, long mask runs and ordinary dotted text alone', () => {
    for (const t of ['a*s', 'c*m', '*uck', 'fuc*', 'f***', 'sh**', 'e.g. a video', 'U.S.A.', 'file_name.mp4', 'snake_case', 'www.shop.example.com', 'C# code', 'i.e. slowly', 'Mr.Smith']) {
      expect(f.scan(t).action, t).toBe('allow');
    }
  });

  it('can be switched off per entry (@nomask) and per filter', () => {
    const g = KeywordFilter.fromLists([{ category: 'sexual', words: ['porn @nomask'] }]);
    expect(g.scan('p*rn').action).toBe('allow');
    const h = KeywordFilter.fromLists([{ category: 'sexual', words: ['porn'] }], { expansions: { masked: false } });
    expect(h.scan('p*rn').action).toBe('allow');
  });
});

describe('slang variants (@variants lists)', () => {
  const lists: KeywordList[] = [
    parseListFile('@category sexual\n@variants\nsex: seggs, secks @review\n色情: 涩情, se情\n', 'sexual.variants.txt'),
    parseListFile('@category self-harm\n@variants\nsuicide: sewerslide\n', 'self-harm.variants.txt'),
  ];
  const f = KeywordFilter.fromLists(lists);

  it('reports a spelling under its canonical word, with the list flags', () => {
    expect(f.scan('seggs scene').hits.map((h) => [h.word, h.category, h.action, h.rule, h.matchedText])).toEqual([['sex', 'sexual', 'review', 'variant', 'seggs']]);
    expect(words(f, '涩情片')).toEqual(['色情/sexual/variant']);
    expect(words(f, 'se情视频')).toEqual(['色情/sexual/variant']);
    expect(words(f, 'thinking about sewerslide')).toEqual(['suicide/self-harm/variant']);
  });

  it('applies the usual evasion handling to variants (spacing, leet, masks)', () => {
    expect(f.scan('s e g g s').action).toBe('review');
    expect(f.scan('s3ggs').action).toBe('review');
    expect(f.scan('sewe*slide').action).toBe('review');
  });

  it('rejects malformed variant lines with file and line', () => {
    expect(() => parseListFile('@category sexual\n@variants\nseggs\n', 'v.txt')).toThrow(KeywordListError);
    expect(() => parseListFile('@category sexual\n@variants\nsex:\n', 'v.txt')).toThrow(/v\.txt:3/);
  });
});

describe('Chinese homophones', () => {
  const f = KeywordFilter.fromLists([
    { category: 'minors', words: ['儿童色情', '恋童癖'] },
    { category: 'violence', words: ['大屠杀', '杀人'] },
    { category: 'sexual', words: ['色情 @homophones'] },
  ]);

  it('matches one character replaced by a same-sounding one in entries of three or more characters', () => {
    expect(words(f, '儿童涩情图片')).toContain('儿童色情/minors/homophone');
    expect(words(f, '恋童僻')).toEqual(['恋童癖/minors/homophone']);
    expect(words(f, '大涂杀的场面')).toEqual(['大屠杀/violence/homophone']);
    expect(words(f, '大屠殺')).toContain('大屠杀/violence/plain'); // traditional, not a homophone
  });

  it('does not replace two characters, and leaves two-character entries alone unless @homophones', () => {
    expect(f.scan('儿童涩晴').hits.filter((h) => h.word === '儿童色情')).toEqual([]);
    expect(f.scan('傻人有傻福').action).toBe('allow'); // 傻人 sounds like 杀人
    expect(words(f, '瑟情')).toEqual(['色情/sexual/homophone']);
  });

  it('can be switched off per entry and per filter', () => {
    expect(KeywordFilter.fromLists([{ category: 'violence', words: ['大屠杀 @nohomophones'] }]).scan('大涂杀').action).toBe('allow');
    expect(KeywordFilter.fromLists([{ category: 'violence', words: ['大屠杀'] }], { expansions: { homophones: false } }).scan('大涂杀').action).toBe('allow');
  });
});

describe('pinyin', () => {
  const f = KeywordFilter.fromLists([
    { category: 'sexual', words: ['色情', '做爱'] },
    { category: 'minors', words: ['幼女', '幼幼'] },
    { category: 'drugs', words: ['大麻'] },
  ]);

  it('matches spaced, run together, with tone marks or tone digits, and mixed with characters', () => {
    for (const t of ['se qing', 'seqing', 'SeQing', 'se-qing', 'sè qíng', 'sèqíng', 'se4 qing2', 'se4qing2', '色qing', 'zuo爱']) {
      expect(words(f, t), t).toContain('色情/sexual/pinyin'.replace('色情', t.includes('zuo') ? '做爱' : '色情'));
    }
    expect(words(f, 'you nv photos')).toEqual(['幼女/minors/pinyin']);
    expect(words(f, 'you4 nü3')).toEqual(['幼女/minors/pinyin']);
  });

  it('leaves English alone: whole words only, no short run-together forms, no all-English syllables', () => {
    for (const t of ['sequins on a dress', 'thank you, you are kind', 'Da Ma restaurant', 'dama', '做ai视频', 'anseqingo']) {
      expect(f.scan(t).action, t).toBe('allow');
    }
  });

  it('can be switched off per entry', () => {
    expect(KeywordFilter.fromLists([{ category: 'sexual', words: ['色情 @nopinyin'] }]).scan('se qing').action).toBe('allow');
  });
});

describe('context rules', () => {
  const rules = parseListFile(
    [
      '@rules',
      'allow nude after 2: lipstick*, heels, colour*, coloured, 色',
      'allow nude before 1: matte',
      'escalate minor + sexual, suggestive within 4: block csam',
    ].join('\n'),
    'rules.txt',
  );
  const lists: KeywordList[] = [
    { category: 'sexual', words: ['nude @prefix @review', 'sex @review', '裸体 @review'] },
    parseListFile('@terms minor\nchild\nkids\n小女孩\n12岁 @numerals\n', 'minor-terms.txt'),
    parseListFile('@terms suggestive\nsexy\n性感\n', 'suggestive-terms.txt'),
    rules,
  ];
  const f = KeywordFilter.fromLists(lists, { categories: { csam: 'block' } });

  it('allows an entry in an allowed context and nowhere else', () => {
    for (const t of ['nude lipstick', 'Nude lipsticks, matte finish', 'nude-coloured heels', 'nude colour palette', 'matte nude', 'nude色口红']) {
      expect(f.scan(t).action, t).toBe('allow');
    }
    for (const t of ['a nude woman', 'nude woman wearing lipstick', 'nude beach']) expect(f.scan(t).action, t).toBe('review');
  });

  it('turns minors next to sexual or suggestive words into a csam block, never review', () => {
    for (const t of ['sexy child', 'nude kids on a beach', 'kids having sex', '性感的小女孩', '十二岁的裸体照片', 'a child, sexy pose']) {
      const r = f.scan(t);
      expect(r.action, t).toBe('block');
      expect(r.hits.some((h) => h.category === 'csam' && h.rule === 'escalation'), t).toBe(true);
    }
    expect(f.scan('sexy dress').action).toBe('allow'); // a term alone is no hit
    expect(f.scan('kids playing football').action).toBe('allow');
    expect(f.scan('kids in nude-coloured heels').action).toBe('allow'); // the allowed context goes first
    expect(f.scan('kids play football in the park all day long and later a sexy dress').action).toBe('allow'); // too far apart
  });

  it('rejects malformed rules, unknown categories and unknown names', () => {
    expect(() => parseListFile('@rules\nallow nude somewhere: x\n', 'r.txt')).toThrow(/r\.txt:2/);
    expect(() => parseListFile('@rules\nallow nude after 0: lipstick\n', 'r.txt')).toThrow(KeywordListError);
    const bad = parseListFile('@rules\nescalate minor + sexual within 3: block nowhere\n', 'r.txt');
    expect(() => KeywordFilter.fromLists([...lists.slice(0, 3), bad])).toThrow(/nowhere/);
    const unknown = parseListFile('@rules\nescalate ghosts + sexual within 3: block csam\n', 'r.txt');
    expect(() => KeywordFilter.fromLists([...lists.slice(0, 3), unknown], { categories: { csam: 'block' } })).toThrow(/ghosts/);
  });
});

describe('shipped lists on the written corpora', () => {
  const cases = readJsonl('classes.jsonl', ClassCaseSchema);
  const benign = readJsonl('benign-real.jsonl', BenignSchema);

  it('finds the cases of every class (recall per class at least 0.95; escalations always block)', async () => {
    const f = await shippedPromise;
    const perClass: Record<string, string> = {};
    const missed: string[] = [];
    for (const cls of ['masked', 'variant', 'homophone', 'pinyin', 'escalation'] as const) {
      const pos = cases.filter((c) => c.class === cls);
      const found = pos.filter((c) => {
        const r = f.scan(c.text);
        if (cls === 'escalation') return r.action === 'block' && r.hits.some((h) => h.category === 'csam' || h.category === 'minors');
        return r.action !== 'allow' && r.hits.some((h) => h.category === c.category);
      });
      for (const c of pos) if (!found.includes(c)) missed.push(`${cls}: ${c.text}`);
      perClass[cls] = `${found.length}/${pos.length}`;
      expect(pos.length, cls).toBeGreaterThanOrEqual(20);
      expect(found.length / pos.length, `${cls}: ${missed.join(' | ')}`).toBeGreaterThanOrEqual(0.95);
    }
    console.log(JSON.stringify({ perClass, missed }));
    for (const c of cases.filter((x) => x.class === 'escalation')) expect(f.scan(c.text).action, c.text).toBe('block');
  });

  it('blocks none of the 300+ benign prompts', async () => {
    const f = await shippedPromise;
    expect(benign.length).toBeGreaterThanOrEqual(300);
    expect(benign.filter((b) => b.lang === 'zh').length).toBeGreaterThanOrEqual(100);
    const blocked = benign.filter((b) => f.scan(b.text).action === 'block').map((b) => `${b.text} → ${words(f, b.text).join(',')}`);
    expect(blocked).toEqual([]);
    // nude as a colour in shop copy is not even held for review
    const context = benign.filter((b) => b.near === 'context' && b.domain === 'ecommerce');
    expect(context.length).toBeGreaterThanOrEqual(20);
    expect(context.filter((b) => f.scan(b.text).action !== 'allow').map((b) => b.text)).toEqual([]);
  });

  it('never blocks random text built from the benign vocabulary', async () => {
    const f = await shippedPromise;
    // The vocabulary: words and clauses of the benign prompts that are no hit and no context-rule
    // term on their own (a term next to another term, "sexy" + "kids", is not benign).
    const dir = defaultKeywordListDir();
    const termLists = readdirSync(dir)
      .filter((n) => n.endsWith('.txt'))
      .map((n) => parseListFile(readFileSync(path.join(dir, n), 'utf8'), n))
      .filter((l) => l.terms === true)
      .map((l): KeywordList => ({ category: 'violence', words: l.words }));
    const terms = KeywordFilter.fromLists(termLists, { expansions: { homophones: false, pinyin: false, masked: false } });
    const clean = (w: string): boolean => f.scan(w).action === 'allow' && terms.scan(w).hits.length === 0;
    const en = [...new Set(benign.filter((b) => b.lang === 'en').flatMap((b) => b.text.split(/[\s,:;.!?()]+/)))].filter((w) => w.length > 0 && clean(w));
    const zh = [...new Set(benign.filter((b) => b.lang === 'zh').flatMap((b) => b.text.split(/[，。：；、！？（）《》\s]+/)))].filter((w) => w.length > 0 && clean(w));
    expect(en.length).toBeGreaterThan(500);
    expect(zh.length).toBeGreaterThan(150);
    const sentence = fc.oneof(
      fc.array(fc.constantFrom(...en), { minLength: 1, maxLength: 30 }).map((ws) => ws.join(' ')),
      fc.array(fc.constantFrom(...zh), { minLength: 1, maxLength: 8 }).map((ws) => ws.join('，')),
      fc.tuple(fc.array(fc.constantFrom(...en), { maxLength: 10 }), fc.array(fc.constantFrom(...zh), { maxLength: 4 })).map(([a, b]) => `${a.join(' ')}，${b.join('，')}`),
    );
    fc.assert(
      fc.property(sentence, (text) => {
        const r = f.scan(text);
        expect(r.action, `${text} → ${words(f, text).join(',')}`).not.toBe('block');
      }),
      { numRuns: 400, seed: 14 },
    );
  });
});

describe('the keyword moderator', () => {
  it('puts the hit that decided a block first (intake names its category in the refusal)', async () => {
    const f = await shippedPromise;
    const verdict = await createKeywordModerator(f).moderateText('a topless teenage girl on a beach');
    expect(verdict.action).toBe('block');
    expect(verdict.hits[0]?.category).toBe('csam');
    expect(verdict.hits[0]?.categoryLabel?.en).toBeTruthy();
  });
});
