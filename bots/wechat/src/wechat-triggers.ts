import type { Locale } from '@framecast/core';

/** A text command of the bot (not a video prompt). */
export type WechatCommand = 'quota' | 'cancel' | 'again' | 'help';

/** What one text message asks of the bot. */
export type WechatTrigger =
  | { kind: 'ignore' }
  | { kind: 'command'; command: WechatCommand; arg?: string }
  /** `text` is what goes to the core's grammar (a leading `/video` or `/视频` kept: the grammar reads it). */
  | { kind: 'prompt'; text: string; useLastImage: boolean };

/** Longest text message read (WeChat allows longer; the core's grammar takes far less). */
export const MAX_TEXT_CHARS = 8000;

const SLASH_VIDEO = /^[/／](?:video|视频)(?=$|[\s\p{P}]|\p{Script=Han})/iu;
const COLON_VIDEO = /^视频\s*[：:]\s*/u;
const COMMANDS: ReadonlyArray<[WechatCommand, RegExp]> = [
  ['quota', /^(?:[/／]?(?:额度|quota)|查询额度|剩余额度)$/iu],
  ['cancel', /^[/／]?(?:取消|cancel)(?:\s+([A-Za-z0-9_-]{1,64}))?$/iu],
  ['again', /^(?:[/／]?(?:再来一个|再来一次|again|reroll))$/iu],
  ['help', /^(?:[/／]?(?:帮助|help)|[?？])$/iu],
];
const LAST_IMAGE = /用上一张图(?:片)?|use (?:the )?last (?:image|picture|photo)/giu;
/** A greeting is not a prompt (it would cost credits): it gets the help. */
const GREETING = /^(?:你好|您好|嗨|哈喽|在吗|在不在|hi|hello|hey)[\s!！。.~～?？]*$/iu;

/** Whether the text starts with the video command (`/video`, `/视频`, `视频：`, `视频:`). */
export function startsWithVideoCommand(text: string): boolean {
  const t = text.trim();
  return SLASH_VIDEO.test(t) || COLON_VIDEO.test(t);
}

/**
 * What a text message asks: in a room only a mention of the bot or a leading command counts
 * (`/video …`, `视频：…`, or a slash command such as `/额度`); in a private chat every text does.
 * `text` is the message with the bot's mention already removed.
 */
export function classifyText(raw: string, ctx: { inRoom: boolean; mentioned: boolean }): WechatTrigger {
  const text = raw.replace(/[\u2005\u00a0]/g, ' ').replace(/\s+/g, ' ').trim().slice(0, MAX_TEXT_CHARS);
  for (const [command, re] of COMMANDS) {
    const m = re.exec(text);
    if (m === null) continue;
    const slash = /^[/／]/.test(text);
    if (ctx.inRoom && !ctx.mentioned && !slash) return { kind: 'ignore' };
    return m[1] === undefined ? { kind: 'command', command } : { kind: 'command', command, arg: m[1] };
  }
  const prefixed = startsWithVideoCommand(text);
  if (GREETING.test(text) && (!ctx.inRoom || ctx.mentioned)) return { kind: 'command', command: 'help' };
  if (ctx.inRoom && !ctx.mentioned && !prefixed) return { kind: 'ignore' };
  let body = COLON_VIDEO.test(text) ? text.replace(COLON_VIDEO, '') : text;
  const useLastImage = LAST_IMAGE.test(body);
  LAST_IMAGE.lastIndex = 0;
  if (useLastImage) body = body.replace(LAST_IMAGE, ' ').replace(/\s+/g, ' ').trim();
  if (body === '' || (SLASH_VIDEO.test(body) && body.replace(SLASH_VIDEO, '').trim() === '' && !useLastImage)) {
    // A bare mention or a bare `/video`: say how it works.
    return useLastImage ? { kind: 'prompt', text: '', useLastImage } : { kind: 'command', command: 'help' };
  }
  return { kind: 'prompt', text: body, useLastImage };
}

/** The language to answer in: Chinese text (or none) → zh-CN, WeChat's default; Latin text alone → en. */
export function localeOfText(text: string): Locale {
  if (/\p{Script=Han}/u.test(text)) return 'zh-CN';
  return /[A-Za-z]{2,}/.test(text) ? 'en' : 'zh-CN';
}

/** `@name` mentions of the bot out of a room message (WeChat separates them with U+2005 or a space). */
export function stripSelfMention(text: string, names: readonly string[]): string {
  let out = text;
  for (const name of names) {
    if (name === '') continue;
    const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    out = out.replace(new RegExp(`@${escaped}(?:[\\u2005\\u0020]|$)`, 'gu'), ' ');
  }
  return out.replace(/\s+/g, ' ').trim();
}
