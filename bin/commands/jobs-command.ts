import { openContext, coreFor, parseUserKey, printJson, UsageError } from './cli-context.ts';

export async function jobsList(user: string, opts: { limit: string }): Promise<void> {
  const userKey = parseUserKey(user);
  const limit = Number(opts.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new UsageError('--limit must be an integer from 1 to 500');
  const ctx = await openContext();
  try {
    const core = coreFor(ctx);
    printJson(await core.jobService.list(userKey, limit));
    await core.close();
  } finally {
    await ctx.close();
  }
}

export async function jobsShow(jobId: string): Promise<void> {
  const ctx = await openContext();
  try {
    const core = coreFor(ctx);
    const rec = await core.jobService.get(jobId);
    if (rec === undefined) {
      printJson({ error: 'not_found', jobId });
      process.exitCode = 1;
    } else {
      const pos = rec.state === 'queued' ? await core.queue.position(jobId, rec.spec.mode) : undefined;
      const delivery = await core.deliveries.state(jobId);
      printJson({ ...rec, ...(pos === undefined ? {} : { queue: pos }), delivery: delivery ?? null });
    }
    await core.close();
  } finally {
    await ctx.close();
  }
}

export async function jobsCancel(jobId: string, opts: { as: string }): Promise<void> {
  const userKey = parseUserKey(opts.as);
  const ctx = await openContext();
  try {
    const core = coreFor(ctx);
    const res = await core.jobService.cancel(jobId, { userKey, isAdmin: ctx.config.admins.has(userKey) });
    printJson(res);
    if (res.status !== 'cancelled' && res.status !== 'cancel_requested') process.exitCode = 1;
    await core.close();
  } finally {
    await ctx.close();
  }
}

export async function jobsReview(jobId: string, opts: { as: string }, decision: 'approve' | 'reject'): Promise<void> {
  const userKey = parseUserKey(opts.as);
  const ctx = await openContext();
  try {
    const core = coreFor(ctx);
    const res = await core.jobService.review(jobId, { userKey, isAdmin: ctx.config.admins.has(userKey) }, decision);
    printJson(res);
    if (res.status !== 'approved' && res.status !== 'rejected') process.exitCode = 1;
    await core.close();
  } finally {
    await ctx.close();
  }
}
