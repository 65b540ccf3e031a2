import type { Redis } from 'ioredis';
import { BoardSchema, type Board } from './collab-board.ts';

/**
 * Boards in Redis, one JSON value per board key, written only by compare-and-set on the board's
 * revision (one Lua script), so concurrent commands from a busy room never lose each other's
 * changes: a writer that lost the race re-reads and applies its change again.
 * An index of open boards by last activity serves the idle expiry.
 */
const CAS = `
local cur = redis.call('GET', KEYS[1])
if cur then
  local ok, b = pcall(cjson.decode, cur)
  local rev = ''
  if ok and type(b) == 'table' and b['rev'] ~= nil then rev = tostring(b['rev']) end
  if rev ~= ARGV[1] then return 0 end
elseif ARGV[1] ~= '' then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'EX', tonumber(ARGV[3]))
if ARGV[4] == '' then
  redis.call('ZREM', KEYS[2], ARGV[5])
else
  redis.call('ZADD', KEYS[2], tonumber(ARGV[4]), ARGV[5])
end
return 1`;

type RedisWithCas = Redis & { fcCollabCas(...args: (string | number)[]): Promise<number> };

/** What an update function decides: a new board (written) or a value alone (nothing written). */
export type Change<T> = { write: Board; value: T } | { value: T };

const MAX_TRIES = 20;

export class CollabStore {
  private readonly redis: RedisWithCas;

  constructor(
    redis: Redis,
    private readonly prefix: string,
    /** How long a board outlives its last activity in Redis (beyond the idle expiry). */
    private readonly ttlSeconds: number,
  ) {
    if (!('fcCollabCas' in redis)) redis.defineCommand('fcCollabCas', { numberOfKeys: 2, lua: CAS });
    this.redis = redis as RedisWithCas;
  }

  private boardKey(key: string): string {
    return `${this.prefix}:collab:board:${key}`;
  }

  private activeKey(): string {
    return `${this.prefix}:collab:active`;
  }

  async get(key: string): Promise<Board | undefined> {
    const raw = await this.redis.get(this.boardKey(key));
    if (raw === null) return undefined;
    const parsed = BoardSchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  }

  /**
   * Reads the board, lets `fn` decide, and writes its new board only if nobody wrote in between
   * (else tries again). `fn` must be pure: it may run more than once.
   */
  async update<T>(key: string, fn: (board: Board | undefined) => Change<T>): Promise<{ board: Board | undefined; value: T; written: boolean }> {
    for (let i = 0; i < MAX_TRIES; i++) {
      const raw = await this.redis.get(this.boardKey(key));
      let cur: Board | undefined;
      if (raw !== null) {
        const parsed = BoardSchema.safeParse(JSON.parse(raw));
        cur = parsed.success ? parsed.data : undefined;
      }
      const expected = raw === null ? '' : String((JSON.parse(raw) as { rev?: unknown }).rev ?? '');
      const change = fn(cur);
      if (!('write' in change)) return { board: cur, value: change.value, written: false };
      const next = BoardSchema.parse({ ...change.write, rev: (cur?.rev ?? 0) + 1 });
      const open = next.state === 'collecting' || next.state === 'locked';
      const ok = await this.redis.fcCollabCas(
        this.boardKey(key), this.activeKey(), expected, JSON.stringify(next), this.ttlSeconds, open ? next.lastActivityAt : '', key,
      );
      if (ok === 1) return { board: next, value: change.value, written: true };
    }
    throw new Error('collab board too contended: gave up after 20 tries');
  }

  /** Open boards idle since before `before` (ms). */
  async idleSince(before: number, limit = 100): Promise<string[]> {
    return this.redis.zrangebyscore(this.activeKey(), '-inf', before, 'LIMIT', 0, limit);
  }

  /** Keys of boards that are rendering (kept for the sweep that settles them). */
  async markRendering(key: string, add: boolean): Promise<void> {
    if (add) await this.redis.sadd(`${this.prefix}:collab:rendering`, key);
    else await this.redis.srem(`${this.prefix}:collab:rendering`, key);
  }

  async rendering(): Promise<string[]> {
    return this.redis.smembers(`${this.prefix}:collab:rendering`);
  }
}
