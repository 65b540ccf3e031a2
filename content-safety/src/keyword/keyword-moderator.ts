import type { ContentModerator, ModerationVerdict } from '@framecast/core';
import type { KeywordFilter } from './keyword-filter.ts';

/** The keyword filter behind the core's ContentModerator port (text only). */
export function createKeywordModerator(filter: KeywordFilter): ContentModerator {
  return {
    moderateText(text: string): Promise<ModerationVerdict> {
      const result = filter.scan(text);
      // The hits that decided the action come first (intake names the first hit's category in a
      // refusal): a csam escalation before the review-level "nude" it was built from.
      const rank = (a: string): number => (a === 'block' ? 0 : 1);
      const ordered = [...result.hits].sort((x, y) => rank(x.action) - rank(y.action));
      const hits: ModerationVerdict['hits'] = ordered.map((h) => {
        const categoryLabel = filter.categoryLabel(h.category);
        return { category: h.category, match: h.word, start: h.start, end: h.end, ...(categoryLabel === undefined ? {} : { categoryLabel }) };
      });
      if (result.overLength !== undefined && result.overLength.handling !== 'truncate') {
        hits.push({ category: 'input-too-long', match: `${result.overLength.length} > ${result.overLength.maxLength}` });
      }
      return Promise.resolve({ action: result.action, hits, source: 'keyword' });
    },
  };
}
