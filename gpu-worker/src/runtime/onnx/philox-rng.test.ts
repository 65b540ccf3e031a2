import { describe, expect, it } from 'vitest';
import { philox4x32, philoxNormals, seedKey } from './philox-rng.ts';

const hex = (w: readonly number[]): string => w.map((x) => x.toString(16).padStart(8, '0')).join(' ');

describe('Philox4x32-10', () => {
  // Known-answer vectors of the Random123 distribution (kat_vectors, philox4x32 10 rounds).
  it('matches the Random123 known-answer vectors', () => {
    expect(hex(philox4x32([0, 0, 0, 0], [0, 0]))).toBe('6627e8d5 e169c58d bc57ac4c 9b00dbd8');
    expect(hex(philox4x32([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff]))).toBe('408f276d 41c83b0e a20bc7c6 6d5451fd');
    expect(hex(philox4x32([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0]))).toBe('d16cfe09 94fdcceb 5001e420 24126ea1');
  });

  it('splits seeds into two key words', () => {
    expect(seedKey(5)).toEqual([5, 0]);
    expect(seedKey(2 ** 40 + 7)).toEqual([7, 256]);
    expect(() => seedKey(-1)).toThrow(RangeError);
    expect(() => seedKey(1.5)).toThrow(RangeError);
  });
});

describe('philoxNormals', () => {
  it('pins golden values (the same on every machine)', () => {
    const a = Array.from(philoxNormals(42, 6));
    const golden = [0.886497498, 0.439356059, -0.156609625, -0.0137186786, -0.494100511, -0.372166842];
    a.forEach((v, i) => expect(v).toBeCloseTo(golden[i]!, 8));
    const b = Array.from(philoxNormals(2 ** 40 + 7, 3, 5));
    [-0.94483, 1.7987535, 1.16271031].forEach((g, i) => expect(b[i]).toBeCloseTo(g, 6));
  });

  it('is a pure function of (seed, stream, index)', () => {
    expect(philoxNormals(7, 101)).toEqual(philoxNormals(7, 101));
    expect(philoxNormals(7, 10)).toEqual(philoxNormals(7, 11).subarray(0, 10));
    expect(philoxNormals(7, 10)).not.toEqual(philoxNormals(8, 10));
    expect(philoxNormals(7, 10, 0)).not.toEqual(philoxNormals(7, 10, 1));
  });

  it('has standard normal moments', () => {
    const n = philoxNormals(1, 200_000);
    let s = 0;
    let s2 = 0;
    let within1 = 0;
    for (const v of n) {
      s += v;
      s2 += v * v;
      if (Math.abs(v) < 1) within1++;
    }
    expect(Math.abs(s / n.length)).toBeLessThan(0.01);
    expect(Math.abs(s2 / n.length - 1)).toBeLessThan(0.02);
    expect(within1 / n.length).toBeCloseTo(0.6827, 2);
  });
});
