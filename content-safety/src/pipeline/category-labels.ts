import type { ContentModerator, LocalizedText, ModerationContext, ModerationVerdict } from '@framecast/core';

/**
 * Gives every hit of a moderator's verdicts its category's name for users (from the keyword lists'
 * categories.json), so that a refusal names the category in the user's language whichever checker
 * decided: the keyword filter, the NSFW classifier (`nsfw-image`) or WeChat's checks. A hit that
 * already carries a label, or whose category has none, is left as it is.
 */
export function withCategoryLabels(moderator: ContentModerator, labelOf: (category: string) => LocalizedText | undefined): ContentModerator {
  const label = (v: ModerationVerdict): ModerationVerdict => ({
    ...v,
    hits: v.hits.map((h) => {
      if (h.categoryLabel !== undefined) return h;
      const categoryLabel = labelOf(h.category);
      return categoryLabel === undefined ? h : { ...h, categoryLabel };
    }),
  });
  const moderateImage = moderator.moderateImage?.bind(moderator);
  return {
    moderateText: async (text: string, ctx?: ModerationContext) => label(await moderator.moderateText(text, ctx)),
    ...(moderateImage === undefined ? {} : { moderateImage: async (image: Parameters<typeof moderateImage>[0], ctx?: ModerationContext) => label(await moderateImage(image, ctx)) }),
  };
}
