import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { buildState } from '../../bin/build-state.mjs';
import { percentile, round } from './stats.ts';

const RUNS = 15;
const ROOT = path.resolve(import.meta.dirname, '..', '..');

/** Wall time of one `node <args>` child, in ms; throws when it fails or writes to stderr. */
function timeNode(args: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = performance.now() - t0;
  if (r.status !== 0 || r.stderr !== '') throw new Error(`node ${args.join(' ')} exited ${r.status ?? r.signal}: ${r.stderr}`);
  return ms;
}

/**
 * `framecast --help` start-up, compiled (what the bin runs), next to `node -e ''` (Node's own
 * start-up, the floor) and to the same help through tsx from the sources (bin/run-ts.mjs, how the
 * bin ran before there was a build). The three are run in turn, so they share the machine's noise.
 */
export async function run(): Promise<Record<string, unknown>> {
  const state = buildState();
  if (!state.fresh) {
    console.error(`[bench] ${state.reason}: building first`);
    const b = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    if (b.status !== 0 && b.status !== 2) throw new Error('npm run build failed');
  }
  const samples = { compiled: [] as number[], node: [] as number[], tsx: [] as number[] };
  const commands = {
    compiled: ['bin/framecast.mjs', '--help'],
    node: ['-e', ''],
    tsx: ['bin/run-ts.mjs', 'bin/framecast-main.ts', '--help'],
  };
  for (const key of Object.keys(commands) as (keyof typeof commands)[]) timeNode(commands[key]); // warm the file cache
  for (let i = 0; i < RUNS; i++) {
    for (const key of Object.keys(commands) as (keyof typeof commands)[]) samples[key].push(timeNode(commands[key]));
  }
  const median = (xs: number[]) => round(percentile(xs, 50), 1);
  const compiled = median(samples.compiled);
  const node = median(samples.node);
  const tsx = median(samples.tsx);
  return {
    cli: {
      runs: RUNS,
      helpCompiledMs: compiled,
      nodeEmptyMs: node,
      helpOverNode: round(compiled / node, 2),
      helpTsxMs: tsx,
      tsxOverCompiled: round(tsx / compiled, 2),
      p90: { helpCompiledMs: round(percentile(samples.compiled, 90), 1), nodeEmptyMs: round(percentile(samples.node, 90), 1), helpTsxMs: round(percentile(samples.tsx, 90), 1) },
    },
  };
}
