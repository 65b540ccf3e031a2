import type { Locale } from '../model/chat-request.schema.ts';
import { ASPECTS } from '../model/generation-spec.schema.ts';
import { DURATION_LIMITS } from './grammar-flags.ts';
import { defaultStylePresets, type StylePresets } from './style-presets.ts';

/** A few lines of usage for a bot's help reply (or an unknown-flag follow-up). */
export function formatGrammarHelp(locale: Locale, styles?: StylePresets): string {
  const presets = styles ?? defaultStylePresets();
  const d = DURATION_LIMITS;
  if (locale === 'zh-CN') {
    return [
      '用法：/video <描述> [参数]',
      `--ar 画幅比例：${ASPECTS.join('、')}（默认 16:9）`,
      `--duration 秒数：草稿 ${d.draft.min}–${d.draft.max} 秒（默认 ${d.draft.default}），正式 ${d.final.min}–${d.final.max} 秒（默认 ${d.final.default}）`,
      '--draft 草稿模式：低分辨率，出片更快',
      '--seed 随机种子：0–4294967295，同样的种子和描述得到同样的视频',
      `--style 风格：${presets.styles.map((s) => `${s.displayName['zh-CN']}（${s.name}）`).join('、')}`,
      '--neg 反向提示词：不想出现的内容，例如 --neg “模糊，水印”',
      '例如：/video 日落时冲浪的猫 --ar 9:16 --style 动漫 --draft',
    ].join('\n');
  }
  return [
    'Usage: /video <prompt> [options]',
    `--ar aspect ratio: ${ASPECTS.join(', ')} (default 16:9)`,
    `--duration seconds: draft ${d.draft.min}–${d.draft.max} (default ${d.draft.default}), final ${d.final.min}–${d.final.max} (default ${d.final.default})`,
    '--draft draft mode: lower resolution, faster',
    '--seed 0–4294967295: the same seed and prompt give the same video',
    `--style ${presets.styles.map((s) => s.name).join(', ')}`,
    '--neg what to avoid, e.g. --neg "blurry, watermark"',
    'Example: /video a cat surfing at sunset --ar 9:16 --style anime --draft',
  ].join('\n');
}
