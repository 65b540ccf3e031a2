import type { Locale } from '../model/chat-request.schema.ts';
import { ASPECTS } from '../model/generation-spec.schema.ts';
import { t } from '../i18n/messages.ts';
import { DURATION_LIMITS } from './grammar-flags.ts';
import { defaultStylePresets, type StylePresets } from './style-presets.ts';

/** A few lines of usage for a bot's help reply (or an unknown-flag follow-up). */
export function formatGrammarHelp(locale: Locale, styles?: StylePresets): string {
  const presets = styles ?? defaultStylePresets();
  const d = DURATION_LIMITS;
  const zh = locale === 'zh-CN';
  // In Chinese each style is shown by its display name, with the name to type: 水墨（ink-wash）.
  const styleList = zh ? presets.styles.map((s) => `${s.displayName['zh-CN']}（${s.name}）`).join('、') : presets.styles.map((s) => s.name).join(', ');
  return [
    t('help.usage', locale),
    t('help.ar', locale, { aspects: ASPECTS.join(zh ? '、' : ', ') }),
    t('help.duration', locale, {
      draftMin: d.draft.min, draftMax: d.draft.max, draftDefault: d.draft.default,
      finalMin: d.final.min, finalMax: d.final.max, finalDefault: d.final.default,
    }),
    t('help.draft', locale),
    t('help.seed', locale),
    t('help.style', locale, { styles: styleList }),
    t('help.neg', locale),
    t('help.example', locale),
  ].join('\n');
}
