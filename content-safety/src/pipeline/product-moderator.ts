import { randomBytes } from 'node:crypto';
import type { BlobStore, ContentModerator, FramecastConfig, ModerationContext, ReferenceImageIntake } from '@framecast/core';
import type { Logger } from 'pino';
import { createSafeFetcher } from '../fetch/index.ts';
import { createKeywordModerator, defaultKeywordListDir, KeywordFilter } from '../keyword/index.ts';
import { createNsfwImageModerator, NsfwClassifier } from '../nsfw/index.ts';
import { createWeChatModerator, noteVerdict, type PublishImage } from '../remote/index.ts';
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
    // The image check does not hold up the request: it is submitted, the job is held ('review'),
    // and the verdict WeChat pushes later decides (bots/miniprogram-api applies it).
    { deferImageVerdicts: true, ...(store === undefined ? {} : { publishImage: wechatImagePublisher(store) }) },
  );
  if (wechat !== undefined) {
    // Only mini program users have an openid; nobody else can be checked by WeChat.
    remote.push({
      moderateText: (text, ctx) => (ctx?.openid === undefined ? Promise.resolve({ action: 'allow', hits: [], source: 'wechat-skipped' }) : wechat.moderateText(text, ctx)),
      moderateImage: (image, ctx) => (ctx?.openid === undefined ? Promise.resolve({ action: 'allow', hits: [], source: 'wechat-skipped' }) : wechat.moderateImage(image, ctx)),
    });
  }
  // Refusals name the category in the user's language, from categories.json, whoever decided.
  const labelled = withCategoryLabels(combineModerators(local, remote), (category) => keywords.categoryLabel(category));
  // What else asked for a review is noted for whoever links WeChat's pending image checks to the job.
  const moderator: ContentModerator = {
    moderateText: async (text, ctx) => {
      const v = await labelled.moderateText(text, ctx);
      noteVerdict(v);
      return v;
    },
    ...(labelled.moderateImage === undefined
      ? {}
      : {
          moderateImage: async (image: { data: Uint8Array; width: number; height: number }, ctx?: ModerationContext) => {
            const v = await (labelled.moderateImage as NonNullable<ContentModerator['moderateImage']>)(image, ctx);
            noteVerdict(v);
            return v;
          },
        }),
  };
  return { moderator, keywords, nsfw, stop };
}

/** How long WeChat may take to download a checked image from its signed link. */
export const WECHAT_CHECK_LINK_TTL_SECONDS = 3600;

/**
 * Puts the JPEG WeChat checks where WeChat can download it: under `previews/` (the one image
 * folder the HTTP server's /media/ route serves behind a signed, expiring link when storage is
 * local and FRAMECAST_PUBLIC_URL is set; a presigned link on S3). The name is random, so a link
 * is the only way to it. A store that cannot make a public http(s) link is refused.
 */
export function wechatImagePublisher(store: BlobStore): PublishImage {
  return async (jpeg: Buffer) => {
    const key = `previews/wechat-check-${randomBytes(16).toString('hex')}.jpg`;
    await store.put(key, jpeg, 'image/jpeg');
    const url = await store.url(key, WECHAT_CHECK_LINK_TTL_SECONDS);
    if (!/^https?:\/\//.test(url)) throw new Error('WeChat\'s image check needs a public link: set FRAMECAST_PUBLIC_URL (local storage) or use S3');
    return url;
  };
}

/** Reference images from attachments: SSRF-guarded fetch, safe decoding, stored by hash. */
export function createProductImageIntake(store: BlobStore): ReferenceImageIntake {
  return createReferenceImageIntake({ store, fetcher: createSafeFetcher({ maxBytes: 20 * 1024 * 1024, timeoutMs: 20_000, maxRedirects: 5 }) });
}
