import type { Locale } from '../model/chat-request.schema.ts';

export type LocalizedText = { 'zh-CN': string; en: string };

/** User-facing messages of the core, in every supported language. `{name}` is replaced by a variable. */
export const MESSAGES = {
  'intake.accepted': {
    en: 'Queued {summary}. Job {jobId}: position {position}, about {eta} to go. {credits} credits left today.',
    'zh-CN': '已加入队列：{summary}。任务 {jobId}：第 {position} 位，预计还需 {eta}。今日剩余额度 {credits}。',
  },
  'intake.accepted_short': {
    en: 'Your video is queued as job {jobId}.',
    'zh-CN': '你的视频已加入队列，任务 {jobId}。',
  },
  'intake.accepted_review': {
    en: 'Queued {summary}. Job {jobId}: position {position}, about {eta} to go. The result will be checked by a moderator before it is sent.',
    'zh-CN': '已加入队列：{summary}。任务 {jobId}：第 {position} 位，预计还需 {eta}。结果需经人工审核后发送。',
  },
  'refusal.invalid_request': {
    en: 'This request could not be read: {detail}',
    'zh-CN': '无法识别此请求：{detail}',
  },
  'refusal.moderation_blocked': {
    en: 'This prompt was not accepted: it breaks the content rules ({category}). Nothing was charged.',
    'zh-CN': '提示词未通过内容审核（{category}），未扣除额度。',
  },
  'refusal.image_blocked': {
    en: 'The reference image was not accepted: it breaks the content rules ({category}). Nothing was charged.',
    'zh-CN': '参考图片未通过内容审核（{category}），未扣除额度。',
  },
  'refusal.image_invalid': {
    en: 'The reference image could not be used: {detail}',
    'zh-CN': '参考图片无法使用：{detail}',
  },
  'refusal.quota_credits': {
    en: 'Not enough credits: this video costs {cost}, you have {available} left today. Credits renew at midnight ({timeZone}).',
    'zh-CN': '额度不足：本视频需要 {cost} 点，今日剩余 {available} 点。额度于每日零点（{timeZone}）重置。',
  },
  'refusal.quota_concurrency': {
    en: 'You already have {active} video(s) in progress (limit {limit}). Wait for one to finish, or cancel one.',
    'zh-CN': '你已有 {active} 个视频正在生成（上限 {limit}）。请等待完成或取消一个任务。',
  },
  'refusal.quota_tenant': {
    en: 'This server/workspace has used its video budget for today. It renews at midnight ({timeZone}).',
    'zh-CN': '本群组/工作区今日的视频额度已用完，将于零点（{timeZone}）重置。',
  },
  'refusal.image_not_supported': {
    en: 'This model makes videos from text only; send the prompt without an image. Nothing was charged.',
    'zh-CN': '当前模型只支持文字生成视频，请去掉图片后重试。未扣除额度。',
  },
  'refusal.image_required': {
    en: 'This model makes videos from a picture: attach a reference image with your prompt. Nothing was charged.',
    'zh-CN': '当前模型需要一张参考图片，请附上图片后重试。未扣除额度。',
  },
  'refusal.runtime_unavailable': {
    en: 'The video service is being reconfigured and cannot take this request right now; nothing was charged. Please try again later.',
    'zh-CN': '视频服务正在调整配置，暂时无法处理此请求，未扣除额度，请稍后再试。',
  },
  'refusal.internal': {
    en: 'Something went wrong on our side; nothing was charged. Please try again.',
    'zh-CN': '服务出现问题，未扣除额度，请稍后再试。',
  },
  'job.not_found': { en: 'No job {jobId}.', 'zh-CN': '找不到任务 {jobId}。' },
  'job.not_owner': { en: 'Only the person who asked for job {jobId} (or an admin) can cancel it.', 'zh-CN': '只有任务 {jobId} 的发起人（或管理员）可以取消它。' },
  'job.cancelled': { en: 'Job {jobId} was cancelled; its credits were refunded.', 'zh-CN': '任务 {jobId} 已取消，额度已退还。' },
  'job.cancel_requested': { en: 'Job {jobId} will stop after its current step; its credits will be refunded.', 'zh-CN': '任务 {jobId} 将在当前步骤后停止，额度将退还。' },
  'job.already_finished': { en: 'Job {jobId} has already finished ({state}).', 'zh-CN': '任务 {jobId} 已结束（{state}）。' },
  'job.not_admin': { en: 'Only an admin can review job {jobId}.', 'zh-CN': '只有管理员可以审核任务 {jobId}。' },
  'job.not_in_review': { en: 'Job {jobId} is not waiting for review ({state}).', 'zh-CN': '任务 {jobId} 不在待审核状态（{state}）。' },
  'job.review_expired': { en: 'Job {jobId} can no longer be delivered: its reply details have expired.', 'zh-CN': '任务 {jobId} 的回复信息已过期，无法再发送。' },
  'job.approved': { en: 'Job {jobId} was approved and is being delivered.', 'zh-CN': '任务 {jobId} 已通过审核，正在发送。' },
  'job.rejected': { en: 'Job {jobId} was rejected; the user was told and refunded.', 'zh-CN': '任务 {jobId} 已被驳回，已通知用户并退还额度。' },
  'eta.seconds': { en: '{n} s', 'zh-CN': '{n} 秒' },
  'eta.minutes': { en: '{n} min', 'zh-CN': '{n} 分钟' },
} as const satisfies Record<string, LocalizedText>;

export type MessageId = keyof typeof MESSAGES;

export function format(template: string, vars: Record<string, string | number> = {}): string {
  return template.replace(/\{(\w+)\}/g, (m, name: string) => (name in vars ? String(vars[name]) : m));
}

/** The message in one language. */
export function t(id: MessageId, locale: Locale, vars?: Record<string, string | number>): string {
  return format(MESSAGES[id][locale], vars);
}

/** The message in every language, for payloads an adapter renders later. */
export function tAll(id: MessageId, vars?: Record<string, string | number>): LocalizedText {
  return { 'zh-CN': t(id, 'zh-CN', vars), en: t(id, 'en', vars) };
}

export function formatEta(seconds: number, locale: Locale): string {
  if (seconds < 90) return t('eta.seconds', locale, { n: Math.max(1, Math.round(seconds)) });
  return t('eta.minutes', locale, { n: Math.round(seconds / 60) });
}
