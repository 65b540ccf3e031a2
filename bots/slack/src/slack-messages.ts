import type { Locale } from '@framecast/core';

/**
 * The Slack adapter's own texts (status message, buttons, App Home), in every supported language.
 * Refusals and job answers come localised from the core (IntakeResult.message, progress events).
 * TODO: move into core's catalogue (core/src/i18n) once that file is free to edit.
 */
export const SLACK_TEXT = {
  working: { en: 'Got it, working on it…', 'zh-CN': '收到，正在处理…' },
  status_queued: { en: '⏳ <@{user}> {summary}: position {position}, about {eta}.', 'zh-CN': '⏳ <@{user}> {summary}：第 {position} 位，预计 {eta}。' },
  status_started: { en: '🎬 <@{user}> {summary}: rendering…', 'zh-CN': '🎬 <@{user}> {summary}：开始生成…' },
  status_step: { en: '🎬 <@{user}> {summary}: step {step}/{total} {bar}', 'zh-CN': '🎬 <@{user}> {summary}：第 {step}/{total} 步 {bar}' },
  preview_alt: { en: 'Preview at step {step}', 'zh-CN': '第 {step} 步预览' },
  status_encoding: { en: '🎞️ <@{user}> {summary}: encoding…', 'zh-CN': '🎞️ <@{user}> {summary}：正在编码…' },
  status_scanning: { en: '🔎 <@{user}> {summary}: checking the video…', 'zh-CN': '🔎 <@{user}> {summary}：正在检查视频…' },
  status_review: { en: '🕵️ <@{user}> {summary}: waiting for a moderator.', 'zh-CN': '🕵️ <@{user}> {summary}：等待人工审核。' },
  status_ready: { en: '📤 <@{user}> {summary}: uploading…', 'zh-CN': '📤 <@{user}> {summary}：正在上传…' },
  status_delivered: { en: '✅ <@{user}> {summary}: done.', 'zh-CN': '✅ <@{user}> {summary}：已完成。' },
  status_failed: { en: '❌ <@{user}> {message}', 'zh-CN': '❌ <@{user}> {message}' },
  status_submitting: { en: '⏳ <@{user}> received: {prompt}', 'zh-CN': '⏳ <@{user}> 已收到：{prompt}' },
  video_comment: { en: '<@{user}> {summary}', 'zh-CN': '<@{user}> {summary}' },
  video_link: { en: '<@{user}> your video ({mb} MB) is too large to upload here: {url}', 'zh-CN': '<@{user}> 视频（{mb} MB）太大，无法在此上传：{url}' },
  video_link_uploads_off: { en: '<@{user}> this workspace does not take video uploads from apps, so here is your video ({mb} MB) as a link: {url}', 'zh-CN': '<@{user}> 此工作区不允许应用上传视频，视频（{mb} MB）的链接：{url}' },
  video_link_upload_failed: { en: '<@{user}> Slack is not taking uploads right now, so here is your video ({mb} MB) as a link: {url}', 'zh-CN': '<@{user}> Slack 暂时无法上传文件，视频（{mb} MB）的链接：{url}' },
  button_reroll: { en: 'Reroll', 'zh-CN': '换个种子' },
  button_upscale: { en: 'Upscale to final', 'zh-CN': '生成正式版' },
  button_cancel: { en: 'Cancel', 'zh-CN': '取消' },
  button_delete: { en: 'Delete', 'zh-CN': '删除' },
  delete_not_allowed: { en: 'Only the person who asked for this video (or an admin) can delete it.', 'zh-CN': '只有发起人（或管理员）可以删除此视频。' },
  not_in_channel: { en: 'I cannot post in this channel: invite me first (`/invite @framecast`). Nothing was charged.', 'zh-CN': '我无法在此频道发消息：请先邀请我（`/invite @framecast`）。未扣除额度。' },
  job_gone: { en: 'That job is no longer known.', 'zh-CN': '找不到该任务。' },
  image_too_large: { en: 'The reference image is larger than {mb} MB.', 'zh-CN': '参考图片超过 {mb} MB。' },
  image_unreadable: { en: 'The reference image could not be downloaded from Slack.', 'zh-CN': '无法从 Slack 下载参考图片。' },
  home_title: { en: 'Framecast', 'zh-CN': 'Framecast' },
  home_quota: { en: '*Credits today:* {left} left of {limit} ({tier}); {active} job(s) in progress.', 'zh-CN': '*今日额度：* 剩余 {left} / {limit}（{tier}），{active} 个任务进行中。' },
  home_recent: { en: '*Your recent videos*', 'zh-CN': '*最近的视频*' },
  home_none: { en: 'No videos yet: try `/video a paper boat on a rainy street`.', 'zh-CN': '还没有视频：试试 `/video 雨中的纸船`。' },
  home_job: { en: '`{jobId}` {state}: {prompt}', 'zh-CN': '`{jobId}` {state}：{prompt}' },
} as const satisfies Record<string, Record<Locale, string>>;

export type SlackTextId = keyof typeof SLACK_TEXT;

/** The text `id` in `locale`, with `{name}` replaced. */
export function st(id: SlackTextId, locale: Locale, vars: Record<string, string | number> = {}): string {
  return SLACK_TEXT[id][locale].replace(/\{(\w+)\}/g, (m, k: string) => (vars[k] === undefined ? m : String(vars[k])));
}

/** Slack's mrkdwn control characters, escaped in user text. */
export function escapeMrkdwn(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
