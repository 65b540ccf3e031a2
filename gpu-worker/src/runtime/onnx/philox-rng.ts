/**
 * Seeded noise that is the same on every machine: Philox4x32-10 (Salmon et al., "Parallel random
 * numbers: as easy as 1, 2, 3", SC'11), a counter-based generator, so value i of a stream depends
 * only on (seed, stream, i). Normals come from Box–Muller in float64, rounded to float32. All math
 * is integer arithmetic plus Math.log/sqrt/cos/sin, which V8 computes in software (fdlibm port), so
 * results do not depend on the CPU.
 */

const PHILOX_M0 = 0xd2511f53;
const PHILOX_M1 = 0xcd9e8d57;
const PHILOX_W0 = 0x9e3779b9;
const PHILOX_W1 = 0xbb67ae85;

/** High 32 bits of the 64-bit product of two uint32. */
function mulhi32(a: number, b: number): number {
  const aLo = a & 0xffff;
  const aHi = a >>> 16;
  const bLo = b & 0xffff;
  const bHi = b >>> 16;
  const lolo = aLo * bLo;
  const lohi = aLo * bHi;
  const hilo = aHi * bLo;
  const hihi = aHi * bHi;
  // Sum of the middle terms and the carry out of the low word, all < 2^53.
  const mid = (lolo >>> 16) + (lohi & 0xffff) + (hilo & 0xffff);
  return (hihi + (lohi >>> 16) + (hilo >>> 16) + Math.floor(mid / 0x10000)) >>> 0;
}

/** One Philox4x32-10 block: counter (4 words) and key (2 words) → 4 uint32 words. */
export function philox4x32(counter: readonly [number, number, number, number], key: readonly [number, number], rounds = 10): [number, number, number, number] {
  let c0 = counter[0] >>> 0;
  let c1 = counter[1] >>> 0;
  let c2 = counter[2] >>> 0;
  let c3 = counter[3] >>> 0;
  let k0 = key[0] >>> 0;
  let k1 = key[1] >>> 0;
  for (let r = 0; r < rounds; r++) {
    if (r > 0) {
      k0 = (k0 + PHILOX_W0) >>> 0;
      k1 = (k1 + PHILOX_W1) >>> 0;
    }
    const hi0 = mulhi32(PHILOX_M0, c0);
    const lo0 = Math.imul(PHILOX_M0, c0) >>> 0;
    const hi1 = mulhi32(PHILOX_M1, c2);
    const lo1 = Math.imul(PHILOX_M1, c2) >>> 0;
    const n0 = (hi1 ^ c1 ^ k0) >>> 0;
    const n1 = lo1;
    const n2 = (hi0 ^ c3 ^ k1) >>> 0;
    const n3 = lo0;
    c0 = n0;
    c1 = n1;
    c2 = n2;
    c3 = n3;
  }
  return [c0, c1, c2, c3];
}

/** Splits a non-negative integer seed (< 2^53) into the two key words. */
export function seedKey(seed: number): [number, number] {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`seed must be a non-negative safe integer, got ${seed}`);
  return [seed % 0x100000000 >>> 0, Math.floor(seed / 0x100000000) >>> 0];
}

const TWO_POW_26 = 67108864;
const TWO_POW_53 = 9007199254740992;

/** A uniform in the open interval (0, 1) with 53 random bits from two words. */
function uniform53(a: number, b: number): number {
  return ((a >>> 5) * TWO_POW_26 + (b >>> 6) + 0.5) / TWO_POW_53;
}

/**
 * `count` standard normals for (seed, stream): block j (counter [j mod 2^32, j / 2^32, stream, 0])
 * gives normals 2j and 2j+1 by Box–Muller on its two 53-bit uniforms.
 */
export function philoxNormals(seed: number, count: number, stream = 0): Float32Array {
  const key = seedKey(seed);
  const out = new Float32Array(count);
  const blocks = Math.ceil(count / 2);
  for (let j = 0; j < blocks; j++) {
    const [w0, w1, w2, w3] = philox4x32([j >>> 0, Math.floor(j / 0x100000000) >>> 0, stream >>> 0, 0], key);
    const u1 = uniform53(w0, w1);
    const u2 = uniform53(w2, w3);
    const r = Math.sqrt(-2 * Math.log(u1));
    const theta = 2 * Math.PI * u2;
    out[2 * j] = r * Math.cos(theta);
    if (2 * j + 1 < count) out[2 * j + 1] = r * Math.sin(theta);
  }
  return out;
}
