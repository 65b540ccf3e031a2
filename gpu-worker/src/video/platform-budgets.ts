const MiB = 1024 * 1024;

export type DeliveryPlatform = 'discord' | 'slack' | 'wechat' | 'miniprogram';

export interface PlatformVideoBudget {
  /** Largest video file we upload as an attachment; null = always deliver by URL. */
  maxBytes: number | null;
  /** What to do when the video is larger even after fitToBudget. */
  fallback: 'link';
  /** Where the number comes from, and how sure it is. */
  source: string;
}

/**
 * Per-platform upload budgets, as data. The delivery side picks one, runs fitToBudget, and falls back
 * to a (signed) link when the video still does not fit.
 */
export const PLATFORM_VIDEO_BUDGETS: Readonly<Record<DeliveryPlatform, PlatformVideoBudget>> = Object.freeze({
  discord: {
    maxBytes: 10 * MiB,
    fallback: 'link',
    source:
      'Discord docs: 10 MiB per file by default; each interaction carries attachment_size_limit (boosted servers more); a request is capped at 25 MiB',
  },
  slack: {
    maxBytes: 250 * MiB,
    fallback: 'link',
    source:
      'Slack allows 1 GB per file; 250 MiB is our practical cap (upload time from a worker, inline playback on mobile). Our choice, not Slack\'s',
  },
  wechat: {
    maxBytes: 20 * 1000 * 1000,
    fallback: 'link',
    source:
      'GUESS: WeChat video messages through wechaty puppets fail unreliably above ~20 MB (and big sends fail on some puppets anyway). Tune with real puppets',
  },
  miniprogram: {
    maxBytes: null,
    fallback: 'link',
    source: 'The mini program plays from a URL (<video src>): no upload budget; serve from blob storage',
  },
});

/**
 * The byte budget for a platform. For Discord pass the interaction's `attachment_size_limit` when
 * known (it replaces the 10 MiB default, but never beyond the 25 MiB request cap).
 */
export function videoBudgetFor(platform: DeliveryPlatform, context: { attachmentSizeLimit?: number } = {}): number | null {
  const budget = PLATFORM_VIDEO_BUDGETS[platform];
  if (platform === 'discord' && context.attachmentSizeLimit !== undefined && context.attachmentSizeLimit > 0) {
    return Math.min(context.attachmentSizeLimit, 25 * MiB);
  }
  return budget.maxBytes;
}
