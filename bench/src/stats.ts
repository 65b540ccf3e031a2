/** Percentile of a sample (nearest rank), in the sample's unit. */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return NaN;
  const s = [...samples].sort((a, b) => a - b);
  const idx = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[idx] ?? NaN;
}

export function round(n: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** Runs `task(i)` for i in [0, n) with at most `concurrency` in flight; returns each latency in ms. */
export async function runConcurrent(n: number, concurrency: number, task: (i: number) => Promise<void>): Promise<{ latencies: number[]; wallMs: number }> {
  const latencies: number[] = new Array<number>(n);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const i = next++;
        if (i >= n) return;
        const s = performance.now();
        await task(i);
        latencies[i] = performance.now() - s;
      }
    }),
  );
  return { latencies, wallMs: performance.now() - t0 };
}
