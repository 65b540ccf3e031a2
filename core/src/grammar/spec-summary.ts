import type { Locale } from '../model/chat-request.schema.ts';
import type { GenerationSpec } from '../model/generation-spec.schema.ts';
import { defaultStylePresets, findStylePreset, type StylePresets } from './style-presets.ts';

/**
 * One line for a bot reply, e.g. `draft · 16:9 848×480 · 3 s · seed 42 · style anime` or
 * `草稿 · 16:9 848×480 · 3 秒 · 种子 42 · 风格 动漫`. Prompt text is left out (it can be long).
 */
export function formatSpecSummary(spec: GenerationSpec, locale: Locale, styles?: StylePresets): string {
  const zh = locale === 'zh-CN';
  const seconds = Number(spec.durationSeconds.toFixed(2));
  const parts = [
    zh ? (spec.mode === 'draft' ? '草稿' : '正式') : spec.mode,
    `${spec.aspect} ${spec.width}×${spec.height}`,
    zh ? `${seconds} 秒` : `${seconds} s`,
    zh ? `种子 ${spec.seed}` : `seed ${spec.seed}`,
  ];
  if (spec.style !== undefined) {
    const preset = findStylePreset(styles ?? defaultStylePresets(), spec.style);
    parts.push(zh ? `风格 ${preset?.displayName['zh-CN'] ?? spec.style}` : `style ${spec.style}`);
  }
  if (spec.referenceImage !== undefined) parts.push(zh ? '参考图' : 'reference image');
  return parts.join(' · ');
}
