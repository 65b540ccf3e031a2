/**
 * Writes the tiny random-weight Wan-style ONNX model (tests and the local demo).
 *   node bin/run-ts.mjs gpu-worker/scripts/make-tiny-model.ts [--out <dir>] [--variant ti2v|t2v|i2v] [--seed N] [--force]
 * Without --force an up-to-date model in <dir> is kept.
 */
import { parseArgs } from 'node:util';
import { defaultTinyWanDir, ensureTinyWanModel, writeTinyWanModel } from '../src/runtime/onnx/tiny-wan-model.ts';
import type { TinyWanVariant } from '../src/runtime/onnx/tiny-wan-model.ts';

const { values } = parseArgs({
  options: {
    out: { type: 'string' },
    variant: { type: 'string', default: 'ti2v' },
    seed: { type: 'string' },
    force: { type: 'boolean', default: false },
  },
});
const variants: readonly TinyWanVariant[] = ['ti2v', 't2v', 'i2v'];
const variant = variants.find((v) => v === values.variant);
if (variant === undefined) {
  console.error(`--variant must be one of ${variants.join(', ')}`);
  process.exit(2);
}
const seed = values.seed === undefined ? undefined : Number(values.seed);
if (seed !== undefined && !Number.isSafeInteger(seed)) {
  console.error('--seed must be an integer');
  process.exit(2);
}
const out = values.out ?? defaultTinyWanDir(variant);
const options = { variant, ...(seed === undefined ? {} : { seed }) };
if (values.force) await writeTinyWanModel(out, options);
else await ensureTinyWanModel(out, options);
console.log(out);
