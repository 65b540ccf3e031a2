import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { buildProjects, buildState, ROOT, stampPath } from '../bin/build-state.mjs';

// The compiled build that `node scripts/setup.mjs` (and so CI, before `npm test`) makes with
// `npm run build`. These tests read it; they do not build.
const run = promisify(execFile);
const node = (args: string[]) => run(process.execPath, args, { cwd: ROOT, timeout: 30_000 });

/** The files in `input` (a file or a folder), without dist/, tests and test fakes (testing/), which are not compiled. */
function sourceFiles(input: string): string[] {
  if (!statSync(input).isDirectory()) return [input];
  return (readdirSync(input, { recursive: true }) as string[])
    .filter((f) => !f.split(path.sep).includes('dist') && !f.split(path.sep).includes('testing') && !f.endsWith('.test.ts'))
    .map((f) => path.join(input, f))
    .filter((f) => statSync(f).isFile());
}

describe('the compiled build', () => {
  it('has each package compiled to dist/, with the files its code reads beside it (Lua, .proto)', () => {
    expect(existsSync(stampPath()), 'no build: run `npm run build` (node scripts/setup.mjs does it)').toBe(true);
    const { startedAt } = JSON.parse(readFileSync(stampPath(), 'utf8')) as { startedAt: number };
    const projects = buildProjects();
    expect(projects.map((p) => path.relative(ROOT, p.dir))).toEqual(expect.arrayContaining(['core', 'content-safety', 'gpu-worker', 'bin']));
    for (const p of projects) {
      // Files changed since the build started may be newer than their output (not in CI).
      for (const src of p.inputs.flatMap(sourceFiles).filter((f) => !f.endsWith('.d.ts') && statSync(f).mtimeMs <= startedAt)) {
        const rel = path.relative(p.rootDir, src);
        const out = path.join(p.outDir, rel.replace(/\.ts$/, '.js'));
        expect(existsSync(out), `${path.relative(ROOT, src)} → ${path.relative(ROOT, out)}`).toBe(true);
      }
      const pkgFile = path.join(p.dir, 'package.json');
      if (!existsSync(pkgFile)) continue;
      // Plain node takes "default" (dist); tsx, vitest and the typecheck take "@framecast/source".
      const exp = (JSON.parse(readFileSync(pkgFile, 'utf8')) as { exports: Record<string, Record<string, string>> }).exports['.'];
      expect(Object.keys(exp ?? {})).toEqual(['@framecast/source', 'types', 'default']);
      expect(existsSync(path.join(p.dir, exp?.default ?? ''))).toBe(true);
    }
  });

  it('runs the CLI compiled: a command that loads the core (Lua scripts, styles.json) from dist', async () => {
    const r = await node(['bin/dist/framecast-main.js', 'parse', '/video a cat --style cinematic --draft --seed 7']);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, spec: { prompt: expect.stringMatching(/^cinematic film still, a cat/), mode: 'draft', seed: 7 } });
  });

  it('`node bin/framecast.mjs --help` runs the build when it is current, else the sources with a warning', async () => {
    const state = buildState();
    const r = await node(['bin/framecast.mjs', '--help']);
    expect(r.stdout).toContain('Usage: framecast');
    if (state.fresh) {
      expect(r.stderr).toBe('');
    } else {
      // Someone edited a source since the last build (never in CI, which builds just before).
      expect(r.stderr).toContain('running the TypeScript sources through tsx');
      expect(r.stderr).toContain('npm run build');
    }
  });
});

describe('buildState', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fc-build-state-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (rel: string, text: string) => {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), text);
  };
  const age = (rel: string, secondsAgo: number) => {
    const t = new Date(Date.now() - secondsAgo * 1000);
    utimesSync(path.join(dir, rel), t, t);
  };

  it('is current only when a build finished after the last change to a compiled source', () => {
    write('tsconfig.json', '{}');
    write('tsconfig.build-base.json', '{}');
    write('tsconfig.build.json', JSON.stringify({ files: [], references: [{ path: 'pkg/tsconfig.build.json' }] }));
    write('pkg/tsconfig.build.json', JSON.stringify({ compilerOptions: { rootDir: 'src', outDir: 'dist' }, include: ['src'] }));
    write('pkg/package.json', '{}');
    write('pkg/src/a.ts', 'export const a = 1;');
    write('pkg/src/a.test.ts', '');
    for (const f of ['tsconfig.json', 'tsconfig.build-base.json', 'tsconfig.build.json', 'pkg/tsconfig.build.json', 'pkg/package.json', 'pkg/src/a.ts', 'pkg/src/a.test.ts', 'pkg/src', 'pkg']) age(f, 60);
    expect(buildState(dir)).toEqual({ fresh: false, reason: 'there is no compiled build yet' });

    write('bin/dist/build-stamp.json', JSON.stringify({ startedAt: Date.now() - 30_000 }));
    expect(buildState(dir)).toEqual({ fresh: false, reason: 'pkg/dist is missing' });
    mkdirSync(path.join(dir, 'pkg', 'dist'));
    expect(buildState(dir)).toEqual({ fresh: true });

    age('pkg/src/a.test.ts', 0); // tests are not compiled
    expect(buildState(dir)).toEqual({ fresh: true });
    age('pkg/src/a.ts', 0);
    expect(buildState(dir)).toEqual({ fresh: false, reason: 'pkg/src/a.ts changed since the last build' });
    age('pkg/src/a.ts', 60);
    write('pkg/src/b.lua', '');
    expect(buildState(dir)).toMatchObject({ fresh: false });
  });
});
