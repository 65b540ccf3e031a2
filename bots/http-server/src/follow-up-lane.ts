/**
 * Work that follows an answer already sent (a deferred Discord interaction, a Slack command
 * acknowledged at once): at most `concurrency` run at a time, the rest wait their turn in order.
 * Under load the follow-ups then queue here instead of all sharing the event loop with the requests
 * still to be answered, so an acknowledgement waits for a few follow-ups, not for all of them.
 * Past `maxWaiting` waiting, a follow-up starts at once (nothing is dropped).
 */
export interface FollowUpLane {
  run<T>(work: () => Promise<T>): Promise<T>;
  /** Follow-ups running now and waiting. */
  readonly load: { running: number; waiting: number };
}

export function createFollowUpLane(o: { concurrency: number; maxWaiting?: number }): FollowUpLane {
  const concurrency = Math.max(1, Math.floor(o.concurrency));
  const maxWaiting = o.maxWaiting ?? 10_000;
  const waiting: Array<() => void> = [];
  let running = 0;
  /** A finished follow-up hands its place to the first one waiting (no newcomer slips in between). */
  const release = (): void => {
    const next = waiting.shift();
    if (next !== undefined) next();
    else running -= 1;
  };
  return {
    get load() {
      return { running, waiting: waiting.length };
    },
    async run(work) {
      if (running >= concurrency && waiting.length < maxWaiting) await new Promise<void>((r) => waiting.push(r));
      else running += 1;
      try {
        return await work();
      } finally {
        release();
      }
    },
  };
}
