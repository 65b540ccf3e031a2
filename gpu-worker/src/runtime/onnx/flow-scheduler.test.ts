import { describe, expect, it } from 'vitest';
import { EulerFlowSampler, UniPcFlowSampler, flowSchedule, linspace, shiftSigma } from './flow-scheduler.ts';
import type { FlowSampler, FlowSchedule } from './flow-scheduler.ts';

/**
 * Reference values by hand formulas, written out independently of the implementation:
 * - UniPC grid (diffusers UniPCMultistepScheduler, use_flow_sigmas): 1 − linspace(1, 1/1000, n+1)
 *   is k·0.999/n for k = 0..n; reversed and without the final 0, σ_i = shift((n−i)·0.999/n),
 *   i = 0..n−1, timesteps trunc(1000·σ_i) (diffusers casts them to int64), then σ_n = 0.
 * - Euler grid: σ_i = shift(1 − i·0.999/(n−1)), timestep 1000·σ_i, then 0.
 */
function handShift(s: number, shift: number): number {
  return (shift * s) / (1 + (shift - 1) * s);
}

describe('flow schedules', () => {
  for (const shift of [5, 12]) {
    for (const n of [10, 40]) {
      it(`UniPC sigmas and timesteps for shift ${shift}, ${n} steps`, () => {
        const { sigmas, timesteps } = flowSchedule('unipc', n, shift);
        expect(sigmas).toHaveLength(n + 1);
        expect(timesteps).toHaveLength(n);
        for (let i = 0; i < n; i++) {
          const s = handShift(((n - i) * 0.999) / n, shift);
          expect(sigmas[i]).toBeCloseTo(s, 6);
          expect(timesteps[i]).toBe(Math.trunc(s * 1000));
        }
        expect(sigmas[n]).toBe(0);
        for (let i = 1; i <= n; i++) expect(sigmas[i]!).toBeLessThan(sigmas[i - 1]!);
      });

      it(`Euler sigmas and timesteps for shift ${shift}, ${n} steps`, () => {
        const { sigmas, timesteps } = flowSchedule('euler', n, shift);
        for (let i = 0; i < n; i++) {
          const s = handShift(1 - (i * 0.999) / (n - 1), shift);
          expect(sigmas[i]).toBeCloseTo(s, 12);
          expect(timesteps[i]).toBeCloseTo(s * 1000, 9);
        }
        expect(sigmas[0]).toBe(1);
        expect(sigmas[n]).toBe(0);
      });
    }
  }

  it('pins worked values (shift 5, 10 steps; shift 12, 40 steps)', () => {
    // shift 5, s = 0.999: 4.995 / 4.996; s = 0.0999 (last of 10): 0.4995 / 1.3996.
    const a = flowSchedule('unipc', 10, 5);
    expect(a.sigmas[0]).toBeCloseTo(4.995 / 4.996, 7);
    expect(a.sigmas[9]).toBeCloseTo(0.4995 / 1.3996, 7);
    expect(a.timesteps[0]).toBe(999);
    expect(a.timesteps[9]).toBe(356);
    // shift 12, s = 0.999/40 = 0.024975: 0.2997 / 1.274725.
    const b = flowSchedule('unipc', 40, 12);
    expect(b.sigmas[39]).toBeCloseTo(0.2997 / 1.274725, 7);
    expect(b.timesteps[39]).toBe(235);
  });

  it('shiftSigma keeps 0 and 1 and raises the middle', () => {
    expect(shiftSigma(0, 7)).toBe(0);
    expect(shiftSigma(1, 7)).toBe(1);
    expect(shiftSigma(0.5, 3)).toBeCloseTo(0.75, 12);
    expect(shiftSigma(0.5, 1)).toBe(0.5);
  });

  it('rejects bad arguments', () => {
    expect(() => flowSchedule('euler', 0, 5)).toThrow(RangeError);
    expect(() => flowSchedule('unipc', 10, 0)).toThrow(RangeError);
  });
});

/**
 * Toy ODE with an exact solution: data x0 ~ N(m, s²) per coordinate, x_σ = (1−σ)·x0 + σ·ε. The
 * probability-flow ODE maps quantiles: x(σ) = (1−σ)m + r(σ)·z with r(σ) = √((1−σ)²s² + σ²), so
 * v(x, σ) = −m + r'(σ)·(x − (1−σ)m)/r(σ), r' = (σ − (1−σ)s²)/r. Integrating from σ_0 to 0 must
 * give m + s·z.
 */
const M = [0.5, -1, 2, 0];
const S = [0.3, 1.5, 0.05, 1];
const Zs = [1.2, -0.7, 0.4, -2];
const r = (sigma: number, s: number): number => Math.sqrt((1 - sigma) ** 2 * s * s + sigma * sigma);
function exact(sigma: number): Float32Array {
  return Float32Array.from(M, (m, i) => (1 - sigma) * m + r(sigma, S[i]!) * Zs[i]!);
}
function velocity(x: Float32Array, sigma: number): Float32Array {
  return Float32Array.from(x, (xi, i) => {
    const m = M[i]!;
    const s = S[i]!;
    const rr = r(sigma, s);
    return -m + ((sigma - (1 - sigma) * s * s) / rr) * ((xi - (1 - sigma) * m) / rr);
  });
}
function solveError(sampler: FlowSampler): number {
  const { sigmas } = sampler.schedule;
  let x = exact(sigmas[0]!);
  for (let i = 0; i < sigmas.length - 1; i++) x = sampler.step(velocity(x, sigmas[i]!), x, i);
  const target = exact(0);
  return Math.max(...Array.from(x, (v, i) => Math.abs(v - target[i]!)));
}

describe('samplers on a toy ODE', () => {
  it('one Euler step is x + (σ_next − σ)·v', () => {
    const sampler = new EulerFlowSampler(flowSchedule('euler', 4, 3));
    const { sigmas } = sampler.schedule;
    const x = Float32Array.of(1, -2, 0.5);
    const v = Float32Array.of(0.25, 4, -1);
    const next = sampler.step(v, x, 1);
    const dt = sigmas[2]! - sigmas[1]!;
    for (let i = 0; i < 3; i++) expect(next[i]).toBeCloseTo(x[i]! + dt * v[i]!, 6);
  });

  it('Euler converges at first order, UniPC at second order and more accurately', () => {
    // A uniform grid from σ = 0.9 to 0.1, so the error measured is the solvers' own.
    const errorOn = (make: (schedule: FlowSchedule) => FlowSampler, n: number): number => {
      const sigmas = linspace(0.9, 0.1, n + 1);
      const sampler = make({ sigmas, timesteps: sigmas.slice(0, n).map((s) => s * 1000) });
      let x = exact(0.9);
      for (let i = 0; i < n; i++) x = sampler.step(velocity(x, sigmas[i]!), x, i);
      const target = exact(0.1);
      return Math.max(...Array.from(x, (v, i) => Math.abs(v - target[i]!)));
    };
    const ns = [5, 10, 20, 40];
    const euler = ns.map((n) => errorOn((s) => new EulerFlowSampler(s), n));
    const unipc = ns.map((n) => errorOn((s) => new UniPcFlowSampler(s), n));
    for (let k = 0; k + 1 < ns.length; k++) {
      // Halving the step halves Euler's error and quarters UniPC's (its last step is first order).
      expect(euler[k]! / euler[k + 1]!).toBeGreaterThan(1.8);
      expect(euler[k]! / euler[k + 1]!).toBeLessThan(2.2);
      expect(unipc[k]! / unipc[k + 1]!).toBeGreaterThan(3.2);
      expect(unipc[k]!).toBeLessThan(euler[k]! / 5);
    }
    expect(unipc[3]!).toBeLessThan(2e-3);
  });

  it('on the shifted Wan grids both approach the exact end point, UniPC closer', () => {
    for (const shift of [1, 5]) {
      const e = solveError(new EulerFlowSampler(flowSchedule('euler', 80, shift)));
      const u = solveError(new UniPcFlowSampler(flowSchedule('unipc', 80, shift)));
      expect(e).toBeLessThan(0.07);
      expect(u).toBeLessThan(0.01);
      expect(u).toBeLessThan(e);
    }
  });

  it('a single data point is reached exactly (x0-prediction is exact)', () => {
    const x0 = Float32Array.of(0.3, -0.2);
    for (const sampler of [new EulerFlowSampler(flowSchedule('euler', 7, 5)), new UniPcFlowSampler(flowSchedule('unipc', 7, 5))]) {
      const { sigmas } = sampler.schedule;
      let x: Float32Array = Float32Array.of(0.3 + sigmas[0]! * 1.1, -0.2 - sigmas[0]! * 0.4);
      for (let i = 0; i < 7; i++) {
        const sigma = sigmas[i]!;
        x = sampler.step(Float32Array.from(x, (xi, k) => (xi - x0[k]!) / sigma), x, i);
      }
      expect(x[0]).toBeCloseTo(0.3, 5);
      expect(x[1]).toBeCloseTo(-0.2, 5);
    }
  });

  it('UniPC refuses out-of-order steps', () => {
    const sampler = new UniPcFlowSampler(flowSchedule('unipc', 5, 5));
    expect(() => sampler.step(new Float32Array(1), new Float32Array(1), 1)).toThrow(RangeError);
  });
});
