import type { Locale } from '@framecast/core';
import { at, type AdminTextId } from './admin-messages.ts';

/** Text for HTML content and attribute values: every markup character escaped. */
export function esc(value: string | number | undefined | null): string {
  return String(value ?? '').replace(/[&<>"'`=]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A trusted piece of markup (built only from escaped values). */
export interface Html {
  readonly html: string;
}

export function raw(html: string): Html {
  return { html };
}

/** A template tag that escapes every interpolated value unless it is Html (or an array of Html). */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += render(v) + (strings[i + 1] ?? '');
  });
  return { html: out };
}

function render(v: unknown): string {
  if (v === undefined || v === null || v === false) return '';
  if (Array.isArray(v)) return v.map(render).join('');
  if (typeof v === 'object' && 'html' in v && typeof (v as Html).html === 'string') return (v as Html).html;
  return esc(String(v as string | number));
}

export interface PageContext {
  locale: Locale;
  /** The session's CSRF token, for every form; undefined on the login page. */
  csrf?: string;
  who?: string;
  /** The current path (for the language switch and the navigation's current item). */
  path: string;
  notice?: { kind: 'ok' | 'error'; text: string };
}

const NAV: Array<[string, AdminTextId]> = [
  ['/admin', 'nav_overview'],
  ['/admin/review', 'nav_review'],
  ['/admin/jobs', 'nav_jobs'],
  ['/admin/users', 'nav_users'],
  ['/admin/moderation', 'nav_moderation'],
  ['/admin/queues-stats', 'nav_queues'],
  ['/admin/queues', 'nav_board'],
  ['/admin/wechat', 'nav_wechat'],
  ['/admin/audit', 'nav_audit'],
];

/** A POST form with the session's CSRF token in a hidden field. */
export function form(ctx: PageContext, action: string, body: Html, opts: { className?: string } = {}): Html {
  return html`<form method="post" action="${action}"${opts.className === undefined ? '' : raw(` class="${esc(opts.className)}"`)}><input type="hidden" name="_csrf" value="${ctx.csrf ?? ''}">${body}</form>`;
}

/** A form with one submit button (an action on one target). */
export function actionButton(ctx: PageContext, action: string, label: string, fields: Record<string, string> = {}, danger = false): Html {
  const hidden = Object.entries(fields).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`);
  return form(ctx, action, html`${hidden}<button type="submit"${danger ? raw(' class="danger"') : ''}>${label}</button>`, { className: 'inline' });
}

export function time(ms: number | undefined, locale: Locale): string {
  if (ms === undefined || !Number.isFinite(ms) || ms <= 0) return '—';
  return new Date(ms).toLocaleString(locale === 'zh-CN' ? 'zh-CN' : 'en-GB', { timeZone: 'UTC', hour12: false }) + ' UTC';
}

const STYLE = `
:root{color-scheme:light dark;font-family:system-ui,-apple-system,"Noto Sans CJK SC","PingFang SC",sans-serif}
body{margin:0;line-height:1.45}
header{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center;padding:.6rem 1rem;background:#1d2433;color:#fff}
header a{color:#fff}
header .who{margin-left:auto}
nav ul{display:flex;flex-wrap:wrap;gap:.25rem .9rem;list-style:none;margin:0;padding:.5rem 1rem;border-bottom:1px solid #8884}
nav a[aria-current=page]{font-weight:700}
main{padding:1rem;max-width:1200px}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}
th,td{border-bottom:1px solid #8884;padding:.3rem .5rem;text-align:left;vertical-align:top}
form.inline{display:inline}
label{display:inline-block;margin:.2rem .6rem .2rem 0}
input,select,button{font:inherit;padding:.25rem .5rem}
button.danger{color:#fff;background:#a4262c;border:1px solid #a4262c}
.notice{padding:.5rem .8rem;border-radius:4px;margin:.5rem 0}
.notice.ok{background:#dff6dd;color:#0b3d0b}
.notice.error{background:#fde7e9;color:#5c0a0f}
.figures{display:flex;flex-wrap:wrap;gap:1rem}
.figure{border:1px solid #8884;border-radius:6px;padding:.6rem 1rem;min-width:10rem}
.figure b{display:block;font-size:1.6rem}
pre{overflow:auto;max-height:30rem;background:#8881;padding:.5rem}
video,img.poster{max-width:100%;max-height:360px;background:#000}
.qr{width:260px;height:260px;background:#fff;padding:8px}
.scan-frames{display:flex;flex-wrap:wrap;gap:.6rem}
.scan-frame{margin:0;border:1px solid #8884;border-radius:4px;padding:.3rem;width:170px}
.scan-frame[data-action=review]{border-color:#c19c00}.scan-frame[data-action=block]{border-color:#a4262c}
.scan-frame img{display:block;max-width:160px;background:#000}
.scores th{text-align:left;font-weight:normal;padding-right:.5rem}
.visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
`;

/** The page around a section: header with language switch and sign-out, navigation, notice. */
export function page(ctx: PageContext, titleId: AdminTextId, body: Html): string {
  const l = ctx.locale;
  const other: Locale = l === 'en' ? 'zh-CN' : 'en';
  const nav = ctx.csrf === undefined
    ? html``
    : html`<nav aria-label="${at('title', l)}"><ul>${NAV.map(([href, id]) => html`<li><a href="${href}"${href === ctx.path ? raw(' aria-current="page"') : ''}>${at(id, l)}</a></li>`)}</ul></nav>`;
  const signOut = ctx.csrf === undefined || ctx.who === undefined
    ? html``
    : html`<span class="who">${at('signed_in_as', l, { who: ctx.who })}</span>${form(ctx, '/admin/logout', html`<button type="submit">${at('logout', l)}</button>`, { className: 'inline' })}`;
  const notice = ctx.notice === undefined ? html`` : html`<p class="notice ${ctx.notice.kind}" role="status">${ctx.notice.text}</p>`;
  return `<!doctype html>${html`<html lang="${l}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="referrer" content="no-referrer"><title>${at(titleId, l)} · ${at('title', l)}</title><style>${raw(STYLE)}</style></head><body><header><strong>${at('title', l)}</strong><a href="${ctx.path}?lang=${other}" lang="${other}" hreflang="${other}">${other === 'en' ? 'English' : '中文'}</a>${signOut}</header>${nav}<main><h1>${at(titleId, l)}</h1>${notice}${body}</main></body></html>`.html}`;
}
