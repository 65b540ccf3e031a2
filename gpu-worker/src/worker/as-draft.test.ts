import { describe, expect, it } from 'vitest';
import { parseVideoCommand, type RuntimeCapabilities } from '@framecast/core';
import { asDraft } from './generate-worker.ts';

const ti2v: RuntimeCapabilities = { version: 1, runtime: 'comfyui', model: 'ti2v-5b', sizes: [{ kind: 'list', sizes: [{ width: 1280, height: 704 }, { width: 704, height: 1280 }] }], imageInput: 'optional', maxFrames: 121, fps: 24 };
const grid: RuntimeCapabilities = { version: 1, runtime: 'comfyui', model: 't2v-a14b', sizes: [{ kind: 'grid', multiple: 16, minSide: 256, maxWidth: 1280, maxHeight: 1280, maxPixels: 1280 * 720 }], imageInput: 'none', maxFrames: 81, fps: 16 };

function finalSpec() {
  const r = parseVideoCommand('/video a harbour at night --ar 16:9 --seed 3');
  if (!r.ok) throw new Error('parse');
  return r.spec;
}

describe('the out-of-memory downgrade', () => {
  it('asks for a draft size the runtime renders, smaller than the final one', () => {
    const spec = finalSpec();
    const d = asDraft(spec, grid);
    expect(d).toMatchObject({ mode: 'draft', width: 848, height: 480, seed: 3 });
    expect(asDraft(spec, undefined)).toMatchObject({ mode: 'draft', width: 848, height: 480 });
  });

  it('is skipped on a runtime with one fixed size (a draft would be no smaller, or refused)', () => {
    const fitted = { ...finalSpec(), width: 1280, height: 704 };
    expect(asDraft(fitted, ti2v)).toBeUndefined();
  });
});
