import { parseVideoCommand } from '@framecast/core';
import { printJson, UsageError } from './cli-context.ts';

export function parseCommand(text: string, opts: { seedRandom?: string }): void {
  let random: (() => number) | undefined;
  if (opts.seedRandom !== undefined) {
    const r = Number(opts.seedRandom);
    if (!(r >= 0 && r < 1)) throw new UsageError('--seed-random must be a number in [0, 1)');
    random = () => r;
  }
  const result = parseVideoCommand(text, random === undefined ? { requireCommand: false } : { requireCommand: false, random });
  printJson(result.ok ? { ok: true, spec: result.spec } : { ok: false, error: result.error });
  if (!result.ok) process.exitCode = 1;
}
