import { z } from 'zod';
import { ReplyTargetSchema, LocaleSchema, PlatformSchema } from '../model/chat-request.schema.ts';
import { AspectSchema, ModeSchema, ReferenceImageSchema, SEED_MAX } from '../model/generation-spec.schema.ts';
import { COLLAB_TEXT_MAX } from '../grammar/collab-command.ts';

export const BOARD_STATES = ['collecting', 'locked', 'rendering', 'done', 'expired', 'cancelled'] as const;
export const BoardStateSchema = z.enum(BOARD_STATES);
export type BoardState = z.infer<typeof BoardStateSchema>;

/** Most shots a board holds (candidates; FRAMECAST_COLLAB_MAX_SHOTS of them make the cut). */
export const BOARD_SHOTS_HARD_MAX = 40;
const NAME_MAX = 80;

export const ShotSchema = z.object({
  id: z.string().min(1).max(40),
  /** `platform:userId`. */
  author: z.string().min(1).max(200),
  authorName: z.string().max(NAME_MAX),
  text: z.string().min(1).max(COLLAB_TEXT_MAX * 2),
  image: ReferenceImageSchema.optional(),
  /** Who voted for it (user keys): one vote per user per shot. */
  voters: z.array(z.string().max(200)).max(10_000),
  createdAt: z.number().int(),
});
export type Shot = z.infer<typeof ShotSchema>;

export const BoardSchema = z.object({
  version: z.literal(1),
  /** Unique per board opened (a new board in the same room gets a new id). */
  id: z.string().min(1).max(40),
  /** `platform:channel` (thread or room): one open board per key. */
  key: z.string().min(1).max(400),
  platform: PlatformSchema,
  tenantKey: z.string().max(400),
  channelId: z.string().max(200),
  replyTarget: ReplyTargetSchema,
  locale: LocaleSchema,
  theme: z.string().max(COLLAB_TEXT_MAX * 2),
  style: z.string().max(64).optional(),
  seed: z.number().int().min(0).max(SEED_MAX),
  aspect: AspectSchema,
  mode: ModeSchema,
  shotSeconds: z.number().positive().max(10),
  starter: z.string().min(1).max(200),
  starterName: z.string().max(NAME_MAX),
  shots: z.array(ShotSchema).max(BOARD_SHOTS_HARD_MAX),
  state: BoardStateSchema,
  /** The render's job id (the stitched video's job), once rendering. */
  jobId: z.string().max(80).optional(),
  /** Who pays, fixed at render: user key → credits (pool: the board key under `pool`). */
  charges: z.array(z.object({ payer: z.string().max(400), credits: z.number().int().min(0), reservationId: z.string().max(120) })).max(BOARD_SHOTS_HARD_MAX + 1).optional(),
  createdAt: z.number().int(),
  lastActivityAt: z.number().int(),
  /** Bumped on every write (compare-and-set). */
  rev: z.number().int().min(0),
});
export type Board = z.infer<typeof BoardSchema>;

export function clampName(name: string): string {
  const chars = Array.from(name.replace(/[\u0000-\u001f\u007f]/g, '').trim());
  return (chars.length > NAME_MAX ? chars.slice(0, NAME_MAX) : chars).join('') || '?';
}

/**
 * The shots that make the cut: all of them when there are at most `max`; otherwise the `max` with
 * the most votes (ties: the earlier in board order), kept in board order.
 */
export function selectShots(shots: readonly Shot[], max: number): Shot[] {
  if (shots.length <= max) return [...shots];
  const ranked = shots.map((s, i) => ({ s, i })).sort((a, b) => b.s.voters.length - a.s.voters.length || a.i - b.i);
  const keep = new Set(ranked.slice(0, max).map((r) => r.i));
  return shots.filter((_, i) => keep.has(i));
}

/** Distinct contributors in order of their first shot in the cut, with display names. */
export function contributors(board: Pick<Board, 'starter' | 'starterName'>, shots: readonly Shot[]): Array<{ userKey: string; name: string }> {
  const seen = new Map<string, string>();
  for (const s of shots) if (!seen.has(s.author)) seen.set(s.author, s.authorName);
  return [...seen].map(([userKey, name]) => ({ userKey, name }));
}

/**
 * Who pays what under a policy: `starter` the whole cost; `split` evenly among the cut's
 * contributors (the remainder to the first ones); `pool` the board key's group pool.
 */
export function chargesFor(policy: 'starter' | 'split' | 'pool', board: Board, shots: readonly Shot[], cost: number): Array<{ payer: string; credits: number }> {
  if (policy === 'starter') return [{ payer: board.starter, credits: cost }];
  if (policy === 'pool') return [{ payer: `pool:${board.key}`, credits: cost }];
  const people = contributors(board, shots).map((c) => c.userKey);
  if (people.length === 0) return [{ payer: board.starter, credits: cost }];
  const base = Math.floor(cost / people.length);
  const extra = cost - base * people.length;
  return people.map((p, i) => ({ payer: p, credits: base + (i < extra ? 1 : 0) })).filter((c) => c.credits > 0);
}
