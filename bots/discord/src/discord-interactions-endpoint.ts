import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import type { APIInteraction } from 'discord.js';
import { HttpError, readRawBody } from '@framecast/http-server';
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import type { InteractionReply } from './discord-context.ts';

export const DISCORD_INTERACTIONS_PATH = '/discord/interactions';

/** Ed25519 public keys as SPKI DER: this prefix, then the 32 key bytes. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** The application's public key (64 hex digits, from the developer portal) as a key object. */
export function discordPublicKey(hex: string): KeyObject {
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new RangeError('a Discord public key is 32 bytes as 64 hex digits');
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(hex, 'hex')]), format: 'der', type: 'spki' });
}

/** Whether `signatureHex` is the application's Ed25519 signature of timestamp + body. */
export function verifyDiscordSignature(key: KeyObject, timestamp: string, body: Buffer, signatureHex: string): boolean {
  if (!/^[0-9a-fA-F]{128}$/.test(signatureHex) || timestamp === '') return false;
  try {
    return verify(null, Buffer.concat([Buffer.from(timestamp, 'utf8'), body]), key, Buffer.from(signatureHex, 'hex'));
  } catch {
    return false;
  }
}

export interface DiscordInteractionsEndpointOptions {
  publicKey: string;
  /** The answer to one verified interaction; undefined: not ours (400). */
  handle(interaction: APIInteraction): Promise<InteractionReply | undefined>;
  /** Runs the work after the answer has gone out. */
  after(interaction: APIInteraction, reply: InteractionReply): Promise<void>;
  logger?: Logger;
  /** While false the route is not served (the adapter was closed; a mounted route cannot be removed). */
  isOpen?: () => boolean;
}

/**
 * `POST /discord/interactions` for `http.mount(…)`: the Ed25519 signature over timestamp + raw body
 * is checked first (401 otherwise, which Discord probes before it accepts the URL), PING → PONG,
 * and every other interaction is answered with its first response (a deferred one for `/video`)
 * in the HTTP body; the rest of the work runs after the answer has been sent.
 */
export function discordInteractionsEndpoint(o: DiscordInteractionsEndpointOptions): Middleware {
  const key = discordPublicKey(o.publicKey);
  return async (ctx, next) => {
    if (ctx.path !== DISCORD_INTERACTIONS_PATH || o.isOpen?.() === false) return next();
    if (ctx.method !== 'POST') throw new HttpError(405, 'method_not_allowed', 'Use POST.');
    const body = await readRawBody(ctx);
    const signature = ctx.get('X-Signature-Ed25519');
    const timestamp = ctx.get('X-Signature-Timestamp');
    if (!verifyDiscordSignature(key, timestamp, body, signature)) throw new HttpError(401, 'invalid_signature', 'The request signature is not valid.');
    let interaction: APIInteraction;
    try {
      interaction = JSON.parse(body.toString('utf8')) as APIInteraction;
    } catch {
      throw new HttpError(400, 'bad_json', 'The body is not JSON.');
    }
    if (typeof interaction !== 'object' || interaction === null || Array.isArray(interaction) || typeof interaction.type !== 'number') throw new HttpError(400, 'bad_interaction', 'Not an interaction.');
    // Every interaction but PING carries an object `data` (command, component, autocomplete, modal).
    const data = (interaction as { data?: unknown }).data;
    if (interaction.type !== 1 && (typeof data !== 'object' || data === null || Array.isArray(data))) throw new HttpError(400, 'bad_interaction', 'The interaction has no data.');
    const reply = await o.handle(interaction);
    if (reply === undefined) throw new HttpError(400, 'unknown_interaction', 'This interaction is not handled here.');
    ctx.status = 200;
    ctx.type = 'application/json';
    ctx.body = reply.response;
    if (reply.after !== undefined) {
      // After the answer is on the wire: Discord must see the ack before the follow-up edits.
      ctx.res.once('finish', () => {
        void o.after(interaction, reply).catch((err: unknown) => o.logger?.error({ err }, 'discord: interaction follow-up failed'));
      });
    }
  };
}
