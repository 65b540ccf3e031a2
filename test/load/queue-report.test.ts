import { describe, expect, it } from 'vitest';
import { benchScale, parseFigures, renderFigures, renderResults, type BenchRun } from '../../bench/src/report.ts';

// `npm run bench -- report`'s pieces that need no benchmark run: the scale, reading a bench's
// output, and bench/RESULTS.md's tables.
describe('bench report', () => {
  it('reads FRAMECAST_BENCH_SCALE: full by default, small, nothing else', () => {
    expect(benchScale({})).toBe('full');
    expect(benchScale({ FRAMECAST_BENCH_SCALE: 'small' })).toBe('small');
    expect(() => benchScale({ FRAMECAST_BENCH_SCALE: 'huge' })).toThrow(/full or small/);
  });

  it("takes the JSON a bench prints last, after anything logged before it", () => {
    const json = JSON.stringify({ bench: 'x', x: { a: 1 } }, null, 2);
    expect(parseFigures(json)).toEqual({ bench: 'x', x: { a: 1 } });
    expect(parseFigures(`loading…\n{"not": "this"}\n${json}\n`)).toEqual({ bench: 'x', x: { a: 1 } });
    expect(parseFigures('crashed')).toBeUndefined();
  });

  it('puts a run next to its baseline with a ratio column, and every other figure in rows', () => {
    const md = renderFigures({
      requests: 100,
      coreIntake: { perSecond: 50, p99Ms: 20, label: 'ours' },
      bareQueueAdd: { perSecond: 200, p99Ms: 5, label: 'bare' },
      note: 'n'.repeat(120),
    });
    expect(md).toContain('| figure | coreIntake | bareQueueAdd | bareQueueAdd ÷ coreIntake |');
    expect(md).toContain('| perSecond | 50 | 200 | 4 |');
    expect(md).toContain('| p99Ms | 20 | 5 | 0.25 |');
    expect(md).toContain('| requests | 100 |');
    expect(md).toContain('| coreIntake.label | ours |');
    expect(md).toContain(`- *note*: ${'n'.repeat(120)}`);
  });

  it('keeps peers as columns when the figures are the objects, and leaves a bench’s own ratios out of the peers', () => {
    const md = renderFigures({
      mbPerS: { ours: 10, mintFilter: 2 },
      buildMs: { ours: 100, mintFilter: 50 },
      fifo: { jobsPerSecond: 1, waitMs: 8 },
      fair: { jobsPerSecond: 1, waitMs: 2 },
      fairOverFifo: { jobsPerSecond: 1, waitMs: 0.25 },
    });
    expect(md).toContain('| figure | ours | mintFilter | mintFilter ÷ ours |');
    expect(md).toContain('| mbPerS | 10 | 2 | 0.2 |');
    expect(md).toContain('| buildMs | 100 | 50 | 0.5 |');
    expect(md).toContain('| figure | fifo | fair | fair ÷ fifo |');
    expect(md).toContain('| waitMs | 8 | 2 | 0.25 |');
    expect(md).toContain('| fairOverFifo.waitMs | 0.25 |');
  });

  it('writes the machine, each bench with its load average, and says when the machine was busy', () => {
    const run: BenchRun = {
      name: 'queue', exitCode: 0, timedOut: false, wallMs: 1500, loadavgBefore: [999, 1, 1], loadavgAfter: [2, 1, 1],
      figures: { bench: 'queue', queue: { fifo: { jobsPerSecond: 1, p50Ms: 10 }, fair: { jobsPerSecond: 1, p50Ms: 5 } } }, stderrTail: '',
    };
    const md = renderResults([run, { ...run, name: 'cli', exitCode: null, timedOut: true, figures: undefined, stderrTail: 'still going' }], 'small', new Date(0), ['load']);
    expect(md).toContain('The machine was busy');
    expect(md).toContain('Small scale');
    expect(md).toContain('| cores |');
    expect(md).toContain('| queue | 0 | 1.5 s | 999 / 1 / 1 | 2 / 1 / 1 |');
    expect(md).toContain('| p50Ms | 10 | 5 | 0.5 |');
    expect(md).toContain('<summary>raw JSON</summary>');
    expect(md).toContain('Stopped after the time limit');
    expect(md).toContain('Not run this time: load.');
  });

  it('marks a bench asked as `name:small` in a full-scale report', () => {
    const run: BenchRun = { name: 'queue', scale: 'small', exitCode: 0, timedOut: false, wallMs: 1000, loadavgBefore: [0, 0, 0], loadavgAfter: [0, 0, 0], figures: { bench: 'queue', queue: { a: 1 } }, stderrTail: '' };
    const md = renderResults([run, { ...run, name: 'intake', scale: 'full' }], 'full', new Date(0), []);
    expect(md).toContain('Small scale for queue');
    expect(md).toContain('| queue (small) | 0 |');
    expect(md).toContain('| intake | 0 |');
    expect(md).not.toContain('The machine was busy');
  });
});
