import type { ChainableCommander, Redis } from 'ioredis';

type Pending = { resolve: (v: unknown) => void; reject: (e: unknown) => void };

/**
 * Sends the commands that many concurrent callers issue in one turn of the event loop as one
 * pipeline: one socket write and one read for all of them instead of one each (what ioredis'
 * enableAutoPipelining does, for chosen commands on a connection that others share as it is).
 * Each caller still gets its own command's answer or error; a pipeline that fails as a whole
 * (the connection) fails each of its commands. Nothing is retried here.
 */
export class TickBatcher {
  private pipeline: ChainableCommander | undefined;
  private pending: Pending[] = [];

  constructor(private readonly redis: Redis) {}

  /** Adds one command to this turn's pipeline (`add` calls exactly one command on it). */
  run<T>(add: (p: ChainableCommander) => unknown): Promise<T> {
    if (this.pipeline === undefined) {
      this.pipeline = this.redis.pipeline();
      process.nextTick(() => this.flush());
    }
    add(this.pipeline);
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ resolve: resolve as (v: unknown) => void, reject });
    });
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
          if (err !== null) p.reject(err);
          else p.resolve(value);
        });
      },
      (err: unknown) => {
        for (const p of pending) p.reject(err);
      },
    );
  }
}
