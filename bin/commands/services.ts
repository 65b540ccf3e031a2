import { createSafeFetcher, combineModerators, createKeywordModerator, createNsfwImageModerator, createReferenceImageIntake, defaultKeywordListDir, KeywordFilter, NsfwClassifier } from '@framecast/content-safety';
import type { BlobStore, ContentModerator, FramecastConfig, ReferenceImageIntake } from '@framecast/core';

/** The moderation the product runs: the keyword filter on text, the NSFW classifier on images. */
export async function productModerator(config: FramecastConfig): Promise<{ moderator: ContentModerator; keywords: KeywordFilter; nsfw: NsfwClassifier }> {
  const keywords = await KeywordFilter.fromDirectory(config.env.FRAMECAST_KEYWORD_LISTS ?? defaultKeywordListDir());
  const nsfw = await NsfwClassifier.load({
    thresholds: {
      block: { classes: ['Porn', 'Hentai'], min: config.env.FRAMECAST_NSFW_BLOCK },
      review: { classes: ['Sexy'], min: config.env.FRAMECAST_NSFW_REVIEW },
    },
  });
  const moderator = combineModerators([createKeywordModerator(keywords), { ...createNsfwImageModerator(nsfw), moderateText: async () => ({ action: 'allow', hits: [], source: 'nsfw-onnx' }) }]);
  return { moderator, keywords, nsfw };
}

/** Reference images from attachments: SSRF-guarded fetch, safe decoding, stored by hash. */
export function productImageIntake(store: BlobStore): ReferenceImageIntake {
  return createReferenceImageIntake({ store, fetcher: createSafeFetcher({ maxBytes: 20 * 1024 * 1024, timeoutMs: 20_000, maxRedirects: 5 }) });
}
