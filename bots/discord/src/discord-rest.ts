import { DiscordAPIError, HTTPError, RateLimitError, REST } from 'discord.js';

export interface DiscordRestOptions {
  token: string;
  /** `DISCORD_API_BASE_URL` (paths under `/v10`). */
  apiBaseUrl: string;
  /**
   * A 429 whose wait is at least this long is thrown as a RateLimitError (the delivery is put back
   * in its queue for that long) instead of waited for in the REST queue. Default 0: always thrown.
   */
  rejectRateLimitsFromMs?: number;
}

/**
 * The REST client every part of the adapter uses (discord.js's @discordjs/rest: per-route buckets,
 * the global limit). Rate limits are not slept through inside a delivery: they come back as
 * RateLimitError so the delivery queue honours Retry-After without holding a worker.
 */
export function createDiscordRest(o: DiscordRestOptions): REST {
  const from = o.rejectRateLimitsFromMs ?? 0;
  return new REST({ api: o.apiBaseUrl.replace(/\/+$/, ''), version: '10', rejectOnRateLimit: (d) => d.retryAfter >= from || d.timeToReset >= from, retries: 2, timeout: 30_000 }).setToken(o.token);
}

/** Discord's JSON error codes the adapter acts on. */
export const DISCORD_CODES = {
  unknownChannel: 10003,
  unknownMessage: 10008,
  unknownWebhook: 10015,
  unknownInteraction: 10062,
  cannotSendToUser: 50007,
  missingAccess: 50001,
  missingPermissions: 50013,
  invalidWebhookToken: 50027,
  entityTooLarge: 40005,
} as const;

export type DiscordFailure =
  | { kind: 'rate_limited'; retryAfterMs: number }
  /** The interaction token has expired (15 minutes) or the webhook is gone: post with the bot token instead. */
  | { kind: 'token_expired' }
  /** The channel is gone, or the bot may not post there: no retry will help. */
  | { kind: 'gone'; reason: string }
  | { kind: 'too_large' }
  | { kind: 'unknown_message' }
  /** Discord is down or slow, the network failed: try again later. */
  | { kind: 'transient'; reason: string };

/** What a failed REST call means for the adapter. */
export function classifyDiscordError(err: unknown): DiscordFailure {
  if (err instanceof RateLimitError) return { kind: 'rate_limited', retryAfterMs: Math.max(err.retryAfter, err.timeToReset, 0) };
  if (err instanceof DiscordAPIError) {
    const code = typeof err.code === 'number' ? err.code : Number(err.code);
    if (err.status === 413 || code === DISCORD_CODES.entityTooLarge) return { kind: 'too_large' };
    if (code === DISCORD_CODES.invalidWebhookToken || code === DISCORD_CODES.unknownWebhook || code === DISCORD_CODES.unknownInteraction || (err.status === 401 && err.url.includes('/webhooks/'))) return { kind: 'token_expired' };
    if (code === DISCORD_CODES.unknownMessage) return { kind: 'unknown_message' };
    if (code === DISCORD_CODES.unknownChannel || code === DISCORD_CODES.missingAccess || code === DISCORD_CODES.missingPermissions || code === DISCORD_CODES.cannotSendToUser || err.status === 403) {
      return { kind: 'gone', reason: `discord ${err.status} ${code}: ${err.message}` };
    }
    if (err.status === 404) return { kind: 'gone', reason: `discord 404 ${code}: ${err.message}` };
    return { kind: 'transient', reason: `discord ${err.status} ${code}: ${err.message}` };
  }
  if (err instanceof HTTPError && err.status === 413) return { kind: 'too_large' };
  return { kind: 'transient', reason: err instanceof Error ? err.message : String(err) };
}
