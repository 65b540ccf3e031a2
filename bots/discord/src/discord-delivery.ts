import { Routes, type RawFile, type REST } from 'discord.js';
import { formatSpecSummary, type BlobStore, type DeliveryHandler, type DeliveryHandlerResult, type DeliveryJobData, type ReplyTargetOf } from '@framecast/core';
import type { Logger } from 'pino';
import { resultButtons } from './discord-actions.ts';
import type { DiscordReplyBoard } from './discord-progress.ts';
import { classifyDiscordError } from './discord-rest.ts';
import { dt, mib } from './discord-texts.ts';

/** An interaction token works this long after the interaction was created. */
export const INTERACTION_TOKEN_LIFETIME_MS = 15 * 60_000;
/** An upload started this close to the token's end might not finish in time: post with the bot token instead. */
const TOKEN_MARGIN_MS = 60_000;
/** How long a link to a video too large to upload stays valid (S3 signs it; a local store ignores it). */
const LINK_TTL_SECONDS = 7 * 24 * 3600;

export interface DiscordDeliveryOptions {
  rest: REST;
  store: BlobStore;
  logger?: Logger;
  /** The clock for the token's age (tests move it past 15 minutes). */
  now?: () => number;
  /** Shared with the progress renderer: its edits stop (the one in flight finishes) before the video's. */
  board?: DiscordReplyBoard;
  /** Whether a delivery is a storyboard's video (its buttons are Info and Delete only). */
  isStoryboard?: (d: DeliveryJobData) => Promise<boolean>;
}

/** Whether a reply target's interaction token can still edit the original response. */
export function tokenIsFresh(t: ReplyTargetOf<'discord'>, now: number): boolean {
  return t.interactionToken !== undefined && t.interactionCreatedAt !== undefined && now - t.interactionCreatedAt < INTERACTION_TOKEN_LIFETIME_MS - TOKEN_MARGIN_MS;
}

interface Rendered {
  content: string;
  components: unknown[];
  file?: RawFile;
  userId: string | undefined;
}

async function render(d: DeliveryJobData, store: BlobStore, budget: number | null, forceLink: boolean, storyboard: boolean): Promise<Rendered> {
  const userId = d.userKey.startsWith('discord:') ? d.userKey.slice('discord:'.length) : undefined;
  const mention = userId === undefined ? '' : `<@${userId}>`;
  const o = d.outcome;
  if (o.kind !== 'video') return { content: `${mention} ${o.message[d.locale]}`.trim(), components: [], userId };
  const summary = d.spec === undefined ? `${o.result.width}×${o.result.height}` : formatSpecSummary(d.spec, d.locale);
  const components = resultButtons(d.jobId, d.spec, d.locale, storyboard);
  const fits = !o.result.needsLink && !forceLink && (budget === null ? false : o.result.bytes <= budget);
  if (!fits) {
    const url = await store.url(o.result.videoRef, LINK_TTL_SECONDS);
    return { content: dt('deliveredLink', d.locale, { mention, size: mib(o.result.bytes), url, summary }), components, userId };
  }
  const data = await store.get(o.result.videoRef);
  return { content: dt('delivered', d.locale, { mention, summary }), components, userId, file: { name: `framecast-${d.jobId}.mp4`, data, contentType: 'video/mp4' } };
}

function bodyOf(r: Rendered): Record<string, unknown> {
  return {
    content: r.content,
    components: r.components,
    // The progress preview (an embed and its image) goes; the video comes.
    embeds: [],
    attachments: r.file === undefined ? [] : [{ id: 0, filename: r.file.name }],
    allowed_mentions: { parse: [], users: r.userId === undefined ? [] : [r.userId], replied_user: true },
  };
}

/**
 * The Discord delivery (core.deliveries.consume('discord', …)): the mp4 as a file in the original
 * interaction response while its token is young (15 minutes); after that (or when the token is
 * refused) a channel message with the bot token replying to the status message. A video over the
 * target's byte budget (the interaction's attachment_size_limit) becomes a link to the stored file.
 * 429 → retry after Retry-After; a channel that is gone or closed to the bot → failed for good.
 */
export function createDiscordDeliveryHandler(o: DiscordDeliveryOptions): DeliveryHandler {
  const now = o.now ?? Date.now;
  return async (d): Promise<DeliveryHandlerResult> => {
    const t = d.replyTarget;
    if (t.platform !== 'discord') return { status: 'failed', reason: `not a Discord reply target (${t.platform})` };
    const log = o.logger?.child({ jobId: d.jobId, platform: 'discord' });
    await o.board?.settle(d.jobId);
    const storyboard = d.outcome.kind === 'video' && o.isStoryboard !== undefined && await o.isStoryboard(d).catch(() => false);
    let forceLink = false;
    for (let round = 0; round < 2; round += 1) {
      const r = await render(d, o.store, t.maxUploadBytes, forceLink, storyboard);
      const files = r.file === undefined ? [] : [r.file];
      try {
        if (tokenIsFresh(t, now()) && t.interactionToken !== undefined) {
          try {
            await o.rest.patch(Routes.webhookMessage(t.applicationId, t.interactionToken, '@original'), { body: bodyOf(r), files, auth: false });
            return { status: 'delivered', info: { via: 'interaction', link: r.file === undefined ? 1 : 0 } };
          } catch (err) {
            const f = classifyDiscordError(err);
            if (f.kind !== 'token_expired' && f.kind !== 'unknown_message') throw err;
            log?.info({ kind: f.kind }, 'discord: the interaction token was refused; posting with the bot token');
          }
        }
        const body = bodyOf(r);
        delete body.attachments;
        delete body.embeds;
        if (r.file !== undefined) body.attachments = [{ id: 0, filename: r.file.name }];
        if (t.messageId !== undefined) body.message_reference = { message_id: t.messageId, fail_if_not_exists: false };
        await o.rest.post(Routes.channelMessages(t.channelId), { body, files });
        return { status: 'delivered', info: { via: 'channel', link: r.file === undefined ? 1 : 0 } };
      } catch (err) {
        const f = classifyDiscordError(err);
        switch (f.kind) {
          case 'rate_limited':
            return { status: 'retry', retryAfterMs: f.retryAfterMs, reason: 'discord 429' };
          case 'gone':
            return { status: 'failed', reason: f.reason };
          case 'too_large':
            if (forceLink) throw err;
            log?.info('discord: the upload was too large; sending a link');
            forceLink = true;
            continue;
          default:
            throw err;
        }
      }
    }
    return { status: 'retry', reason: 'unreachable' };
  };
}
