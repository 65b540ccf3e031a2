export * from './prompt-grammar.ts';
export * from './style-presets.ts';
export * from './spec-summary.ts';
export { GRAMMAR_ERROR_CODES, GrammarErrorCodeSchema, type GrammarError, type GrammarErrorCode } from './grammar-error.ts';
export { DURATION_LIMITS, FLAG_NAMES, FPS, FRAME_SIZES, KNOWN_FLAGS, framesFor, type FlagName } from './grammar-flags.ts';
export * from './grammar-help.ts';
