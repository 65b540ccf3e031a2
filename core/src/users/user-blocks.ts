import type { Redis } from 'ioredis';
import { z } from 'zod';
import { Keys } from '../redis/keys.ts';

/** Why and by whom a user was blocked (kept with the block, shown to operators). */
export const UserBlockSchema = z.object({
  userKey: z.string().min(1).max(300),
  by: z.string().min(1).max(200),
  reason: z.string().max(500).default(''),
  at: z.number().int(),
});
export type UserBlock = z.infer<typeof UserBlockSchema>;

/** The most blocks a listing returns. */
export const USER_BLOCKS_LIST_MAX = 1000;

function blocksKey(prefix: string): string {
  return `${new Keys(prefix).prefix}:users:blocked`;
}

/**
 * Users an operator has blocked: one Redis hash (userKey → the block as JSON). Intake refuses a
 * blocked user before anything is parsed, moderated or charged.
 */
export class UserBlocks {
  private readonly key: string;
  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly now: () => number = Date.now,
  ) {
    this.key = blocksKey(prefix);
  }

  /** True when the user was not blocked before. */
  async block(userKey: string, by: string, reason = ''): Promise<boolean> {
    const rec = UserBlockSchema.parse({ userKey, by, reason: reason.slice(0, 500), at: this.now() });
    return (await this.redis.hsetnx(this.key, userKey, JSON.stringify(rec))) === 1;
  }

  /** True when the user was blocked. */
  async unblock(userKey: string): Promise<boolean> {
    return (await this.redis.hdel(this.key, userKey)) === 1;
  }

  async isBlocked(userKey: string): Promise<boolean> {
    return (await this.redis.hexists(this.key, userKey)) === 1;
  }

  async get(userKey: string): Promise<UserBlock | undefined> {
    const raw = await this.redis.hget(this.key, userKey);
    if (raw === null) return undefined;
    const parsed = UserBlockSchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  }

  /** Every block, newest first (at most USER_BLOCKS_LIST_MAX). */
  async list(): Promise<UserBlock[]> {
    const out: UserBlock[] = [];
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(this.key, cursor, 'COUNT', 200);
      cursor = next;
      for (let i = 1; i < flat.length; i += 2) {
        const parsed = UserBlockSchema.safeParse(JSON.parse(flat[i] ?? 'null'));
        if (parsed.success) out.push(parsed.data);
      }
    } while (cursor !== '0' && out.length < USER_BLOCKS_LIST_MAX);
    return out.sort((a, b) => b.at - a.at).slice(0, USER_BLOCKS_LIST_MAX);
  }
}
