import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseByteRange } from './send-blob.ts';

describe('parseByteRange (RFC 9110 single ranges)', () => {
  it.each([
    [undefined, 100, undefined],
    ['', 100, undefined],
    ['bytes=0-9', 100, { start: 0, end: 9 }],
    ['bytes=90-', 100, { start: 90, end: 99 }],
    ['bytes=90-500', 100, { start: 90, end: 99 }],
    ['bytes=-10', 100, { start: 90, end: 99 }],
    ['bytes=-500', 100, { start: 0, end: 99 }],
    ['bytes=100-', 100, 'unsatisfiable'],
    ['bytes=-0', 100, 'unsatisfiable'],
    ['bytes=0-', 0, 'unsatisfiable'],
    ['bytes=9-3', 100, undefined],
    ['bytes=0-1,5-6', 100, undefined],
    ['items=0-1', 100, undefined],
    ['bytes=-', 100, undefined],
    ['bytes=abc-', 100, undefined],
  ] as const)('%s of %d bytes → %j', (header, size, expected) => {
    expect(parseByteRange(header, size)).toEqual(expected);
  });

  it('any answer it gives lies inside the body', () => {
    fc.assert(fc.property(fc.string({ maxLength: 40 }), fc.nat(1e9), (tail, size) => {
      for (const header of [tail, `bytes=${tail}`]) {
        const r = parseByteRange(header, size);
        if (r === undefined || r === 'unsatisfiable') continue;
        expect(r.start).toBeGreaterThanOrEqual(0);
        expect(r.end).toBeGreaterThanOrEqual(r.start);
        expect(r.end).toBeLessThan(size);
      }
    }));
  });
});
