import { randomBytes } from 'node:crypto';
import {
  ButtonStyle,
  ComponentType,
  InteractionResponseType,
  MessageFlags,
  Routes,
  TextInputStyle,
  type APIActionRowComponent,
  type APIButtonComponent,
  type APIInteraction,
  type APIMessageComponentInteraction,
  type APIModalInteractionResponse,
  type APIModalSubmissionComponent,
  type APIModalSubmitInteraction,
} from 'discord.js';
import { defaultStylePresets, findStylePreset, formatSpecSummary, PROMPT_MAX_CHARS, type GenerationSpec, type JobRecord, type Locale, type StylePresets } from '@framecast/core';
import { interactionUser, localeOf } from './discord-commands.ts';
import type { DiscordContext, InteractionReply } from './discord-context.ts';
import { dt } from './discord-texts.ts';
import { answerPrivately, submitVideo } from './discord-video-submit.ts';

export const DISCORD_ACTIONS = ['reroll', 'vary', 'upscale', 'info', 'delete', 'cancel'] as const;
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

/**
 * Buttons under a finished video: reroll, vary, upscale (drafts), info, delete. A storyboard's video
 * (`storyboard`) has info and delete only: its spec is a summary of many shots, no prompt to rerun.
 */
export function resultButtons(jobId: string, spec: GenerationSpec | undefined, locale: Locale, storyboard = false): APIActionRowComponent<APIButtonComponent>[] {
  const nonce = randomBytes(6).toString('base64url');
  const row: APIButtonComponent[] = storyboard ? [] : [button('reroll', jobId, nonce, dt('buttonReroll', locale), ButtonStyle.Primary), button('vary', jobId, nonce, dt('buttonVary', locale), ButtonStyle.Primary)];
  if (spec?.mode === 'draft' && !storyboard) row.push(button('upscale', jobId, nonce, dt('buttonUpscale', locale), ButtonStyle.Success));
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

/** A spec's prompt, negative prompt and style as the user gave them: the style preset's text taken back out (else the folded text, with the style off). */
export function unfoldStyle(spec: GenerationSpec, presets: StylePresets = defaultStylePresets()): { prompt: string; negative: string | undefined; style: string; overhead: number } {
  const plain = { prompt: spec.prompt, negative: spec.negativePrompt, style: 'none', overhead: 0 };
  const preset = spec.style === undefined ? undefined : findStylePreset(presets, spec.style);
  if (preset === undefined) return plain;
  const pre = preset.promptPrefix === '' ? '' : `${preset.promptPrefix}, `;
  const suf = preset.promptSuffix === '' ? '' : `, ${preset.promptSuffix}`;
  const p = spec.prompt;
  if (!p.startsWith(pre) || !p.endsWith(suf) || p.length <= pre.length + suf.length) return plain;
  let negative = spec.negativePrompt;
  if (preset.negativePrompt !== '' && negative !== undefined) {
    if (negative === preset.negativePrompt) negative = undefined;
    else if (negative.endsWith(`, ${preset.negativePrompt}`)) negative = negative.slice(0, negative.length - preset.negativePrompt.length - 2);
    else return plain;
  }
  return { prompt: p.slice(pre.length, p.length - suf.length), negative, style: preset.name, overhead: pre.length + suf.length };
}

/** The job's spec as a command with an edited prompt: the same seed, aspect, duration, mode, style and negative prompt. */
export function commandTextForVary(spec: GenerationSpec, prompt: string, presets?: StylePresets): string {
  const u = unfoldStyle(spec, presets);
  const parts = ['/video', prompt.trim(), `--seed ${spec.seed}`, `--ar ${spec.aspect}`, `--duration ${spec.durationSeconds}`, `--style ${u.style}`];
  if (spec.mode === 'draft') parts.push('--draft');
  if (u.negative !== undefined && u.negative.trim() !== '') parts.push(`--neg “${u.negative.replace(/["“”「」]/g, ' ')}”`);
  return parts.join(' ');
}

/** The text input of the vary modal. */
export const VARY_PROMPT_INPUT = 'prompt';
/** Discord's limit on a text input's length. */
const TEXT_INPUT_MAX = 4000;

/** The vary modal: one paragraph input prefilled with the job's prompt (its style's words taken out: the style comes back on submit). */
export function varyModal(customId: string, spec: GenerationSpec, locale: Locale): APIModalInteractionResponse {
  const u = unfoldStyle(spec);
  const max = Math.max(1, Math.min(TEXT_INPUT_MAX, PROMPT_MAX_CHARS - u.overhead));
  return {
    type: InteractionResponseType.Modal,
    data: {
      custom_id: customId,
      title: dt('varyTitle', locale),
      components: [{
        type: ComponentType.Label,
        label: dt('varyLabel', locale),
        component: { type: ComponentType.TextInput, custom_id: VARY_PROMPT_INPUT, style: TextInputStyle.Paragraph, min_length: 1, max_length: max, required: true, value: u.prompt.slice(0, max) },
      }],
    },
  };
}

/** The value a modal submitted for one text input (in a label, or in an action row as older clients send). */
export function modalValue(components: readonly APIModalSubmissionComponent[], customId: string): string | undefined {
  for (const c of components) {
    const inner = c.type === ComponentType.Label ? [c.component] : c.type === ComponentType.ActionRow ? c.components : [];
    for (const x of inner) if (x.type === ComponentType.TextInput && x.custom_id === customId) return x.value;
  }
  return undefined;
}

function ephemeral(content: string): InteractionReply {
  return { response: { type: InteractionResponseType.ChannelMessageWithSource, data: { content, flags: MessageFlags.Ephemeral, allowed_mentions: { parse: [] } } } };
}

/** A deferred private answer, then `work`'s text in it. */
function privately(ctx: DiscordContext, i: APIInteraction, work: () => Promise<string>): InteractionReply {
  return {
    response: { type: InteractionResponseType.DeferredChannelMessageWithSource, data: { flags: MessageFlags.Ephemeral } },
    after: async () => {
      const content = await work();
      await ctx.rest.patch(Routes.webhookMessage(i.application_id, i.token, '@original'), { body: { content, allowed_mentions: { parse: [] } }, auth: false });
    },
  };
}

async function isOwnerOrAdmin(ctx: DiscordContext, job: JobRecord, i: APIInteraction): Promise<boolean> {
  const user = interactionUser(i);
  const userKey = `discord:${user.id}`;
  if (job.userKey === userKey) return true;
  const roles = await ctx.roles.namesOf(i.guild_id, user.roles);
  return ctx.core.quota.tierOf(userKey, roles) === 'admin';
}

/** How long a vary click waits for a member's roles before it answers (the 3 s window). */
const ROLE_CHECK_BUDGET_MS = 1500;

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
    case 'vary': {
      // A modal must be the first answer, inside the 3 s window: the requester gets it at once; an
      // admin's roles may need a REST call, bounded here (the submit checks again).
      const allowed = job.userKey === `discord:${user.id}` || await Promise.race([
        isOwnerOrAdmin(ctx, job, i).catch(() => false),
        new Promise<boolean>((r) => setTimeout(() => r(false), ROLE_CHECK_BUDGET_MS).unref()),
      ]);
      return allowed ? { response: varyModal(i.data.custom_id, job.spec, locale) } : ephemeral(dt('notYours', locale));
    }
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

/**
 * The vary modal's submit: a new job with the edited prompt and the original's seed, aspect,
 * duration, mode, style, negative prompt and image. The event id is the submit's interaction id, so
 * a redelivered submit is one job. Only the requester (or an admin) may vary.
 */
export async function handleModalSubmit(ctx: DiscordContext, i: APIModalSubmitInteraction): Promise<InteractionReply> {
  const locale = localeOf(i.locale, ctx.config.defaultLocale);
  const parsed = parseActionCustomId(i.data.custom_id);
  if (parsed?.action !== 'vary') return ephemeral(dt('jobGone', locale));
  const job = await ctx.core.job(parsed.jobId);
  if (job === undefined) return ephemeral(dt('jobGone', locale));
  const prompt = modalValue(i.data.components, VARY_PROMPT_INPUT) ?? '';
  return {
    response: { type: InteractionResponseType.DeferredChannelMessageWithSource },
    after: async () => {
      if (!(await isOwnerOrAdmin(ctx, job, i))) {
        await answerPrivately(ctx, i, dt('notYours', locale));
        return;
      }
      const attachments = job.spec.referenceImage === undefined ? [] : [{ kind: 'image' as const, storageRef: job.spec.referenceImage.ref }];
      await submitVideo(ctx, i, { text: commandTextForVary(job.spec, prompt), attachments, eventId: i.id });
    },
  };
}
