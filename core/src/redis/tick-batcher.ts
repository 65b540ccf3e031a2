import type { ChainableCommander, Redis } from 'ioredis';

type Commander = ChainableCommander | Redis;
type Pending = { add: (p: Commander) => unknown; resolve: (v: unknown) => void; reject: (e: unknown) => void };

/**
 * Sends the commands that many concurrent callers issue in one turn of the event loop as one
 * pipeline: one socket write and one read for all of them instead of one each (what ioredis'
 * enableAutoPipelining does, for chosen commands on a connection that others share as it is).
 * Each caller still gets its own command's answer or error; a pipeline that fails as a whole
 * (the connection) fails each of its commands. A script Redis no longer knows (NOSCRIPT: it restarted
 * or flushed its scripts, which ioredis only retries outside a pipeline) is sent again on its own.
 */
export class TickBatcher {
  private pipeline: ChainableCommander | undefined;
  private pending: Pending[] = [];

  /**
   * `maxBatch`: a pipeline is sent as soon as it holds this many commands, so that Redis runs the
   * first ones while this process still prepares the rest of the turn's (the two overlap instead
   * of taking turns).
   */
  constructor(
    private readonly redis: Redis,
    private readonly maxBatch = Infinity,
  ) {}

  /**
   * Adds one command to this turn's pipeline. `add` calls exactly one command on what it is given:
   * the pipeline, or the connection itself when the command is sent again alone.
   */
  run<T>(add: (p: Commander) => unknown): Promise<T> {
    if (this.pipeline === undefined) {
      this.pipeline = this.redis.pipeline();
      process.nextTick(() => this.flush());
    }
    add(this.pipeline);
    const answer = new Promise<T>((resolve, reject) => {
      this.pending.push({ add, resolve: resolve as (v: unknown) => void, reject });
    });
    if (this.pending.length >= this.maxBatch) this.flush();
    return answer;
  }

  private flush(): void {
    const pipeline = this.pipeline;
    const pending = this.pending;
    this.pipeline = undefined;
    this.pending = [];
    if (pipeline === undefined) return;
    pipeline.exec().then(
      (results) => {
        pending.forEach((p, i) => {
          const [err, value] = results?.[i] ?? [new Error('no reply in the pipeline'), undefined];
          if (err === null) p.resolve(value);
          else if (err.message.includes('NOSCRIPT')) Promise.resolve(p.add(this.redis)).then(p.resolve, p.reject);
          else p.reject(err);
        });
      },
      (err: unknown) => {
        for (const p of pending) p.reject(err);
      },
    );
  }
}
