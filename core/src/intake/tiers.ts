import type { FramecastConfig, Tier } from '../config/config.ts';

const RANK: Record<Tier, number> = { free: 0, pro: 1, admin: 2 };

/** A user's tier: named in config (FRAMECAST_ADMINS, FRAMECAST_PRO_USERS) or given by a platform role. */
export function tierOf(config: Pick<FramecastConfig, 'admins' | 'proUsers' | 'roleTiers'>, userKey: string, roles: readonly string[] = []): Tier {
  let tier: Tier = 'free';
  if (config.admins.has(userKey)) return 'admin';
  if (config.proUsers.has(userKey)) tier = 'pro';
  for (const role of roles) {
    const t = config.roleTiers.get(role);
    if (t !== undefined && RANK[t] > RANK[tier]) tier = t;
  }
  return tier;
}
