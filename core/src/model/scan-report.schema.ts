import { z } from 'zod';

/**
 * The output scan's report, written by the worker to the blob store next to the video when the
 * video is held for review (`scans/<jobId>/report.json`), with small JPEG thumbnails of the
 * frames it lists (`scans/<jobId>/frame-<i>.jpg`). The admin console reads it back through the
 * blob store, so it is parsed with this schema there (a store is a trust boundary).
 */

/** Most frames a report lists (each with a thumbnail). */
export const SCAN_REPORT_MAX_FRAMES = 16;
/** Width of a frame thumbnail (a narrower video keeps its own width). */
export const SCAN_THUMBNAIL_WIDTH = 320;

const JOB_ID = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);
const LABEL = z.string().min(1).max(40);

/** Scores by category (the classifier's classes, e.g. Porn, Sexy), each in [0, 1]. */
const ScoresSchema = z.record(LABEL, z.number().min(0).max(1)).refine((s) => Object.keys(s).length <= 16, 'at most 16 categories');

const ScanRuleSchema = z.object({
  classes: z.array(LABEL).max(16),
  min: z.number().min(0).max(1),
});

export const ScanReportFrameSchema = z.object({
  /** Position among the report's frames (0-based): the thumbnail is frame-<index>.jpg. */
  index: z.number().int().min(0).max(SCAN_REPORT_MAX_FRAMES - 1),
  timeSec: z.number().min(0).max(86_400),
  scores: ScoresSchema,
  /** The frame's own verdict under the thresholds. */
  action: z.enum(['allow', 'review', 'block']).optional(),
  /** The thumbnail's blob key; absent when it could not be made. */
  key: z.string().regex(/^scans\/[A-Za-z0-9_-]{1,64}\/frame-\d{1,2}\.jpg$/).optional(),
});

export const ScanReportSchema = z.object({
  version: z.literal(1),
  jobId: JOB_ID,
  /** The scan's verdict for the whole video. */
  verdict: z.enum(['allow', 'review', 'block']),
  category: LABEL.optional(),
  /** Seconds into the video of the frames that decided. */
  decidingFrames: z.array(z.number().min(0).max(86_400)).max(1000),
  /** The rules the scores were judged by (a frame reaching `min` in the sum of `classes`). */
  thresholds: z.object({ block: ScanRuleSchema.optional(), review: ScanRuleSchema.optional() }).optional(),
  /** How many frames the scan scored (the report lists at most SCAN_REPORT_MAX_FRAMES of them). */
  scannedFrames: z.number().int().min(0).max(100_000),
  frames: z.array(ScanReportFrameSchema).max(SCAN_REPORT_MAX_FRAMES),
  /** Epoch milliseconds. */
  createdAt: z.number().int().min(0),
});

export type ScanReport = z.infer<typeof ScanReportSchema>;
export type ScanReportFrame = z.infer<typeof ScanReportFrameSchema>;

/** Where a job's scan report lives in the blob store. */
export function scanReportKey(jobId: string): string {
  return `scans/${jobId}/report.json`;
}

/** Where the thumbnail of a report's frame `index` lives in the blob store. */
export function scanFrameKey(jobId: string, index: number): string {
  return `scans/${jobId}/frame-${index}.jpg`;
}

/** Reads a report's JSON text; undefined when it is not a valid report (or too large to be one). */
export function parseScanReport(text: string): ScanReport | undefined {
  if (text.length > 256 * 1024) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const r = ScanReportSchema.safeParse(json);
  return r.success ? r.data : undefined;
}
