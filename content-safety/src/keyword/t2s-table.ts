/**
 * Character-level Traditional → Simplified Chinese mapping built once from opencc-js's bundled
 * dictionaries (Taiwan and Hong Kong variant folding, then OpenCC's TSCharacters). Only
 * one-code-point → one-code-point entries are kept, so a conversion never changes the number of
 * characters and offsets stay trivial to map back. Phrase-level conversion (乾燥 → 干燥 vs 乾坤)
 * is not needed for matching: text and list entries go through the same mapping.
 */
import OpenCC from 'opencc-js';

type DictGroupList = readonly (readonly (string | readonly (readonly [string, string])[])[])[];

function charPairs(groups: DictGroupList | undefined, into: Map<number, number>): void {
  for (const group of groups ?? []) {
    for (const dict of group) {
      const pairs: (readonly [string, string])[] =
        typeof dict === 'string'
          ? dict.split('|').map((entry) => {
              const [from = '', to = ''] = entry.split(' ');
              return [from, to] as const;
            })
          : [...dict];
      for (const [from, to] of pairs) {
        const fromCps = [...from];
        const toCps = [...to];
        if (fromCps.length !== 1 || toCps.length !== 1) continue;
        const f = from.codePointAt(0);
        const t = to.codePointAt(0);
        if (f === undefined || t === undefined || f === t) continue;
        if (!into.has(f)) into.set(f, t);
      }
    }
  }
}

let table: Map<number, number> | undefined;

/** Code point → simplified code point, for the characters that change. */
export function t2sTable(): Map<number, number> {
  if (table !== undefined) return table;
  const variants = new Map<number, number>();
  charPairs(OpenCC.Locale.from['tw'], variants);
  charPairs(OpenCC.Locale.from['hk'], variants);
  const ts = new Map<number, number>();
  charPairs(OpenCC.Locale.to['cn'], ts);
  const out = new Map<number, number>(ts);
  for (const [from, standard] of variants) {
    const simplified = ts.get(standard) ?? standard;
    if (simplified !== from && !out.has(from)) out.set(from, simplified);
  }
  table = out;
  return out;
}
