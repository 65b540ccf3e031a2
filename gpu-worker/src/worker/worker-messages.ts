import type { LocalizedText } from '@framecast/core';

export const WORKER_MESSAGES = {
  cancelled: { en: 'Your video was cancelled; the credits were refunded.', 'zh-CN': '视频已取消，额度已退还。' },
  badInput: { en: 'This video could not be made: {reason}. The credits were refunded.', 'zh-CN': '无法生成此视频：{reason}。额度已退还。' },
  providerModeration: { en: 'The video service refused this content. The credits were refunded.', 'zh-CN': '视频服务拒绝了此内容，额度已退还。' },
  outputBlocked: { en: 'The generated video broke the content rules and was not sent. The credits were refunded.', 'zh-CN': '生成的视频未通过内容审核，未发送，额度已退还。' },
  failed: { en: 'Something went wrong while making your video, several times. The credits were refunded; please try again later.', 'zh-CN': '生成视频时多次出错，额度已退还，请稍后再试。' },
  rejected: { en: 'A moderator did not approve this video. The credits were refunded.', 'zh-CN': '视频未通过人工审核，额度已退还。' },
} as const satisfies Record<string, LocalizedText>;

export function fill(text: LocalizedText, vars: Record<string, string>): LocalizedText {
  const f = (s: string) => s.replace(/\{(\w+)\}/g, (m, k: string) => vars[k] ?? m);
  return { en: f(text.en), 'zh-CN': f(text['zh-CN']) };
}
