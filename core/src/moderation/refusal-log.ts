import type { Redis } from 'ioredis';
import { z } from 'zod';
import { Keys } from '../redis/keys.ts';

/** One refusal as operators see it: no prompt text, only who, where, why. */
export const RefusalEntrySchema = z.object({
  id: z.string(),
  at: z.number().int(),
  platform: z.string().max(40),
  userKey: z.string().max(300),
  /** Intake's RefusalReason (moderation_blocked, image_blocked, user_blocked …). */
  reason: z.string().max(40),
  /** The moderation category that decided (violence, nsfw-image …), '' when none. */
  category: z.string().max(100),
});
export type RefusalEntry = z.infer<typeof RefusalEntrySchema>;

/** How many refusals the log keeps (approximately: Redis trims in whole nodes). */
export const REFUSAL_LOG_MAX = 2000;

/** A capped Redis stream of recent refusals, written where intake's answers leave the core. */
export class RefusalLog {
  private readonly key: string;
  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.key = `${new Keys(prefix).prefix}:moderation:refusals`;
  }

  async record(e: Omit<RefusalEntry, 'id' | 'at'>): Promise<void> {
    await this.redis.xadd(
      this.key, 'MAXLEN', '~', String(REFUSAL_LOG_MAX), '*',
      'platform', e.platform.slice(0, 40), 'userKey', e.userKey.slice(0, 300), 'reason', e.reason.slice(0, 40), 'category', e.category.slice(0, 100),
    );
  }

  /** Newest first. */
  async recent(limit = 100): Promise<RefusalEntry[]> {
    const entries = (await this.redis.xrevrange(this.key, '+', '-', 'COUNT', Math.max(1, Math.min(limit, REFUSAL_LOG_MAX)))) as Array<[string, string[]]>;
    const out: RefusalEntry[] = [];
    for (const [id, fields] of entries) {
      const f: Record<string, string> = {};
      for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i] as string] = fields[i + 1] as string;
      const parsed = RefusalEntrySchema.safeParse({ ...f, id, at: Number(id.split('-')[0]) });
      if (parsed.success) out.push(parsed.data);
    }
    return out;
  }
}
