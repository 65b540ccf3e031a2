#!/usr/bin/env node
// The framecast CLI. It runs the compiled JavaScript in bin/dist and each package's dist/
// (`npm run build`; `npm start` and `node scripts/setup.mjs` build when needed).
// When that build is missing or older than the sources, it says so and runs the TypeScript sources
// through tsx instead: slower to start, but never yesterday's code while someone edits today's.
import { buildState } from './build-state.mjs';

const state = buildState();
if (state.fresh) {
  await import('./dist/framecast-main.js');
} else {
  console.error(`framecast: ${state.reason}; running the TypeScript sources through tsx (slower). \`npm run build\` compiles them.`);
  const { runFromSources } = await import('./run-from-sources.mjs');
  runFromSources();
  await import('./framecast-main.ts');
}
