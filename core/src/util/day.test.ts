import { describe, expect, it } from 'vitest';
import { dayIn } from './day.ts';

describe('dayIn', () => {
  it('rolls over at the zone\'s midnight, to the millisecond, whatever was asked before in that minute', () => {
    const midnightShanghai = Date.UTC(2026, 10, 28, 16, 0, 0); // 2026-11-29 00:00 in UTC+8
    expect(dayIn('Asia/Shanghai', midnightShanghai - 30_000)).toBe('2026-11-28');
    expect(dayIn('Asia/Shanghai', midnightShanghai - 1)).toBe('2026-11-28');
    expect(dayIn('Asia/Shanghai', midnightShanghai)).toBe('2026-11-29');
    expect(dayIn('Asia/Shanghai', midnightShanghai + 59_999)).toBe('2026-11-29');
    // Back to an earlier minute, and another zone in between: each answer is its own instant's.
    expect(dayIn('UTC', midnightShanghai)).toBe('2026-11-28');
    expect(dayIn('Asia/Shanghai', midnightShanghai - 1)).toBe('2026-11-28');
  });

  it('holds for zones offset by half and quarter hours', () => {
    const midnightKolkata = Date.UTC(2026, 10, 28, 18, 30, 0); // UTC+5:30
    expect(dayIn('Asia/Kolkata', midnightKolkata - 1)).toBe('2026-11-28');
    expect(dayIn('Asia/Kolkata', midnightKolkata)).toBe('2026-11-29');
    const midnightKathmandu = Date.UTC(2026, 10, 28, 18, 15, 0); // UTC+5:45
    expect(dayIn('Asia/Kathmandu', midnightKathmandu - 1)).toBe('2026-11-28');
    expect(dayIn('Asia/Kathmandu', midnightKathmandu)).toBe('2026-11-29');
  });
});
