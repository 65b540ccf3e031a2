import { defaultClientConditions, defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

// Tests import @framecast/* from their TypeScript sources, never from a compiled dist/
// (the "@framecast/source" export condition; see core/package.json).
const SOURCE = '@framecast/source';

export default defineConfig({
  resolve: { conditions: [SOURCE, ...defaultClientConditions] },
  // Not Vite's 'module' condition: it would also reach Node's own resolution of externalised
  // dependencies and pick bundler-only builds (e.g. @aws-sdk's dist-es, which imports directories).
  ssr: { resolve: { conditions: [SOURCE, ...defaultServerConditions.filter((c) => c !== 'module')] } },
  test: {
    include: ['**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**', 'data/**', 'models/**'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // The machine has 2 cores; more workers only thrash.
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
