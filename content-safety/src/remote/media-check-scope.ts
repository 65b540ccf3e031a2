/**
 * Links WeChat's asynchronous image checks to the job they were made for. The intake does not
 * know the job while it moderates (a moderator sees pixels and a user), so the caller that submits
 * a request runs it inside `collectMediaChecks`; the moderator notes each check it submitted (its
 * trace_id) and whether anything else asked for a human review. The caller then records
 * trace_id → job, and applies WeChat's pushed verdict to that job later.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { ModerationVerdict } from '@framecast/core';

/** The hit category of an image whose WeChat verdict has not arrived yet (the job is held). */
export const MEDIA_CHECK_PENDING_CATEGORY = 'wechat-media-pending';

export interface CollectedMediaChecks {
  /** trace_ids of the checks submitted while the function ran, in order. */
  traces: string[];
  /** Whether any other verdict (local lists, the NSFW model, msgSecCheck) asked for a human review. */
  otherReview: boolean;
}

const scope = new AsyncLocalStorage<CollectedMediaChecks>();

/** Runs `fn` and returns what it returned with the media checks submitted meanwhile. */
export async function collectMediaChecks<T>(fn: () => Promise<T>): Promise<CollectedMediaChecks & { value: T }> {
  const notes: CollectedMediaChecks = { traces: [], otherReview: false };
  const value = await scope.run(notes, fn);
  return { value, traces: [...notes.traces], otherReview: notes.otherReview };
}

/** The verdict of an image sent to WeChat whose answer comes later: held for review until then. */
export function pendingMediaCheckVerdict(traceId: string, source: string): ModerationVerdict {
  scope.getStore()?.traces.push(traceId);
  return { action: 'review', hits: [{ category: MEDIA_CHECK_PENDING_CATEGORY, match: `wechat-trace:${traceId}` }], source };
}

/** Notes a verdict in the current scope: a review for any reason but a pending WeChat check counts. */
export function noteVerdict(v: ModerationVerdict): void {
  const notes = scope.getStore();
  if (notes === undefined || v.action !== 'review') return;
  if (v.hits.length === 0 || v.hits.some((h) => h.category !== MEDIA_CHECK_PENDING_CATEGORY)) notes.otherReview = true;
}
