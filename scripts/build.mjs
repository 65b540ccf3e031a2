#!/usr/bin/env node
// `npm run build`: compiles the packages and the CLI with `tsc -b tsconfig.build.json` into each
// one's dist/, copies the files that code reads next to itself (Lua scripts, .proto) into dist,
// and writes bin/dist/build-stamp.json, which the framecast bin reads to know the build is current.
//
// Type errors do not stop the emit (noEmitOnError: false): the JavaScript is written, the errors
// are printed, and the exit status is 2 (1 when the build could not run at all). Extra arguments go
// to `tsc -b` (--force, --verbose).
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildProjects, ROOT, stampPath } from '../bin/build-state.mjs';

const log = (m) => console.error(`[build] ${m}`);
const startedAt = Date.now();
const projects = buildProjects(ROOT);

// Every workspace package that exports TypeScript sources must be built, or plain node cannot import it.
const { workspaces = [] } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const workspaceDirs = workspaces.flatMap((w) => {
  if (!w.endsWith('/*')) return [path.join(ROOT, w)];
  const parent = path.join(ROOT, w.slice(0, -2));
  return existsSync(parent) ? readdirSync(parent, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => path.join(parent, e.name)) : [];
});
const built = new Set(projects.map((p) => p.dir));
const hasTs = (dir) => existsSync(dir) && readdirSync(dir, { recursive: true }).some((f) => String(f).endsWith('.ts'));
const exportsSomething = (dir) => existsSync(path.join(dir, 'package.json')) && JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')).exports !== undefined;
for (const dir of workspaceDirs) {
  if (!built.has(dir) && exportsSomething(dir) && hasTs(path.join(dir, 'src'))) {
    const rel = path.relative(ROOT, dir);
    log(`warning: ${rel}/src is not compiled: add ${rel}/tsconfig.build.json (like core's), list it in tsconfig.build.json, and give ${rel}/package.json conditional exports (see core/package.json)`);
  }
}

const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
if (!existsSync(tsc)) {
  log('TypeScript is not installed: run `npm ci` first');
  process.exit(1);
}
const r = spawnSync(process.execPath, [tsc, '-b', 'tsconfig.build.json', ...process.argv.slice(2)], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'inherit'] });
process.stdout.write(r.stdout ?? '');
// tsc -b: 0 clean, 2 errors but outputs written (TypeScript 5.6+ keeps building past them), else failed.
if (r.status !== 0 && r.status !== 2) {
  log(`tsc -b failed (${r.signal ?? `exit ${r.status}`})`);
  process.exit(1);
}

// Files that code loads relative to import.meta.url, next to the compiled JavaScript.
function copyAssets(from, rootDir, outDir) {
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const src = path.join(from, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'dist' && entry.name !== 'node_modules') copyAssets(src, rootDir, outDir);
    } else if (entry.isFile() && !entry.name.endsWith('.ts')) {
      const dest = path.join(outDir, path.relative(rootDir, src));
      mkdirSync(path.dirname(dest), { recursive: true });
      copyFileSync(src, dest);
    }
  }
}
for (const p of projects) {
  for (const input of p.inputs) {
    if (existsSync(input) && statSync(input).isDirectory()) copyAssets(input, p.rootDir, p.outDir);
  }
}

const typeErrors = (r.stdout.match(/error TS\d+/g) ?? []).length;
mkdirSync(path.dirname(stampPath()), { recursive: true });
writeFileSync(stampPath(), `${JSON.stringify({ startedAt, finishedAt: Date.now(), typeErrors }, null, 2)}\n`);
const secs = ((Date.now() - startedAt) / 1000).toFixed(1);
if (typeErrors > 0) {
  log(`built in ${secs} s with ${typeErrors} type error(s), listed above; the JavaScript was emitted anyway`);
  process.exit(2);
}
log(`built ${projects.map((p) => path.relative(ROOT, p.outDir)).join(', ')} in ${secs} s`);
