import { describe, expect, it } from 'vitest';
import { EulerFlowSampler, UniPcFlowSampler, expertAt, flowSchedule, linspace, shiftSigma } from './flow-scheduler.ts';
import type { FlowSampler, FlowSchedule } from './flow-scheduler.ts';

/**
 * Reference values by hand formulas, written out independently of the implementation:
 * - 'wan' grid (the official Wan2.2 FlowUniPCMultistepScheduler, and diffusers ≤ 0.36's UniPC):
 *   linspace(0.999, 0, n+1) without the final 0 is (n−i)·0.999/n, so σ_i = shift((n−i)·0.999/n),
 *   i = 0..n−1, timesteps trunc(1000·σ_i) (int64 there), then σ_n = 0. Both samplers use it.
 * - 'diffusers' grids: see the pinned values below.
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

      it(`Euler on the 'wan' grid steps on the same σ and timesteps as UniPC (shift ${shift}, ${n} steps)`, () => {
        expect(flowSchedule('euler', n, shift)).toEqual(flowSchedule('unipc', n, shift, 'wan'));
      });

      it(`the 'diffusers' UniPC grid is shift(linspace(1, 1/1000, n+1)[:-1]), the first lowered by 1e-6 (shift ${shift}, ${n} steps)`, () => {
        const { sigmas, timesteps } = flowSchedule('unipc', n, shift, 'diffusers');
        expect(sigmas).toHaveLength(n + 1);
        for (let i = 0; i < n; i++) {
          const s = handShift(1 - (i * 0.999) / n, shift) - (i === 0 ? 1e-6 : 0);
          expect(sigmas[i]).toBe(Math.fround(s));
          expect(timesteps[i]).toBe(Math.trunc(s * 1000));
        }
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

  it("pins the 'diffusers' Euler grid to FlowMatchEulerDiscreteScheduler(shift)'s: σ = shift(linspace(1, shift(1/1000), n)) in float32", () => {
    // From a numpy float32 reproduction of diffusers' __init__ (float32 training grid, σ_min =
    // shift(0.001) = 0.004980080295354128 for shift 5) and set_timesteps (float64 linspace over
    // σ·1000, shifted again, cast to float32; timesteps float32(σ·1000)).
    const pinned: [number, number, number[], number[]][] = [
      [4, 5, [1.0, 0.9097071290016174, 0.7173174619674683, 0.0244140662252903], [1000.0, 909.7071533203125, 717.31744384765625, 24.414066314697266]],
      [
        6,
        5,
        [1.0, 0.952663004398346, 0.8832125067710876, 0.7714307308197021, 0.5616498589515686, 0.0244140662252903],
        [1000.0, 952.6630249023438, 883.2125244140625, 771.43072509765625, 561.6498413085938, 24.414066314697266],
      ],
      [
        10,
        3,
        [1.0, 0.9601293206214905, 0.9133489727973938, 0.857692301273346, 0.7903682589530945, 0.7072784900665283, 0.602150559425354, 0.4648760259151459, 0.2780487835407257, 0.008928571827709675],
        [1000.0, 960.1293334960938, 913.3489990234375, 857.6923217773438, 790.3682861328125, 707.2785034179688, 602.1505737304688, 464.87603759765625, 278.0487976074219, 8.928571701049805],
      ],
    ];
    for (const [n, shift, sigmas, timesteps] of pinned) {
      const s = flowSchedule('euler', n, shift, 'diffusers');
      expect(s.sigmas).toEqual([...sigmas, 0]);
      expect(s.timesteps).toEqual(timesteps);
      // Not a single shift of linspace(1, 1/1000, n): every interior σ differs.
      for (let i = 1; i < n; i++) expect(Math.abs(s.sigmas[i]! - handShift(1 - (i * 0.999) / (n - 1), shift))).toBeGreaterThan(1e-5);
    }
  });

  it('shiftSigma keeps 0 and 1 and raises the middle', () => {
    expect(shiftSigma(0, 7)).toBe(0);
    expect(shiftSigma(1, 7)).toBe(1);
    expect(shiftSigma(0.5, 3)).toBeCloseTo(0.75, 12);
    expect(shiftSigma(0.5, 1)).toBe(0.5);
  });

  it("switches experts as diffusers does: the high-noise one while t >= boundary, t == boundary included", () => {
    expect(expertAt(875, 875)).toBe('high');
    expect(expertAt(876, 875)).toBe('high');
    expect(expertAt(874, 875)).toBe('low');
    expect(expertAt(874.9999, 875)).toBe('low');
    expect(expertAt(0, undefined)).toBe('high');
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

/**
 * UniPC is linear in the initial sample and the velocities, so each step's output is
 * x_k = c_0·x_init + Σ_j c_{j+1}·v_j. The table holds those coefficients (shift 5, both grids, 1, 2,
 * 3 and 6 steps), computed by an independent float64 numpy implementation of diffusers'
 * UniPCMultistepScheduler (bh2, predict_x0, flow_prediction, solver_order 2, lower_order_final,
 * final σ 0: predictor ρ = 0.5 at order 2, corrector ρ = 0.5 at order 1 and R⁻¹b at order 2).
 */
const UNIPC_COEFFICIENTS: Record<string, number[][]> = {
  'diffusers:1': [
    [1, -0.9999989867],
  ],
  'diffusers:2': [
    [1, -0.1663880348, 0],
    [1, -0.1663880348, -0.8336109519],
  ],
  'diffusers:3': [
    [1, -0.09078413248, 0, 0],
    [1, -0.04663205847, -0.2384696533, 0],
    [1, -0.04663205847, -0.2384696533, -0.714897275],
  ],
  'diffusers:6': [
    [1, -0.03841614723, 0, 0, 0, 0, 0],
    [1, -0.01868539734, -0.07209873514, 0, 0, 0, 0],
    [1, -0.01953479674, -0.01714183166, -0.1297114064, 0, 0, 0],
    [1, -0.02008090389, -0.03189379876, -0.02620451388, -0.2069224952, 0, 0],
    [1, -0.02017895681, -0.03778814234, -0.03338923625, -0.0190596337, -0.3880859874, 0],
    [1, -0.02017895681, -0.03778814234, -0.03338923625, -0.0190596337, -0.3880859874, -0.5014970303],
  ],
  'wan:1': [
    [1, -0.9997998476],
  ],
  'wan:2': [
    [1, -0.1667444706, 0],
    [1, -0.1667444706, -0.833055377],
  ],
  'wan:3': [
    [1, -0.09095704556, 0, 0],
    [1, -0.0367763004, -0.2490441242, 0],
    [1, -0.0367763004, -0.2490441242, -0.713979423],
  ],
  'wan:6': [
    [1, -0.03848344088, 0, 0, 0, 0, 0],
    [1, -0.01647393872, -0.07448310684, 0, 0, 0, 0],
    [1, -0.01911327516, -0.01807422722, -0.1295569682, 0, 0, 0],
    [1, -0.01990477867, -0.03267350308, -0.02565360094, -0.2075885419, 0, 0],
    [1, -0.01998916467, -0.03862033865, -0.03265723567, -0.01897068353, -0.3898625345, 0],
    [1, -0.01998916467, -0.03862033865, -0.03265723567, -0.01897068353, -0.3898625345, -0.4996998906],
  ],
};

describe('UniPC coefficients pinned to diffusers', () => {
  for (const [key, rows] of Object.entries(UNIPC_COEFFICIENTS)) {
    const [grid, nText] = key.split(':') as ['wan' | 'diffusers', string];
    const n = Number(nText);
    it(`${n} step(s), '${grid}' grid, shift 5`, () => {
      const sampler = new UniPcFlowSampler(flowSchedule('unipc', n, 5, grid));
      // Element j carries basis vector j: x_init = e_0, v_i = e_{i+1} (the sampler is elementwise).
      let x: Float32Array = new Float32Array(n + 1);
      x[0] = 1;
      for (let i = 0; i < n; i++) {
        const v = new Float32Array(n + 1);
        v[i + 1] = 1;
        x = sampler.step(v, x, i);
        const want = rows[i]!;
        for (let j = 0; j <= n; j++) expect(Math.abs(x[j]! - want[j]!), `step ${i + 1}, coefficient ${j}`).toBeLessThan(2e-6);
      }
    });
  }
});
