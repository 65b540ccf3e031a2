import type { Tier } from '@framecast/core';
import { openContext, parseUserKey, printJson, UsageError } from './cli-context.ts';

function tierArg(t: string | undefined): Tier | undefined {
  if (t === undefined) return undefined;
  if (t === 'free' || t === 'pro' || t === 'admin') return t;
  throw new UsageError(`--tier must be free, pro or admin, got "${t}"`);
}

export async function quotaShow(user: string, opts: { tier?: string }): Promise<void> {
  const userKey = parseUserKey(user);
  const forced = tierArg(opts.tier);
  const ctx = await openContext();
  try {
    printJson(await ctx.core.quota.show(userKey, forced === undefined ? {} : { tier: forced }));
  } finally {
    await ctx.close();
  }
}

export async function quotaGrant(user: string, credits: string): Promise<void> {
  const userKey = parseUserKey(user);
  const n = Number(credits);
  if (!Number.isInteger(n) || n <= 0 || n > 1_000_000) throw new UsageError('credits must be a positive integer of at most 1,000,000');
  const ctx = await openContext();
  try {
    const bonus = await ctx.core.quota.grant(userKey, n);
    printJson({ user: userKey, granted: n, bonus, quota: await ctx.core.quota.show(userKey) });
  } finally {
    await ctx.close();
  }
}
