/**
 * Converts nsfwjs's shipped models to ONNX under <repo>/models/nsfw (or --dir):
 *   node bin/run-ts.mjs content-safety/scripts/convert-nsfw.ts [--model mobilenet_v2|inception_v3|all] [--dir DIR]
 * Idempotent: an up-to-date conversion is left alone. Prints the paths as JSON.
 */
import { parseArgs } from 'node:util';
import { stat } from 'node:fs/promises';
import { ensureNsfwModel, DEFAULT_NSFW_MODEL_DIR } from '../src/nsfw/ensure-nsfw-model.ts';
import type { NsfwModelName } from '../src/nsfw/nsfwjs-model-source.ts';

const { values } = parseArgs({
  options: { model: { type: 'string', default: 'mobilenet_v2' }, dir: { type: 'string', default: DEFAULT_NSFW_MODEL_DIR } },
});
const all: NsfwModelName[] = ['mobilenet_v2', 'inception_v3'];
const wanted = values.model === 'all' ? all : all.filter((m) => m === values.model);
if (wanted.length === 0) {
  console.error(`unknown --model ${values.model}; use ${all.join('|')}|all`);
  process.exit(2);
}
const out: Record<string, { path: string; bytes: number }> = {};
for (const model of wanted) {
  const path = await ensureNsfwModel({ model, dir: values.dir });
  out[model] = { path, bytes: (await stat(path)).size };
}
console.log(JSON.stringify(out, null, 2));
