import type { Redis } from 'ioredis';
import { z } from 'zod';
import { Keys } from '../redis/keys.ts';

/** What a user chose for themselves (stored per user in Redis). */
export const UserSettingsSchema = z.object({
  /** A final video that runs out of GPU memory may be made once at draft size instead of failing. */
  allowDowngrade: z.boolean().optional(),
});
export type UserSettings = z.infer<typeof UserSettingsSchema>;

export const USER_SETTING_NAMES = ['allow-downgrade'] as const;
export type UserSettingName = (typeof USER_SETTING_NAMES)[number];

function key(prefix: string, userKey: string): string {
  return `${new Keys(prefix).prefix}:user:${userKey}:settings`;
}

export class UserSettingsStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async get(userKey: string): Promise<UserSettings> {
    const h = await this.redis.hgetall(key(this.prefix, userKey));
    return UserSettingsSchema.parse({ ...(h.allowDowngrade === undefined ? {} : { allowDowngrade: h.allowDowngrade === 'true' }) });
  }

  async set(userKey: string, name: UserSettingName, value: boolean): Promise<UserSettings> {
    switch (name) {
      case 'allow-downgrade':
        await this.redis.hset(key(this.prefix, userKey), 'allowDowngrade', String(value));
        break;
    }
    return this.get(userKey);
  }
}
