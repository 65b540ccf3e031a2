import { readFile, stat } from 'node:fs/promises';
import { createSafeFetcher, decodeImageSafely, fetchImageSafely, scanVideo, VideoScanError, type SafeImageResult } from '@framecast/content-safety';
import { loadConfig } from '@framecast/core';
import { printJson, UsageError } from './cli-context.ts';
import { createProductModerator as productModerator } from '@framecast/content-safety';

const MAX_IMAGE_BYTES = 20 * 1024 * 1024;

/** `framecast moderate text|image|video <input>`: a JSON verdict (allow | review | block) with its reasons. */
export async function moderateCommand(kind: string, input: string): Promise<void> {
  if (!['text', 'image', 'video'].includes(kind)) throw new UsageError(`kind must be text, image or video, got "${kind}"`);
  const config = loadConfig();
  const { keywords, nsfw } = await productModerator(config);
  if (kind === 'text') {
    const r = keywords.scan(input);
    printJson({
      kind, verdict: r.action,
      hits: r.hits.map((h) => ({ word: h.word, category: h.category, action: h.action, start: h.start, end: h.end, matchedText: h.matchedText })),
      ...(r.overLength === undefined ? {} : { overLength: r.overLength }),
    });
    return;
  }
  if (kind === 'image') {
    let img: SafeImageResult;
    if (/^[a-z][a-z0-9+.-]*:/i.test(input)) {
      img = await fetchImageSafely(input, createSafeFetcher({ maxBytes: MAX_IMAGE_BYTES, timeoutMs: 20_000 }));
    } else {
      const st = await stat(input).catch(() => undefined);
      if (st === undefined || !st.isFile()) throw new UsageError(`no such file: ${input}`);
      if (st.size > MAX_IMAGE_BYTES) {
        img = await decodeImageSafely(Buffer.alloc(MAX_IMAGE_BYTES + 1));
      } else {
        img = await decodeImageSafely(await readFile(input));
      }
    }
    if (!img.ok) {
      printJson({ kind, verdict: 'refused', code: img.code, ...(img.fetchCode === undefined ? {} : { fetchCode: img.fetchCode }), message: img.message });
      process.exitCode = 1;
      return;
    }
    const v = await nsfw.moderateRgb(img.rgb, img.width, img.height);
    printJson({ kind, verdict: v.action, ...v });
    return;
  }
  const st = await stat(input).catch(() => undefined);
  if (st === undefined || !st.isFile()) throw new UsageError(`no such file: ${input}`);
  try {
    const v = await scanVideo(input, nsfw, { framesPerSecond: config.env.FRAMECAST_SCAN_FPS, maxFrames: config.env.FRAMECAST_SCAN_MAX_FRAMES });
    printJson({ kind, verdict: v.action, decidingFrames: v.decidingFrames, durationSec: v.durationSec, frames: v.frames });
  } catch (err) {
    if (!(err instanceof VideoScanError)) throw err;
    printJson({ kind, verdict: 'refused', code: err.code, message: err.message });
    process.exitCode = 1;
  }
}
