import type { Locale } from '../model/chat-request.schema.ts';

export type LocalizedText = { 'zh-CN': string; en: string };

/**
 * The message catalogue: every text Framecast shows a user, in every supported language. `{name}`
 * is replaced by a variable. Code refers to a text by its id; no other source file holds one.
 */
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
  'refusal.user_blocked': {
    en: 'This account may not make videos here. Nothing was charged. Please contact the operator if you think this is a mistake.',
    'zh-CN': '此账号已被暂停使用视频生成，未扣除额度。如有疑问，请联系管理员。',
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

  // The detail of a request an adapter built wrong.
  'request.invalid_fields': { en: 'invalid {fields}', 'zh-CN': '字段 {fields} 无效' },

  // Details of a refused reference image (content-safety's image intake fills most).
  'image.not_supported_here': { en: 'images are not supported here', 'zh-CN': '此处不支持图片' },
  'image.no_source': { en: 'the attachment has neither a URL nor a stored file', 'zh-CN': '附件既没有链接也没有已存储的文件' },
  'image.empty': { en: 'The image is empty (0 bytes).', 'zh-CN': '图片是空的（0 字节）。' },
  'image.too_large': { en: 'The image is too large; the limit is {max}.', 'zh-CN': '图片太大，最大支持 {max}。' },
  'image.unsupported': { en: 'This file format is not supported; please send a JPEG, PNG or WebP image.', 'zh-CN': '不支持这种文件格式，请发送 JPEG、PNG 或 WebP 图片。' },
  'image.svg': { en: 'SVG images are not accepted; please send a JPEG, PNG or WebP image.', 'zh-CN': '不接受 SVG 矢量图，请发送 JPEG、PNG 或 WebP 图片。' },
  'image.pdf': { en: 'This is a PDF, not an image; please send a JPEG, PNG or WebP image.', 'zh-CN': '这是 PDF 文件，不是图片，请发送 JPEG、PNG 或 WebP 图片。' },
  'image.too_many_pixels': {
    en: 'The image resolution is too high ({width}×{height}); the limit is {megapixels} megapixels.',
    'zh-CN': '图片分辨率太高（{width}×{height}），最多 {megapixels} 百万像素。',
  },
  'image.side_too_long': { en: 'The image is too long on one side ({width}×{height}); the limit is {max} pixels.', 'zh-CN': '图片边长太长（{width}×{height}），最长 {max} 像素。' },
  'image.corrupt': { en: 'The image is damaged or incomplete; please send it again.', 'zh-CN': '图片已损坏或不完整，请重新发送。' },

  // A moderation category with no label of its own (the keyword lists' categories.json labels the rest).
  'category.policy': { en: 'policy', 'zh-CN': '平台规则' },

  // Outcomes told to the user when a job ends without a video (worker, review, cancel, delivery).
  'outcome.cancelled': { en: 'Your video was cancelled; the credits were refunded.', 'zh-CN': '视频已取消，额度已退还。' },
  'outcome.bad_input': { en: 'This video could not be made with these settings (size, length or reference image). The credits were refunded.', 'zh-CN': '无法按这些设置（尺寸、时长或参考图）生成此视频，额度已退还。' },
  'outcome.out_of_memory': { en: 'This video was too large for the GPU. The credits were refunded; try --draft or a shorter --duration.', 'zh-CN': '视频超出显卡内存，额度已退还；可尝试 --draft 或更短的 --duration。' },
  'outcome.unavailable': { en: 'Video generation is not available right now (a configuration problem on our side). The credits were refunded.', 'zh-CN': '视频生成服务暂不可用（服务端配置问题），额度已退还。' },
  'outcome.busy': { en: 'The video service stayed too busy to take this video. The credits were refunded; please try again later.', 'zh-CN': '视频服务持续繁忙，未能处理此视频，额度已退还，请稍后再试。' },
  'outcome.provider_moderation': { en: 'The video service refused this content. The credits were refunded.', 'zh-CN': '视频服务拒绝了此内容，额度已退还。' },
  'outcome.output_blocked': { en: 'The generated video broke the content rules and was not sent. The credits were refunded.', 'zh-CN': '生成的视频未通过内容审核，未发送，额度已退还。' },
  'outcome.failed': { en: 'Something went wrong while making your video, several times. The credits were refunded; please try again later.', 'zh-CN': '生成视频时多次出错，额度已退还，请稍后再试。' },
  'outcome.review_rejected': { en: 'A moderator did not approve this video. The credits were refunded.', 'zh-CN': '视频未通过人工审核，额度已退还。' },
  'outcome.undeliverable': {
    en: 'Your video could not be sent here, however often we tried. The credits were refunded; it stays available for a while.',
    'zh-CN': '视频多次发送失败，额度已退还；视频会保留一段时间。',
  },

  // Why a /video command was refused (core/src/grammar/grammar-error.ts fills the placeholders).
  'grammar.example': { en: '/video a cat surfing at sunset --ar 9:16', 'zh-CN': '/video 日落时冲浪的猫 --ar 9:16' },
  'grammar.empty_prompt': { en: 'Please describe the video, e.g. {example}', 'zh-CN': '请写上视频的描述，例如：{example}' },
  'grammar.empty_prompt_neg': {
    en: 'Please describe the video, e.g. {example}. Everything after --neg up to the next option is the negative prompt; quote it: --neg "blurry"',
    'zh-CN': '请写上视频的描述，例如：{example}。--neg 之后直到下一个参数的文字都算反向提示词，请加引号：--neg “模糊”',
  },
  'grammar.not_a_command': { en: 'Not a /video command; try {example}', 'zh-CN': '这不是 /video 指令，试试：{example}' },
  'grammar.unknown_flag': { en: 'Unknown option {flag}; known options: {known}', 'zh-CN': '不认识的参数 {flag}，可用参数：{known}' },
  'grammar.missing_value': { en: '--{flag} needs a value, e.g. {example}', 'zh-CN': '--{flag} 缺少取值，例如 {example}' },
  'grammar.unterminated_quote': { en: 'The quote after --{flag} is never closed; add the closing {closer}', 'zh-CN': '--{flag} 后面的引号没有闭合，请补上 {closer}' },
  'grammar.duplicate_flag': { en: '--{flag} is given more than once; keep one', 'zh-CN': '--{flag} 重复出现了，请只保留一个' },
  'grammar.bad_seed': { en: '--seed must be a whole number from {min} to {max}, not {value}', 'zh-CN': '--seed 必须是 {min} 到 {max} 之间的整数，{value} 不行' },
  'grammar.bad_aspect': { en: 'Unknown aspect ratio {value} for --ar; allowed: {allowed}', 'zh-CN': '--ar 的画幅比例 {value} 不支持，可选：{allowed}' },
  'grammar.bad_duration': {
    en: '--duration must be a number of seconds (draft {draft} s, final {final} s), not {value}',
    'zh-CN': '--duration 应为秒数（草稿 {draft} 秒，正式 {final} 秒），{value} 不行',
  },
  'grammar.duration_out_of_range': {
    en: '--duration {value} s is out of range for {mode} mode: {mode} allows {range} s, {other} {otherRange} s{hint}',
    'zh-CN': '--duration {value} 秒超出{mode}模式的范围：{mode} {range} 秒，{other} {otherRange} 秒{hint}',
  },
  'grammar.duration_longer_hint': { en: '; leave out --draft for a longer video', 'zh-CN': '；想要更长的视频请去掉 --draft' },
  'grammar.mode_draft': { en: 'draft', 'zh-CN': '草稿' },
  'grammar.mode_final': { en: 'final', 'zh-CN': '正式' },
  'grammar.unknown_style': { en: 'Unknown style "{value}" for --style; allowed: {allowed}', 'zh-CN': '没有名为“{value}”的风格（--style），可选：{allowed}' },
  'grammar.too_long': { en: '{what} is too long: {length} characters, at most {max}{styleNote}', 'zh-CN': '{what}太长了：{length} 个字符，最多 {max} 个{styleNote}' },
  'grammar.what_prompt': { en: 'The prompt', 'zh-CN': '描述' },
  'grammar.what_negative': { en: 'The negative prompt (--neg)', 'zh-CN': '反向提示词（--neg）' },
  'grammar.style_note': { en: ' with style {style}', 'zh-CN': '（使用风格 {style} 时）' },
  // A link that could not be fetched (content-safety's SafeFetchError).
  'fetch.bad_url': { en: 'The link is not a valid URL.', 'zh-CN': '链接格式不正确。' },
  'fetch.bad_scheme': { en: 'Only http and https links are supported.', 'zh-CN': '只支持 http 或 https 链接。' },
  'fetch.blocked_address': { en: 'The link points to an internal or reserved address and was refused.', 'zh-CN': '该链接指向内部或保留地址，已拒绝访问。' },
  'fetch.dns_failed': { en: 'The link’s host name could not be resolved.', 'zh-CN': '无法解析链接中的域名。' },
  'fetch.too_many_redirects': { en: 'The link redirected too many times.', 'zh-CN': '链接重定向次数过多。' },
  'fetch.too_large': { en: 'The file is too large; the download was stopped.', 'zh-CN': '文件太大，已停止下载。' },
  'fetch.timeout': { en: 'The download timed out; please try again later.', 'zh-CN': '下载超时，请稍后再试。' },
  'fetch.http_status': { en: 'The remote server answered with an error status.', 'zh-CN': '对方服务器返回了错误状态。' },
  'fetch.bad_content_type': { en: 'The link’s content type is not supported.', 'zh-CN': '链接的内容类型不受支持。' },
  'fetch.network': { en: 'A network error interrupted the download; please try again later.', 'zh-CN': '下载时网络出错，请稍后再试。' },
  'fetch.aborted': { en: 'The download was cancelled.', 'zh-CN': '下载已取消。' },

  // WeChat's own content checks (content-safety's WeChatApiError).
  'wechat.openid_required': { en: 'Content checks need your WeChat identity; please use the mini program.', 'zh-CN': '内容检测需要微信用户身份，请在小程序内操作。' },
  'wechat.openid_not_recent': {
    en: 'Please open the mini program first (WeChat requires a visit in the last 2 hours), then try again.',
    'zh-CN': '请先打开一次小程序（微信要求近两小时内访问过），然后再试。',
  },
  'wechat.busy': { en: 'WeChat’s content check is busy; please try again shortly.', 'zh-CN': '微信内容检测繁忙，请稍后再试。' },
  'wechat.quota': { en: 'The content-check quota is used up for now; please try again later.', 'zh-CN': '今日内容检测次数已用完，请稍后再试。' },
  'wechat.unavailable': { en: 'The content check is unavailable right now; please try again later.', 'zh-CN': '内容检测暂时不可用，请稍后再试。' },
  // /video help (core/src/grammar/grammar-help.ts), one line each.
  'help.usage': { en: 'Usage: /video <prompt> [options]', 'zh-CN': '用法：/video <描述> [参数]' },
  'help.ar': { en: '--ar aspect ratio: {aspects} (default 16:9)', 'zh-CN': '--ar 画幅比例：{aspects}（默认 16:9）' },
  'help.duration': {
    en: '--duration seconds: draft {draftMin}–{draftMax} (default {draftDefault}), final {finalMin}–{finalMax} (default {finalDefault})',
    'zh-CN': '--duration 秒数：草稿 {draftMin}–{draftMax} 秒（默认 {draftDefault}），正式 {finalMin}–{finalMax} 秒（默认 {finalDefault}）',
  },
  'help.draft': { en: '--draft draft mode: lower resolution, faster', 'zh-CN': '--draft 草稿模式：低分辨率，出片更快' },
  'help.seed': { en: '--seed 0–4294967295: the same seed and prompt give the same video', 'zh-CN': '--seed 随机种子：0–4294967295，同样的种子和描述得到同样的视频' },
  'help.style': { en: '--style {styles}', 'zh-CN': '--style 风格：{styles}' },
  'help.neg': { en: '--neg what to avoid, e.g. --neg "blurry, watermark"', 'zh-CN': '--neg 反向提示词：不想出现的内容，例如 --neg “模糊，水印”' },
  'help.example': { en: 'Example: /video a cat surfing at sunset --ar 9:16 --style anime --draft', 'zh-CN': '例如：/video 日落时冲浪的猫 --ar 9:16 --style 动漫 --draft' },

  // The one-line summary of a spec in bot replies (core/src/grammar/spec-summary.ts).
  'summary.seconds': { en: '{n} s', 'zh-CN': '{n} 秒' },
  'summary.seed': { en: 'seed {seed}', 'zh-CN': '种子 {seed}' },
  'summary.style': { en: 'style {style}', 'zh-CN': '风格 {style}' },
  'summary.reference_image': { en: 'reference image', 'zh-CN': '参考图' },
  'collab.started': {
    en: 'Storyboard open{theme}. Add shots with "add <text>"; the starter renders with "collab render".',
    'zh-CN': '分镜板已开启{theme}。用“加：<文字>”添加镜头；发起人用“collab render”生成视频。',
  },
  'collab.exists': { en: 'A storyboard is already open here.', 'zh-CN': '这里已经有一个进行中的分镜板。' },
  'collab.none': { en: 'No storyboard is open here. Start one with "collab start <theme>".', 'zh-CN': '这里没有进行中的分镜板，用“collab start <主题>”开启一个。' },
  'collab.shot_added': { en: 'Shot {n} added.', 'zh-CN': '已添加第 {n} 个镜头。' },
  'collab.shot_edited': { en: 'Shot {n} changed.', 'zh-CN': '第 {n} 个镜头已修改。' },
  'collab.shot_removed': { en: 'Shot {n} removed.', 'zh-CN': '第 {n} 个镜头已删除。' },
  'collab.voted': { en: 'Vote counted for shot {n} ({votes} votes).', 'zh-CN': '已为第 {n} 个镜头投票（{votes} 票）。' },
  'collab.already_voted': { en: 'You already voted for shot {n}.', 'zh-CN': '你已经为第 {n} 个镜头投过票了。' },
  'collab.unvoted': { en: 'Vote for shot {n} taken back ({votes} votes).', 'zh-CN': '已取消对第 {n} 个镜头的投票（{votes} 票）。' },
  'collab.not_voted': { en: 'You have not voted for shot {n}.', 'zh-CN': '你还没有为第 {n} 个镜头投票。' },
  'collab.no_shot': { en: 'There is no shot {n}.', 'zh-CN': '没有第 {n} 个镜头。' },
  'collab.not_author': { en: 'Only the author of shot {n} can change it.', 'zh-CN': '只有第 {n} 个镜头的作者可以修改它。' },
  'collab.not_starter': { en: 'Only the storyboard\'s starter or an admin can do that.', 'zh-CN': '只有分镜板发起人或管理员可以这样做。' },
  'collab.not_collecting': { en: 'The storyboard is {state}: shots can no longer be changed.', 'zh-CN': '分镜板当前状态为 {state}，镜头不能再修改。' },
  'collab.full': { en: 'The storyboard has reached {max} shots.', 'zh-CN': '分镜板已达到 {max} 个镜头上限。' },
  'collab.empty': { en: 'The storyboard has no shots yet.', 'zh-CN': '分镜板还没有镜头。' },
  'collab.bad_order': { en: 'Give every shot number once, e.g. "collab reorder 2,1,3".', 'zh-CN': '请把每个镜头编号各写一次，例如“collab reorder 2,1,3”。' },
  'collab.flags_in_shot': { en: 'Shots take no flags: style, seed and aspect are the storyboard\'s.', 'zh-CN': '镜头文字不能带参数：风格、种子和比例由分镜板统一设置。' },
  'collab.blocked': { en: 'Your shot was not accepted: it breaks the content rules ({category}). The storyboard is unchanged.', 'zh-CN': '你的镜头未通过内容审核（{category}），分镜板未改变。' },
  'collab.locked': { en: 'Storyboard locked.', 'zh-CN': '分镜板已锁定。' },
  'collab.unlocked': { en: 'Storyboard unlocked.', 'zh-CN': '分镜板已解锁。' },
  'collab.reordered': { en: 'Shots reordered.', 'zh-CN': '镜头顺序已调整。' },
  'collab.cancelled': { en: 'Storyboard closed.', 'zh-CN': '分镜板已关闭。' },
  'collab.rendering': { en: 'Rendering {shots} shots as one video: {cost} credits, about {eta}.', 'zh-CN': '正在把 {shots} 个镜头生成为一个视频：{cost} 点，预计 {eta}。' },
  'collab.already_rendering': { en: 'This storyboard is already rendering.', 'zh-CN': '这个分镜板已经在生成中。' },
  'collab.pool_empty': { en: 'The group pool has {available} credits; this video costs {cost}.', 'zh-CN': '群额度池剩余 {available} 点，本视频需要 {cost} 点。' },
  'collab.pool_granted': { en: 'The group pool now holds {balance} credits.', 'zh-CN': '群额度池现有 {balance} 点。' },
  'collab.expired': { en: 'The storyboard closed after {hours} hours without activity.', 'zh-CN': '分镜板已 {hours} 小时无人操作，已自动关闭。' },
  'collab.show': {
    en: 'Storyboard{theme} ({state}), {count} shots, {max} make the cut. Cost {cost} credits, about {eta}.',
    'zh-CN': '分镜板{theme}（{state}），共 {count} 个镜头，入选 {max} 个。费用 {cost} 点，预计 {eta}。',
  },
  'collab.shot_line': { en: '{n}. {author}: {text} ({votes} votes){cut}', 'zh-CN': '{n}. {author}：{text}（{votes} 票）{cut}' },
  'collab.shot_cut': { en: ' [not in the cut]', 'zh-CN': '【未入选】' },
  'collab.end_card': { en: 'Made together by', 'zh-CN': '共同创作' },
  'collab.failed': { en: 'The storyboard video could not be made; all credits were refunded. The board is open again.', 'zh-CN': '分镜视频生成失败，额度已全部退回，分镜板已重新开放。' },
  'collab.render_cancelled': { en: 'The storyboard render was stopped; all credits were refunded. The board is open again ("collab cancel" once more closes it).', 'zh-CN': '分镜视频生成已停止，额度已全部退回，分镜板已重新开放（再发一次“collab cancel”即关闭）。' },
} as const satisfies Record<string, LocalizedText>;

export type MessageId = keyof typeof MESSAGES;

/** Templates split at their `{name}` placeholders (text, name, text, …), remembered: bounded. */
const SPLIT = new Map<string, readonly string[]>();
const SPLIT_MAX = 2048;

export function format(template: string, vars: Record<string, string | number> = {}): string {
  let parts = SPLIT.get(template);
  if (parts === undefined) {
    parts = template.split(/\{(\w+)\}/);
    if (SPLIT.size < SPLIT_MAX) SPLIT.set(template, parts);
  }
  let out = parts[0] ?? '';
  for (let i = 1; i < parts.length; i += 2) {
    const name = parts[i] ?? '';
    out += (name in vars ? String(vars[name]) : `{${name}}`) + (parts[i + 1] ?? '');
  }
  return out;
}

/** The message in one language. */
export function t(id: MessageId, locale: Locale, vars?: MessageVars): string {
  return format(MESSAGES[id][locale], vars);
}

export type MessageVars = Record<string, string | number>;

/**
 * The message in every language, for payloads an adapter renders later. `vars` may depend on the
 * language (a list joined with 、 in Chinese, a label in each language).
 */
export function tAll(id: MessageId, vars?: MessageVars | ((locale: Locale) => MessageVars)): LocalizedText {
  const of = (l: Locale): MessageVars | undefined => (typeof vars === 'function' ? vars(l) : vars);
  return { 'zh-CN': t(id, 'zh-CN', of('zh-CN')), en: t(id, 'en', of('en')) };
}

export function formatEta(seconds: number, locale: Locale): string {
  if (seconds < 90) return t('eta.seconds', locale, { n: Math.max(1, Math.round(seconds)) });
  return t('eta.minutes', locale, { n: Math.round(seconds / 60) });
}
