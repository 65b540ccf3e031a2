import {
  ApplicationCommandType,
  InteractionResponseType,
  InteractionType,
  MessageFlags,
  Routes,
  type APIChatInputApplicationCommandInteraction,
  type APIInteraction,
  type APIInteractionResponse,
} from 'discord.js';
import { formatGrammarHelp, formatSpecSummary, type Locale } from '@framecast/core';
import { handleButton, handleModalSubmit } from './discord-actions.ts';
import { COLLAB_BUTTON_PREFIX } from './discord-collab-board.ts';
import { commandTextOf, interactionLocale, interactionUser, localeOf, videoOptionsOf } from './discord-commands.ts';
import type { DiscordContext, InteractionReply } from './discord-context.ts';
import { dt, eta } from './discord-texts.ts';
import { answerPrivately, storeAttachment, submitVideo } from './discord-video-submit.ts';

const DEFER_PRIVATELY: APIInteractionResponse = { type: InteractionResponseType.DeferredChannelMessageWithSource, data: { flags: MessageFlags.Ephemeral } };

async function editOriginal(ctx: DiscordContext, i: APIInteraction, content: string): Promise<void> {
  await ctx.rest.patch(Routes.webhookMessage(i.application_id, i.token, '@original'), { body: { content, allowed_mentions: { parse: [] } }, auth: false });
}

async function quotaText(ctx: DiscordContext, i: APIInteraction, locale: Locale): Promise<string> {
  const user = interactionUser(i);
  const roles = await ctx.roles.namesOf(i.guild_id, user.roles);
  const q = await ctx.core.quota.show(`discord:${user.id}`, { roles });
  return dt('quota', locale, { available: q.available, daily: q.dailyCredits + q.bonus, tier: q.tier, held: q.held, active: q.active, maxConcurrent: q.maxConcurrent, timeZone: q.timeZone });
}

async function jobsText(ctx: DiscordContext, i: APIInteraction, locale: Locale): Promise<string> {
  const jobs = await ctx.core.listJobs(`discord:${interactionUser(i).id}`, 10);
  if (jobs.length === 0) return dt('noJobs', locale);
  const lines = await Promise.all(jobs.map(async (j) => {
    let position = '';
    if (j.state === 'queued') {
      const p = await ctx.core.position(j.jobId).catch(() => undefined);
      if (p !== undefined && p.position > 0) position = dt('jobPosition', locale, { position: p.position, eta: eta(p.etaSeconds, locale) });
    }
    return dt('jobLine', locale, { jobId: j.jobId, state: j.state, position, summary: formatSpecSummary(j.spec, locale) });
  }));
  return lines.join('\n');
}

function handleCommand(ctx: DiscordContext, i: APIChatInputApplicationCommandInteraction): InteractionReply | undefined {
  const locale = localeOf(i.locale, ctx.config.defaultLocale);
  switch (i.data.name) {
    case 'video': {
      const options = videoOptionsOf(i);
      return {
        response: { type: InteractionResponseType.DeferredChannelMessageWithSource },
        after: async () => {
          // A storyboard command first (`collab start …`; `add …` only while the channel has an open board).
          if (ctx.collab !== undefined && await ctx.collab.handleCommand(ctx, i, options)) return;
          const attachments = [];
          if (options.image !== undefined) {
            const stored = await storeAttachment(ctx, i.id, options.image);
            if (!stored.ok) {
              await answerPrivately(ctx, i, stored.message[locale]);
              return;
            }
            attachments.push({ kind: 'image' as const, storageRef: stored.storageRef, name: options.image.filename, size: options.image.size });
          }
          // The interaction id is the idempotency key: a redelivered interaction is one job.
          await submitVideo(ctx, i, { text: commandTextOf(options), eventId: i.id, attachments });
        },
      };
    }
    case 'video-quota':
      return { response: DEFER_PRIVATELY, after: async () => editOriginal(ctx, i, await quotaText(ctx, i, locale)) };
    case 'video-jobs':
      return { response: DEFER_PRIVATELY, after: async () => editOriginal(ctx, i, await jobsText(ctx, i, locale)) };
    case 'video-help':
      return { response: { type: InteractionResponseType.ChannelMessageWithSource, data: { content: formatGrammarHelp(locale).slice(0, 2000), flags: MessageFlags.Ephemeral } } };
    default:
      return undefined;
  }
}

/**
 * One interaction, whichever transport brought it: the first response to send at once and the work
 * after it. Undefined for an interaction this adapter does not handle.
 */
export async function handleInteraction(ctx: DiscordContext, i: APIInteraction): Promise<InteractionReply | undefined> {
  switch (i.type) {
    case InteractionType.Ping:
      return { response: { type: InteractionResponseType.Pong } };
    case InteractionType.ApplicationCommand:
      return i.data.type === ApplicationCommandType.ChatInput ? handleCommand(ctx, i as APIChatInputApplicationCommandInteraction) : undefined;
    case InteractionType.MessageComponent:
      if (ctx.collab !== undefined && i.data.custom_id.startsWith(`${COLLAB_BUTTON_PREFIX}:`)) return ctx.collab.handleButton(ctx, i);
      return handleButton(ctx, i);
    case InteractionType.ModalSubmit:
      return handleModalSubmit(ctx, i);
    default:
      return undefined;
  }
}

/** Runs an interaction's follow-up work; a failure is logged and told to the user. */
export async function runAfter(ctx: DiscordContext, i: APIInteraction, reply: InteractionReply): Promise<void> {
  if (reply.after === undefined) return;
  try {
    await reply.after();
  } catch (err) {
    ctx.logger.error({ err, interactionId: i.id }, 'discord: handling an interaction failed');
    const locale = interactionLocale(i, ctx.config.defaultLocale);
    await ctx.rest.post(Routes.webhook(i.application_id, i.token), { body: { content: dt('internal', locale), flags: MessageFlags.Ephemeral }, auth: false }).catch(() => undefined);
  }
}
