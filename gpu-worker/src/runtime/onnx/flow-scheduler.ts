/**
 * Flow-matching samplers for Wan-style models: the model predicts the velocity v = noise − x0 of
 * the straight path x_σ = (1 − σ)·x0 + σ·noise; σ goes from ~1 to 0.
 *
 * shift(σ) = s·σ / (1 + (s − 1)·σ). Two σ grids (the manifest's `defaults.flowSigmas`):
 *
 * - 'wan' (default): the model authors' grid, from the official Wan2.2 code
 *   (`wan/utils/fm_solvers_unipc.py`, its scheduler built with shift 1 and `set_timesteps(n,
 *   shift=s)`): σ_i = shift(linspace(σ_max, 0, n+1)[i]), i < n, with σ_max = float32(0.999); then 0.
 *   Timesteps trunc(1000·σ_i) (int64 there). Diffusers ≤ 0.36 gives the same grid for UniPC. Both
 *   samplers use it: the official code ships no Euler sampler, so Euler steps on the same grid.
 * - 'diffusers': what diffusers ≥ 0.37 computes, per sampler.
 *   - UniPC (`UniPCMultistepScheduler(prediction_type='flow_prediction', use_flow_sigmas=True,
 *     flow_shift=s)`, as its Wan pipelines ship): σ = shift(linspace(1, 1/1000, n+1)[:-1]) in
 *     float64, the first lowered by 1e-6 when within 1e-6 of 1 (log(1 − σ) must stay finite);
 *     timesteps trunc(1000·σ) (int64), σ stored as float32, then 0.
 *     6 steps, shift 5: wan 999 961 908 833 713 499, diffusers 999 961 909 833 714 501.
 *   - Euler (`FlowMatchEulerDiscreteScheduler(shift=s)`): its training grid ends at
 *     σ_min = shift(1/1000) (computed in float32), and set_timesteps shifts again:
 *     σ = shift(linspace(1, σ_min, n)) — every interior σ differs from a single shift —, stored as
 *     float32; timesteps float32(σ·1000), not truncated; then 0.
 *
 * The UniPC solver itself (bh2, solver order 2, predictor-corrector, x0-prediction,
 * lower_order_final, final σ 0) is the same in both: diffusers' `multistep_uni_p_bh_update` /
 * `multistep_uni_c_bh_update`, which the official Wan2.2 scheduler copies.
 */

export type SchedulerKind = 'euler' | 'unipc';
export type FlowSigmas = 'wan' | 'diffusers';

export const NUM_TRAIN_TIMESTEPS = 1000;

export function shiftSigma(sigma: number, shift: number): number {
  return (shift * sigma) / (1 + (shift - 1) * sigma);
}

/** numpy.linspace(start, stop, num) in float64 (its formula: start + i·step, the last = stop). */
export function linspace(start: number, stop: number, num: number): number[] {
  if (num === 1) return [start];
  const step = (stop - start) / (num - 1);
  const out: number[] = [];
  for (let i = 0; i < num; i++) out.push(i === num - 1 ? stop : start + i * step);
  return out;
}

export interface FlowSchedule {
  /** n + 1 values, descending, the last 0. */
  sigmas: number[];
  /** n values passed to the transformer. */
  timesteps: number[];
}

/** shift(σ) in float32 arithmetic, as torch computes it on a float32 tensor. */
function shiftSigmaF32(sigma: number, shift: number): number {
  const f = Math.fround;
  const s = f(sigma);
  return f(f(f(shift) * s) / f(1 + f(f(shift - 1) * s)));
}

function wanGrid(steps: number, shift: number): FlowSchedule {
  const sigmaMax = Math.fround(0.999);
  const shifted = linspace(sigmaMax, 0, steps + 1)
    .slice(0, steps)
    .map((s) => shiftSigma(s, shift));
  return { sigmas: [...shifted.map((s) => Math.fround(s)), 0], timesteps: shifted.map((s) => Math.trunc(s * NUM_TRAIN_TIMESTEPS)) };
}

function diffusersUniPcGrid(steps: number, shift: number): FlowSchedule {
  const shifted = linspace(1, 1 / NUM_TRAIN_TIMESTEPS, steps + 1)
    .slice(0, steps)
    .map((s) => shiftSigma(s, shift));
  const eps = 1e-6;
  if (Math.abs((shifted[0] as number) - 1) < eps) shifted[0] = (shifted[0] as number) - eps;
  return { sigmas: [...shifted.map((s) => Math.fround(s)), 0], timesteps: shifted.map((s) => Math.trunc(s * NUM_TRAIN_TIMESTEPS)) };
}

function diffusersEulerGrid(steps: number, shift: number): FlowSchedule {
  // __init__: sigmas = shift(linspace(1, 1000, 1000)[::-1] / 1000) in float32; σ_max = 1, σ_min = the last.
  const sigmaMax = shiftSigmaF32(1, shift);
  const sigmaMin = shiftSigmaF32(Math.fround(1 / NUM_TRAIN_TIMESTEPS), shift);
  // set_timesteps: linspace over σ·1000 (float64), /1000, shift again (float64), then float32.
  const sigmas = linspace(sigmaMax * NUM_TRAIN_TIMESTEPS, sigmaMin * NUM_TRAIN_TIMESTEPS, steps).map((t) => Math.fround(shiftSigma(t / NUM_TRAIN_TIMESTEPS, shift)));
  return { sigmas: [...sigmas, 0], timesteps: sigmas.map((s) => Math.fround(s * NUM_TRAIN_TIMESTEPS)) };
}

export function flowSchedule(kind: SchedulerKind, steps: number, shift: number, grid: FlowSigmas = 'wan'): FlowSchedule {
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`steps must be a positive integer, got ${steps}`);
  if (!(shift > 0)) throw new RangeError(`shift must be positive, got ${shift}`);
  if (grid === 'wan') return wanGrid(steps, shift);
  return kind === 'euler' ? diffusersEulerGrid(steps, shift) : diffusersUniPcGrid(steps, shift);
}

/**
 * Which transformer denoises at timestep t (Wan2.2 A14B): the high-noise expert while
 * t ≥ boundary (boundary = boundary_ratio × 1000), the low-noise one below — diffusers'
 * `t >= boundary_timestep` and the official code's rule; t == boundary is high noise.
 */
export function expertAt(t: number, boundary: number | undefined): 'high' | 'low' {
  return boundary === undefined || t >= boundary ? 'high' : 'low';
}

/** A stateful sampler over Float32Array latents. */
export interface FlowSampler {
  readonly kind: SchedulerKind;
  readonly schedule: FlowSchedule;
  /** Advances step `index` (0-based, in order) given the velocity at sigmas[index]. */
  step(velocity: Float32Array, sample: Float32Array, index: number): Float32Array;
}

export class EulerFlowSampler implements FlowSampler {
  readonly kind = 'euler' as const;
  constructor(readonly schedule: FlowSchedule) {}

  step(velocity: Float32Array, sample: Float32Array, index: number): Float32Array {
    const sigma = this.schedule.sigmas[index];
    const next = this.schedule.sigmas[index + 1];
    if (sigma === undefined || next === undefined) throw new RangeError(`step ${index} out of range`);
    // float32, as diffusers' step computes σ_next − σ on its float32 sigmas.
    const dt = Math.fround(next - sigma);
    const out = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) out[i] = (sample[i] as number) + dt * (velocity[i] as number);
    return out;
  }
}

function lambdaOf(sigma: number): number {
  // alpha_t = 1 − σ, sigma_t = σ for flow sigmas; λ = log α − log σ (∞ at σ = 0).
  return Math.log(1 - sigma) - Math.log(sigma);
}

/** Solves a small dense linear system (Gaussian elimination with partial pivoting). */
function solve(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i] as number]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[p]![c]!)) p = r;
    [m[c], m[p]] = [m[p]!, m[c]!];
    for (let r = c + 1; r < n; r++) {
      const f = m[r]![c]! / m[c]![c]!;
      for (let k = c; k <= n; k++) m[r]![k]! -= f * m[c]![k]!;
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = m[r]![n]!;
    for (let k = r + 1; k < n; k++) s -= m[r]![k]! * x[k]!;
    x[r] = s / m[r]![r]!;
  }
  return x;
}

interface UniCoefficients {
  h: number;
  hPhi1: number;
  bH: number;
  rks: number[];
  b: number[];
}

/** Shared part of the UniPC predictor and corrector: h, r_k and the b vector (bh2). */
function uniCoefficients(sigmaT: number, sigmaS0: number, previousSigmas: number[], order: number): UniCoefficients {
  const lambdaT = lambdaOf(sigmaT);
  const lambdaS0 = lambdaOf(sigmaS0);
  const h = lambdaT - lambdaS0;
  const rks = previousSigmas.slice(0, order - 1).map((s) => (lambdaOf(s) - lambdaS0) / h);
  rks.push(1);
  const hh = -h; // x0-prediction
  const hPhi1 = Math.expm1(hh);
  let hPhiK = hPhi1 / hh - 1;
  let factorial = 1;
  const bH = Math.expm1(hh); // bh2
  const b: number[] = [];
  for (let i = 1; i <= order; i++) {
    b.push((hPhiK * factorial) / bH);
    factorial *= i + 1;
    hPhiK = hPhiK / hh - 1 / factorial;
  }
  return { h, hPhi1, bH, rks, b };
}

export class UniPcFlowSampler implements FlowSampler {
  readonly kind = 'unipc' as const;
  private readonly solverOrder = 2;
  /** Converted model outputs (x0 predictions), oldest first; at most solverOrder. */
  private x0History: Float32Array[] = [];
  private lastSample: Float32Array | undefined;
  private lowerOrderNums = 0;
  private thisOrder = 1;
  private expectedIndex = 0;

  constructor(readonly schedule: FlowSchedule) {}

  step(velocity: Float32Array, sample: Float32Array, index: number): Float32Array {
    if (index !== this.expectedIndex) throw new RangeError(`UniPC steps must run in order: expected ${this.expectedIndex}, got ${index}`);
    const sigmas = this.schedule.sigmas;
    const sigma = sigmas[index]!;
    const n = sample.length;
    // convert_model_output: x0 = x − σ·v
    const x0 = new Float32Array(n);
    for (let i = 0; i < n; i++) x0[i] = (sample[i] as number) - sigma * (velocity[i] as number);

    let current = sample;
    if (index > 0 && this.lastSample !== undefined) current = this.correct(x0, this.lastSample, sample, index, this.thisOrder);

    this.x0History.push(x0);
    if (this.x0History.length > this.solverOrder) this.x0History.shift();

    const remaining = this.schedule.timesteps.length - index;
    this.thisOrder = Math.min(Math.min(this.solverOrder, remaining), this.lowerOrderNums + 1);
    this.lastSample = current;
    const prev = this.predict(current, index, this.thisOrder);
    if (this.lowerOrderNums < this.solverOrder) this.lowerOrderNums++;
    this.expectedIndex++;
    return prev;
  }

  /** multistep_uni_p_bh_update (x0-prediction, bh2). */
  private predict(x: Float32Array, index: number, order: number): Float32Array {
    const sigmas = this.schedule.sigmas;
    const sigmaT = sigmas[index + 1]!;
    const sigmaS0 = sigmas[index]!;
    const m0 = this.x0History[this.x0History.length - 1]!;
    const previous: number[] = [];
    for (let i = 1; i < order; i++) previous.push(sigmas[index - i]!);
    const { hPhi1, bH, rks } = uniCoefficients(sigmaT, sigmaS0, previous, order);
    const alphaT = 1 - sigmaT;
    const ratio = sigmaT / sigmaS0;
    const n = x.length;
    const out = new Float32Array(n);
    if (order === 1) {
      for (let i = 0; i < n; i++) out[i] = ratio * (x[i] as number) - alphaT * hPhi1 * (m0[i] as number);
      return out;
    }
    // order 2: D1 = (m1 − m0) / r1, rhos_p = [0.5]
    const m1 = this.x0History[this.x0History.length - 2]!;
    const r1 = rks[0]!;
    const rho = 0.5;
    for (let i = 0; i < n; i++) {
      const m0i = m0[i] as number;
      const d1 = ((m1[i] as number) - m0i) / r1;
      out[i] = ratio * (x[i] as number) - alphaT * hPhi1 * m0i - alphaT * bH * rho * d1;
    }
    return out;
  }

  /** multistep_uni_c_bh_update (x0-prediction, bh2): corrects the sample that the last predictor gave. */
  private correct(modelT: Float32Array, lastSample: Float32Array, _thisSample: Float32Array, index: number, order: number): Float32Array {
    const sigmas = this.schedule.sigmas;
    const sigmaT = sigmas[index]!;
    const sigmaS0 = sigmas[index - 1]!;
    const m0 = this.x0History[this.x0History.length - 1]!;
    const previous: number[] = [];
    for (let i = 1; i < order; i++) previous.push(sigmas[index - (i + 1)]!);
    const { hPhi1, bH, rks, b } = uniCoefficients(sigmaT, sigmaS0, previous, order);
    let rhos: number[];
    if (order === 1) rhos = [0.5];
    else {
      const r: number[][] = [];
      for (let i = 1; i <= order; i++) r.push(rks.map((rk) => rk ** (i - 1)));
      rhos = solve(r, b);
    }
    const alphaT = 1 - sigmaT;
    const ratio = sigmaT / sigmaS0;
    const rhoLast = rhos[rhos.length - 1]!;
    const n = lastSample.length;
    const out = new Float32Array(n);
    const m1 = order >= 2 ? this.x0History[this.x0History.length - 2] : undefined;
    const r1 = rks[0]!;
    const rho0 = rhos[0]!;
    for (let i = 0; i < n; i++) {
      const m0i = m0[i] as number;
      let corr = 0;
      if (m1 !== undefined) corr = rho0 * (((m1[i] as number) - m0i) / r1);
      const d1t = (modelT[i] as number) - m0i;
      out[i] = ratio * (lastSample[i] as number) - alphaT * hPhi1 * m0i - alphaT * bH * (corr + rhoLast * d1t);
    }
    return out;
  }
}

export function createFlowSampler(kind: SchedulerKind, steps: number, shift: number, grid: FlowSigmas = 'wan'): FlowSampler {
  const schedule = flowSchedule(kind, steps, shift, grid);
  return kind === 'euler' ? new EulerFlowSampler(schedule) : new UniPcFlowSampler(schedule);
}
