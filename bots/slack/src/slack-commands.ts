import { createHash } from 'node:crypto';
import type { Attachment, BlobStore, ChatRequestInput, Core, IntakeResult, Locale } from '@framecast/core';
import type { WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import { z } from 'zod';
import { escapeMrkdwn, st } from './slack-messages.ts';
import { statusBlocks } from './slack-progress.ts';

/** A file as Slack describes it in events, shortcuts and files.info. */
export interface SlackFile {
  id: string;
  name?: string;
  mimetype?: string;
  size?: number;
  url_private?: string;
  url_private_download?: string;
}

/** A slash command, an app mention or a message shortcut, in one shape. */
export interface SlackInvocation {
  kind: 'command' | 'mention' | 'shortcut';
  teamId: string;
  channelId: string;
  userId: string;
  /** Stable across Slack's retries: event_id for events, trigger_id for commands and shortcuts. */
  eventId: string;
  text: string;
  threadTs?: string;
  responseUrl?: string;
  files: SlackFile[];
  /** Images already in the blob store (a reroll of a job that had one); used instead of `files`. */
  attachments?: Attachment[];
}

/** What users.info says of a user that the adapter uses. */
export interface SlackUserInfo {
  locale: Locale;
  /** The display name (what the storyboard's end card credits). */
  name: string;
  /** A workspace admin or owner. */
  isAdmin: boolean;
}

/** The part of users.info's `user` the adapter reads (a trust boundary: Slack's answer). */
const SlackUserSchema = z.object({
  name: z.string().max(200).optional(),
  real_name: z.string().max(200).optional(),
  locale: z.string().max(40).optional(),
  is_admin: z.boolean().optional(),
  is_owner: z.boolean().optional(),
  profile: z.object({ display_name: z.string().max(200).optional(), real_name: z.string().max(200).optional() }).optional(),
});

/** What the user is told, and the core's answer (undefined when the request never reached it). */
export interface SlackIntakeAnswer {
  text: string;
  result?: IntakeResult;
  locale: Locale;
}

/** `<@U123>` mentions out (the bot's own, in an app mention), whitespace tidied. */
export function stripMentions(text: string): string {
  return text.replace(/<@[A-Z0-9]+(\|[^>]*)?>/g, ' ').replace(/\s+/g, ' ').trim();
}

const FILE_LINK = /<?(https?:\/\/[^\s<>|]+\/(?:files-pri\/T[A-Z0-9]+-(F[A-Z0-9]+)|files\/[A-Z0-9]+\/(F[A-Z0-9]+))[^\s<>|]*)(?:\|[^>]*)?>?/g;

/** Slack file links in a slash command's text (a pasted image link): their file ids, and the text without them. */
export function extractFileLinks(text: string): { text: string; fileIds: string[] } {
  const fileIds: string[] = [];
  const rest = text.replace(FILE_LINK, (_m, _url: string, a: string | undefined, b: string | undefined) => {
    const id = a ?? b;
    if (id !== undefined && !fileIds.includes(id)) fileIds.push(id);
    return ' ';
  });
  return { text: rest.replace(/\s+/g, ' ').trim(), fileIds };
}

/** Slack's escaping (`&amp;`, `&lt;`, `&gt;`) and link syntax (`<url|label>`) back to plain text. */
export function unescapeSlack(text: string): string {
  return text
    .replace(/<(https?:\/\/[^|>]+)\|([^>]+)>/g, '$2')
    .replace(/<(https?:\/\/[^>]+)>/g, '$1')
    .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** Slack's user locale (`en-US`, `zh-CN`, `zh-TW`) as one of ours; undefined when unknown. */
export function localeOf(slackLocale: string | undefined): Locale | undefined {
  if (slackLocale === undefined) return undefined;
  if (/^zh/i.test(slackLocale)) return 'zh-CN';
  if (/^en/i.test(slackLocale)) return 'en';
  return undefined;
}

/** The invocation as the core's ChatRequest; `attachments` are already in the blob store. */
export function toChatRequest(inv: SlackInvocation, attachments: Attachment[], locale: Locale, messageTs?: string): ChatRequestInput {
  return {
    version: 1,
    platform: 'slack',
    tenantId: inv.teamId,
    channelId: inv.channelId,
    userId: inv.userId,
    eventId: inv.eventId,
    text: inv.text,
    attachments,
    locale,
    replyTarget: {
      platform: 'slack',
      teamId: inv.teamId,
      channelId: inv.channelId,
      ...(inv.threadTs === undefined ? {} : { threadTs: inv.threadTs }),
      ...(inv.responseUrl === undefined ? {} : { responseUrl: inv.responseUrl }),
      ...(messageTs === undefined ? {} : { messageTs }),
    },
    receivedAt: Date.now(),
  };
}

export interface SlackCommandsDeps {
  core: Core;
  store: BlobStore;
  client: WebClient;
  botToken: string;
  logger: Logger;
  /** Origins the bot token may be sent to when downloading a file (Slack's file host, the API's). */
  fileOrigins: readonly string[];
  /** Largest reference image downloaded. */
  maxImageBytes: number;
}

class ImageProblem extends Error {
  constructor(readonly id: 'image_too_large' | 'image_unreadable') {
    super(id);
  }
}

/**
 * Slash commands, app mentions and message shortcuts → core.submit: downloads the first image
 * (size-limited, with the bot token) into the blob store so the image guard runs in the core, posts
 * the status message first so the job record knows it, and answers in the user's language.
 */
export class SlackCommands {
  private readonly users = new Map<string, { info: SlackUserInfo; until: number }>();

  constructor(private readonly deps: SlackCommandsDeps) {}

  /** The user's language when users.info has told it within the hour (no call made); else undefined. */
  knownLocale(userId: string): Locale | undefined {
    const known = this.users.get(userId);
    return known !== undefined && known.until > Date.now() ? known.info.locale : undefined;
  }

  /** The user's language from users.info (cached an hour), else the configured default. */
  async localeFor(userId: string): Promise<Locale> {
    return (await this.userInfo(userId)).locale;
  }

  /**
   * What users.info says of a user (cached an hour): language (else the configured default), the
   * display name (else the real name, the handle, the id), and whether they administer or own the
   * workspace. A failed look-up is not cached: the defaults, and the id as the name.
   */
  async userInfo(userId: string): Promise<SlackUserInfo> {
    const known = this.users.get(userId);
    if (known !== undefined && known.until > Date.now()) return known.info;
    const fallback: SlackUserInfo = { locale: this.deps.core.config.defaultLocale, name: userId, isAdmin: false };
    try {
      const res = await this.deps.client.users.info({ user: userId, include_locale: true });
      const parsed = SlackUserSchema.safeParse(res.user);
      if (!parsed.success) return fallback;
      const u = parsed.data;
      const name = [u.profile?.display_name, u.profile?.real_name, u.real_name, u.name].find((n) => n !== undefined && n.trim() !== '')?.trim() ?? userId;
      const info: SlackUserInfo = { locale: localeOf(u.locale) ?? fallback.locale, name: name.slice(0, 80), isAdmin: u.is_admin === true || u.is_owner === true };
      this.users.set(userId, { info, until: Date.now() + 3600_000 });
      if (this.users.size > 10_000) this.users.delete(this.users.keys().next().value as string);
      return info;
    } catch (err) {
      this.deps.logger.debug({ err }, 'users.info failed: default locale');
      return fallback;
    }
  }

  /**
   * The invocation's first image (an attached file, or a pasted Slack file link) downloaded into
   * the blob store; none when there is none; the refusal's text when it is too large or unreadable.
   */
  async imagesOf(inv: SlackInvocation, locale: Locale): Promise<{ ok: true; attachments: Attachment[] } | { ok: false; text: string }> {
    if (inv.attachments !== undefined) return { ok: true, attachments: inv.attachments };
    const links = extractFileLinks(inv.text);
    let files = inv.files;
    try {
      if (files.length === 0 && links.fileIds.length > 0) files = await this.filesInfo(links.fileIds.slice(0, 1));
      const image = files.find((f) => (f.mimetype ?? '').startsWith('image/'));
      return { ok: true, attachments: image === undefined ? [] : [await this.storeImage(inv, image)] };
    } catch (err) {
      if (err instanceof ImageProblem) return { ok: false, text: st(err.id, locale, { mb: Math.round(this.deps.maxImageBytes / 1048576) }) };
      throw err;
    }
  }

  /** Runs one invocation through the core. Never throws for a user's mistake; the answer says what happened. */
  async submit(inv: SlackInvocation): Promise<SlackIntakeAnswer> {
    const { core, client, logger } = this.deps;
    const locale = await this.localeFor(inv.userId);
    const text = unescapeSlack(extractFileLinks(inv.text).text);
    const images = await this.imagesOf(inv, locale);
    if (!images.ok) return { text: images.text, locale };
    const attachments = images.attachments;
    const { attachments: _given, ...rest } = inv;
    const withText = { ...rest, text };
    // The status message first, so that the job record carries its ts (progress and delivery edit it).
    let messageTs: string | undefined;
    try {
      const preview = escapeMrkdwn(text.length > 200 ? `${text.slice(0, 200)}…` : text);
      const status = st('status_submitting', locale, { user: inv.userId, prompt: preview });
      const res = await client.chat.postMessage({ channel: inv.channelId, text: status, blocks: statusBlocks(status), ...(inv.threadTs === undefined ? {} : { thread_ts: inv.threadTs }) });
      messageTs = typeof res.ts === 'string' ? res.ts : undefined;
    } catch (err) {
      // The video could never be posted here either: say so now, before anything is charged.
      const code = (err as { data?: { error?: string } }).data?.error;
      if (code === 'not_in_channel' || code === 'channel_not_found' || code === 'is_archived') return { text: st('not_in_channel', locale), locale };
      logger.warn({ err, channelId: inv.channelId }, 'could not post the status message: the job goes on without one');
    }
    let result: IntakeResult;
    try {
      result = await core.submit(toChatRequest(withText, attachments, locale, messageTs));
    } catch (err) {
      await this.dropStatus(inv.channelId, messageTs);
      throw err;
    }
    // A refusal is told to the user alone; a repeated event's status message is the first one.
    if (result.status === 'refused' || result.duplicate) await this.dropStatus(inv.channelId, messageTs);
    return { text: result.message[locale], result, locale };
  }

  private async dropStatus(channel: string, ts: string | undefined): Promise<void> {
    if (ts === undefined) return;
    await this.deps.client.chat.delete({ channel, ts }).catch((err: unknown) => this.deps.logger.warn({ err }, 'could not delete a status message'));
  }

  private async filesInfo(ids: string[]): Promise<SlackFile[]> {
    const out: SlackFile[] = [];
    for (const file of ids) {
      try {
        const res = await this.deps.client.files.info({ file });
        if (res.file !== undefined) out.push(res.file as SlackFile);
      } catch (err) {
        this.deps.logger.info({ err, file }, 'files.info failed for a linked file');
        throw new ImageProblem('image_unreadable');
      }
    }
    return out;
  }

  /** Downloads a Slack file with the bot token (never past maxImageBytes) and stores it for the core. */
  async storeImage(inv: SlackInvocation, file: SlackFile): Promise<Attachment> {
    const max = this.deps.maxImageBytes;
    if (file.size !== undefined && file.size > max) throw new ImageProblem('image_too_large');
    const url = file.url_private_download ?? file.url_private;
    if (url === undefined || !this.deps.fileOrigins.includes(new URL(url).origin)) throw new ImageProblem('image_unreadable');
    const res = await fetch(url, { headers: { Authorization: `Bearer ${this.deps.botToken}` }, signal: AbortSignal.timeout(30_000) }).catch(() => undefined);
    if (res === undefined || !res.ok || res.body === null) throw new ImageProblem('image_unreadable');
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (Number.isFinite(declared) && declared > max) throw new ImageProblem('image_too_large');
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      size += chunk.length;
      if (size > max) throw new ImageProblem('image_too_large');
      chunks.push(Buffer.from(chunk));
    }
    const bytes = Buffer.concat(chunks, size);
    const tag = createHash('sha256').update(inv.eventId).digest('hex').slice(0, 12);
    const key = `uploads/slack-${safe(inv.teamId)}-${safe(file.id)}-${tag}`;
    const contentType = file.mimetype ?? 'application/octet-stream';
    await this.deps.store.put(key, bytes, contentType);
    return { kind: 'image', storageRef: key, contentType, size, ...(file.name === undefined ? {} : { name: file.name.slice(0, 256) }) };
  }
}

function safe(s: string): string {
  return s.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);
}
