import { describe, expect, it } from 'vitest';
import type { BoardView } from '@framecast/core';
import { resultButtons } from './discord-actions.ts';
import { boardComponents, boardMessageContent, collabCustomId, parseCollabCustomId, shotOfEmoji, VOTE_EMOJI, type BoardProgress } from './discord-collab-board.ts';
import { displayNameOf, isDiscordAdmin } from './discord-collab.ts';

function view(over: Partial<BoardView> = {}, shots = 3): BoardView {
  return {
    key: 'discord:1400000000000000001', theme: 'a heist', state: 'collecting', starterName: 'Alice', seed: 7, aspect: '16:9', maxShots: 2, cost: 2, policy: 'starter',
    charges: [{ payer: 'discord:1', credits: 2 }], etaSeconds: 90, text: { en: '', 'zh-CN': '' },
    shots: Array.from({ length: shots }, (_, k) => ({ n: k + 1, id: `s${k}`, author: `discord:${k}`, authorName: ['Alice', 'Bob', '小明'][k % 3] ?? 'X', text: `shot ${k + 1}`, votes: k === 2 ? 0 : 1, hasImage: false, inCut: k < 2 })),
    ...over,
  };
}

type Rows = Array<{ components: Array<{ custom_id: string; label: string }> }>;

describe('board message buttons and reactions', () => {
  it('custom ids round-trip and refuse anything else', () => {
    const id = collabCustomId('vote', '1400000000000000001', 'mb3k2x1a2b3c4d', 3);
    expect(id.length).toBeLessThanOrEqual(100);
    expect(parseCollabCustomId(id)).toEqual({ action: 'vote', channelId: '1400000000000000001', boardId: 'mb3k2x1a2b3c4d', n: 3 });
    for (const bad of ['fc1:reroll:job:nonce', 'fcc1:delete:1:b:0', 'fcc1:vote:abc:b:1', 'fcc1:vote:1:B!:1', 'fcc1:vote:1:b:100', 'fcc1:vote:1:b:1:extra', 'fcc1:vote:1:b']) {
      expect(parseCollabCustomId(bad)).toBeUndefined();
    }
  });

  it('1️⃣–🔟 vote for shots 1–10 (with or without the variation selector); other emoji do not', () => {
    expect(VOTE_EMOJI.map((e) => shotOfEmoji(e))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(shotOfEmoji('4\u20E3')).toBe(4);
    for (const e of ['👍', '0️⃣', '', null, undefined]) expect(shotOfEmoji(e)).toBeUndefined();
  });

  it('while collecting: a vote button per shot (5 a row), then Show and Render; at most 5 rows however many shots', () => {
    const rows = boardComponents(view(), 'b1', '1400000000000000001', 'en') as Rows;
    expect(rows.map((r) => r.components.map((c) => c.label))).toEqual([['Vote 1', 'Vote 2', 'Vote 3'], ['Show', 'Render']]);
    const many = boardComponents(view({}, 40), 'b1', '1400000000000000001', 'zh-CN') as Rows;
    expect(many).toHaveLength(5);
    expect(many.every((r) => r.components.length <= 5)).toBe(true);
    expect(many.at(-1)?.components.map((c) => c.label)).toEqual(['查看', '生成视频']);
    expect(boardComponents(view({ state: 'rendering' }), 'b1', '1', 'en').flatMap((r) => r.components)).toHaveLength(1);
    expect(boardComponents(view({ state: 'done' }), 'b1', '1', 'en')).toEqual([]);
  });

  it('a storyboard\'s video has Info and Delete only', () => {
    const actions = (storyboard: boolean) => resultButtons('cjob', undefined, 'en', storyboard).flatMap((r) => r.components).map((b) => ('custom_id' in b ? b.custom_id.split(':')[1] : ''));
    expect(actions(true)).toEqual(['info', 'delete']);
    expect(actions(false)).toEqual(['reroll', 'vary', 'info', 'delete']);
  });
});

describe('board message text', () => {
  it('shows the shots with authors, votes and the cut, the cost, policy and ETA, in both languages', () => {
    const en = boardMessageContent(view(), 'en');
    expect(en).toContain('**Storyboard “a heist”** — collecting shots · started by Alice');
    expect(en).toContain('seed 7 · 16:9 · 3 shots, 2 make the cut');
    expect(en).toContain('`1.` **Alice**: shot 1 — 🗳️ 1');
    expect(en).toContain('`3.` **小明**: shot 3 — 🗳️ 0 · *not in the cut*');
    expect(en).toMatch(/💰 2 credits \(the starter pays\)/);
    const zh = boardMessageContent(view({ policy: 'split' }), 'zh-CN');
    expect(zh).toContain('分镜板「a heist」');
    expect(zh).toContain('入选镜头的作者分摊');
    expect(zh).toContain('*未入选*');
  });

  it('escapes markdown in what members wrote and stays within 2000 characters', () => {
    const v = view();
    v.shots[0] = { ...(v.shots[0] as BoardView['shots'][number]), text: '**bold** `code` @everyone' };
    expect(boardMessageContent(v, 'en')).toContain('\\*\\*bold\\*\\* \\`code\\` @everyone');
    const long = view({}, 40);
    for (const s of long.shots) s.text = 'x'.repeat(500);
    const text = boardMessageContent(long, 'en');
    expect(text.length).toBeLessThanOrEqual(2000);
    expect(text).toMatch(/… \+\d+/);
  });

  it('shows each shot in the cut with its render progress, then the stitch and the end', () => {
    const p: BoardProgress = { segments: new Map([[0, { started: true, step: 2, total: 2, retrying: false, done: true }], [1, { started: true, step: 1, total: 2, retrying: false, done: false }]]), stage: 'rendering' };
    const rendering = boardMessageContent(view({ state: 'rendering' }), 'en', p);
    expect(rendering).toContain('`1.` **Alice**: shot 1 — 🗳️ 1 · ✅ done');
    expect(rendering).toMatch(/`2\.` \*\*Bob\*\*: shot 2 — 🗳️ 1 · 🎬 `███░░░` 1\/2/);
    expect(rendering).not.toMatch(/shot 3 .*(⏳|🎬|✅)/);
    p.segments.set(1, { started: true, step: 1, total: 2, retrying: true, done: false });
    expect(boardMessageContent(view({ state: 'rendering' }), 'en', p)).toContain('🔁 retrying');
    p.stage = 'stitching';
    const stitching = boardMessageContent(view({ state: 'rendering' }), 'en', p);
    expect(stitching.match(/✅ done/g)).toHaveLength(2);
    expect(stitching).toContain('Joining the shots');
    p.stage = 'rendered';
    expect(boardMessageContent(view({ state: 'done' }), 'en', p)).toContain('Rendered: the video is posted below.');
    const failed = boardMessageContent(view(), 'zh-CN', { segments: new Map(), stage: 'failed', note: { en: 'refunded', 'zh-CN': '额度已全部退回' } });
    expect(failed).toContain('⚠️ 额度已全部退回');
  });
});

describe('who a member is', () => {
  it('names a member by nickname, then display name, then username', () => {
    expect(displayNameOf('Bobby', { id: '1', username: 'bob', global_name: 'Robert' })).toBe('Bobby');
    expect(displayNameOf(null, { id: '1', username: 'bob', global_name: 'Robert' })).toBe('Robert');
    expect(displayNameOf(undefined, { id: '1', username: 'bob', global_name: null })).toBe('bob');
  });

  it('reads Administrator, Manage Channels and Manage Guild from the permissions bitfield', () => {
    expect(isDiscordAdmin(String(1n << 3n))).toBe(true);
    expect(isDiscordAdmin(String(1n << 4n))).toBe(true);
    expect(isDiscordAdmin(String((1n << 5n) | (1n << 40n)))).toBe(true);
    expect(isDiscordAdmin(String((1n << 11n) | (1n << 40n)))).toBe(false);
    for (const bad of [undefined, '', '-8', 'abc', '9'.repeat(40)]) expect(isDiscordAdmin(bad)).toBe(false);
  });
});
