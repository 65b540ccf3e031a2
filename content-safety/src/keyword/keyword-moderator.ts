import type { ContentModerator, ModerationVerdict } from '@framecast/core';
import type { KeywordFilter } from './keyword-filter.ts';

/** The keyword filter behind the core's ContentModerator port (text only). */
export function createKeywordModerator(filter: KeywordFilter): ContentModerator {
  return {
    moderateText(text: string): Promise<ModerationVerdict> {
      const result = filter.scan(text);
      const hits: ModerationVerdict['hits'] = result.hits.map((h) => {
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
