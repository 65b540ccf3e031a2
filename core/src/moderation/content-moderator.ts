import type { LocalizedText } from '../i18n/messages.ts';

/**
 * The port through which the core asks for moderation. The content-safety package provides
 * implementations; the core never imports it directly.
 */
export type ModerationAction = 'allow' | 'review' | 'block';

export interface ModerationHit {
  /** e.g. violence, sexual, politics, fraud, nsfw-image */
  category: string;
  /** The matched word or class name. */
  match: string;
  /** Offsets in the original text (UTF-16 code units, end exclusive), for text hits. */
  start?: number;
  end?: number;
  score?: number;
  /**
   * The category's name for users, in each language (the keyword lists' categories.json). Intake
   * falls back to the catalogue's generic 'category.policy' when a moderator gives none.
   */
  categoryLabel?: LocalizedText;
}

export interface ModerationVerdict {
  action: ModerationAction;
  hits: ModerationHit[];
  /** Which checker decided (keyword, nsfw-onnx, wechat-msgseccheck, …). */
  source: string;
}

export interface ModerationContext {
  platform?: string;
  userId?: string;
  /** WeChat openid, for the remote checkers that need one. */
  openid?: string;
}

export interface ContentModerator {
  moderateText(text: string, ctx?: ModerationContext): Promise<ModerationVerdict>;
  /** Image bytes already decoded safely (RGB); optional for text-only moderators. */
  moderateImage?(image: { data: Uint8Array; width: number; height: number }, ctx?: ModerationContext): Promise<ModerationVerdict>;
}
