import { randomBytes } from 'node:crypto';

let counter = 0n;

/** A snowflake made at `ms` (unique within the process). */
export function snowflakeAt(ms: number): string {
  counter = (counter + 1n) % 4096n;
  return String(((BigInt(ms) - 1420070400000n) << 22n) | (BigInt(randomBytes(1)[0] ?? 0) << 12n) | counter);
}

export interface InteractionBase {
  applicationId: string;
  guildId?: string;
  channelId?: string;
  userId?: string;
  roles?: string[];
  locale?: string;
  /** When the interaction was made (its id's timestamp). Default now. */
  at?: number;
  attachmentSizeLimit?: number;
  /**
   * The channel's type as Discord sends it in `channel`: 0 a guild text channel (default), 11 a
   * public thread, 12 a private thread (both with `parentId`), 1 a DM (no guild: the user, not a member).
   */
  channelType?: 0 | 1 | 11 | 12;
  /** A thread's parent channel. */
  parentId?: string;
  /** The user's names (default username `alice`, display name `Alice`) and the member's guild nickname. */
  username?: string;
  globalName?: string | null;
  nick?: string;
  /** The member's permissions bitfield in the channel (default '0'). */
  permissions?: string;
}

/** The partial channel object of an interaction (threads carry their parent and metadata). */
function channelOf(o: InteractionBase, channelId: string, user: Record<string, unknown>): Record<string, unknown> {
  const type = o.channelType ?? 0;
  if (type === 1) return { id: channelId, type, last_message_id: null, flags: 0, recipients: [user] };
  const base = { id: channelId, type, guild_id: o.guildId, name: type === 0 ? 'general' : 'a thread', flags: 0, permissions: '0' };
  if (type === 11 || type === 12) {
    return {
      ...base, parent_id: o.parentId, owner_id: user.id, message_count: 1, member_count: 1, rate_limit_per_user: 0,
      thread_metadata: { archived: false, auto_archive_duration: 1440, archive_timestamp: new Date().toISOString(), locked: false, ...(type === 12 ? { invitable: true } : {}) },
      total_message_sent: 1,
    };
  }
  return base;
}

function base(o: InteractionBase, type: number): Record<string, unknown> {
  const id = snowflakeAt(o.at ?? Date.now());
  const user = { id: o.userId ?? '1300000000000000001', username: o.username ?? 'alice', discriminator: '0', global_name: o.globalName === undefined ? 'Alice' : o.globalName, avatar: null };
  const channelId = o.channelId ?? '1400000000000000001';
  return {
    id, type, application_id: o.applicationId, token: `tok-${id}-${randomBytes(4).toString('hex')}`, version: 1,
    channel_id: channelId, channel: channelOf(o, channelId, user),
    ...(o.guildId === undefined
      ? { user, context: 1 }
      : { guild_id: o.guildId, member: { user, roles: o.roles ?? [], joined_at: new Date().toISOString(), deaf: false, mute: false, flags: 0, permissions: o.permissions ?? '0', ...(o.nick === undefined ? {} : { nick: o.nick }) }, context: 0 }),
    locale: o.locale ?? 'en-US', app_permissions: '0', entitlements: [], authorizing_integration_owners: {},
    attachment_size_limit: o.attachmentSizeLimit ?? 10 * 1024 * 1024,
  };
}

export interface VideoCommandInput extends InteractionBase {
  prompt: string;
  seed?: number;
  aspect?: string;
  duration?: number;
  style?: string;
  negative?: string;
  draft?: boolean;
  image?: { url: string; filename: string; size: number; contentType: string };
}

/** An INTERACTION_CREATE payload for `/video` with its options (and an image in `resolved`). */
export function videoCommandInteraction(o: VideoCommandInput): Record<string, unknown> {
  const options: Array<{ name: string; type: number; value: string | number | boolean }> = [{ name: 'prompt', type: 3, value: o.prompt }];
  if (o.seed !== undefined) options.push({ name: 'seed', type: 4, value: o.seed });
  if (o.aspect !== undefined) options.push({ name: 'aspect', type: 3, value: o.aspect });
  if (o.duration !== undefined) options.push({ name: 'duration', type: 4, value: o.duration });
  if (o.style !== undefined) options.push({ name: 'style', type: 3, value: o.style });
  if (o.negative !== undefined) options.push({ name: 'negative', type: 3, value: o.negative });
  if (o.draft !== undefined) options.push({ name: 'draft', type: 5, value: o.draft });
  const resolved: Record<string, unknown> = {};
  if (o.image !== undefined) {
    const attId = '1500000000000000001';
    options.push({ name: 'image', type: 11, value: attId });
    resolved.attachments = { [attId]: { id: attId, filename: o.image.filename, size: o.image.size, url: o.image.url, proxy_url: o.image.url, content_type: o.image.contentType } };
  }
  return { ...base(o, 2), data: { id: '1600000000000000001', name: 'video', type: 1, options, ...(o.image === undefined ? {} : { resolved }) } };
}

/** A slash command without options (`/video-quota`, `/video-jobs`, `/video-help`). */
export function plainCommandInteraction(o: InteractionBase & { name: string }): Record<string, unknown> {
  return { ...base(o, 2), data: { id: '1600000000000000002', name: o.name, type: 1 } };
}

/** A click on a button of a message. */
export function buttonInteraction(o: InteractionBase & { customId: string; messageId: string }): Record<string, unknown> {
  const b = base(o, 3);
  return {
    ...b,
    message: { id: o.messageId, channel_id: (b.channel as { id: string }).id, content: '', author: { id: '1', username: 'framecast', discriminator: '0', avatar: null }, attachments: [], embeds: [], components: [], type: 0, timestamp: new Date().toISOString(), edited_timestamp: null, flags: 0, mentions: [], mention_roles: [], pinned: false, mention_everyone: false, tts: false },
    data: { custom_id: o.customId, component_type: 2 },
  };
}

/** A modal's submit (type 5) with text inputs by custom id, in labels as Discord sends them (or in action rows). */
export function modalSubmitInteraction(o: InteractionBase & { customId: string; values: Record<string, string>; messageId?: string; actionRows?: boolean }): Record<string, unknown> {
  const b = base(o, 5);
  const components = Object.entries(o.values).map(([customId, value]) => (o.actionRows === true
    ? { type: 1, components: [{ type: 4, custom_id: customId, value }] }
    : { type: 18, id: 1, component: { type: 4, id: 2, custom_id: customId, value } }));
  return {
    ...b,
    ...(o.messageId === undefined ? {} : { message: { id: o.messageId, channel_id: (b.channel as { id: string }).id, content: '', author: { id: '1', username: 'framecast', discriminator: '0', avatar: null }, attachments: [], embeds: [], components: [], type: 0, timestamp: new Date().toISOString(), edited_timestamp: null, flags: 0, mentions: [], mention_roles: [], pinned: false, mention_everyone: false, tts: false } }),
    data: { custom_id: o.customId, components },
  };
}

/** A PING. */
export function pingInteraction(applicationId: string): Record<string, unknown> {
  return { id: snowflakeAt(Date.now()), type: 1, application_id: applicationId, token: 'ping-token', version: 1 };
}

/** A MESSAGE_REACTION_ADD dispatch: a guild member reacted to a message with a unicode emoji. */
export function reactionAddEvent(o: { userId: string; channelId: string; messageId: string; guildId: string; emoji: string; username?: string; globalName?: string | null; nick?: string; roles?: string[] }): Record<string, unknown> {
  const user = { id: o.userId, username: o.username ?? 'alice', discriminator: '0', global_name: o.globalName === undefined ? 'Alice' : o.globalName, avatar: null };
  return {
    type: 0, user_id: o.userId, channel_id: o.channelId, message_id: o.messageId, guild_id: o.guildId, burst: false, burst_colors: [],
    emoji: { id: null, name: o.emoji },
    member: { user, roles: o.roles ?? [], joined_at: new Date().toISOString(), deaf: false, mute: false, flags: 0, ...(o.nick === undefined ? {} : { nick: o.nick }) },
  };
}

/** A MESSAGE_REACTION_REMOVE dispatch as Discord sends it (no member, unlike an add). */
export function reactionRemoveEvent(o: { userId: string; channelId: string; messageId: string; guildId: string; emoji: string }): Record<string, unknown> {
  return { type: 0, user_id: o.userId, channel_id: o.channelId, message_id: o.messageId, guild_id: o.guildId, burst: false, emoji: { id: null, name: o.emoji } };
}
