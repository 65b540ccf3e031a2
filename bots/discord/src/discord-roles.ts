import { Routes, type APIRole, type REST } from 'discord.js';
import type { Logger } from 'pino';

const TTL_MS = 5 * 60_000;

/**
 * Guild role ids → names (FRAMECAST_ROLE_TIERS names roles), read over REST and kept five
 * minutes. Ids are passed through as well, so a tier may name a role by id; a failed read gives
 * the ids alone.
 */
export class DiscordRoles {
  private readonly cache = new Map<string, { at: number; names: Map<string, string> }>();

  constructor(private readonly rest: REST, private readonly logger?: Logger, private readonly now: () => number = Date.now) {}

  async namesOf(guildId: string | undefined, roleIds: readonly string[]): Promise<string[]> {
    if (guildId === undefined || roleIds.length === 0) return [...roleIds];
    let entry = this.cache.get(guildId);
    if (entry === undefined || this.now() - entry.at > TTL_MS) {
      try {
        const roles = (await this.rest.get(Routes.guildRoles(guildId))) as APIRole[];
        entry = { at: this.now(), names: new Map(roles.map((r) => [r.id, r.name])) };
        this.cache.set(guildId, entry);
      } catch (err) {
        this.logger?.warn({ err, guildId }, 'discord: guild roles not readable; tiers by role id only');
        return [...roleIds];
      }
    }
    const names = roleIds.flatMap((id) => {
      const name = entry.names.get(id);
      return name === undefined ? [] : [name];
    });
    return [...names, ...roleIds];
  }
}
