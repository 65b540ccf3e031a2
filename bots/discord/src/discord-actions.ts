import { randomBytes } from 'node:crypto';
import {
  ButtonStyle,
  ComponentType,
  InteractionResponseType,
  MessageFlags,
  Routes,
  type APIActionRowComponent,
  type APIButtonComponent,
  type APIMessageComponentInteraction,
} from 'discord.js';
import { formatSpecSummary, type GenerationSpec, type JobRecord, type Locale } from '@framecast/core';
import { interactionUser, localeOf } from './discord-commands.ts';
import type { DiscordContext, InteractionReply } from './discord-context.ts';
import { dt } from './discord-texts.ts';
import { submitVideo } from './discord-video-submit.ts';

export const DISCORD_ACTIONS = ['reroll', 'upscale', 'info', 'delete', 'cancel'] as const;
export type DiscordAction = (typeof DISCORD_ACTIONS)[number];

const PREFIX = 'fc1';

/**
 * A button's custom id: `fc1:<action>:<jobId>:<nonce>` (at most 100 characters). The nonce is new
 * for each message, so a double click on one button is one action and a click on a newer message
 * is another.
 */
export function actionCustomId(action: DiscordAction, jobId: string, nonce: string = randomBytes(6).toString('base64url')): string {
  return `${PREFIX}:${action}:${jobId}:${nonce}`;
}

export function parseActionCustomId(id: string): { action: DiscordAction; jobId: string; nonce: string } | undefined {
  const [prefix, action, jobId, nonce, ...rest] = id.split(':');
  if (prefix !== PREFIX || rest.length > 0 || jobId === undefined || nonce === undefined || jobId === '' || nonce === '') return undefined;
  if (!(DISCORD_ACTIONS as readonly string[]).includes(action ?? '')) return undefined;
  return { action: action as DiscordAction, jobId, nonce };
}

function button(action: DiscordAction, jobId: string, nonce: string, label: string, style: ButtonStyle): APIButtonComponent {
  return { type: ComponentType.Button, style, label, custom_id: actionCustomId(action, jobId, nonce) } as APIButtonComponent;
}

/** Buttons under a finished video: reroll, upscale (drafts), info, delete. */
export function resultButtons(jobId: string, spec: GenerationSpec | undefined, locale: Locale): APIActionRowComponent<APIButtonComponent>[] {
  const nonce = randomBytes(6).toString('base64url');
  const row: APIButtonComponent[] = [button('reroll', jobId, nonce, dt('buttonReroll', locale), ButtonStyle.Primary)];
  if (spec?.mode === 'draft') row.push(button('upscale', jobId, nonce, dt('buttonUpscale', locale), ButtonStyle.Success));
  row.push(button('info', jobId, nonce, dt('buttonInfo', locale), ButtonStyle.Secondary), button('delete', jobId, nonce, dt('buttonDelete', locale), ButtonStyle.Danger));
  return [{ type: ComponentType.ActionRow, components: row }];
}

/** The cancel button under a waiting job's status message. */
export function queuedButtons(jobId: string, locale: Locale): APIActionRowComponent<APIButtonComponent>[] {
  return [{ type: ComponentType.ActionRow, components: [button('cancel', jobId, randomBytes(6).toString('base64url'), dt('buttonCancel', locale), ButtonStyle.Secondary)] }];
}

/** The job's spec as a command again, with a new seed or at final quality; the style is already folded into the prompt. */
export function commandTextForRerun(spec: GenerationSpec, change: { seed?: number; mode?: 'final' }): string {
  const parts = ['/video', spec.prompt, `--seed ${change.seed ?? spec.seed}`, `--ar ${spec.aspect}`, `--duration ${spec.durationSeconds}`, '--style none'];
  if ((change.mode ?? spec.mode) === 'draft') parts.push('--draft');
  if (spec.negativePrompt !== undefined && spec.negativePrompt.trim() !== '') parts.push(`--neg “${spec.negativePrompt.replace(/["“”「」]/g, ' ')}”`);
  return parts.join(' ');
}

function ephemeral(content: string): InteractionReply {
  return { response: { type: InteractionResponseType.ChannelMessageWithSource, data: { content, flags: MessageFlags.Ephemeral, allowed_mentions: { parse: [] } } } };
}

/** A deferred private answer, then `work`'s text in it. */
function privately(ctx: DiscordContext, i: APIMessageComponentInteraction, work: () => Promise<string>): InteractionReply {
  return {
    response: { type: InteractionResponseType.DeferredChannelMessageWithSource, data: { flags: MessageFlags.Ephemeral } },
    after: async () => {
      const content = await work();
      await ctx.rest.patch(Routes.webhookMessage(i.application_id, i.token, '@original'), { body: { content, allowed_mentions: { parse: [] } }, auth: false });
    },
  };
}

async function isOwnerOrAdmin(ctx: DiscordContext, job: JobRecord, i: APIMessageComponentInteraction): Promise<boolean> {
  const user = interactionUser(i);
  const userKey = `discord:${user.id}`;
  if (job.userKey === userKey) return true;
  const roles = await ctx.roles.namesOf(i.guild_id, user.roles);
  return ctx.core.quota.tierOf(userKey, roles) === 'admin';
}

/**
 * A click on one of our buttons. Reroll and upscale submit a new job whose event id is the button's
 * custom id and the clicker: a double click (two interactions, one custom id) is one job; the
 * second click's "thinking…" message is removed.
 */
export async function handleButton(ctx: DiscordContext, i: APIMessageComponentInteraction): Promise<InteractionReply> {
  const locale = localeOf(i.locale, ctx.config.defaultLocale);
  const parsed = parseActionCustomId(i.data.custom_id);
  if (parsed === undefined) return { response: { type: InteractionResponseType.DeferredMessageUpdate } };
  const job = await ctx.core.job(parsed.jobId);
  if (job === undefined) return ephemeral(dt('jobGone', locale));
  const user = interactionUser(i);
  switch (parsed.action) {
    case 'info':
      return ephemeral(`${formatSpecSummary(job.spec, locale)}\n> ${job.spec.prompt.slice(0, 1500)}\n\`${job.jobId}\``);
    case 'cancel':
      // Roles may need a REST call: answer inside the 3 s window first, privately.
      return privately(ctx, i, async () => {
        const roles = await ctx.roles.namesOf(i.guild_id, user.roles);
        const userKey = `discord:${user.id}`;
        const r = await ctx.core.cancel(job.jobId, { userKey, isAdmin: ctx.core.quota.tierOf(userKey, roles) === 'admin' });
        return r.message[locale];
      });
    case 'delete':
      return privately(ctx, i, async () => {
        if (!(await isOwnerOrAdmin(ctx, job, i))) return dt('notYours', locale);
        await ctx.rest.delete(Routes.channelMessage(i.channel?.id ?? i.message.channel_id, i.message.id));
        return dt('deleted', locale);
      });
    case 'reroll':
    case 'upscale': {
      const text = parsed.action === 'reroll'
        ? commandTextForRerun(job.spec, { seed: Math.floor(Math.random() * 0xffffffff) })
        : commandTextForRerun(job.spec, { mode: 'final' });
      const attachments = job.spec.referenceImage === undefined ? [] : [{ kind: 'image' as const, storageRef: job.spec.referenceImage.ref }];
      return {
        response: { type: InteractionResponseType.DeferredChannelMessageWithSource },
        after: () => submitVideo(ctx, i, { text, attachments, eventId: `btn:${i.data.custom_id}:${user.id}`, dropDuplicateReply: true }),
      };
    }
  }
}
