import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KeywordFilter, KeywordListError, createKeywordModerator, defaultKeywordListDir, normalizeForMatch, parseListFile } from './index.ts';

const hitsOf = (f: KeywordFilter, text: string): [string, number, number, string][] =>
  f.scan(text).hits.map((h) => [h.word, h.start, h.end, h.matchedText]);

describe('normalisation', () => {
  it('folds width, case, styled letters, circled numbers, traditional characters and invisibles', () => {
    expect(normalizeForMatch('ＡＢＣ').text).toBe('abc');
    expect(normalizeForMatch('Ⓕ𝐮𝕔𝓴').text).toBe('fuck');
    expect(normalizeForMatch('ⓟ⒪🅁🅽🇽').text).toBe('pornx');
    expect(normalizeForMatch('①⑵⒊㈣❺➏⓻').text).toBe('123四567');
    expect(normalizeForMatch('屠殺 殺人 戀童').text).toBe('屠杀杀人恋童');
    expect(normalizeForMatch('k\u200Bi\u200Cl\u200Dl\u2060\u2063\uFEFF\u00AD').text).toBe('kill');
    expect(normalizeForMatch('p̸o̸r̸n̸ pörn ᴘᴏʀɴ pоrn').text).toBe('pornpornpornporn'); // combining, diacritic, small caps, Cyrillic о
    expect(normalizeForMatch('ß ﬁ ⑽').text).toBe('ssfi10');
  });

  it('maps every normalised character back to the code units it came from', () => {
    const input = 'a𝐮ﬁ\u200B殺';
    const n = normalizeForMatch(input);
    expect(n.text).toBe('aufi杀');
    expect(n.starts).toEqual([0, 1, 3, 3, 5]);
    expect(n.ends).toEqual([1, 3, 4, 4, 6]);
  });
});

describe('matching and offsets', () => {
  const f = KeywordFilter.fromLists([
    { category: 'violence', words: ['屠杀', '杀人', 'kill'] },
    { category: 'profanity', words: ['fuck @prefix', 'ass'] },
    { category: 'sexual', words: ['porn @prefix'] },
  ]);

  it('reports original offsets whose slice covers the disguised word', () => {
    const cases = ['屠*杀', '屠 杀', '屠🔪杀', '屠\u200B杀', '屠殺', 'k.i.l.l', 'k i l l', 'f-u-c-k', 'f🍑u🍑c🍑k', 'Ⓕ𝐮𝕔k', 'ｆｕｃｋ', 'p̸o̸r̸n̸'];
    for (const disguised of cases) {
      const text = `前缀 prefix ${disguised} suffix`;
      const r = f.scan(text);
      expect(r.hits.length, disguised).toBeGreaterThan(0);
      const hit = r.hits[0];
      expect(hit?.matchedText, disguised).toBe(disguised);
      expect(text.slice(hit?.start, hit?.end)).toBe(disguised);
    }
  });

  it('matches English as whole words and Chinese anywhere', () => {
    for (const benign of ['class', "assassin's creed style poster", 'classical music', 'a cat in a bass boat', 'skills class', 'Scunthorpe', 'an al', 's k i l l']) {
      expect(f.scan(benign).action, benign).toBe('allow');
    }
    expect(hitsOf(f, 'kick ass')).toEqual([['ass', 5, 8, 'ass']]);
    expect(hitsOf(f, '我想kill他')).toEqual([['kill', 2, 6, 'kill']]);
    expect(hitsOf(f, 'fucking')).toEqual([['fuck', 0, 4, 'fuck']]);
    expect(hitsOf(f, '他们在屠杀')).toEqual([['屠杀', 3, 5, '屠杀']]);
  });

  it('finds overlapping and nested words (mint-filter misses these)', () => {
    expect(hitsOf(f, '屠杀人')).toEqual([
      ['屠杀', 0, 2, '屠杀'],
      ['杀人', 1, 3, '杀人'],
    ]);
    // Words reachable only through a failure link's output (mint-filter 4.0.3 misses both).
    const nested = KeywordFilter.fromLists([{ category: 'violence', words: ['屠杀人民', '杀人', 'abcd', 'bc'], flags: { substring: true } }]);
    expect(hitsOf(nested, '屠杀人')).toEqual([['杀人', 1, 3, '杀人']]);
    expect(hitsOf(nested, 'abce')).toEqual([['bc', 1, 3, 'bc']]);
    const g = KeywordFilter.fromLists([{ category: 'violence', words: ['abc', 'bcd', 'bc'], flags: { substring: true } }]);
    expect(hitsOf(g, 'abcd')).toEqual([
      ['abc', 0, 3, 'abc'],
      ['bc', 1, 3, 'bc'],
      ['bcd', 1, 4, 'bcd'],
    ]);
  });

  it('falls back after a failed partial match (sensitive-word-tool misses this)', () => {
    const g = KeywordFilter.fromLists([{ category: 'violence', words: ['abd', '甲乙丁'], flags: { substring: true } }]);
    expect(hitsOf(g, 'abcabd')).toEqual([['abd', 3, 6, 'abd']]);
    expect(hitsOf(g, 'aabd')).toEqual([['abd', 1, 4, 'abd']]);
    expect(hitsOf(g, '甲乙丙甲乙丁')).toEqual([['甲乙丁', 3, 6, '甲乙丁']]);
  });

  it('lets only a CJK word span one line break (held for review), never a Latin word or a long mixed gap', () => {
    for (const t of ['屠\n杀', '屠\r\n杀', '屠\u2028杀']) {
      const r = f.scan(t);
      expect(r.action, JSON.stringify(t)).toBe('review');
      expect(r.hits.map((h) => [h.word, h.matchedText])).toEqual([['屠杀', t]]);
    }
    expect(f.scan('屠\n\n杀').action).toBe('allow'); // a paragraph break
    expect(f.scan('ki\nll').action).toBe('allow');
    expect(f.scan('k\ni\nl\nl').action).toBe('allow');
    expect(f.scan('屠 . . . . 杀').action).toBe('allow');
    expect(f.scan('k.-.-i').action).toBe('allow');
  });

  it('counts a run of one repeated separator once', () => {
    expect(hitsOf(f, '屠。。。。杀')).toEqual([['屠杀', 0, 6, '屠。。。。杀']]);
    expect(hitsOf(f, 'k....i....l....l')).toEqual([['kill', 0, 16, 'k....i....l....l']]);
    expect(f.scan('k.,;:i.,;:l.,;:l').action).toBe('allow'); // mixed junk keeps the 3-separator limit
  });

  it('keeps a spelled-out word beside a one-letter word, but not inside a longer spelled-out word', () => {
    for (const t of ['I k i l l you', 'i will k i l l u', 'a p o r n video', 'k i l l a man', 's  k i l l', 's, k i l l']) {
      expect(f.scan(t).action, t).not.toBe('allow');
    }
    for (const t of ['s k i l l', 'spell it: s k i l l', 'k i l l e d', 'a s k i l l']) expect(f.scan(t).action, t).toBe('allow');
    expect(hitsOf(f, 'I k i l l you')).toEqual([['kill', 2, 9, 'k i l l']]);
  });

  it('reads @, $, ! and | as letters only where they stand inside or at the start of a word', () => {
    const g = KeywordFilter.fromLists([
      { category: 'sexual', words: ['rape'] },
      { category: 'profanity', words: ['shit', 'ass', 'bitch'] },
      { category: 'violence', words: ['kill'] },
    ]);
    expect(hitsOf(g, 'a r@pe scene')).toEqual([['rape', 2, 6, 'r@pe']]);
    expect(hitsOf(g, '$hit and sh!t and sh|t')).toEqual([
      ['shit', 0, 4, '$hit'],
      ['shit', 9, 13, 'sh!t'],
      ['shit', 18, 22, 'sh|t'],
    ]);
    expect(hitsOf(g, 'kick his @ss, you b!tch')).toEqual([
      ['ass', 9, 12, '@ss'],
      ['bitch', 18, 23, 'b!tch'],
    ]);
    expect(hitsOf(g, 'ki|| them')).toEqual([['kill', 0, 4, 'ki||']]);
    expect(hitsOf(g, 'k!i!l!l')).toEqual([['kill', 0, 7, 'k!i!l!l']]); // still a separator too
    for (const t of ['a class of students', 'a$$essment day', 'cl@ss', 'email me @sarah_ss', 'Wow!!! shiitake', 'a | b | c', 'I bet $10']) {
      expect(g.scan(t).action, t).toBe('allow');
    }
  });

  it('matches repeated letters once, with offsets over the whole run', () => {
    const g = KeywordFilter.fromLists([
      { category: 'violence', words: ['kill', '屠杀'] },
      { category: 'profanity', words: ['fuck', 'shit'] },
      { category: 'drugs', words: ['摇头丸'] },
    ]);
    expect(hitsOf(g, 'fuuuck off')).toEqual([['fuck', 0, 6, 'fuuuck']]);
    expect(hitsOf(g, 'fuuck')).toEqual([['fuck', 0, 5, 'fuuck']]);
    expect(hitsOf(g, 'kiiilll him')).toEqual([['kill', 0, 7, 'kiiilll']]);
    expect(hitsOf(g, 'kiill')).toEqual([['kill', 0, 5, 'kiill']]);
    expect(hitsOf(g, '屠屠屠杀')).toEqual([['屠杀', 1, 4, '屠屠杀']]); // the skipped third copy lies inside
    expect(hitsOf(g, '摇头头丸')).toEqual([['摇头丸', 0, 4, '摇头头丸']]);
    for (const t of ['kil', 'shiitake', 'killl-switch-ish skills']) expect(g.scan(t).action, t).toBe('allow');
  });

  it('matches digit look-alikes for all but two letters of longer words', () => {
    const g = KeywordFilter.fromLists([{ category: 'drugs', words: ['cocaine', 'heroin', 'meth'] }]);
    for (const t of ['c0c41ne', 'h3r01n', 'c0c4in3', 'm37h']) expect(g.scan(t).action, t).toBe('block');
    for (const t of ['c0c413', 'h3r013', 'm373']) expect(g.scan(t).action, t).toBe('allow');
  });

  it('matches numeral variants only for entries that opt in', () => {
    const g = KeywordFilter.fromLists([
      { category: 'politics', words: ['64事件 @numerals'] },
      { category: 'fraud', words: ['12345'] },
    ]);
    for (const t of ['64事件', '六四事件', '陆肆事件', '⑥④事件', '６４事件', '⑹⑷事件', '陸肆事件']) expect(g.scan(t).action, t).toBe('review');
    expect(g.scan('一二三四五').action).toBe('allow');
    expect(g.scan('12345').action).toBe('review');
    for (const t of ['6 4事件', '⑥-④事件', '六十四事件', '陆拾肆事件']) expect(g.scan(t).action, t).toBe('review');
    expect(g.scan('1 2 3 4 5').action).toBe('allow'); // spaced digits only for @numerals entries
    const h = KeywordFilter.fromLists([{ category: 'politics', words: ['5月35日 @numerals', '10号 @numerals'] }]);
    for (const t of ['5月三十五日', '五月35日', '五月三十五日', '十号', '一十号']) expect(h.scan(t).action, t).toBe('review');
    expect(h.scan('5月3日').action).toBe('allow');
  });
});

describe('allow-list and actions', () => {
  it('lets an allow entry that covers a block match suppress it', () => {
    const f = KeywordFilter.fromLists([
      { category: 'drugs', words: ['大麻', '蛋灌'] },
      { category: 'allow', words: ['大麻烦', '鸡蛋灌饼'], allow: true },
    ]);
    expect(f.scan('鸡蛋灌饼').action).toBe('allow');
    expect(f.scan('大麻烦来了').action).toBe('allow');
    expect(hitsOf(f, '大麻烦和大麻')).toEqual([['大麻', 4, 6, '大麻']]);
    expect(f.scan('蛋灌').action).toBe('block');
  });

  it('takes the strictest action over all hits, with per-entry overrides', () => {
    const f = KeywordFilter.fromLists(
      [
        { category: 'violence', words: ['kill @review', 'behead'] },
        { category: 'custom', words: ['spoiler'] },
      ],
      { categories: { custom: 'review' } },
    );
    expect(f.scan('kill').action).toBe('review');
    expect(f.scan('kill and behead').action).toBe('block');
    expect(f.scan('spoiler').hits[0]).toMatchObject({ category: 'custom', action: 'review' });
    expect(() => KeywordFilter.fromLists([{ category: 'nope', words: ['x'] }])).toThrow(KeywordListError);
  });

  it('bounds the input length', () => {
    const f = KeywordFilter.fromLists([{ category: 'violence', words: ['屠杀'] }], { maxLength: 20 });
    const long = `${'好'.repeat(30)}屠杀`;
    expect(f.scan(long)).toMatchObject({ action: 'block', hits: [], overLength: { length: 32, maxLength: 20, handling: 'block' } });
    const t = KeywordFilter.fromLists([{ category: 'violence', words: ['屠杀'] }], { maxLength: 20, overLength: 'truncate' });
    expect(t.scan(`屠杀${'好'.repeat(30)}`).action).toBe('block');
    expect(t.scan(long).action).toBe('allow');
    const r = KeywordFilter.fromLists([{ category: 'violence', words: ['屠杀'] }], { maxLength: 20, overLength: 'review' });
    expect(r.scan(long).action).toBe('review');
  });

  it('serves as the core ContentModerator', async () => {
    const f = KeywordFilter.fromLists([{ category: 'violence', words: ['屠杀'] }]);
    const m = createKeywordModerator(f);
    await expect(m.moderateText('屠 杀')).resolves.toEqual({
      action: 'block',
      source: 'keyword',
      hits: [{ category: 'violence', match: '屠杀', start: 0, end: 3 }],
    });
    await expect(m.moderateText('小猫')).resolves.toEqual({ action: 'allow', source: 'keyword', hits: [] });
  });
});

describe('list files, reload and watch', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'kw-lists-'));
    await writeFile(
      path.join(dir, 'categories.json'),
      JSON.stringify({ version: 1, categories: { violence: { action: 'block' }, fraud: { action: 'review' } } }),
    );
    await writeFile(path.join(dir, 'violence.txt'), '# test\n@category violence\n屠杀\nbehead @prefix\n');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('parses headers, flags and comments, and names the line of an error', () => {
    const list = parseListFile('# c\n@category fraud\n@flags numerals\n六四 # inline\nword @prefix @review\n', 'x.txt');
    expect(list).toEqual({ category: 'fraud', words: ['六四', 'word @prefix @review'], flags: { numerals: true }, source: 'x.txt' });
    expect(() => parseListFile('@category fraud\nword @bogus\n', 'y.txt')).toThrow(/y\.txt:2: unknown flag "@bogus"/);
    expect(() => parseListFile('word\n', 'z.txt')).toThrow(/missing "@category/);
  });

  it('reloads lists and keeps the old ones when a file is broken', async () => {
    const f = await KeywordFilter.fromDirectory(dir);
    expect(f.size).toBe(2);
    expect(f.scan('beheaded').action).toBe('block');
    await writeFile(path.join(dir, 'fraud.txt'), '@category fraud\n刷单\n');
    await f.reload();
    expect(f.size).toBe(3);
    expect(f.scan('刷单').action).toBe('review');

    await writeFile(path.join(dir, 'broken.txt'), '@category violence\nok\n@category fraud\n');
    await expect(f.reload()).rejects.toMatchObject({ code: 'invalid_list', file: 'broken.txt', line: 3 });
    expect(f.lastError).toBeInstanceOf(KeywordListError);
    expect(f.size).toBe(3);
    expect(f.scan('刷单').action).toBe('review');

    await writeFile(path.join(dir, 'categories.json'), '{ not json');
    await rm(path.join(dir, 'broken.txt'));
    await expect(f.reload()).rejects.toMatchObject({ code: 'invalid_config' });
    expect(f.scan('屠杀').action).toBe('block');
  });

  it('watches the directory and swaps in new lists', async () => {
    const errors: unknown[] = [];
    let reloads = 0;
    let wake: () => void = () => undefined;
    const f = await KeywordFilter.fromDirectory(dir, {
      watchDebounceMs: 20,
      onReload: () => {
        reloads++;
        wake();
      },
      onReloadError: (e) => {
        errors.push(e);
        wake();
      },
    });
    // Waits for reload notifications until the condition holds (or 10 of them have passed).
    const until = async (condition: () => boolean): Promise<void> => {
      for (let i = 0; i < 10 && !condition(); i++) await new Promise<void>((resolve) => (wake = resolve));
    };
    // Operators replace a list atomically: write a temporary file, then rename it over the list.
    const replace = async (name: string, text: string): Promise<void> => {
      await writeFile(path.join(dir, `${name}.tmp`), text);
      await rename(path.join(dir, `${name}.tmp`), path.join(dir, name));
    };
    const stop = f.watch();
    try {
      await replace('fraud.txt', '@category fraud\n刷单\n');
      await until(() => f.scan('刷单').action === 'review');
      expect(f.scan('刷单').action).toBe('review');
      expect(reloads).toBeGreaterThan(0);
      await replace('fraud.txt', '@category fraud\n刷单 @nonsense\n');
      await until(() => errors.length > 0);
      expect(errors[0]).toBeInstanceOf(KeywordListError);
      expect(f.scan('刷单').action).toBe('review'); // old lists kept
    } finally {
      stop();
    }
  });

  it('loads the shipped default lists', async () => {
    const f = await KeywordFilter.fromDirectory(defaultKeywordListDir());
    expect(f.size).toBeGreaterThan(300);
    expect(await readFile(path.join(defaultKeywordListDir(), 'README.md'), 'utf8')).toContain('@category');
  });
});
