import { openContext, parseUserKey, printJson, UsageError } from './cli-context.ts';

export async function jobsList(user: string, opts: { limit: string }): Promise<void> {
  const userKey = parseUserKey(user);
  const limit = Number(opts.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new UsageError('--limit must be an integer from 1 to 500');
  const ctx = await openContext();
  try {
    printJson(await ctx.core.listJobs(userKey, limit));
  } finally {
    await ctx.close();
  }
}

export async function jobsShow(jobId: string): Promise<void> {
  const ctx = await openContext();
  try {
    const rec = await ctx.core.job(jobId);
    if (rec === undefined) {
      console.error(`No job "${jobId}". Job ids look like j… and are listed by: framecast jobs list <platform:user>`);
      printJson({ error: 'not_found', jobId });
      process.exitCode = 1;
      return;
    }
    const pos = rec.state === 'queued' ? await ctx.core.position(jobId) : undefined;
    const delivery = await ctx.core.deliveries.record(jobId);
    printJson({ ...rec, ...(pos === undefined ? {} : { queue: pos }), delivery: delivery ?? null });
  } finally {
    await ctx.close();
  }
}

export async function jobsCancel(jobId: string, opts: { as: string }): Promise<void> {
  const userKey = parseUserKey(opts.as);
  const ctx = await openContext();
  try {
    const res = await ctx.core.cancel(jobId, { userKey, isAdmin: ctx.config.admins.has(userKey) });
    printJson(res);
    if (res.status !== 'cancelled' && res.status !== 'cancel_requested') process.exitCode = 1;
  } finally {
    await ctx.close();
  }
}

export async function jobsReview(jobId: string, opts: { as: string }, decision: 'approve' | 'reject'): Promise<void> {
  const userKey = parseUserKey(opts.as);
  const ctx = await openContext();
  try {
    const res = await ctx.core.review(jobId, { userKey, isAdmin: ctx.config.admins.has(userKey) }, decision);
    printJson(res);
    if (res.status !== 'approved' && res.status !== 'rejected') process.exitCode = 1;
  } finally {
    await ctx.close();
  }
}
