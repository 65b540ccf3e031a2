import type { Aspect } from './api/types';
import type { MessageKey } from './i18n/index';

/**
 * Templates that fill the prompt, the style and the framing in one tap: travel scenes for tourists
 * and a turntable for shops. `style` names a preset of the server's style list (core/styles.json).
 */
export interface Template {
  id: string;
  title: MessageKey;
  prompt: MessageKey;
  style: string;
  aspect: Aspect;
  duration: number;
}

export const TEMPLATES: readonly Template[] = [
  { id: 'old-town-dusk', title: 'preset_old_town', prompt: 'preset_old_town_prompt', style: 'cinematic', aspect: '9:16', duration: 5 },
  { id: 'snow-mountain-sunrise', title: 'preset_snow_mountain', prompt: 'preset_snow_mountain_prompt', style: 'documentary', aspect: '9:16', duration: 5 },
  { id: 'night-market', title: 'preset_night_market', prompt: 'preset_night_market_prompt', style: 'vintage-film', aspect: '9:16', duration: 4 },
  { id: 'product-turntable', title: 'preset_product_turntable', prompt: 'preset_product_turntable_prompt', style: 'cinematic', aspect: '1:1', duration: 5 },
];

/** Style presets offered as chips (names from core/styles.json). */
export const STYLES: readonly { name: string; label: MessageKey }[] = [
  { name: 'cinematic', label: 'style_cinematic' },
  { name: 'documentary', label: 'style_documentary' },
  { name: 'anime', label: 'style_anime' },
  { name: 'watercolor', label: 'style_watercolor' },
  { name: 'ink-wash', label: 'style_ink_wash' },
  { name: '3d-cartoon', label: 'style_3d_cartoon' },
  { name: 'vintage-film', label: 'style_vintage_film' },
  { name: 'cyberpunk', label: 'style_cyberpunk' },
  { name: 'claymation', label: 'style_claymation' },
  { name: 'paper-cut', label: 'style_paper_cut' },
];

export const ASPECT_LABELS: readonly { aspect: Aspect; label: MessageKey }[] = [
  { aspect: '9:16', label: 'aspect_9_16' },
  { aspect: '16:9', label: 'aspect_16_9' },
  { aspect: '1:1', label: 'aspect_1_1' },
];

/** The style after a tap on a style chip (`data-id`): that style, or none when it was already chosen. */
export function styleAfterTap(current: string, e: WechatMiniprogram.CustomEvent<Record<string, never>, Record<string, never>, { id: string }>): string {
  const name = e.currentTarget.dataset.id;
  return current === name ? '' : name;
}

/** The aspect picker's chosen index (of ASPECT_LABELS), or undefined when the event holds none. */
export function aspectIndexOf(e: WechatMiniprogram.CustomEvent<{ value: string | number }>): number | undefined {
  const index = Number(e.detail.value);
  return Number.isInteger(index) && index >= 0 && index < ASPECT_LABELS.length ? index : undefined;
}
