import type { BlobStore, ContentModerator, FramecastConfig, ReferenceImageIntake } from '@framecast/core';
import type { Logger } from 'pino';
import { createSafeFetcher } from '../fetch/index.ts';
import { createKeywordModerator, defaultKeywordListDir, KeywordFilter } from '../keyword/index.ts';
import { createNsfwImageModerator, NsfwClassifier } from '../nsfw/index.ts';
import { createWeChatModerator } from '../remote/index.ts';
import { withCategoryLabels } from './category-labels.ts';
import { combineModerators } from './combined-moderator.ts';
import { createReferenceImageIntake } from './reference-image-intake.ts';

export interface ProductModeratorOptions {
  /** Reload the keyword lists when their files change (long-running processes). */
  watch?: boolean;
  logger?: Logger;
  /** For WeChat's image check, which downloads from a public URL. */
  store?: BlobStore;
}

/** The product's keyword filter: FRAMECAST_KEYWORD_LISTS, or the lists shipped in content-safety/lists. */
export async function createProductKeywordFilter(config: FramecastConfig, opts: Pick<ProductModeratorOptions, 'logger'> = {}): Promise<KeywordFilter> {
  return KeywordFilter.fromDirectory(config.env.FRAMECAST_KEYWORD_LISTS ?? defaultKeywordListDir(), {
    onReload: () => opts.logger?.info('keyword lists reloaded'),
    onReloadError: (err: unknown) => opts.logger?.error({ err }, 'keyword lists not reloaded: the old lists stay in force'),
  });
}

/** The product's NSFW classifier: block on Porn + Hentai ≥ FRAMECAST_NSFW_BLOCK, review on Sexy ≥ FRAMECAST_NSFW_REVIEW. */
export async function createProductNsfwClassifier(config: FramecastConfig): Promise<NsfwClassifier> {
  return NsfwClassifier.load({
    thresholds: {
      block: { classes: ['Porn', 'Hentai'], min: config.env.FRAMECAST_NSFW_BLOCK },
      review: { classes: ['Sexy'], min: config.env.FRAMECAST_NSFW_REVIEW },
    },
  });
}

/**
 * The moderation the product runs: the keyword filter on text, the NSFW classifier on images and,
 * when configured, WeChat's own checks for mini program users (asked after the local ones allow).
 */
export async function createProductModerator(config: FramecastConfig, opts: ProductModeratorOptions = {}): Promise<{ moderator: ContentModerator; keywords: KeywordFilter; nsfw: NsfwClassifier; stop: () => void }> {
  const keywords = await createProductKeywordFilter(config, opts);
  const stop = opts.watch === true ? keywords.watch() : () => undefined;
  const nsfw = await createProductNsfwClassifier(config);
  const local: ContentModerator[] = [
    createKeywordModerator(keywords),
    { ...createNsfwImageModerator(nsfw), moderateText: async () => ({ action: 'allow', hits: [], source: 'nsfw-onnx' }) },
  ];
  const remote: ContentModerator[] = [];
  const e = config.env;
  const store = opts.store;
  const wechat = createWeChatModerator(
    { enabled: e.FRAMECAST_WECHAT_CHECKS, appId: e.WECHAT_APP_ID, appSecret: e.WECHAT_APP_SECRET, baseUrl: e.WECHAT_API_BASE_URL },
    store === undefined
      ? {}
      : {
          publishImage: async (jpeg: Buffer) => {
            const key = `published/wechat-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}.jpg`;
            await store.put(key, jpeg, 'image/jpeg');
            return store.url(key, 3600);
          },
        },
  );
  if (wechat !== undefined) {
    // Only mini program users have an openid; nobody else can be checked by WeChat.
    remote.push({
      moderateText: (text, ctx) => (ctx?.openid === undefined ? Promise.resolve({ action: 'allow', hits: [], source: 'wechat-skipped' }) : wechat.moderateText(text, ctx)),
      moderateImage: (image, ctx) => (ctx?.openid === undefined ? Promise.resolve({ action: 'allow', hits: [], source: 'wechat-skipped' }) : wechat.moderateImage(image, ctx)),
    });
  }
  // Refusals name the category in the user's language, from categories.json, whoever decided.
  const moderator = withCategoryLabels(combineModerators(local, remote), (category) => keywords.categoryLabel(category));
  return { moderator, keywords, nsfw, stop };
}

/** Reference images from attachments: SSRF-guarded fetch, safe decoding, stored by hash. */
export function createProductImageIntake(store: BlobStore): ReferenceImageIntake {
  return createReferenceImageIntake({ store, fetcher: createSafeFetcher({ maxBytes: 20 * 1024 * 1024, timeoutMs: 20_000, maxRedirects: 5 }) });
}
