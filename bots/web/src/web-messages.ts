import type { Locale } from '@framecast/core';

/**
 * The playground's own texts (page, buttons, states), in every supported language. Refusals and
 * job answers come localised from the core (IntakeResult.message, progress events); the grammar's
 * help lines from core's formatGrammarHelp. The page embeds the texts of its language as JSON for
 * its script. TODO: move into core's catalogue once that file is free to edit.
 */
export const WEB_TEXT = {
  title: { en: 'Framecast playground', 'zh-CN': 'Framecast 试玩' },
  intro: {
    en: 'Type a /video command, optionally attach an image for the first frame, and watch it render. This browser is one user: another browser or a private window is another.',
    'zh-CN': '输入 /video 命令，可附上一张图片作为首帧，然后看着它生成。此浏览器就是一个用户：另一个浏览器或隐私窗口是另一个用户。',
  },
  language: { en: 'Language', 'zh-CN': '语言' },
  command_label: { en: 'Command', 'zh-CN': '命令' },
  command_placeholder: { en: '/video a paper boat drifting on a rainy street --draft', 'zh-CN': '/video 雨中街道上漂流的纸船 --draft' },
  image_label: { en: 'Reference image (optional, first frame)', 'zh-CN': '参考图片（可选，作为首帧）' },
  image_drop: { en: 'Drop an image here, or choose a file', 'zh-CN': '把图片拖到这里，或选择文件' },
  image_resized: { en: 'Made smaller to fit the limit: {mb} MB.', 'zh-CN': '已缩小以符合大小限制：{mb} MB。' },
  image_remove: { en: 'Remove image', 'zh-CN': '移除图片' },
  image_limit: { en: 'JPEG, PNG or WebP, up to {mb} MB.', 'zh-CN': 'JPEG、PNG 或 WebP，不超过 {mb} MB。' },
  submit: { en: 'Generate', 'zh-CN': '生成' },
  submit_hint: { en: 'Enter sends; Shift+Enter makes a new line.', 'zh-CN': '回车发送；Shift+回车换行。' },
  help_title: { en: 'Flags and styles', 'zh-CN': '参数与风格' },
  styles_title: { en: 'Style presets', 'zh-CN': '风格预设' },
  style_name: { en: 'Name to type', 'zh-CN': '输入的名称' },
  style_display: { en: 'Style', 'zh-CN': '风格' },
  history_title: { en: 'Your videos', 'zh-CN': '你的视频' },
  history_empty: { en: 'No videos yet.', 'zh-CN': '还没有视频。' },
  credits: { en: 'Credits today: {left} left of {limit}.', 'zh-CN': '今日额度：剩余 {left} / {limit}。' },
  state_queued: { en: 'Queued: position {position}, about {eta}.', 'zh-CN': '排队中：第 {position} 位，预计 {eta}。' },
  state_waiting: { en: 'Queued…', 'zh-CN': '排队中…' },
  state_started: { en: 'Rendering…', 'zh-CN': '开始生成…' },
  state_step: { en: 'Step {step}/{total}', 'zh-CN': '第 {step}/{total} 步' },
  state_encoding: { en: 'Encoding…', 'zh-CN': '正在编码…' },
  state_scanning: { en: 'Checking the video…', 'zh-CN': '正在检查视频…' },
  state_review: { en: 'Waiting for a moderator.', 'zh-CN': '等待人工审核。' },
  state_ready: { en: 'Almost there…', 'zh-CN': '即将完成…' },
  state_delivered: { en: 'Done.', 'zh-CN': '已完成。' },
  state_failed: { en: 'Failed.', 'zh-CN': '失败。' },
  state_cancelled: { en: 'Cancelled.', 'zh-CN': '已取消。' },
  progress_label: { en: 'Progress', 'zh-CN': '进度' },
  preview_alt: { en: 'Latent preview at step {step}', 'zh-CN': '第 {step} 步的潜空间预览' },
  video_label: { en: 'Generated video: {prompt}', 'zh-CN': '生成的视频：{prompt}' },
  button_reroll: { en: 'Reroll', 'zh-CN': '换个种子' },
  button_upscale: { en: 'Upscale to final', 'zh-CN': '生成正式版' },
  button_download: { en: 'Download', 'zh-CN': '下载' },
  button_cancel: { en: 'Cancel', 'zh-CN': '取消' },
  sending: { en: 'Sending…', 'zh-CN': '发送中…' },
  name_label: { en: 'Your name (credited on storyboards)', 'zh-CN': '你的名字（分镜板署名）' },
  board_title: { en: 'Storyboard', 'zh-CN': '分镜板' },
  board_intro: {
    en: 'Write one video together: start a board (or type "/video collab start <theme>"), share its link, everyone adds shots and votes; the starter locks and renders it. The typed commands ("/video add <text>", "vote N", "/video collab render") work too.',
    'zh-CN': '一起写一个视频：开启分镜板（或输入“/video collab start <主题>”），分享链接，大家添加镜头并投票；发起人锁定并生成。也可以输入命令（“/video add <文字>”、“投票 N”、“/video collab render”）。',
  },
  board_meta: { en: '{theme} · {state} · {shots} shots · {cost} credits · about {eta}', 'zh-CN': '{theme} · {state} · {shots} 个镜头 · {cost} 点 · 预计 {eta}' },
  board_none: { en: 'No storyboard is open on this board yet.', 'zh-CN': '这个分镜板还没有开启。' },
  board_share: { en: 'Invite others with this link:', 'zh-CN': '用这个链接邀请其他人：' },
  board_shot: { en: '{author}: {text} ({votes} votes)', 'zh-CN': '{author}：{text}（{votes} 票）' },
  board_cut: { en: ' — not in the cut', 'zh-CN': '（未入选）' },
  board_theme_label: { en: 'Theme', 'zh-CN': '主题' },
  board_style_label: { en: 'Style', 'zh-CN': '风格' },
  board_style_none: { en: 'None', 'zh-CN': '无' },
  board_aspect_label: { en: 'Aspect ratio', 'zh-CN': '画面比例' },
  board_duration_label: { en: 'Seconds per shot (optional)', 'zh-CN': '每个镜头秒数（可选）' },
  board_draft_label: { en: 'Draft (faster, fewer credits)', 'zh-CN': '草稿（更快，更省额度）' },
  board_start: { en: 'Start a storyboard', 'zh-CN': '开启分镜板' },
  shot_text_label: { en: 'New shot', 'zh-CN': '新镜头' },
  shot_image_label: { en: 'Reference image for this shot (optional)', 'zh-CN': '该镜头的参考图片（可选）' },
  shot_add: { en: 'Add shot', 'zh-CN': '添加镜头' },
  shot_has_image: { en: ' [with image]', 'zh-CN': '【附图】' },
  shot_hint: { en: 'Enter adds the shot.', 'zh-CN': '回车添加镜头。' },
  shot_vote: { en: 'Vote for shot {n}', 'zh-CN': '给镜头 {n} 投票' },
  shot_voted: { en: 'Voted', 'zh-CN': '已投票' },
  shot_vote_button: { en: 'Vote', 'zh-CN': '投票' },
  shot_unvote: { en: 'Take back your vote for shot {n}', 'zh-CN': '取消对镜头 {n} 的投票' },
  shot_unvote_button: { en: 'Take back', 'zh-CN': '取消投票' },
  shot_edit_button: { en: 'Edit', 'zh-CN': '编辑' },
  shot_remove_button: { en: 'Remove', 'zh-CN': '删除' },
  shot_edit: { en: 'Edit shot {n}', 'zh-CN': '编辑镜头 {n}' },
  shot_remove: { en: 'Remove shot {n}', 'zh-CN': '删除镜头 {n}' },
  shot_edit_label: { en: 'Shot {n}', 'zh-CN': '镜头 {n}' },
  shot_save: { en: 'Save', 'zh-CN': '保存' },
  shot_cancel_edit: { en: 'Cancel', 'zh-CN': '取消' },
  board_starter_label: { en: 'Starter’s controls', 'zh-CN': '发起人操作' },
  board_lock: { en: 'Lock', 'zh-CN': '锁定' },
  board_unlock: { en: 'Unlock', 'zh-CN': '解锁' },
  board_render: { en: 'Render…', 'zh-CN': '生成…' },
  board_close: { en: 'Close board', 'zh-CN': '关闭分镜板' },
  board_render_ask: { en: 'Render {shots} shots for {cost} credits ({yours} from you), about {eta}?', 'zh-CN': '生成 {shots} 个镜头，共 {cost} 点（你付 {yours} 点），预计 {eta}？' },
  board_render_confirm: { en: 'Render now', 'zh-CN': '立即生成' },
  board_back: { en: 'Back', 'zh-CN': '返回' },
  segment_queued: { en: 'waiting', 'zh-CN': '等待中' },
  segment_started: { en: 'rendering', 'zh-CN': '生成中' },
  segment_step: { en: 'step {step}/{total}', 'zh-CN': '第 {step}/{total} 步' },
  segment_done: { en: 'done', 'zh-CN': '完成' },
  segment_retrying: { en: 'retrying', 'zh-CN': '重试中' },
  error_network: { en: 'The server could not be reached. Try again.', 'zh-CN': '无法连接服务器，请重试。' },
  error_image_type: { en: 'That file is not an image.', 'zh-CN': '该文件不是图片。' },
  error_image_too_large: { en: 'The reference image is larger than {mb} MB.', 'zh-CN': '参考图片超过 {mb} MB。' },
  error_empty: { en: 'Type what the video should show.', 'zh-CN': '请输入视频的内容描述。' },
  error_session: { en: 'Your session has expired: reload the page.', 'zh-CN': '会话已过期，请刷新页面。' },
  error_forbidden: { en: 'This request was refused (it did not come from this page).', 'zh-CN': '请求被拒绝（不是来自本页面）。' },
  error_not_found: { en: 'That job is not yours or no longer exists.', 'zh-CN': '该任务不属于你或已不存在。' },
  error_in_progress: { en: 'That request is still being handled; try again in a moment.', 'zh-CN': '该请求仍在处理中，请稍后再试。' },
  error_bad_request: { en: 'The request was not understood.', 'zh-CN': '无法理解该请求。' },
  noscript: { en: 'The playground needs JavaScript.', 'zh-CN': '试玩页面需要启用 JavaScript。' },
} as const satisfies Record<string, Record<Locale, string>>;

export type WebTextId = keyof typeof WEB_TEXT;

/** The text `id` in `locale`, with `{name}` replaced. */
export function wt(id: WebTextId, locale: Locale, vars: Record<string, string | number> = {}): string {
  return WEB_TEXT[id][locale].replace(/\{(\w+)\}/g, (m, k: string) => (vars[k] === undefined ? m : String(vars[k])));
}

/** Every text in one language, for the page's script. */
export function textsOf(locale: Locale): Record<WebTextId, string> {
  const out = {} as Record<WebTextId, string>;
  for (const id of Object.keys(WEB_TEXT) as WebTextId[]) out[id] = WEB_TEXT[id][locale];
  return out;
}

/**
 * The language to answer in: an explicit choice (`?lang=` or the `fc_lang` cookie) wins, then the
 * first of Accept-Language's languages we speak (by q), then the configured default.
 */
export function pickLocale(explicit: string | undefined, acceptLanguage: string | undefined, fallback: Locale): Locale {
  const known = localeOf(explicit);
  if (known !== undefined) return known;
  if (acceptLanguage !== undefined && acceptLanguage.length <= 1024) {
    const ranked = acceptLanguage
      .split(',')
      .slice(0, 32)
      .map((part, i) => {
        const [tag = '', ...params] = part.trim().split(';');
        const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
        return { tag: tag.trim(), q: q === undefined ? 1 : Number(q), i };
      })
      .filter((x) => Number.isFinite(x.q) && x.q > 0)
      .sort((a, b) => b.q - a.q || a.i - b.i);
    for (const r of ranked) {
      const l = localeOf(r.tag);
      if (l !== undefined) return l;
    }
  }
  return fallback;
}

/** `zh`, `zh-CN`, `zh-Hans-CN`, `zh-TW` → zh-CN; `en`, `en-GB` → en; anything else undefined. */
export function localeOf(tag: string | undefined): Locale | undefined {
  if (tag === undefined) return undefined;
  if (/^zh(-|$)/i.test(tag)) return 'zh-CN';
  if (/^en(-|$)/i.test(tag)) return 'en';
  return undefined;
}
