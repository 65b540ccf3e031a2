/**
 * ensureNsfwModel writes the conversion once, reuses it, rebuilds it when its stamp is stale or the
 * file is damaged; the converter refuses layers it does not know instead of guessing.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { KerasConversionError, convertKerasToOnnx, ensureNsfwModel, loadNsfwjsModel } from '@framecast/content-safety';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'nsfw-model-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('converts once, reuses the file, and rebuilds a stale or damaged one', async () => {
  const file = await ensureNsfwModel({ dir });
  expect(file).toBe(path.join(dir, 'nsfwjs-mobilenet_v2.onnx'));
  const first = await stat(file);
  const stamp = JSON.parse(await readFile(`${file}.json`, 'utf8')) as { nsfwjsVersion: string; bytes: number };
  expect(stamp.nsfwjsVersion).toBe('4.4.0');
  expect(stamp.bytes).toBe(first.size);

  // Concurrent callers all get a loadable file.
  const again = await Promise.all([ensureNsfwModel({ dir }), ensureNsfwModel({ dir })]);
  expect(again).toEqual([file, file]);
  expect((await stat(file)).mtimeMs).toBe(first.mtimeMs);

  await writeFile(file, 'damaged');
  await ensureNsfwModel({ dir });
  expect((await stat(file)).size).toBe(first.size);

  const session = await ort.InferenceSession.create(file);
  expect(session.inputNames).toEqual(['input']);
  expect(session.outputNames).toEqual(['probabilities']);
  await session.release();
});

it('refuses an unknown layer and a missing weight', () => {
  const source = loadNsfwjsModel('mobilenet_v2');
  const withLstm = { ...source, layers: source.layers.map((l, i) => (i === 3 ? { ...l, class_name: 'LSTM' } : l)) };
  expect(() => convertKerasToOnnx(withLstm)).toThrow(KerasConversionError);
  expect(() => convertKerasToOnnx(withLstm)).toThrow(/LSTM is not supported/);
  const weights = new Map(source.weights);
  weights.delete('Conv1/kernel');
  expect(() => convertKerasToOnnx({ ...source, weights })).toThrow(/missing weight Conv1\/kernel/);
});
