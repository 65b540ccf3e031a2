import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCollabCommand, COLLAB_TEXT_MAX } from './collab-command.ts';

describe('collab command grammar', () => {
  const ok = (text: string) => {
    const r = parseCollabCommand(text, { random: () => 0.5 });
    if (r.kind !== 'ok') throw new Error(`${text}: ${JSON.stringify(r)}`);
    return r.command;
  };

  it.each([
    ['collab show', { kind: 'show' }],
    ['/video collab render', { kind: 'render' }],
    ['／视频 collab lock', { kind: 'lock' }],
    ['collab unlock', { kind: 'unlock' }],
    ['COLLAB cancel', { kind: 'cancel' }],
    ['collab reorder 3,1,2', { kind: 'reorder', order: [3, 1, 2] }],
    ['collab reorder 2 1', { kind: 'reorder', order: [2, 1] }],
    ['collab reorder 2，1、3', { kind: 'reorder', order: [2, 1, 3] }],
    ['collab pool 50', { kind: 'pool', credits: 50 }],
    ['/video collab pool 1000000', { kind: 'pool', credits: 1_000_000 }],
    ['add a fox jumps over the moon', { kind: 'add', text: 'a fox jumps over the moon' }],
    ['/video add "quoted shot"', { kind: 'add', text: 'quoted shot' }],
    ['+ 一只猫在跳舞', { kind: 'add', text: '一只猫在跳舞' }],
    ['＋一只猫', { kind: 'add', text: '一只猫' }],
    ['加：小狗追球', { kind: 'add', text: '小狗追球' }],
    ['加: 小狗追球', { kind: 'add', text: '小狗追球' }],
    ['edit 2 the fox sleeps', { kind: 'edit', n: 2, text: 'the fox sleeps' }],
    ['改 1 新的镜头', { kind: 'edit', n: 1, text: '新的镜头' }],
    ['remove 3', { kind: 'remove', n: 3 }],
    ['删 3', { kind: 'remove', n: 3 }],
    ['vote 4', { kind: 'vote', n: 4 }],
    ['投票 4', { kind: 'vote', n: 4 }],
    ['投票4', { kind: 'vote', n: 4 }],
    ['unvote 4', { kind: 'unvote', n: 4 }],
    ['UNVOTE 2', { kind: 'unvote', n: 2 }],
    ['取消投票 4', { kind: 'unvote', n: 4 }],
    ['取消投票4', { kind: 'unvote', n: 4 }],
  ])('%s', (text, expected) => {
    expect(ok(text)).toEqual(expected);
  });

  it('start reads the theme and the /video flags', () => {
    expect(ok('collab start a day at the sea --style anime --seed 7 --aspect 9:16 --draft --duration 2')).toEqual({
      kind: 'start',
      options: { theme: 'a day at the sea', seed: 7, aspect: '9:16', mode: 'draft', durationSeconds: 2, style: 'anime' },
    });
    const bare = ok('collab start');
    expect(bare).toMatchObject({ kind: 'start', options: { theme: '', aspect: '16:9', mode: 'final' } });
    expect(ok('collab start 海边的一天 --种子 3 --比例 1:1')).toMatchObject({ options: { theme: '海边的一天', seed: 3, aspect: '1:1' } });
  });

  it.each([
    ['collab start x --seed banana', 'bad_flags'],
    ['collab start x --aspect 7:5', 'bad_flags'],
    ['collab start x --style nosuchstyle', 'bad_flags'],
    ['collab start x --neg blurry', 'bad_flags'],
    ['collab dance', 'unknown_subcommand'],
    ['collab show now', 'unknown_subcommand'],
    ['collab reorder 1,1', 'bad_order'],
    ['collab reorder', 'bad_order'],
    ['collab reorder a,b', 'bad_order'],
    ['collab pool', 'bad_number'],
    ['collab pool 0', 'bad_number'],
    ['collab pool -5', 'bad_number'],
    ['collab pool 1000001', 'bad_number'],
    ['collab pool ten', 'bad_number'],
    ['add', 'empty_text'],
    ['+   ', 'empty_text'],
    ['edit x text', 'bad_number'],
    ['edit 0 text', 'bad_number'],
    ['edit 2', 'empty_text'],
    ['remove', 'bad_number'],
    ['vote 1000', 'bad_number'],
    ['投票 abc', 'bad_number'],
    [`add ${'x'.repeat(COLLAB_TEXT_MAX + 1)}`, 'too_long'],
  ])('%.40s is refused (%s)', (text, code) => {
    const r = parseCollabCommand(text);
    expect(r.kind).toBe('error');
    if (r.kind === 'error') expect(r.code).toBe(code);
  });

  it.each(['/video a cat on a boat --draft', 'hello everyone', 'addition is fun', '', 'voted yesterday', 'collaborate'])('%s is not a collab command', (text) => {
    expect(parseCollabCommand(text).kind).toBe('none');
  });

  it('never throws, and an ok add/edit keeps bounded, non-empty text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 200 }), fc.constantFrom('collab ', 'add ', '+', '加：', 'edit ', '投票 ').chain((p) => fc.string({ unit: 'binary', maxLength: 100 }).map((s) => p + s))), (text) => {
        const r = parseCollabCommand(text);
        if (r.kind === 'ok' && (r.command.kind === 'add' || r.command.kind === 'edit')) {
          expect(r.command.text.length).toBeGreaterThan(0);
          expect(Array.from(r.command.text).length).toBeLessThanOrEqual(COLLAB_TEXT_MAX);
        }
      }),
      { numRuns: 300 },
    );
    expect(parseCollabCommand(42).kind).toBe('none');
  });
});
