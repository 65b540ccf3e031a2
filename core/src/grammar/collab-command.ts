/**
 * The collaborative storyboard's commands, as people type them in a chat (after an optional `/video`):
 *
 *   collab start [theme] [--style S] [--seed N] [--aspect A] [--draft] [--duration S]
 *   collab show | render | lock | unlock | cancel
 *   collab reorder 2,1,3
 *   collab pool <credits>   (an admin adds credits to the room's group pool)
 *   add <text>        (also `+ <text>`, `加：<text>`)
 *   edit N <text>     (also `改 N <text>`)
 *   remove N          (also `删 N`)
 *   vote N            (also `投票 N`)
 *
 * `start` reads its flags with the /video grammar (same names, aliases and checks). Pure, never
 * throws; text that is none of these answers `{ kind: 'none' }` so an adapter falls through to /video.
 */
import type { Aspect, Mode } from '../model/generation-spec.schema.ts';
import { scanCommand } from './command-scanner.ts';
import type { GrammarError } from './grammar-error.ts';
import { parseVideoCommand, MAX_COMMAND_CHARS } from './prompt-grammar.ts';
import { normalisePromptText, toWellFormed, unwrapQuotes } from './text-normalise.ts';

/** Longest shot text or theme, in characters. */
export const COLLAB_TEXT_MAX = 500;
/** Highest shot number a command may name. */
export const COLLAB_SHOT_NUMBER_MAX = 99;
/** Most credits one `collab pool` adds. */
export const COLLAB_POOL_GRANT_MAX = 1_000_000;

export interface CollabStartOptions {
  theme: string;
  seed: number;
  aspect: Aspect;
  mode: Mode;
  durationSeconds: number;
  style?: string;
}

export type CollabCommand =
  | { kind: 'start'; options: CollabStartOptions }
  | { kind: 'show' | 'render' | 'lock' | 'unlock' | 'cancel' }
  | { kind: 'reorder'; order: number[] }
  | { kind: 'pool'; credits: number }
  | { kind: 'add'; text: string }
  | { kind: 'edit'; n: number; text: string }
  | { kind: 'remove'; n: number }
  | { kind: 'vote'; n: number }
  /** Takes one's vote for a shot back. */
  | { kind: 'unvote'; n: number };

export type CollabParseErrorCode = 'empty_text' | 'too_long' | 'bad_number' | 'bad_order' | 'unknown_subcommand' | 'bad_flags';

export type CollabParseResult =
  | { kind: 'none' }
  | { kind: 'ok'; command: CollabCommand }
  | { kind: 'error'; code: CollabParseErrorCode; grammarError?: GrammarError };

export interface CollabParseOptions {
  random?: () => number;
}

const COMMAND_PREFIX = /^\s*[/／](?:video|视频)(?=\s|$)/iu;
const NUMBER = /^\d{1,3}$/;

function shotNumber(s: string | undefined): number | undefined {
  if (s === undefined || !NUMBER.test(s)) return undefined;
  const n = Number(s);
  return n >= 1 && n <= COLLAB_SHOT_NUMBER_MAX ? n : undefined;
}

function cleanText(raw: string): { ok: true; text: string } | { ok: false; code: CollabParseErrorCode } {
  const text = unwrapQuotes(normalisePromptText(raw));
  if (text === '') return { ok: false, code: 'empty_text' };
  if (Array.from(text).length > COLLAB_TEXT_MAX) return { ok: false, code: 'too_long' };
  return { ok: true, text };
}

function withText(raw: string, make: (text: string) => CollabCommand): CollabParseResult {
  const c = cleanText(raw);
  return c.ok ? { kind: 'ok', command: make(c.text) } : { kind: 'error', code: c.code };
}

function parseStart(args: string, o: CollabParseOptions): CollabParseResult {
  const scan = scanCommand(Array.from(args));
  if (!scan.ok) return { kind: 'error', code: 'bad_flags', grammarError: scan.error };
  for (const name of scan.flags.keys()) {
    if (name === 'neg') return { kind: 'error', code: 'bad_flags' };
  }
  const theme = unwrapQuotes(normalisePromptText(scan.text));
  if (Array.from(theme).length > COLLAB_TEXT_MAX) return { kind: 'error', code: 'too_long' };
  // The /video grammar checks the flags; a placeholder stands in for an empty theme.
  const spec = parseVideoCommand(`storyboard ${args}`, o.random === undefined ? {} : { random: o.random });
  if (!spec.ok) return { kind: 'error', code: 'bad_flags', grammarError: spec.error };
  const s = spec.spec;
  return {
    kind: 'ok',
    command: {
      kind: 'start',
      options: { theme, seed: s.seed, aspect: s.aspect, mode: s.mode, durationSeconds: s.durationSeconds, ...(s.style === undefined ? {} : { style: s.style }) },
    },
  };
}

/** Reads a collab command; `{ kind: 'none' }` when the text is not one. */
export function parseCollabCommand(input: unknown, o: CollabParseOptions = {}): CollabParseResult {
  if (typeof input !== 'string') return { kind: 'none' };
  if (input.length > MAX_COMMAND_CHARS) return { kind: 'error', code: 'too_long' };
  let text = toWellFormed(input).replace(COMMAND_PREFIX, '').trim();
  // WeChat-style shortcuts: `+ text`, `加：text`, `投票 3`.
  const plus = /^(?:\+|＋|加\s*[:：])\s*([\s\S]*)$/u.exec(text);
  if (plus !== null) return withText(plus[1] ?? '', (t) => ({ kind: 'add', text: t }));
  const vote = /^(取消投票|投票)\s*(\S*)\s*$/u.exec(text);
  if (vote !== null) {
    const n = shotNumber(vote[2]);
    return n === undefined ? { kind: 'error', code: 'bad_number' } : { kind: 'ok', command: { kind: vote[1] === '投票' ? 'vote' : 'unvote', n } };
  }
  const m = /^(\S+)\s*([\s\S]*)$/u.exec(text);
  if (m === null) return { kind: 'none' };
  const word = (m[1] ?? '').toLowerCase();
  const rest = (m[2] ?? '').trim();
  text = rest;
  switch (word) {
    case 'add':
      return withText(rest, (t) => ({ kind: 'add', text: t }));
    case 'edit':
    case '改': {
      const e = /^(\S+)\s*([\s\S]*)$/u.exec(rest);
      const n = shotNumber(e?.[1]);
      if (n === undefined) return { kind: 'error', code: 'bad_number' };
      return withText(e?.[2] ?? '', (t) => ({ kind: 'edit', n, text: t }));
    }
    case 'remove':
    case '删': {
      const n = shotNumber(rest);
      return n === undefined ? { kind: 'error', code: 'bad_number' } : { kind: 'ok', command: { kind: 'remove', n } };
    }
    case 'vote':
    case 'unvote': {
      const n = shotNumber(rest);
      return n === undefined ? { kind: 'error', code: 'bad_number' } : { kind: 'ok', command: { kind: word, n } };
    }
    case 'collab':
    case '合作':
      break;
    default:
      return { kind: 'none' };
  }
  const sub = /^(\S*)\s*([\s\S]*)$/u.exec(text);
  const name = (sub?.[1] ?? '').toLowerCase();
  const args = (sub?.[2] ?? '').trim();
  switch (name) {
    case 'start':
      return parseStart(args, o);
    case 'show':
    case 'render':
    case 'lock':
    case 'unlock':
    case 'cancel':
      return args === '' ? { kind: 'ok', command: { kind: name } } : { kind: 'error', code: 'unknown_subcommand' };
    case 'reorder': {
      const parts = args.split(/[\s,，、]+/u).filter((p) => p !== '');
      const order = parts.map(shotNumber);
      if (order.length === 0 || order.some((n) => n === undefined) || new Set(order).size !== order.length) return { kind: 'error', code: 'bad_order' };
      return { kind: 'ok', command: { kind: 'reorder', order: order as number[] } };
    }
    case 'pool': {
      const credits = /^\d{1,7}$/u.test(args) ? Number(args) : 0;
      return credits >= 1 && credits <= COLLAB_POOL_GRANT_MAX ? { kind: 'ok', command: { kind: 'pool', credits } } : { kind: 'error', code: 'bad_number' };
    }
    default:
      return { kind: 'error', code: 'unknown_subcommand' };
  }
}
