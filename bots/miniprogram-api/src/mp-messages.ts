import { format, type LocalizedText, type Locale } from '@framecast/core';

/**
 * The mini program API's own texts (error answers, subscription messages), in every supported
 * language. Refusals from the core arrive localised already (IntakeResult.message).
 */
export const MP_TEXT = {
  unauthorized: { en: 'Please log in again.', 'zh-CN': '登录已失效，请重新登录。' },
  bad_request: { en: 'The request is not valid: {fields}.', 'zh-CN': '请求无效：{fields}。' },
  login_code_invalid: { en: 'The login code is invalid or was already used; please try again.', 'zh-CN': '登录凭证无效或已使用，请重试。' },
  login_rate_limited: { en: 'Too many login attempts; please wait a moment.', 'zh-CN': '登录过于频繁，请稍后再试。' },
  login_risky_user: { en: 'WeChat refused this login (risky account).', 'zh-CN': '微信拒绝了此次登录（账号存在风险）。' },
  login_unavailable: { en: 'WeChat login is unavailable right now; please try again later.', 'zh-CN': '微信登录暂时不可用，请稍后再试。' },
  rate_limited: { en: 'Too many requests; try again in {seconds} s.', 'zh-CN': '请求过于频繁，请 {seconds} 秒后再试。' },
  not_found: { en: 'Not found.', 'zh-CN': '未找到。' },
  job_not_found: { en: 'No such video.', 'zh-CN': '找不到该视频。' },
  upload_missing: { en: 'Send the image in the form field "file".', 'zh-CN': '请在表单字段 "file" 中上传图片。' },
  upload_too_large: { en: 'The image is larger than {mb} MB.', 'zh-CN': '图片超过 {mb} MB。' },
  upload_not_multipart: { en: 'Send the image as multipart/form-data.', 'zh-CN': '请以 multipart/form-data 上传图片。' },
  upload_too_many: { en: 'Send one image per upload.', 'zh-CN': '每次只能上传一张图片。' },
  image_not_found: { en: 'That image is unknown or has expired; upload it again.', 'zh-CN': '图片不存在或已过期，请重新上传。' },
  not_finished: { en: 'The video is not ready yet.', 'zh-CN': '视频尚未生成完成。' },
  range_not_satisfiable: { en: 'The requested range is outside the file.', 'zh-CN': '请求的范围超出文件大小。' },
  link_expired: { en: 'This link has expired.', 'zh-CN': '链接已过期。' },
  bad_signature: { en: 'This link is not valid.', 'zh-CN': '链接无效。' },
  caption_blocked: { en: 'This text cannot be published ({category}).', 'zh-CN': '该内容无法发布（{category}）。' },
  caption_review: { en: 'This text needs a moderator before it can be published.', 'zh-CN': '该内容需人工审核后才能发布。' },
  already_published: { en: 'This video is already in the gallery.', 'zh-CN': '该视频已在作品广场中。' },
  not_published: { en: 'This video is not in the gallery.', 'zh-CN': '该视频不在作品广场中。' },
  not_admin: { en: 'Only an admin can do this.', 'zh-CN': '只有管理员可以执行此操作。' },
  not_owner: { en: 'Only the author (or an admin) can do this.', 'zh-CN': '只有作者（或管理员）可以执行此操作。' },
  wechat_unavailable: { en: 'WeChat content checks are unavailable right now; please try again later.', 'zh-CN': '微信内容安全检测暂时不可用，请稍后再试。' },
  push_not_configured: { en: 'Message push is not configured (WECHAT_PUSH_TOKEN).', 'zh-CN': '未配置消息推送（WECHAT_PUSH_TOKEN）。' },
  push_bad_signature: { en: 'The push signature does not match.', 'zh-CN': '推送签名不匹配。' },
  push_encrypted: { en: 'Only plaintext message push is supported.', 'zh-CN': '仅支持明文模式的消息推送。' },
  board_not_found: { en: 'No such storyboard: check the link you were sent.', 'zh-CN': '找不到该分镜板，请检查分享给你的链接。' },
  not_contributor: { en: 'Only the storyboard\'s contributors can watch its video.', 'zh-CN': '只有分镜板的参与者可以观看它的视频。' },
  nickname_blocked: { en: 'This nickname cannot be used; please pick another.', 'zh-CN': '该昵称无法使用，请换一个。' },
  in_progress: { en: 'The same request is still being handled; try again in a moment.', 'zh-CN': '相同的请求仍在处理中，请稍后再试。' },
  internal: { en: 'Something went wrong on our side; please try again.', 'zh-CN': '服务器出错了，请重试。' },
  job_failed: { en: 'The video could not be made; your credits were refunded.', 'zh-CN': '视频生成失败，额度已退还。' },
  job_blocked: { en: 'The video was blocked by content checks; your credits were refunded.', 'zh-CN': '视频未通过内容安全检查，额度已退还。' },
  job_cancelled: { en: 'Cancelled; your credits were refunded.', 'zh-CN': '已取消，额度已退还。' },
  notify_done: { en: 'Finished', 'zh-CN': '已完成' },
  notify_failed: { en: 'Failed', 'zh-CN': '生成失败' },
} as const satisfies Record<string, LocalizedText>;

export type MpTextId = keyof typeof MP_TEXT;

/** One text in one language, with its `{vars}` filled in. */
export function mt(id: MpTextId, locale: Locale, vars: Record<string, string | number> = {}): string {
  return format(MP_TEXT[id][locale], vars);
}

/** One text in every language. */
export function mtAll(id: MpTextId, vars: Record<string, string | number> = {}): LocalizedText {
  return { 'zh-CN': mt(id, 'zh-CN', vars), en: mt(id, 'en', vars) };
}

/**
 * The caller's language from `Accept-Language`: English when English is preferred over Chinese,
 * otherwise zh-CN (the mini program's users are in China).
 */
export function localeFromHeader(header: string | undefined): Locale {
  if (header === undefined || header.trim() === '') return 'zh-CN';
  const ranked = header
    .split(',')
    .slice(0, 20)
    .map((part, i) => {
      const [tag = '', ...params] = part.trim().split(';');
      const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
      return { tag: tag.trim().toLowerCase(), q: q === undefined ? 1 : Number(q), i };
    })
    .filter((x) => x.q > 0 && Number.isFinite(x.q))
    .sort((a, b) => b.q - a.q || a.i - b.i);
  for (const { tag } of ranked) {
    if (tag.startsWith('zh')) return 'zh-CN';
    if (tag.startsWith('en')) return 'en';
  }
  return 'zh-CN';
}
