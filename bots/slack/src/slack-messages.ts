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
  collab_opening: { en: '🎬 Opening a storyboard…', 'zh-CN': '🎬 正在开启分镜板…' },
  collab_title: { en: '🎬 *Storyboard{theme}* by {starter}', 'zh-CN': '🎬 *分镜板{theme}* · 发起人 {starter}' },
  collab_meta: { en: '{state} · style {style} · seed {seed} · {aspect}', 'zh-CN': '{state} · 风格 {style} · 种子 {seed} · {aspect}' },
  collab_style_none: { en: 'none', 'zh-CN': '无' },
  collab_state_collecting: { en: 'Collecting shots', 'zh-CN': '收集镜头中' },
  collab_state_locked: { en: 'Locked', 'zh-CN': '已锁定' },
  collab_state_rendering: { en: 'Rendering', 'zh-CN': '生成中' },
  collab_state_done: { en: 'Done', 'zh-CN': '已完成' },
  collab_state_cancelled: { en: 'Closed', 'zh-CN': '已关闭' },
  collab_state_expired: { en: 'Expired', 'zh-CN': '已过期' },
  collab_shot: { en: '*{n}.* {author}: {text}\n{votes} vote(s){cut}{progress}', 'zh-CN': '*{n}.* {author}：{text}\n{votes} 票{cut}{progress}' },
  collab_not_in_cut: { en: ' · _not in the cut_', 'zh-CN': ' · _未入选_' },
  collab_no_shots: { en: '_No shots yet._', 'zh-CN': '_还没有镜头。_' },
  collab_cost: { en: 'Rendering now: *{cost} credits* ({policy}), about {eta}. The {max} most voted shots make the cut.', 'zh-CN': '现在生成：*{cost} 点*（{policy}），预计 {eta}。得票最多的 {max} 个镜头入选。' },
  collab_policy_starter: { en: 'the starter pays', 'zh-CN': '发起人支付' },
  collab_policy_split: { en: 'split among the authors in the cut', 'zh-CN': '由入选镜头的作者分摊' },
  collab_policy_pool: { en: 'from the group pool', 'zh-CN': '从群额度池扣除' },
  collab_help: { en: 'Add a shot: `/video add <text>`, or mention me in this thread · vote: the buttons, or :one: … :keycap_ten: on this message (take the reaction off, or `/video unvote N`, to take it back) · the starter renders: `/video collab render`', 'zh-CN': '添加镜头：`/video add <内容>`，或在本帖中提及我 · 投票：按钮，或给本消息加 :one: … :keycap_ten: 表情（撤下表情或 `/video unvote N` 即取消投票） · 发起人生成：`/video collab render`' },
  collab_progress_waiting: { en: ' · ⏳ waiting', 'zh-CN': ' · ⏳ 等待中' },
  collab_progress_started: { en: ' · 🎬 rendering', 'zh-CN': ' · 🎬 生成中' },
  collab_progress_step: { en: ' · 🎬 step {step}/{total}', 'zh-CN': ' · 🎬 第 {step}/{total} 步' },
  collab_progress_done: { en: ' · ✅ done', 'zh-CN': ' · ✅ 完成' },
  collab_progress_retrying: { en: ' · 🔁 retrying', 'zh-CN': ' · 🔁 重试中' },
  collab_status_rendering: { en: '🎬 Rendering: {done}/{count} shots done.', 'zh-CN': '🎬 生成中：已完成 {done}/{count} 个镜头。' },
  collab_status_stitching: { en: '🎞️ All shots done: joining them into one video…', 'zh-CN': '🎞️ 镜头已全部完成，正在拼接成一个视频…' },
  collab_status_rendered: { en: '✅ Rendered: the video is in this thread.', 'zh-CN': '✅ 已生成：视频在本帖中。' },
  collab_status_failed: { en: '❌ {message}', 'zh-CN': '❌ {message}' },
  collab_status_expired: { en: '⌛ {message}', 'zh-CN': '⌛ {message}' },
  collab_status_cancelled: { en: 'This storyboard was closed.', 'zh-CN': '分镜板已关闭。' },
  collab_board_gone: { en: 'That storyboard is no longer open.', 'zh-CN': '该分镜板已不再开放。' },
  button_collab_vote: { en: 'Vote {n}', 'zh-CN': '投第 {n} 个' },
  button_collab_show: { en: 'Show', 'zh-CN': '查看' },
  button_collab_render: { en: 'Render', 'zh-CN': '生成视频' },
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
