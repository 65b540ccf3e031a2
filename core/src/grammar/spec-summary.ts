import type { Locale } from '../model/chat-request.schema.ts';
import type { GenerationSpec } from '../model/generation-spec.schema.ts';
import { t } from '../i18n/messages.ts';
import { defaultStylePresets, findStylePreset, type StylePresets } from './style-presets.ts';

/**
 * One line for a bot reply, e.g. `draft · 16:9 848×480 · 3 s · seed 42 · style anime` or
 * `草稿 · 16:9 848×480 · 3 秒 · 种子 42 · 风格 动漫`. Prompt text is left out (it can be long).
 */
export function formatSpecSummary(spec: GenerationSpec, locale: Locale, styles?: StylePresets): string {
  const seconds = Number(spec.durationSeconds.toFixed(2));
  const parts = [
    t(spec.mode === 'draft' ? 'grammar.mode_draft' : 'grammar.mode_final', locale),
    `${spec.aspect} ${spec.width}×${spec.height}`,
    t('summary.seconds', locale, { n: seconds }),
    t('summary.seed', locale, { seed: spec.seed }),
  ];
  if (spec.style !== undefined) {
    // In Chinese the style's display name; in English the name as typed.
    const preset = locale === 'zh-CN' ? findStylePreset(styles ?? defaultStylePresets(), spec.style) : undefined;
    parts.push(t('summary.style', locale, { style: preset?.displayName[locale] ?? spec.style }));
  }
  if (spec.referenceImage !== undefined) parts.push(t('summary.reference_image', locale));
  return parts.join(' · ');
}
