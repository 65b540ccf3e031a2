import { MessageFlags, Routes, type APIAttachment, type APIInteraction, type APIMessage } from 'discord.js';
import type { ChatRequestInput } from '@framecast/core';
import { queuedButtons } from './discord-actions.ts';
import { chatRequestOf, interactionLocale, interactionUser } from './discord-commands.ts';
import type { DiscordContext } from './discord-context.ts';
import { classifyDiscordError } from './discord-rest.ts';
import { dt, mib } from './discord-texts.ts';

/** Largest reference image the adapter downloads (the image guard then checks pixels and format). */
export const MAX_REFERENCE_IMAGE_BYTES = 20 * 1024 * 1024;

export interface SubmitVideoOptions {
  text: string;
  eventId: string;
  attachments?: ChatRequestInput['attachments'];
  /** A button's second click: remove its "thinking…" message, the first click's job answers. */
  dropDuplicateReply?: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Edits the interaction's original response; a moment after an HTTP ack Discord may not know it yet (10008), so a few tries. */
export async function editOriginal(ctx: DiscordContext, i: APIInteraction, body: Record<string, unknown>): Promise<APIMessage> {
  const route = Routes.webhookMessage(i.application_id, i.token, '@original');
  for (let attempt = 1; ; attempt += 1) {
    try {
      return (await ctx.rest.patch(route, { body, auth: false })) as APIMessage;
    } catch (err) {
      const f = classifyDiscordError(err);
      if (attempt >= 4 || (f.kind !== 'unknown_message' && f.kind !== 'rate_limited')) throw err;
      await sleep(f.kind === 'rate_limited' ? Math.min(f.retryAfterMs, 2000) : 250 * attempt);
    }
  }
}

async function deleteOriginal(ctx: DiscordContext, i: APIInteraction): Promise<void> {
  await ctx.rest.delete(Routes.webhookMessage(i.application_id, i.token, '@original'), { auth: false }).catch((err: unknown) => ctx.logger.warn({ err }, 'discord: could not delete a reply'));
}

/** Tells the user something only they see, and removes the public "thinking…" message. */
export async function answerPrivately(ctx: DiscordContext, i: APIInteraction, content: string): Promise<void> {
  await ctx.rest.post(Routes.webhook(i.application_id, i.token), { body: { content, flags: MessageFlags.Ephemeral, allowed_mentions: { parse: [] } }, auth: false });
  await deleteOriginal(ctx, i);
}

/**
 * The work after a deferred `/video` (or a reroll/upscale click): learn the status message's id
 * (delivery replies to it once the token has expired), submit, and answer with the place in line
 * or the refusal (privately).
 */
export async function submitVideo(ctx: DiscordContext, i: APIInteraction, o: SubmitVideoOptions): Promise<void> {
  const locale = interactionLocale(i, ctx.config.defaultLocale);
  let messageId: string | undefined;
  try {
    messageId = (await editOriginal(ctx, i, { content: dt('received', locale) })).id;
  } catch (err) {
    ctx.logger.warn({ err }, 'discord: the deferred reply could not be edited; the video will be posted without a reply reference');
  }
  const roles = await ctx.roles.namesOf(i.guild_id, interactionUser(i).roles);
  const request = chatRequestOf(i, {
    text: o.text, eventId: o.eventId, roles, fallbackLocale: ctx.config.defaultLocale,
    ...(o.attachments === undefined ? {} : { attachments: o.attachments }),
    ...(messageId === undefined ? {} : { messageId }),
  });
  const r = await ctx.core.submit(request);
  if (r.status === 'refused') {
    await answerPrivately(ctx, i, r.message[locale]);
    return;
  }
  if (r.duplicate && o.dropDuplicateReply === true) {
    await deleteOriginal(ctx, i);
    return;
  }
  await editOriginal(ctx, i, { content: r.message[locale], components: queuedButtons(r.jobId, locale), allowed_mentions: { parse: [] } });
}

/** Discord's attachment hosts, and the configured API's own host (a proxy, or a test's fake). */
const CDN_HOSTS = new Set(['cdn.discordapp.com', 'media.discordapp.net']);

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '';
  }
}

/**
 * Attachments are fetched only from Discord's CDN over https (or from the configured API base's
 * own origin): an interaction's URL is never a way to make the bot fetch an arbitrary address.
 */
export function fromDiscordCdn(url: string, apiBaseUrl: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (u.protocol === 'https:' && CDN_HOSTS.has(u.hostname)) return true;
  const api = new URL(apiBaseUrl);
  return u.origin === api.origin;
}

/**
 * A reference image from a `/video` attachment, downloaded (size-limited) into the blob store;
 * the core's image intake then decodes and checks it like any other.
 */
export async function storeAttachment(ctx: DiscordContext, interactionId: string, att: APIAttachment): Promise<{ ok: true; storageRef: string } | { ok: false; message: { en: string; 'zh-CN': string } }> {
  const msg = (id: 'imageTooLarge' | 'imageUnreadable', vars: Record<string, string> = {}) => ({ en: dt(id, 'en', vars), 'zh-CN': dt(id, 'zh-CN', vars) });
  if (att.size > MAX_REFERENCE_IMAGE_BYTES) return { ok: false, message: msg('imageTooLarge', { size: mib(att.size), max: mib(MAX_REFERENCE_IMAGE_BYTES) }) };
  if (!fromDiscordCdn(att.url, ctx.config.env.DISCORD_API_BASE_URL)) {
    ctx.logger.warn({ host: hostOf(att.url) }, 'discord: attachment not on Discord\'s CDN; refused');
    return { ok: false, message: msg('imageUnreadable') };
  }
  try {
    const res = await fetch(att.url, { signal: AbortSignal.timeout(20_000), redirect: 'error' });
    if (!res.ok || res.body === null) return { ok: false, message: msg('imageUnreadable') };
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      size += (chunk as Uint8Array).length;
      if (size > MAX_REFERENCE_IMAGE_BYTES) return { ok: false, message: msg('imageTooLarge', { size: `> ${mib(MAX_REFERENCE_IMAGE_BYTES)}`, max: mib(MAX_REFERENCE_IMAGE_BYTES) }) };
      chunks.push(Buffer.from(chunk as Uint8Array));
    }
    const contentType = att.content_type ?? res.headers.get('content-type') ?? 'application/octet-stream';
    const key = `uploads/discord/${interactionId}-${att.id}`;
    await ctx.store.put(key, Buffer.concat(chunks, size), contentType);
    return { ok: true, storageRef: key };
  } catch (err) {
    ctx.logger.warn({ err }, 'discord: attachment download failed');
    return { ok: false, message: msg('imageUnreadable') };
  }
}
