import { describe, expect, it } from 'vitest';
import { parseBoard, parseBoardAnswer, parseBoardEvent } from '../src/api/types.ts';
import { en, zhCN } from '../src/i18n/messages.ts';

const shot = { n: 1, authorName: 'Alice', text: 'gulls', votes: 2, voted: true, mine: false, hasImage: true, inCut: true };
const board = {
  id: 'b_AAAAAAAAAAAAAAAAAAAAAA', theme: 'sea', state: 'collecting', starterName: 'Alice', seed: 7, aspect: '16:9', mode: 'draft', durationSeconds: 1,
  shots: [shot], maxShots: 6, cost: 1, policy: 'starter', yourCost: 1, etaSeconds: 20, you: { name: 'Alice', starter: true, contributor: true },
  sharePath: 'pages/board/board?id=b_AAAAAAAAAAAAAAAAAAAAAA', text: '…',
};

describe('storyboard shapes of the mini program API', () => {
  it('parses a board, and refuses one without an id, a known state or shots', () => {
    expect(parseBoard(board)).toEqual({
      id: board.id, theme: 'sea', state: 'collecting', starterName: 'Alice', aspect: '16:9', mode: 'draft', shots: [shot], maxShots: 6, cost: 1, yourCost: 1, etaSeconds: 20,
      you: { name: 'Alice', starter: true, contributor: true },
    });
    expect(parseBoard({ ...board, jobId: 'cx', render: { state: 'succeeded', videoReady: true } })).toMatchObject({ jobId: 'cx', render: { state: 'succeeded', videoReady: true } });
    expect(() => parseBoard({ ...board, state: 'exploded' })).toThrow(/invalid board/);
    expect(() => parseBoard({ ...board, id: undefined })).toThrow(/invalid board/);
    expect(() => parseBoard({ ...board, shots: 'none' })).toThrow(/invalid board/);
    expect(() => parseBoard({ ...board, shots: [{ n: 1 }] })).toThrow(/invalid shot/);
  });

  it('parses a change\'s answer and the board\'s events', () => {
    expect(parseBoardAnswer({ ok: true, code: 'added', boardId: board.id, message: 'Shot 1 added', board })).toMatchObject({ boardId: board.id, message: 'Shot 1 added', board: { id: board.id } });
    expect(() => parseBoardAnswer({ ok: true })).toThrow(/invalid board answer/);
    expect(parseBoardEvent('board', JSON.stringify(board))?.board?.id).toBe(board.id);
    expect(parseBoardEvent('segment', JSON.stringify({ type: 'segment', index: 0, n: 3, count: 5, phase: 'step', step: 1, totalSteps: 2, jobId: 'cx', at: 1 })))
      .toEqual({ type: 'segment', n: 3, phase: 'step', step: 1, totalSteps: 2 });
    expect(parseBoardEvent('failed', JSON.stringify({ type: 'failed', message: 'refunded' }))).toEqual({ type: 'failed', message: 'refunded' });
    expect(parseBoardEvent('board', JSON.stringify({ id: 'x' }))).toBeUndefined();
    expect(parseBoardEvent('segment', 'not json')).toBeUndefined();
  });

  it('has every storyboard text in both languages', () => {
    const keys = Object.keys(zhCN).filter((k) => k.startsWith('board_'));
    expect(keys.length).toBeGreaterThan(40);
    for (const k of keys) {
      expect(en[k as keyof typeof en], k).toBeTruthy();
      expect(zhCN[k as keyof typeof zhCN], k).toBeTruthy();
    }
  });
});
