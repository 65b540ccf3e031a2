/** One dependency's state, as `/readyz` reports it. */
export interface ReadinessCheck {
  ok: boolean;
  detail?: string;
}

export interface Readiness {
  ok: boolean;
  checks: Record<string, ReadinessCheck>;
}

export interface ReadinessChecksOptions {
  /** A check that has not answered by then fails with `timed out`. Default 2000 ms. */
  timeoutMs?: number;
}

/**
 * Builds a `readiness()` from named probes, run in parallel: a probe that resolves passes, one that
 * rejects or times out fails. The detail of a failure is `failed` or `timed out`, never the error's
 * message (a readiness answer is not the place for connection strings); log it in the probe if needed.
 *
 * ```ts
 * readiness: readinessChecks({
 *   redis: async () => { await redis.ping(); },
 *   queues: async () => { await generateQueue.getJobCounts('waiting'); },
 * })
 * ```
 */
export function readinessChecks(probes: Record<string, () => Promise<unknown>>, options: ReadinessChecksOptions = {}): () => Promise<Readiness> {
  const { timeoutMs } = { timeoutMs: 2000, ...options };
  return async () => {
    const entries = await Promise.all(
      Object.entries(probes).map(async ([name, probe]): Promise<[string, ReadinessCheck]> => [name, await runProbe(probe, timeoutMs)]),
    );
    const checks = Object.fromEntries(entries);
    return { ok: entries.every(([, c]) => c.ok), checks };
  };
}

async function runProbe(probe: () => Promise<unknown>, timeoutMs: number): Promise<ReadinessCheck> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = Symbol('timed out');
  try {
    const deadline = new Promise<typeof timedOut>((resolve) => {
      timer = setTimeout(() => resolve(timedOut), timeoutMs);
      timer.unref();
    });
    const outcome = await Promise.race([probe(), deadline]);
    return outcome === timedOut ? { ok: false, detail: 'timed out' } : { ok: true };
  } catch {
    return { ok: false, detail: 'failed' };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
