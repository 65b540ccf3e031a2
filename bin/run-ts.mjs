#!/usr/bin/env node
// Runs a TypeScript entry point from the sources (tsx's loader, @framecast/* packages from src/,
// not dist/), with no build needed: node bin/run-ts.mjs file.ts [args...]
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import { runFromSources } from './run-from-sources.mjs';

runFromSources();
const [, , entry, ...rest] = process.argv;
if (!entry) {
  console.error('usage: run-ts <file.ts> [args...]');
  process.exit(2);
}
process.argv = [process.argv[0], path.resolve(entry), ...rest];
await import(pathToFileURL(path.resolve(entry)).href);
