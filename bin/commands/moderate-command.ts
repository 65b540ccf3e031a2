import { readFile, stat } from 'node:fs/promises';
import {
  createProductKeywordFilter,
  createProductNsfwClassifier,
  createSafeFetcher,
  decodeImageSafely,
  fetchImageSafely,
  ruleScore,
  scanVideo,
  VideoScanError,
  type NsfwClassifier,
  type NsfwScores,
  type NsfwVerdict,
  type SafeImageResult,
  type VideoScanVerdict,
} from '@framecast/content-safety';
import { loadConfig } from '@framecast/core';
import { UsageError } from './cli-context.ts';

const MAX_IMAGE_BYTES = 20 * 1024 * 1024;

/**
 * The exit status of `framecast moderate` for each verdict, so a script can branch on it without
 * reading the JSON. A refused input (not an image, not a video) exits 1 and bad usage 2, as for
 * every command.
 */
export const MODERATE_EXIT_CODES = Object.freeze({ allow: 0, review: 3, block: 4 } as const);

export interface ModerateOptions {
  /** Every crop and window of an image, every sampled frame of a video. */
  verbose?: boolean;
}

/**
 * `framecast moderate text|image|video <input>`: a JSON verdict (allow | review | block) with its
 * reasons, and the exit status MODERATE_EXIT_CODES[verdict]. Only what the kind needs is loaded
 * (text: the keyword lists; image and video: the NSFW model), and the input is checked first.
 */
export async function moderateCommand(kind: string, input: string, opts: ModerateOptions = {}): Promise<void> {
  if (!['text', 'image', 'video'].includes(kind)) throw new UsageError(`kind must be text, image or video, got "${kind}"`);
  const config = loadConfig();
  if (kind === 'text') {
    const r = (await createProductKeywordFilter(config)).scan(input);
    printJson({
      kind, verdict: r.action,
      hits: r.hits.map((h) => ({ word: h.word, category: h.category, action: h.action, start: h.start, end: h.end, matchedText: h.matchedText, ...(h.rule === undefined ? {} : { rule: h.rule }) })),
      ...(r.overLength === undefined ? {} : { overLength: r.overLength }),
    });
    process.exitCode = MODERATE_EXIT_CODES[r.action];
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
    const nsfw = await createProductNsfwClassifier(config);
    const v = await nsfw.moderateRgb(img.rgb, img.width, img.height);
    printJson({ kind, ...imageSummary(v, nsfw), ...(opts.verbose === true ? { crops: v.crops } : {}) });
    process.exitCode = MODERATE_EXIT_CODES[v.action];
    return;
  }
  const st = await stat(input).catch(() => undefined);
  if (st === undefined || !st.isFile()) throw new UsageError(`no such file: ${input}`);
  const nsfw = await createProductNsfwClassifier(config);
  let v: VideoScanVerdict;
  try {
    v = await scanVideo(input, nsfw, { framesPerSecond: config.env.FRAMECAST_SCAN_FPS, maxFrames: config.env.FRAMECAST_SCAN_MAX_FRAMES });
  } catch (err) {
    if (!(err instanceof VideoScanError)) throw err;
    printJson({ kind, verdict: 'refused', code: err.code, message: err.message });
    process.exitCode = 1;
    return;
  }
  printJson({ kind, ...videoSummary(v), ...(opts.verbose === true ? { frames: v.frames } : {}) });
  process.exitCode = MODERATE_EXIT_CODES[v.action];
}

/** JSON for people as well as scripts: a value that fits in 100 columns is printed on one line. */
export function compactJson(value: unknown, indent = ''): string {
  const line = JSON.stringify(value, null, 1).replace(/\n\s*/g, ' ');
  if (value === null || typeof value !== 'object' || indent.length + line.length <= 100) return line;
  const inner = `${indent}  `;
  const entries = Array.isArray(value)
    ? value.map((v) => `${inner}${compactJson(v, inner)}`)
    : Object.entries(value).map(([k, v]) => `${inner}${JSON.stringify(k)}: ${compactJson(v, inner)}`);
  return Array.isArray(value) ? `[\n${entries.join(',\n')}\n${indent}]` : `{\n${entries.join(',\n')}\n${indent}}`;
}

function printJson(value: unknown): void {
  process.stdout.write(`${compactJson(value)}\n`);
}

const round = (x: number): number => Math.round(x * 10_000) / 10_000;
const roundScores = (s: NsfwScores): NsfwScores =>
  Object.fromEntries(Object.entries(s).map(([k, x]) => [k, round(x)])) as NsfwScores;

/**
 * The verdict on one image, short: the whole image's class scores, and the worst crop or window
 * (the one that decided; for allow, the one closest to the block rule) with its rule scores.
 */
function imageSummary(v: NsfwVerdict, nsfw: NsfwClassifier) {
  const { block, review } = nsfw.thresholds;
  const byBlock = v.crops.reduce((a, b) => (ruleScore(b.scores, block) > ruleScore(a.scores, block) ? b : a));
  const worst = v.crops.find((c) => c.crop === v.decidedBy) ?? byBlock;
  return {
    verdict: v.action,
    decidedBy: v.decidedBy,
    scores: roundScores(v.crops[0]?.scores ?? v.scores),
    worst: {
      crop: worst.crop,
      rect: worst.rect,
      blockScore: round(ruleScore(worst.scores, block)),
      reviewScore: round(ruleScore(worst.scores, review)),
      scores: roundScores(worst.scores),
    },
    blockScore: round(v.blockScore),
    reviewScore: round(v.reviewScore),
    thresholds: nsfw.thresholds,
    cropsScored: v.crops.length,
  };
}

/** The verdict on a video, short: the deciding frames and the worst frame; the rest with --verbose. */
function videoSummary(v: VideoScanVerdict) {
  const rank = { allow: 0, review: 1, block: 2 } as const;
  const worst = v.frames.reduce((a, b) => (rank[b.action] > rank[a.action] || (rank[b.action] === rank[a.action] && (b.blockScore ?? 0) > (a.blockScore ?? 0)) ? b : a));
  return {
    verdict: v.action,
    decidingFrames: v.decidingFrames,
    durationSec: v.durationSec,
    worstFrame: {
      timeSec: worst.timeSec,
      action: worst.action,
      decidedBy: worst.decidedBy ?? null,
      ...(worst.blockScore === undefined ? {} : { blockScore: round(worst.blockScore) }),
      scores: roundScores(worst.scores),
    },
    framesScored: v.frames.length,
  };
}
