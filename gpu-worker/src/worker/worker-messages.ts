import type { LocalizedText } from '@framecast/core';

export const WORKER_MESSAGES = {
  cancelled: { en: 'Your video was cancelled; the credits were refunded.', 'zh-CN': '视频已取消，额度已退还。' },
  badInput: { en: 'This video could not be made with these settings (size, length or reference image). The credits were refunded.', 'zh-CN': '无法按这些设置（尺寸、时长或参考图）生成此视频，额度已退还。' },
  outOfMemory: { en: 'This video was too large for the GPU. The credits were refunded; try --draft or a shorter --duration.', 'zh-CN': '视频超出显卡内存，额度已退还；可尝试 --draft 或更短的 --duration。' },
  unavailable: { en: 'Video generation is not available right now (a configuration problem on our side). The credits were refunded.', 'zh-CN': '视频生成服务暂不可用（服务端配置问题），额度已退还。' },
  busy: { en: 'The video service stayed too busy to take this video. The credits were refunded; please try again later.', 'zh-CN': '视频服务持续繁忙，未能处理此视频，额度已退还，请稍后再试。' },
  providerModeration: { en: 'The video service refused this content. The credits were refunded.', 'zh-CN': '视频服务拒绝了此内容，额度已退还。' },
  outputBlocked: { en: 'The generated video broke the content rules and was not sent. The credits were refunded.', 'zh-CN': '生成的视频未通过内容审核，未发送，额度已退还。' },
  failed: { en: 'Something went wrong while making your video, several times. The credits were refunded; please try again later.', 'zh-CN': '生成视频时多次出错，额度已退还，请稍后再试。' },
  rejected: { en: 'A moderator did not approve this video. The credits were refunded.', 'zh-CN': '视频未通过人工审核，额度已退还。' },
} as const satisfies Record<string, LocalizedText>;
