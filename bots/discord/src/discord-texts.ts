import { formatEta, type Locale } from '@framecast/core';

type Vars = Record<string, string | number>;

/** The adapter's own words (Discord's buttons and status lines), in both languages. */
const TEXTS = {
  received: { en: '⏳ Got it — preparing your video…', 'zh-CN': '⏳ 收到，正在准备你的视频…' },
  queued: { en: '⏳ In line: position {position}, about {eta}.', 'zh-CN': '⏳ 排队中：第 {position} 位，约 {eta}。' },
  started: { en: '🎬 Rendering…', 'zh-CN': '🎬 正在生成…' },
  step: { en: '🎬 Rendering `{bar}` {step}/{total}', 'zh-CN': '🎬 正在生成 `{bar}` {step}/{total}' },
  encoding: { en: '🎞️ Encoding…', 'zh-CN': '🎞️ 正在编码…' },
  scanning: { en: '🔍 Checking the video…', 'zh-CN': '🔍 正在检查视频…' },
  review: { en: '🕵️ Made — waiting for a moderator before it is posted.', 'zh-CN': '🕵️ 已生成，等待人工审核后发送。' },
  delivered: { en: '🎬 {mention} here is your video — {summary}', 'zh-CN': '🎬 {mention} 你的视频好了 —— {summary}' },
  deliveredLink: { en: '🎬 {mention} your video is larger than Discord lets me upload here ({size}); watch it here: {url} — {summary}', 'zh-CN': '🎬 {mention} 视频超过了此处的上传上限（{size}），请在这里观看：{url} —— {summary}' },
  buttonReroll: { en: 'Reroll', 'zh-CN': '重新生成' },
  buttonVary: { en: 'Vary', 'zh-CN': '修改描述' },
  varyTitle: { en: 'Edit the prompt (same seed)', 'zh-CN': '修改描述（相同种子）' },
  varyLabel: { en: 'Prompt', 'zh-CN': '描述' },
  buttonUpscale: { en: 'Upscale to final', 'zh-CN': '升级为正式版' },
  buttonInfo: { en: 'Info', 'zh-CN': '参数' },
  buttonDelete: { en: 'Delete', 'zh-CN': '删除' },
  buttonCancel: { en: 'Cancel', 'zh-CN': '取消' },
  deleted: { en: 'Deleted.', 'zh-CN': '已删除。' },
  notYours: { en: 'Only the person who asked for this video (or an admin) can do that.', 'zh-CN': '只有发起人（或管理员）可以这样做。' },
  jobGone: { en: 'That video is no longer known.', 'zh-CN': '找不到这个视频的记录了。' },
  imageTooLarge: { en: 'The image is too large ({size}); the limit is {max}.', 'zh-CN': '图片太大（{size}），上限为 {max}。' },
  imageUnreadable: { en: 'The image could not be downloaded from Discord; please try again.', 'zh-CN': '无法从 Discord 下载图片，请重试。' },
  quota: {
    en: 'Credits left today: **{available}** of {daily} ({tier}); {held} held by unfinished videos, {active}/{maxConcurrent} running. Resets at midnight ({timeZone}).',
    'zh-CN': '今日剩余额度：**{available}** / {daily}（{tier}）；进行中的视频占用 {held}，运行中 {active}/{maxConcurrent}。每天零点（{timeZone}）重置。',
  },
  noJobs: { en: 'You have no videos yet. Try `/video`.', 'zh-CN': '你还没有视频，试试 `/video`。' },
  jobLine: { en: '`{jobId}` {state}{position} — {summary}', 'zh-CN': '`{jobId}` {state}{position} —— {summary}' },
  jobPosition: { en: ' (position {position}, about {eta})', 'zh-CN': '（第 {position} 位，约 {eta}）' },
  internal: { en: 'Something went wrong on our side; please try again.', 'zh-CN': '服务出错了，请重试。' },
  collabThreadName: { en: 'Storyboard · {starter}', 'zh-CN': '分镜 · {starter}' },
  collabThreadOpened: { en: '{message}\n🧵 The board is in {thread}: add shots there with `/video prompt: add <text>`.', 'zh-CN': '{message}\n🧵 分镜板在 {thread}：在那里用 `/video 描述: 加：<文字>` 添加镜头。' },
  collabHelp: { en: 'Add a shot: `/video prompt: add <text>` · vote with the buttons or react 1️⃣–🔟 (remove the reaction, or `unvote N`, to take it back) · the starter renders.', 'zh-CN': '添加镜头：`/video 描述: 加：<文字>` · 用按钮或 1️⃣–🔟 表情投票（撤下表情或 `取消投票 N` 即取消） · 发起人生成视频。' },
  collabTitle: { en: '🎬 **Storyboard{theme}** — {state} · started by {starter}', 'zh-CN': '🎬 **分镜板{theme}** —— {state} · 发起人 {starter}' },
  collabSettings: { en: '{style}seed {seed} · {aspect} · {count} shots, {max} make the cut', 'zh-CN': '{style}种子 {seed} · {aspect} · 共 {count} 个镜头，入选 {max} 个' },
  collabCost: { en: '💰 {cost} credits ({policy}) · about {eta}', 'zh-CN': '💰 {cost} 点（{policy}）· 预计 {eta}' },
  collabPolicyStarter: { en: 'the starter pays', 'zh-CN': '发起人支付' },
  collabPolicySplit: { en: 'split among the contributors in the cut', 'zh-CN': '入选镜头的作者分摊' },
  collabPolicyPool: { en: 'from the group pool', 'zh-CN': '由群额度池支付' },
  collabShotLine: { en: '`{n}.` **{author}**: {text} — 🗳️ {votes}{cut}{progress}', 'zh-CN': '`{n}.` **{author}**：{text} —— 🗳️ {votes}{cut}{progress}' },
  collabShotOut: { en: ' · *not in the cut*', 'zh-CN': ' · *未入选*' },
  collabNoShots: { en: '*No shots yet.*', 'zh-CN': '*还没有镜头。*' },
  collabSegWaiting: { en: ' · ⏳ waiting', 'zh-CN': ' · ⏳ 等待中' },
  collabSegStarted: { en: ' · 🎬 rendering', 'zh-CN': ' · 🎬 生成中' },
  collabSegStep: { en: ' · 🎬 `{bar}` {step}/{total}', 'zh-CN': ' · 🎬 `{bar}` {step}/{total}' },
  collabSegRetrying: { en: ' · 🔁 retrying', 'zh-CN': ' · 🔁 重试中' },
  collabSegDone: { en: ' · ✅ done', 'zh-CN': ' · ✅ 完成' },
  collabStitching: { en: '🎞️ Joining the shots…', 'zh-CN': '🎞️ 正在拼接镜头…' },
  collabRendered: { en: '✅ Rendered: the video is posted below.', 'zh-CN': '✅ 已生成：视频在下方。' },
  collabStateCollecting: { en: 'collecting shots', 'zh-CN': '收集镜头中' },
  collabStateLocked: { en: 'locked', 'zh-CN': '已锁定' },
  collabStateRendering: { en: 'rendering', 'zh-CN': '生成中' },
  collabStateDone: { en: 'done', 'zh-CN': '已完成' },
  collabStateExpired: { en: 'expired', 'zh-CN': '已过期' },
  collabStateCancelled: { en: 'cancelled', 'zh-CN': '已取消' },
  collabButtonVote: { en: 'Vote {n}', 'zh-CN': '投票 {n}' },
  collabButtonShow: { en: 'Show', 'zh-CN': '查看' },
  collabButtonRender: { en: 'Render', 'zh-CN': '生成视频' },
  collabBoardGone: { en: 'This storyboard is closed.', 'zh-CN': '这个分镜板已经关闭。' },
} as const satisfies Record<string, { en: string; 'zh-CN': string }>;

export type DiscordTextId = keyof typeof TEXTS;

export function dt(id: DiscordTextId, locale: Locale, vars: Vars = {}): string {
  return TEXTS[id][locale].replace(/\{(\w+)\}/g, (m, k: string) => (k in vars ? String(vars[k]) : m));
}

/** `[██████░░░░]` for step n of total. */
export function progressBar(step: number, total: number, width = 10): string {
  const filled = Math.max(0, Math.min(width, Math.round((step / Math.max(1, total)) * width)));
  return `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
}

export function eta(seconds: number, locale: Locale): string {
  return formatEta(seconds, locale);
}

export function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}
