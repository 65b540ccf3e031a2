// Whether the compiled build (each package's dist/, from `npm run build`) is there and newer than
// its sources. Read by the framecast bin on every start, so it only stats files: a few milliseconds.
// Plain JavaScript with no dependencies: it runs before anything is compiled or installed.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Written by scripts/build.mjs when a build has finished; holds the time it started. */
export const stampPath = (root = ROOT) => path.join(root, 'bin', 'dist', 'build-stamp.json');

const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));

/**
 * The projects `npm run build` compiles, from tsconfig.build.json's references:
 * `{ config, dir, rootDir, outDir, inputs }`, inputs being the paths (files or folders) in its
 * `include`. The tsconfig.build.json files are plain JSON (no comments) so that this can read them.
 */
export function buildProjects(root = ROOT) {
  const solution = readJson(path.join(root, 'tsconfig.build.json'));
  return solution.references.map(({ path: ref }) => {
    const config = path.join(root, ref);
    const dir = path.dirname(config);
    const { compilerOptions = {}, include = [] } = readJson(config);
    return {
      config,
      dir,
      rootDir: path.join(dir, compilerOptions.rootDir ?? '.'),
      outDir: path.join(dir, compilerOptions.outDir ?? 'dist'),
      inputs: include.map((p) => path.join(dir, p)),
    };
  });
}

/** The newest file or folder under `p` (folders count: a deleted file changes its folder's time). */
function newest(p, best) {
  let st;
  try {
    st = statSync(p);
  } catch {
    return best;
  }
  if (st.mtimeMs > best.mtimeMs) best = { mtimeMs: st.mtimeMs, file: p };
  if (!st.isDirectory()) return best;
  for (const entry of readdirSync(p, { withFileTypes: true })) {
    if (entry.name === 'dist' || entry.name === 'node_modules') continue;
    if (entry.isFile() && entry.name.endsWith('.test.ts')) continue; // tests are not compiled
    best = newest(path.join(p, entry.name), best);
  }
  return best;
}

/**
 * `{ fresh: true }`, or `{ fresh: false, reason }` with a reason a person can act on: no build yet,
 * an output folder missing, or the first source found that changed since the last build started.
 */
export function buildState(root = ROOT) {
  const stamp = stampPath(root);
  if (!existsSync(stamp)) return { fresh: false, reason: 'there is no compiled build yet' };
  let startedAt;
  try {
    startedAt = readJson(stamp).startedAt;
  } catch {
    return { fresh: false, reason: 'the last build did not finish' };
  }
  const projects = buildProjects(root);
  for (const p of projects) {
    if (!existsSync(p.outDir)) return { fresh: false, reason: `${path.relative(root, p.outDir)} is missing` };
  }
  const configs = ['tsconfig.json', 'tsconfig.build-base.json', 'tsconfig.build.json'].map((f) => path.join(root, f));
  const inputs = [...configs, ...projects.flatMap((p) => [p.config, path.join(p.dir, 'package.json'), ...p.inputs])];
  let latest = { mtimeMs: 0, file: '' };
  for (const input of inputs) latest = newest(input, latest);
  if (latest.mtimeMs > startedAt) return { fresh: false, reason: `${path.relative(root, latest.file)} changed since the last build` };
  return { fresh: true };
}
