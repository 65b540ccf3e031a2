import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { round } from './stats.ts';

/**
 * `npm run bench -- report [name ...]`: runs every registered benchmark (or the ones named), one
 * after the other, each in its own process, and writes bench/RESULTS.md: the machine, the date,
 * the load average before and after each bench, every figure with its baseline or peers from the
 * same run side by side (ratio columns), and each bench's raw JSON.
 */

export type BenchScale = 'full' | 'small';

/** FRAMECAST_BENCH_SCALE: `full` (default) or `small` (reduced counts, for a quick or busy run). */
export function benchScale(env: NodeJS.ProcessEnv = process.env): BenchScale {
  const v = env.FRAMECAST_BENCH_SCALE ?? 'full';
  if (v !== 'full' && v !== 'small') throw new Error(`FRAMECAST_BENCH_SCALE must be full or small, not ${JSON.stringify(v.slice(0, 20))}`);
  return v;
}

/** The order the issue lists them in; benches registered later come after. */
const ORDER = ['intake', 'load', 'moderation', 'evasion', 'worker', 'queue', 'cli'];
/** A bench still running after this long is stopped and reported as such. */
const LIMIT_MS: Record<BenchScale, number> = { full: 60 * 60_000, small: 12 * 60_000 };
const ROOT = path.resolve(import.meta.dirname, '..', '..');
const RESULTS = path.join(ROOT, 'bench', 'RESULTS.md');

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

export interface BenchRun {
  name: string;
  /** The scale this bench ran at (the report's, or `small` for a `name:small` argument). */
  scale?: BenchScale;
  exitCode: number | null;
  timedOut: boolean;
  wallMs: number;
  loadavgBefore: number[];
  loadavgAfter: number[];
  figures: JsonObject | undefined;
  stderrTail: string;
}

/** Extra environment for a bench at the small scale (benches that read FRAMECAST_BENCH_SCALE need none). */
function smallEnv(name: string): Record<string, string> {
  // The load bench's own knobs: the CI-sized run of its test.
  return name === 'load' ? { FRAMECAST_LOAD_COMMANDS: '105', FRAMECAST_LOAD_USERS: '21' } : {};
}

async function runBench(name: string, scale: BenchScale): Promise<BenchRun> {
  const loadavgBefore = os.loadavg().map((x) => round(x, 2));
  const start = performance.now();
  const env: NodeJS.ProcessEnv = { ...process.env, FRAMECAST_BENCH_SCALE: scale, ...(scale === 'small' ? smallEnv(name) : {}) };
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'run-ts.mjs'), path.join(ROOT, 'bench', 'src', 'main.ts'), name], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, LIMIT_MS[scale]);
  const exitCode = await new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  clearTimeout(timer);
  return {
    name, scale, exitCode, timedOut, wallMs: performance.now() - start, loadavgBefore, loadavgAfter: os.loadavg().map((x) => round(x, 2)),
    figures: parseFigures(stdout), stderrTail: stderr.trim().split('\n').slice(-8).join('\n'),
  };
}

/** The JSON object main.ts prints last on stdout (anything logged before it is skipped). */
export function parseFigures(stdout: string): JsonObject | undefined {
  const at = stdout.lastIndexOf('\n{\n');
  const text = stdout.startsWith('{\n') && at < 0 ? stdout : stdout.slice(at + 1);
  try {
    const v = JSON.parse(text) as Json;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

function isObject(v: Json | undefined): v is JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function numericKeys(o: JsonObject): string[] {
  return Object.keys(o).filter((k) => typeof o[k] === 'number');
}

function cell(v: Json | undefined): string {
  if (v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'n/a';
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return (s.length > 160 ? `${s.slice(0, 157)}…` : s).replaceAll('|', '\\|').replaceAll('\n', ' ');
}

function ratioCell(a: Json | undefined, b: Json | undefined): string {
  if (typeof a !== 'number' || typeof b !== 'number' || a === 0 || !Number.isFinite(a) || !Number.isFinite(b)) return '—';
  return String(round(b / a, 3));
}

/** A name that says what a figure measures (a unit or a rate), not whose figure it is. */
function isMetricName(k: string): boolean {
  return /(?:Ms|Us|Mb|MB|Bytes|Rate|PerS|PerSecond|Fraction|Recall|P\d\d|_s|_ms)$|^(?:ms|us|bytes|recall|rate|fraction|p\d\d)$|[a-z]Per[A-Z]|_per_/.test(k);
}

/** A ratio the bench worked out itself (`ratio`, `fairOverFifo`): a figure, not a peer. */
function isRatioName(k: string): boolean {
  return /^ratios?$|[a-z]Over[A-Z]|Ratio$/.test(k);
}

/**
 * Markdown for one bench's figures. Objects side by side that share a numeric figure (a run and
 * its baseline, or peers) become one table with a ratio column per peer (÷ the first); when the
 * objects are figures and their keys the peers (`{mbPerS: {ours, mintFilter}}`), the table is
 * turned so that peers are still the columns. Every other figure is a row of its own; long strings
 * are notes.
 */
export function renderFigures(root: JsonObject): string {
  const rows: string[] = [];
  const tables: string[] = [];
  const notes: string[] = [];
  const table = (title: string, rowNames: string[], colNames: string[], value: (r: string, c: string) => Json | undefined) => {
    const [first, ...peers] = colNames as [string, ...string[]];
    const head = ['figure', ...colNames, ...peers.map((c) => `${c} ÷ ${first}`)];
    const lines = [`**${title || 'figures'}**`, '', `| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`];
    for (const r of rowNames) lines.push(`| ${[r, ...colNames.map((c) => cell(value(r, c))), ...peers.map((c) => ratioCell(value(r, first), value(r, c)))].join(' | ')} |`);
    tables.push(lines.join('\n'));
  };
  const walk = (o: JsonObject, at: string) => {
    const children = Object.entries(o).filter((e): e is [string, JsonObject] => isObject(e[1]) && !isRatioName(e[0]) && numericKeys(e[1]).length >= 1);
    const groups: [string, JsonObject][][] = [];
    for (const c of children) {
      // Peers share two figures with the group's first member (one, when either has at most two).
      const keys = new Set(numericKeys(c[1]));
      const g = groups.find((gr) => {
        const firstKeys = numericKeys(gr[0]![1]);
        const shared = firstKeys.filter((k) => keys.has(k)).length;
        return shared >= (Math.min(keys.size, firstKeys.length) <= 2 ? 1 : 2);
      });
      if (g === undefined) groups.push([c]);
      else g.push(c);
    }
    const tabled = new Set<string>();
    for (const g of groups.filter((gr) => gr.length >= 2)) {
      const members = g.map(([k]) => k);
      const keys = [...new Set(g.flatMap(([, v]) => numericKeys(v)))];
      const byName = new Map(g);
      const share = (names: string[]) => names.filter(isMetricName).length / names.length;
      if (share(members) > share(keys)) table(at, members, keys, (r, c) => byName.get(r)?.[c]);
      else table(at, keys, members, (r, c) => byName.get(c)?.[r]);
      for (const [name, v] of g) {
        tabled.add(name);
        // What the table did not show (strings, flags, nested objects) still appears below.
        const rest = Object.fromEntries(Object.entries(v).filter(([, x]) => typeof x !== 'number'));
        walk(rest, at === '' ? name : `${at}.${name}`);
      }
    }
    for (const [k, v] of Object.entries(o)) {
      const p = at === '' ? k : `${at}.${k}`;
      if (tabled.has(k)) continue;
      if (isObject(v)) walk(v, p);
      else if (typeof v === 'string' && v.length > 100) notes.push(`- *${p}*: ${v}`);
      else rows.push(`| ${p} | ${cell(v)} |`);
    }
  };
  walk(root, '');
  const parts = [...tables];
  if (rows.length > 0) parts.push(['| figure | value |', '| --- | --- |', ...rows].join('\n'));
  if (notes.length > 0) parts.push(notes.join('\n'));
  return parts.join('\n\n');
}

function osName(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync('/etc/os-release', 'utf8'));
    if (m?.[1] !== undefined) return `${m[1]} (${os.type()} ${os.release()})`;
  } catch {
    // not Linux, or no os-release: the kernel's name is enough.
  }
  return `${os.type()} ${os.release()}`;
}

/** bench/RESULTS.md from the runs. */
export function renderResults(runs: readonly BenchRun[], scale: BenchScale, at: Date, skipped: readonly string[]): string {
  const cores = os.cpus().length;
  // A bench keeps the cores busy itself (load ≈ cores), and the next one starts in its tail: only a
  // load above the core count before a bench says that other work was running.
  const maxLoad = Math.max(...runs.map((r) => r.loadavgBefore[0] ?? 0));
  const lines: string[] = ['# Benchmark results', ''];
  if (maxLoad > cores) {
    lines.push(`> **The machine was busy during this run**: the 1-minute load average reached ${maxLoad} on ${cores} cores (other work was running beside the benchmarks). Absolute figures are low and noisy; ratios within one bench (each figure next to its baseline, measured in the same minutes) are the meaningful part. Re-run \`npm run bench -- report\` on a quiet machine.`, '');
  }
  if (scale === 'small') {
    lines.push('> **Small scale** (`FRAMECAST_BENCH_SCALE=small`): reduced counts, to show the report works; `npm run bench -- report` without it gives the full counts.', '');
  } else {
    const small = runs.filter((r) => r.scale === 'small').map((r) => r.name);
    if (small.length > 0) lines.push(`> **Small scale for ${small.join(', ')}** (asked as \`name:small\`): reduced counts for those; the others ran at full scale.`, '');
  }
  lines.push(
    `Written by \`npm run bench -- report\` on ${at.toISOString()}.`, '',
    '| machine | |', '| --- | --- |',
    `| CPU | ${cell(os.cpus()[0]?.model ?? '?')} |`,
    `| cores | ${cores} |`,
    `| memory | ${round(os.totalmem() / 2 ** 30, 1)} GiB |`,
    `| OS | ${cell(osName())} |`,
    `| Node | ${process.version} |`,
    `| scale | ${scale} |`, '',
    '| bench | exit | wall | load average before (1/5/15 min) | after |', '| --- | --- | --- | --- | --- |',
    ...runs.map((r) => `| ${r.name}${r.scale === 'small' && scale !== 'small' ? ' (small)' : ''} | ${r.timedOut ? 'stopped (time limit)' : String(r.exitCode)} | ${round(r.wallMs / 1000, 1)} s | ${r.loadavgBefore.join(' / ')} | ${r.loadavgAfter.join(' / ')} |`),
    '',
  );
  if (skipped.length > 0) lines.push(`Not run this time: ${skipped.join(', ')}.`, '');
  for (const r of runs) {
    lines.push(`## ${r.name}`, '', `\`npm run bench -- ${r.name}\` — ${round(r.wallMs / 1000, 1)} s, load average ${r.loadavgBefore[0]} → ${r.loadavgAfter[0]}.`, '');
    const body = r.figures?.[r.name];
    if (r.figures === undefined) {
      lines.push(r.timedOut ? `Stopped after the time limit (${LIMIT_MS[r.scale ?? scale] / 60_000} min); no figures.` : `No figures (exit ${r.exitCode}).`, '', '```', r.stderrTail, '```', '');
      continue;
    }
    const shown: JsonObject = isObject(body) ? body : Object.fromEntries(Object.entries(r.figures).filter(([k]) => !['bench', 'node', 'at'].includes(k)));
    lines.push(renderFigures(shown), '', '<details><summary>raw JSON</summary>', '', '```json', JSON.stringify(r.figures, null, 2), '```', '', '</details>', '');
  }
  return lines.join('\n');
}

/** Runs the benches (all of `registered` in the order, or `only`) and writes bench/RESULTS.md. */
export async function report(registered: readonly string[], only: readonly string[]): Promise<Record<string, unknown>> {
  const scale = benchScale();
  // `queue:small` runs that bench at the small scale within a full-scale report.
  const asked = only.map((a) => (a.endsWith(':small') ? { name: a.slice(0, -':small'.length), small: true } : { name: a, small: false }));
  const unknown = asked.filter((a) => !registered.includes(a.name)).map((a) => a.name);
  if (unknown.length > 0) throw new Error(`no such bench: ${unknown.join(', ')}`);
  const all = [...ORDER.filter((n) => registered.includes(n)), ...registered.filter((n) => !ORDER.includes(n))];
  const names = asked.length > 0 ? all.filter((n) => asked.some((a) => a.name === n)) : all;
  const at = new Date();
  const runs: BenchRun[] = [];
  for (const name of names) {
    console.error(`bench report: ${name} …`);
    runs.push(await runBench(name, asked.some((a) => a.name === name && a.small) ? 'small' : scale));
  }
  await writeFile(RESULTS, renderResults(runs, scale, at, all.filter((n) => !names.includes(n))));
  return {
    report: {
      file: path.relative(ROOT, RESULTS), scale,
      runs: runs.map((r) => ({ name: r.name, exitCode: r.exitCode, timedOut: r.timedOut, seconds: round(r.wallMs / 1000, 1), figures: r.figures !== undefined })),
    },
  };
}
