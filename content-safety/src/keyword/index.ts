export { KeywordFilter, defaultKeywordListDir, CATEGORIES_FILE } from './keyword-filter.ts';
export type { KeywordScanResult, KeywordFilterOptions, OverLengthHandling } from './keyword-filter.ts';
export type { KeywordHit, HitRule, ExpansionOptions, ExpansionStats } from './keyword-matcher.ts';
export { homophoneIndexBuildMs } from './evasion-expansions.ts';
export type { ContextRule, AllowContextRule, EscalateRule } from './context-rules.ts';
export { createKeywordModerator } from './keyword-moderator.ts';
export { KeywordListError } from './keyword-list-error.ts';
export type { KeywordListErrorCode } from './keyword-list-error.ts';
export {
  KeywordActionSchema,
  CategoriesFileSchema,
  CategoryConfigSchema,
  DEFAULT_CATEGORY_ACTIONS,
  parseListFile,
  parseCategoriesFile,
} from './keyword-list-format.ts';
export type { KeywordAction, KeywordFlags, KeywordList, CategoriesFile, CategoryConfig } from './keyword-list-format.ts';
export { normalizeForMatch } from './normalizer.ts';
export type { NormalizedText } from './normalizer.ts';
