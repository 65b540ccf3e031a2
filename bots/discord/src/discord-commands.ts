import {
  ApplicationCommandOptionType,
  ApplicationCommandType,
  InteractionContextType,
  type APIApplicationCommandInteractionDataBasicOption,
  type APIApplicationCommandInteractionDataOption,
  type APIAttachment,
  type APIChatInputApplicationCommandInteraction,
  type APIInteraction,
  type LocalizationMap,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
} from 'discord.js';
import {
  ASPECTS,
  DEFAULT_UPLOAD_BYTES,
  defaultStylePresets,
  DURATION_LIMITS,
  type ChatRequestInput,
  type Locale,
  type ReplyTargetOf,
  type StylePresets,
} from '@framecast/core';

/** The four commands: the names people type, in English and Chinese. */
export const DISCORD_COMMAND_NAMES = ['video', 'video-quota', 'video-jobs', 'video-help'] as const;
export type DiscordCommandName = (typeof DISCORD_COMMAND_NAMES)[number];

type Text = { en: string; 'zh-CN': string };

/** Discord's localisation map from our two languages (en-US and en-GB read the English). */
function localised(text: Text): { base: string; map: LocalizationMap } {
  return { base: text.en, map: { 'en-US': text.en, 'en-GB': text.en, 'zh-CN': text['zh-CN'], 'zh-TW': text['zh-CN'] } };
}

function named(name: Text, description: Text): { name: string; name_localizations: LocalizationMap; description: string; description_localizations: LocalizationMap } {
  const n = localised(name);
  const d = localised(description);
  return { name: n.base, name_localizations: n.map, description: d.base, description_localizations: d.map };
}

/** Guild channels, threads, the bot's DMs and group DMs. */
const CONTEXTS = [InteractionContextType.Guild, InteractionContextType.BotDM, InteractionContextType.PrivateChannel];

/**
 * The application commands as Discord's API takes them (PUT /applications/{id}/commands): `/video`
 * with typed options (the style choices are the presets, with their localised names), `/video-quota`,
 * `/video-jobs` and `/video-help`.
 */
export function discordCommandDefinitions(styles: StylePresets = defaultStylePresets()): RESTPostAPIChatInputApplicationCommandsJSONBody[] {
  const maxDuration = DURATION_LIMITS.final.max;
  return [
    {
      type: ApplicationCommandType.ChatInput,
      contexts: CONTEXTS,
      ...named({ en: 'video', 'zh-CN': '视频' }, { en: 'Make a short AI video from a prompt (and an image)', 'zh-CN': '根据描述（和图片）生成一段 AI 短视频' }),
      options: [
        { type: ApplicationCommandOptionType.String, required: true, max_length: 1500, ...named({ en: 'prompt', 'zh-CN': '描述' }, { en: 'What happens in the video', 'zh-CN': '视频里发生什么' }) },
        { type: ApplicationCommandOptionType.Attachment, ...named({ en: 'image', 'zh-CN': '图片' }, { en: 'A picture for the first frame', 'zh-CN': '作为第一帧的图片' }) },
        { type: ApplicationCommandOptionType.Integer, min_value: 0, max_value: 0xffffffff, ...named({ en: 'seed', 'zh-CN': '种子' }, { en: 'The same seed repeats the same video', 'zh-CN': '相同的种子生成相同的视频' }) },
        {
          type: ApplicationCommandOptionType.String,
          ...named({ en: 'aspect', 'zh-CN': '画幅' }, { en: 'Aspect ratio', 'zh-CN': '画面比例' }),
          choices: ASPECTS.map((a) => ({ name: a, value: a })),
        },
        { type: ApplicationCommandOptionType.Integer, min_value: 1, max_value: maxDuration, ...named({ en: 'duration', 'zh-CN': '时长' }, { en: 'Length in seconds', 'zh-CN': '时长（秒）' }) },
        {
          type: ApplicationCommandOptionType.String,
          ...named({ en: 'style', 'zh-CN': '风格' }, { en: 'A style preset', 'zh-CN': '风格预设' }),
          // Discord takes at most 25 choices.
          choices: styles.styles.slice(0, 25).map((s) => ({ name: s.displayName.en, name_localizations: { 'zh-CN': s.displayName['zh-CN'], 'zh-TW': s.displayName['zh-CN'] }, value: s.name })),
        },
        { type: ApplicationCommandOptionType.String, max_length: 500, ...named({ en: 'negative', 'zh-CN': '反向提示' }, { en: 'What to keep out of the video', 'zh-CN': '不希望出现在视频里的内容' }) },
        { type: ApplicationCommandOptionType.Boolean, ...named({ en: 'draft', 'zh-CN': '草稿' }, { en: 'Short, low resolution and fast', 'zh-CN': '短、低分辨率、更快' }) },
      ],
    },
    { type: ApplicationCommandType.ChatInput, contexts: CONTEXTS, ...named({ en: 'video-quota', 'zh-CN': '视频额度' }, { en: 'Your credits left today', 'zh-CN': '今天剩余的额度' }) },
    { type: ApplicationCommandType.ChatInput, contexts: CONTEXTS, ...named({ en: 'video-jobs', 'zh-CN': '视频任务' }, { en: 'Your recent videos and their place in line', 'zh-CN': '最近的视频任务和排队位置' }) },
    { type: ApplicationCommandType.ChatInput, contexts: CONTEXTS, ...named({ en: 'video-help', 'zh-CN': '视频帮助' }, { en: 'How to use /video', 'zh-CN': '如何使用 /video' }) },
  ];
}

/** Our language from Discord's (`zh-CN`, `zh-TW` → zh-CN; everything else English), else the default. */
export function localeOf(discordLocale: string | undefined, fallback: Locale): Locale {
  if (discordLocale === undefined) return fallback;
  return discordLocale.startsWith('zh') ? 'zh-CN' : 'en';
}

/** The user's language from an interaction (PING has none). */
export function interactionLocale(i: APIInteraction, fallback: Locale): Locale {
  return localeOf('locale' in i && typeof i.locale === 'string' ? i.locale : undefined, fallback);
}

/** When a snowflake (an interaction id) was made, in ms since the epoch. */
export function snowflakeTime(id: string): number {
  return Number((BigInt(id) >> 22n) + 1420070400000n);
}

/** The user behind an interaction (a guild member's user, or the DM's user). */
export function interactionUser(i: APIInteraction): { id: string; roles: string[] } {
  const member = 'member' in i ? i.member : undefined;
  const user = member?.user ?? ('user' in i ? i.user : undefined);
  return { id: user?.id ?? 'unknown', roles: member?.roles ?? [] };
}

function flatOptions(options: readonly APIApplicationCommandInteractionDataOption[] | undefined): Map<string, APIApplicationCommandInteractionDataBasicOption> {
  const out = new Map<string, APIApplicationCommandInteractionDataBasicOption>();
  for (const o of options ?? []) if ('value' in o) out.set(o.name, o as APIApplicationCommandInteractionDataBasicOption);
  return out;
}

/** The options of `/video`, typed. */
export interface VideoOptions {
  prompt: string;
  image?: APIAttachment;
  seed?: number;
  aspect?: string;
  duration?: number;
  style?: string;
  negative?: string;
  draft?: boolean;
}

export function videoOptionsOf(i: APIChatInputApplicationCommandInteraction): VideoOptions {
  const opts = flatOptions(i.data.options);
  const str = (n: string): string | undefined => {
    const v = opts.get(n)?.value;
    return typeof v === 'string' ? v : undefined;
  };
  const num = (n: string): number | undefined => {
    const v = opts.get(n)?.value;
    return typeof v === 'number' ? v : undefined;
  };
  const imageId = str('image');
  const image = imageId === undefined ? undefined : i.data.resolved?.attachments?.[imageId];
  const draft = opts.get('draft')?.value;
  const out: VideoOptions = { prompt: str('prompt') ?? '' };
  if (image !== undefined) out.image = image;
  const seed = num('seed');
  if (seed !== undefined) out.seed = seed;
  const aspect = str('aspect');
  if (aspect !== undefined) out.aspect = aspect;
  const duration = num('duration');
  if (duration !== undefined) out.duration = duration;
  const style = str('style');
  if (style !== undefined) out.style = style;
  const negative = str('negative');
  if (negative !== undefined) out.negative = negative;
  if (typeof draft === 'boolean') out.draft = draft;
  return out;
}

/** A value that stays one grammar token: quotes dropped, then “quoted”. */
function quoted(s: string): string {
  return `“${s.replace(/["“”「」]/g, ' ').trim()}”`;
}

/** The typed options as the one grammar reads them (`/video prompt --seed N --ar 16:9 …`). */
export function commandTextOf(o: Omit<VideoOptions, 'image'>): string {
  const parts = ['/video', o.prompt.trim()];
  if (o.seed !== undefined) parts.push(`--seed ${o.seed}`);
  if (o.aspect !== undefined) parts.push(`--ar ${o.aspect}`);
  if (o.duration !== undefined) parts.push(`--duration ${o.duration}`);
  if (o.style !== undefined) parts.push(`--style ${o.style}`);
  if (o.draft === true) parts.push('--draft');
  if (o.negative !== undefined && o.negative.trim() !== '') parts.push(`--neg ${quoted(o.negative)}`);
  return parts.join(' ');
}

/** Everything a Discord reply target needs, from the interaction. */
export function replyTargetOf(i: APIInteraction, messageId?: string): ReplyTargetOf<'discord'> {
  const limit = (i as { attachment_size_limit?: number }).attachment_size_limit;
  const channelId = i.channel?.id ?? (i as { channel_id?: string }).channel_id ?? 'unknown';
  return {
    platform: 'discord',
    applicationId: i.application_id,
    interactionToken: i.token,
    interactionCreatedAt: snowflakeTime(i.id),
    channelId,
    ...(i.guild_id === undefined ? {} : { guildId: i.guild_id }),
    ...(messageId === undefined ? {} : { messageId }),
    // Discord says how much this interaction may upload (boosted guilds more); never over the request cap.
    maxUploadBytes: Math.min(typeof limit === 'number' && limit > 0 ? limit : DEFAULT_UPLOAD_BYTES.discord, 25 * 1024 * 1024),
  };
}

export interface ChatRequestParts {
  text: string;
  eventId: string;
  /** Role names (and ids) of the member, for FRAMECAST_ROLE_TIERS. */
  roles: readonly string[];
  attachments?: ChatRequestInput['attachments'];
  messageId?: string;
  fallbackLocale: Locale;
}

/** An interaction (a command or a button) as the core's one way in. */
export function chatRequestOf(i: APIInteraction, parts: ChatRequestParts): ChatRequestInput {
  const user = interactionUser(i);
  const target = replyTargetOf(i, parts.messageId);
  return {
    version: 1,
    platform: 'discord',
    tenantId: i.guild_id ?? `dm:${target.channelId}`,
    channelId: target.channelId,
    userId: user.id,
    eventId: parts.eventId,
    text: parts.text,
    attachments: parts.attachments ?? [],
    replyTarget: target,
    locale: interactionLocale(i, parts.fallbackLocale),
    roles: parts.roles.slice(0, 50).map((r) => r.slice(0, 64)),
    receivedAt: Date.now(),
  };
}
