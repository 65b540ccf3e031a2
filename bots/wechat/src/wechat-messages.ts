import type { Locale } from '@framecast/core';

/**
 * The WeChat adapter's own texts (acknowledgement, progress note, commands, fallbacks), in every
 * supported language. Refusals and job outcomes come localised from the core.
 */
export const WECHAT_TEXT = {
  ack: {
    en: 'Got it: job {jobId}, position {position}, about {eta}. Cost {cost} credits, {credits} left today.',
    'zh-CN': '收到！任务 {jobId}：第 {position} 位，预计 {eta}。消耗 {cost} 点，今日剩余 {credits} 点。',
  },
  ack_review: {
    en: 'Got it: job {jobId}, position {position}, about {eta}. Cost {cost} credits. A moderator checks the video before it is sent.',
    'zh-CN': '收到！任务 {jobId}：第 {position} 位，预计 {eta}。消耗 {cost} 点。视频需经人工审核后发送。',
  },
  ack_image: { en: ' Using your picture as the first frame.', 'zh-CN': '将使用你发的图片作为首帧。' },
  progress_note: { en: 'Still working on job {jobId}: step {step}/{total}.', 'zh-CN': '任务 {jobId} 仍在生成中：第 {step}/{total} 步。' },
  image_saved: {
    en: 'Picture received. Send a description within {minutes} min and it becomes the first frame of the video.',
    'zh-CN': '已收到图片。{minutes} 分钟内发送一句描述，即可用它作为视频首帧。',
  },
  image_too_large: { en: 'The picture is larger than {mb} MB; please send a smaller one.', 'zh-CN': '图片超过 {mb} MB，请发送小一点的图片。' },
  image_unreadable: { en: 'The picture could not be downloaded from WeChat; please send it again.', 'zh-CN': '无法从微信下载这张图片，请重新发送。' },
  no_last_image: { en: 'You have not sent a picture here recently; send one first.', 'zh-CN': '你最近没有在这里发过图片，请先发送一张。' },
  need_prompt: { en: 'Please add a description, e.g. "use last image a boat drifting at dusk".', 'zh-CN': '请加上一句描述，例如：“用上一张图 黄昏时漂流的小船”。' },
  room_quota: {
    en: 'This group has used its video credits for today ({limit}; this video costs {cost}, {left} left). They renew at midnight ({timeZone}). Nothing was charged.',
    'zh-CN': '本群今日的视频额度已用完（共 {limit} 点；本视频需要 {cost} 点，剩余 {left} 点），将于零点（{timeZone}）重置。未扣除额度。',
  },
  quota: {
    en: 'Credits today: {available} left of {daily} ({tier}); {active} of {max} job(s) running.',
    'zh-CN': '今日额度：剩余 {available} / {daily} 点（{tier}），进行中 {active} / {max} 个任务。',
  },
  quota_room: { en: ' This group: {left} of {limit} credits left today.', 'zh-CN': '本群今日剩余 {left} / {limit} 点。' },
  nothing_to_cancel: { en: 'You have no video in progress here.', 'zh-CN': '你在这里没有正在生成的视频。' },
  nothing_to_reroll: { en: 'There is no earlier video of yours here to make again.', 'zh-CN': '你在这里还没有可以重新生成的视频。' },
  video_caption: { en: 'Your video is ready: {summary}', 'zh-CN': '视频已生成：{summary}' },
  video_link: { en: 'Your video ({mb} MB) could not be sent as a file here; download it: {url}', 'zh-CN': '视频（{mb} MB）无法以文件发送，请点击链接下载：{url}' },
  video_no_link: {
    en: 'Your video ({mb} MB) is ready but too large to send here, and no download link is configured. Job {jobId}.',
    'zh-CN': '视频（{mb} MB）已生成，但太大无法在此发送，且未配置下载链接。任务 {jobId}。',
  },
  collab_help: {
    en: 'Add a shot: + <text> · vote: 投票 N (take it back: 取消投票 N) · the board: /video collab show · the starter renders: /video collab render',
    'zh-CN': '添加镜头：加：<文字> 或 + <文字> · 投票：投票 N（取消：取消投票 N） · 查看：/视频 collab show · 发起人生成：/视频 collab render',
  },
  collab_render_started: { en: 'The storyboard is rendering: {count} shots. The video comes here when it is done.', 'zh-CN': '分镜板开始生成：共 {count} 个镜头，完成后发到本群。' },
  collab_expired: { en: 'The storyboard closed after a long time without activity.', 'zh-CN': '分镜板长时间无人操作，已自动关闭。' },
  collab_failed_internal: { en: 'Something went wrong with the storyboard; please try again.', 'zh-CN': '分镜板出了点问题，请稍后再试。' },
  help: {
    en: [
      'Framecast makes short AI videos.',
      '• Describe the video (in a group: @me or start with /video): /video a paper boat on a rainy street --ar 9:16 --draft',
      '• Send a picture, then within {minutes} min a description: the picture becomes the first frame. "use last image <description>" reuses it later.',
      '• quota: credits left today · cancel: stop your running video · again: the same prompt with a new seed · help: this text',
    ].join('\n'),
    'zh-CN': [
      'Framecast 用 AI 生成短视频。',
      '• 发送一句描述（群聊中请 @我 或以 /视频 开头）：/视频 雨中街道上的纸船 --ar 9:16 --draft',
      '• 先发一张图片，{minutes} 分钟内再发描述，图片即作为视频首帧；之后可用“用上一张图 <描述>”再次使用。',
      '• 额度：查看今日剩余 · 取消：停止正在生成的视频 · 再来一个：同样的描述换个种子 · 帮助：显示本说明',
    ].join('\n'),
  },
} as const satisfies Record<string, Record<Locale, string>>;

export type WechatTextId = keyof typeof WECHAT_TEXT;

/** The text `id` in `locale`, with `{name}` replaced. */
export function wt(id: WechatTextId, locale: Locale, vars: Record<string, string | number> = {}): string {
  return WECHAT_TEXT[id][locale].replace(/\{(\w+)\}/g, (m, k: string) => (vars[k] === undefined ? m : String(vars[k])));
}
