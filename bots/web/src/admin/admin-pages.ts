import type { JobRecord, QuotaSnapshot, RefusalEntry, ScanReport, TierLimits, UserBlock } from '@framecast/core';
import { JOB_STATES, PLATFORMS } from '@framecast/core';
import { at } from './admin-messages.ts';
import { actionButton, form, html, raw, time, type Html, type PageContext } from './admin-html.ts';
import type { AuditEntry } from './audit-log.ts';
import type { QueueFigures } from './queue-board.ts';
import type { WeChatLoginState } from './wechat-login.ts';

const FINAL = new Set(['succeeded', 'failed', 'cancelled', 'blocked', 'undeliverable']);

export function loginBody(ctx: PageContext, opts: { error?: string }): Html {
  const l = ctx.locale;
  return html`${opts.error === undefined ? '' : html`<p class="notice error" role="alert">${opts.error}</p>`}
${form(ctx, '/admin/login', html`<p><label for="who">${at('login_name', l)}</label><br><input id="who" name="who" autocomplete="username" maxlength="64" value="admin"></p>
<p><label for="password">${at('login_password', l)}</label><br><input id="password" name="password" type="password" autocomplete="current-password" required maxlength="1024" autofocus></p>
<p><button type="submit">${at('login_submit', l)}</button></p>`)}`;
}

function figure(label: string, value: string | number): Html {
  return html`<div class="figure"><span>${label}</span><b>${value}</b></div>`;
}

function pct(f: number): string {
  return `${Math.round(f * 100)}%`;
}

export function figuresBlock(ctx: PageContext, f: QueueFigures, held: number): Html {
  const l = ctx.locale;
  return html`<div class="figures">${figure(at('workers', l), f.workers)}${figure(at('busy', l), pct(f.busyFraction))}${figure(at('throughput', l), `${f.completedLastHour}${f.completedAtLeast ? '+' : ''}`)}${figure(at('nav_review', l), held)}</div>`;
}

export function auditTable(ctx: PageContext, entries: AuditEntry[]): Html {
  const l = ctx.locale;
  if (entries.length === 0) return html`<p>${at('audit_none', l)}</p>`;
  return html`<table><caption class="visually-hidden">${at('nav_audit', l)}</caption><thead><tr><th scope="col">${at('when', l)}</th><th scope="col">${at('audit_who', l)}</th><th scope="col">${at('audit_action', l)}</th><th scope="col">${at('audit_target', l)}</th><th scope="col">${at('audit_outcome', l)}</th><th scope="col">IP</th></tr></thead><tbody>${entries.map(
    (e) => html`<tr><td>${time(e.at, l)}</td><td>${e.who}</td><td><code>${e.action}</code></td><td>${e.target}</td><td>${e.outcome}${e.detail === '' ? '' : html` <small>(${e.detail})</small>`}</td><td>${e.ip}</td></tr>`,
  )}</tbody></table>`;
}

export function wechatBlock(ctx: PageContext, state: WeChatLoginState | undefined, qr: string | undefined): Html {
  const l = ctx.locale;
  if (state === undefined) return html`<p>${at('wechat_none', l)}</p>`;
  const updated = html`<p><small>${at('updated', l)}: ${time(state.updatedAt, l)}</small></p>`;
  if (state.status === 'scan') {
    return html`<p>${at('wechat_scan', l)}</p>${qr === undefined ? '' : html`<img class="qr" src="${qr}" alt="${at('wechat_qr_alt', l)}" width="260" height="260">`}${state.qrcode === undefined ? '' : html`<p><small><code>${state.qrcode}</code></small></p>`}${updated}`;
  }
  if (state.status === 'logged-in') return html`<p>${at('wechat_logged_in', l, { user: state.user ?? '?' })}</p>${updated}`;
  return html`<p>${at('wechat_logged_out', l)}</p>${updated}`;
}

export function videoBlock(ctx: PageContext, rec: JobRecord): Html {
  const l = ctx.locale;
  if (rec.result === undefined) return html`<p>${at('no_video', l)}</p>`;
  const id = encodeURIComponent(rec.jobId);
  return html`<figure><video controls preload="metadata" width="${rec.result.width}" height="${rec.result.height}" src="/admin/media/${id}/video" ${rec.result.posterRef === undefined ? '' : html`poster="/admin/media/${id}/poster"`} aria-label="${at('video', l)} ${rec.jobId}"></video><figcaption>${rec.result.width}×${rec.result.height}, ${rec.result.frames} frames @ ${rec.result.fps} fps, ${(rec.result.bytes / 1024).toFixed(0)} KiB</figcaption></figure>`;
}

function jobActions(ctx: PageContext, rec: JobRecord, back: string, delivery: string | undefined): Html {
  const l = ctx.locale;
  const id = encodeURIComponent(rec.jobId);
  return html`${rec.state === 'review'
    ? html`${actionButton(ctx, `/admin/jobs/${id}/review`, at('approve', l), { decision: 'approve', back })} ${actionButton(ctx, `/admin/jobs/${id}/review`, at('reject', l), { decision: 'reject', back }, true)} `
    : ''}${FINAL.has(rec.state) ? '' : actionButton(ctx, `/admin/jobs/${id}/cancel`, at('cancel_job', l), { back }, true)}${rec.state === 'undeliverable' || delivery === 'undeliverable' ? actionButton(ctx, `/admin/jobs/${id}/retry-delivery`, at('retry_delivery', l), { back }) : ''}`;
}

export function reviewBody(ctx: PageContext, jobs: JobRecord[], reports: ReadonlyMap<string, ScanReport> = new Map()): Html {
  const l = ctx.locale;
  if (jobs.length === 0) return html`<p>${at('review_empty', l)}</p>`;
  return html`<p>${at('review_held_count', l, { count: jobs.length })}</p>${jobs.map((rec) => {
    const report = reports.get(rec.jobId);
    return html`<section aria-labelledby="h-${rec.jobId}"><h2 id="h-${rec.jobId}"><a href="/admin/jobs/${encodeURIComponent(rec.jobId)}">${rec.jobId}</a></h2>
<p>${at('user', l)}: <a href="/admin/users?user=${encodeURIComponent(rec.userKey)}">${rec.userKey}</a> · ${at('platform', l)}: ${rec.platform} · ${at('created', l)}: ${time(rec.createdAt, l)}</p>
<p>${at('prompt', l)}: <q>${rec.spec.prompt}</q></p>${videoBlock(ctx, rec)}${report === undefined ? html`<p><small>${at('review_scores_missing', l)}</small></p>` : scanBlock(ctx, report)}<p>${jobActions(ctx, rec, '/admin/review', undefined)}</p></section>`;
  })}`;
}

function score(v: number): string {
  return v.toFixed(3);
}

/** The output scan's report: verdict, rules, and each listed frame with its image and scores. */
export function scanBlock(ctx: PageContext, report: ScanReport): Html {
  const l = ctx.locale;
  const id = encodeURIComponent(report.jobId);
  const rules = (['block', 'review'] as const).flatMap((rule) => {
    const r = report.thresholds?.[rule];
    return r === undefined ? [] : [html`<li>${at('scan_rule', l, { rule, classes: r.classes.join(' + '), min: r.min })}</li>`];
  });
  return html`<div class="scan" data-verdict="${report.verdict}"><h3>${at('scan_title', l)}</h3>
<p><b class="scan-verdict">${at('scan_verdict', l, { verdict: report.verdict })}</b>${report.category === undefined ? '' : html` (${report.category})`} · ${at('scan_summary', l, { shown: report.frames.length, scanned: report.scannedFrames })}</p>
${rules.length === 0 ? '' : html`<ul>${rules}</ul>`}${report.decidingFrames.length === 0 ? '' : html`<p>${at('scan_deciding', l, { times: report.decidingFrames.slice(0, 20).map((t) => `${t} s`).join(', ') })}</p>`}
<div class="scan-frames">${report.frames.map((f) => html`<figure class="scan-frame" data-action="${f.action ?? ''}">${f.key === undefined
    ? html`<p>${at('scan_frame_missing', l)}</p>`
    : html`<img src="/admin/media/${id}/scan/${f.index}" alt="${at('scan_frame_alt', l, { time: f.timeSec })}" width="160" loading="lazy">`}<figcaption>${f.timeSec} s${f.action === undefined ? '' : html` · <b>${f.action}</b>`}<table class="scores"><tbody>${Object.entries(f.scores).sort((a, b) => b[1] - a[1]).map(
    ([k, v]) => html`<tr><th scope="row">${k}</th><td>${score(v)}</td></tr>`,
  )}</tbody></table></figcaption></figure>`)}</div></div>`;
}

function select(name: string, id: string, label: string, options: readonly string[], value: string | undefined, any: string): Html {
  return html`<label for="${id}">${label}</label> <select id="${id}" name="${name}"><option value="">${any}</option>${options.map((o) => html`<option value="${o}"${o === value ? raw(' selected') : ''}>${o}</option>`)}</select>`;
}

export function jobsBody(ctx: PageContext, q: { user?: string; state?: string; platform?: string }, jobs: JobRecord[], scanned: number, truncated: boolean, back: string): Html {
  const l = ctx.locale;
  const search = html`<form method="get" action="/admin/jobs" role="search"><label for="q-user">${at('user_key', l)}</label> <input id="q-user" name="user" maxlength="300" value="${q.user ?? ''}"> ${select('state', 'q-state', at('state', l), JOB_STATES, q.state, at('any', l))} ${select('platform', 'q-platform', at('platform', l), PLATFORMS, q.platform, at('any', l))} <button type="submit">${at('search', l)}</button></form>`;
  return html`${search}${truncated ? html`<p><small>${at('jobs_truncated', l, { scanned })}</small></p>` : ''}${jobsTable(ctx, jobs, back)}`;
}

export function jobsTable(ctx: PageContext, jobs: JobRecord[], back: string): Html {
  const l = ctx.locale;
  if (jobs.length === 0) return html`<p>${at('jobs_none', l)}</p>`;
  return html`<table><thead><tr><th scope="col">${at('job', l)}</th><th scope="col">${at('user', l)}</th><th scope="col">${at('platform', l)}</th><th scope="col">${at('state', l)}</th><th scope="col">${at('created', l)}</th><th scope="col">${at('prompt', l)}</th><th scope="col">${at('actions', l)}</th></tr></thead><tbody>${jobs.map(
    (r) => html`<tr data-job="${r.jobId}"><td><a href="/admin/jobs/${encodeURIComponent(r.jobId)}">${r.jobId}</a></td><td><a href="/admin/users?user=${encodeURIComponent(r.userKey)}">${r.userKey}</a></td><td>${r.platform}</td><td class="state">${r.state}</td><td>${time(r.createdAt, l)}</td><td>${r.spec.prompt.slice(0, 80)}</td><td>${jobActions(ctx, r, back, undefined)}</td></tr>`,
  )}</tbody></table>`;
}

export function jobBody(ctx: PageContext, rec: JobRecord, delivery: Record<string, string> | undefined, deliveryState: string | undefined, report?: ScanReport): Html {
  const l = ctx.locale;
  const back = `/admin/jobs/${encodeURIComponent(rec.jobId)}`;
  const rows: Array<[string, Html | string]> = [
    [at('state', l), html`<span class="state">${rec.state}</span>`],
    [at('user', l), html`<a href="/admin/users?user=${encodeURIComponent(rec.userKey)}">${rec.userKey}</a>`],
    [at('platform', l), rec.platform],
    [at('created', l), time(rec.createdAt, l)],
    [at('prompt', l), rec.spec.prompt],
    [at('parameters', l), `${rec.spec.mode} · ${rec.spec.aspect} · ${rec.spec.durationSeconds}s · ${rec.spec.width}×${rec.spec.height} · seed ${rec.spec.seed}${rec.spec.style === undefined ? '' : ` · ${rec.spec.style}`}`],
    [at('cost', l), String(rec.cost)],
    [at('delivery', l), `${deliveryState ?? '—'}${delivery?.attempts === undefined ? '' : ` (${delivery.attempts})`}`],
  ];
  if (rec.error !== undefined) rows.push([at('error', l), `${rec.error.code}: ${rec.error.message}`]);
  return html`<table><tbody>${rows.map(([k, v]) => html`<tr><th scope="row">${k}</th><td>${v}</td></tr>`)}</tbody></table>
${videoBlock(ctx, rec)}${rec.result?.posterRef === undefined ? '' : html`<p><img class="poster" src="/admin/media/${encodeURIComponent(rec.jobId)}/poster" alt="${at('poster', l)} ${rec.jobId}"></p>`}${report !== undefined ? scanBlock(ctx, report) : rec.state === 'review' ? html`<p><small>${at('review_scores_missing', l)}</small></p>` : ''}
<p>${jobActions(ctx, rec, back, deliveryState)}</p>`;
}

export function usersBody(
  ctx: PageContext,
  q: { user?: string },
  found: { quota: QuotaSnapshot; block: UserBlock | undefined; jobs: JobRecord[] } | undefined,
  blocks: UserBlock[],
  tiers: Readonly<Record<string, TierLimits>>,
): Html {
  const l = ctx.locale;
  const lookup = html`<form method="get" action="/admin/users" role="search"><label for="u-user">${at('user_key', l)}</label> <input id="u-user" name="user" maxlength="300" required value="${q.user ?? ''}" placeholder="discord:1234"> <button type="submit">${at('look_up', l)}</button></form>`;
  let detail = html``;
  if (found !== undefined && q.user !== undefined) {
    const back = `/admin/users?user=${encodeURIComponent(q.user)}`;
    const s = found.quota;
    detail = html`<section aria-labelledby="u-h"><h2 id="u-h">${q.user}</h2>
<p>${at('tier', l)}: <b>${s.tier}</b> · ${at('credits_left', l)}: <b class="credits-left">${s.available}</b></p>
<p>${at('quota_detail', l, { used: s.spent + s.held, limit: s.dailyCredits, bonus: s.bonus, active: `${s.active}/${s.maxConcurrent}` })}</p>
<p class="block-state">${found.block === undefined ? at('not_blocked', l) : `${at('blocked', l)} — ${found.block.by}, ${time(found.block.at, l)}${found.block.reason === '' ? '' : `: ${found.block.reason}`}`}</p>
${form(ctx, '/admin/users/grant', html`<input type="hidden" name="user" value="${q.user}"><input type="hidden" name="back" value="${back}"><label for="g-credits">${at('credits', l)}</label> <input id="g-credits" name="credits" type="number" min="1" max="1000000" step="1" required value="10"> <button type="submit">${at('grant', l)}</button>`)}
${found.block === undefined
  ? form(ctx, '/admin/users/block', html`<input type="hidden" name="user" value="${q.user}"><input type="hidden" name="back" value="${back}"><label for="b-reason">${at('reason', l)}</label> <input id="b-reason" name="reason" maxlength="500"> <button type="submit" class="danger">${at('block', l)}</button>`)
  : form(ctx, '/admin/users/unblock', html`<input type="hidden" name="user" value="${q.user}"><input type="hidden" name="back" value="${back}"><button type="submit">${at('unblock', l)}</button>`)}
<h3>${at('recent_jobs', l)}</h3>${jobsTable(ctx, found.jobs, back)}</section>`;
  }
  const blocked = blocks.length === 0
    ? html`<p>${at('blocked_none', l)}</p>`
    : html`<table><thead><tr><th scope="col">${at('user', l)}</th><th scope="col">${at('by', l)}</th><th scope="col">${at('when', l)}</th><th scope="col">${at('reason', l)}</th><th scope="col">${at('actions', l)}</th></tr></thead><tbody>${blocks.map(
        (b) => html`<tr><td><a href="/admin/users?user=${encodeURIComponent(b.userKey)}">${b.userKey}</a></td><td>${b.by}</td><td>${time(b.at, l)}</td><td>${b.reason}</td><td>${actionButton(ctx, '/admin/users/unblock', at('unblock', l), { user: b.userKey, back: '/admin/users' })}</td></tr>`,
      )}</tbody></table>`;
  const tierRows = Object.entries(tiers).map(([name, t]) => html`<tr><td>${name}</td><td>${t.dailyCredits}</td><td>${t.maxConcurrent}</td></tr>`);
  return html`${lookup}${detail}<h2>${at('blocked_users', l)}</h2>${blocked}<h2>${at('tiers', l)}</h2><table><thead><tr><th scope="col">${at('tier', l)}</th><th scope="col">${at('daily_credits', l)}</th><th scope="col">${at('max_concurrent', l)}</th></tr></thead><tbody>${tierRows}</tbody></table><p><small>${at('tiers_note', l)}</small></p>`;
}

export function moderationBody(
  ctx: PageContext,
  refusals: RefusalEntry[],
  lists: { dir: string; version: string; files: number; entries: number; failed: boolean } | undefined,
): Html {
  const l = ctx.locale;
  const listBlock = lists === undefined
    ? html`<p>${at('keyword_unavailable', l)}</p>`
    : html`<table><tbody><tr><th scope="row">${at('keyword_version', l)}</th><td><code class="keyword-version">${lists.version}</code></td></tr><tr><th scope="row">${at('keyword_files', l)}</th><td>${lists.files}</td></tr><tr><th scope="row">${at('keyword_entries', l)}</th><td>${lists.entries}</td></tr><tr><th scope="row">${at('keyword_dir', l)}</th><td><code>${lists.dir}</code></td></tr></tbody></table>${lists.failed ? html`<p class="notice error">${at('keyword_last_error', l)}</p>` : ''}${actionButton(ctx, '/admin/moderation/reload', at('reload', l), { back: '/admin/moderation' })}`;
  const table = refusals.length === 0
    ? html`<p>${at('refusals_none', l)}</p>`
    : html`<table><thead><tr><th scope="col">${at('when', l)}</th><th scope="col">${at('user', l)}</th><th scope="col">${at('platform', l)}</th><th scope="col">${at('reason', l)}</th><th scope="col">${at('category', l)}</th></tr></thead><tbody>${refusals.map(
        (r) => html`<tr><td>${time(r.at, l)}</td><td><a href="/admin/users?user=${encodeURIComponent(r.userKey)}">${r.userKey}</a></td><td>${r.platform}</td><td>${r.reason}</td><td>${r.category === '' ? '—' : r.category}</td></tr>`,
      )}</tbody></table>`;
  return html`<h2>${at('keyword_lists', l)}</h2>${listBlock}<h2>${at('refusals', l)}</h2>${table}`;
}

export function queuesBody(ctx: PageContext, f: QueueFigures, held: number, metricsText: string | undefined): Html {
  const l = ctx.locale;
  const states = Object.entries(f.jobsByState);
  const cols = ['waiting', 'prioritized', 'active', 'delayed', 'failed'];
  return html`${figuresBlock(ctx, f, held)}
<h2>${at('jobs_by_state', l)}</h2><table><tbody>${states.map(([s, n]) => html`<tr><th scope="row">${s}</th><td>${n}</td></tr>`)}</tbody></table>
<h2>${at('queue', l)}</h2><table><thead><tr><th scope="col">${at('queue', l)}</th>${cols.map((c) => html`<th scope="col">${c}</th>`)}</tr></thead><tbody>${f.queues.map(
    (q) => html`<tr><td>${q.queue}</td>${cols.map((c) => html`<td>${q.counts[c] ?? 0}</td>`)}</tr>`,
  )}</tbody></table>
<p><a href="/admin/queues">${at('nav_board', l)}</a></p>
${metricsText === undefined ? '' : html`<h2>${at('metrics', l)}</h2><pre>${metricsText}</pre>`}`;
}
