// Lint for the whole repository, and the architecture's boundaries as rules:
// the core imports no platform library, nothing imports a bot, the worker knows no platform.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const PLATFORM_LIBS = ['discord.js', '@discordjs/*', '@slack/*', 'wechaty', 'wechaty-*', 'koa', 'koa-*', '@koa/*'];
const BOTS = ['@framecast/bot-*', '**/bots/**'];

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', 'data/**', 'models/**', 'miniprogram/**/*.js', '.tmp/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
      // Input sanitisers match control characters on purpose.
      'no-control-regex': 'off',
    },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
  {
    files: ['core/**/*.ts'],
    rules: {
      // Dynamic imports too: `await import('discord.js')` must not slip past the boundary.
      'no-restricted-syntax': ['error', {
        selector: "ImportExpression[source.value=/^(discord\\.js|@discordjs\\/|@slack\\/|wechaty|koa|@koa\\/|@framecast\\/(bot-|gpu-worker|content-safety))/]",
        message: 'core/ must not import a platform library or another package, statically or dynamically.',
      }],
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [
          { group: PLATFORM_LIBS, message: 'core/ must not import a platform library: adapters translate at the edge (bots/*).' },
          { group: [...BOTS, '@framecast/gpu-worker', '@framecast/content-safety', '**/gpu-worker/**', '**/content-safety/**'], message: 'core/ depends on other packages only through the ports it defines.' },
        ],
      }],
    },
  },
  {
    files: ['content-safety/**/*.ts', 'gpu-worker/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [
          { group: PLATFORM_LIBS, message: 'Only bots/* talk to platforms.' },
          { group: BOTS, message: 'Nothing depends on bots/*.' },
        ],
      }],
    },
  },
);
