import { ASPECTS, defaultStylePresets, formatGrammarHelp, t, type Locale, type StylePresets } from '@framecast/core';
import { textsOf, wt } from './web-messages.ts';

/** Where the page's script and style sheet are served. */
export const ASSET_PATHS = { script: '/assets/playground.js', style: '/assets/playground.css' } as const;

/**
 * The playground page's Content-Security-Policy: its own script and style sheet only (no inline
 * script runs; the config block is JSON, not script), media and previews from this origin, a
 * chosen image shown from a blob: URL, no framing.
 */
export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob:",
  "media-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Bytes as megabytes for people: `10`, `0.9`. */
export function megabytes(bytes: number): string {
  const mb = bytes / 1048576;
  return mb >= 10 || Number.isInteger(mb) ? String(Math.floor(mb)) : mb.toFixed(1);
}

/** HTML-escapes text for element content and double-quoted attributes. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

/** JSON that is safe inside a <script type="application/json"> element. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

export interface PageOptions {
  locale: Locale;
  /** Largest reference image in bytes (shown, and checked by the script before sending). */
  maxImageBytes: number;
  styles?: StylePresets;
}

/** What the page's script reads from its config block. */
export interface PageConfig {
  locale: Locale;
  api: string;
  maxImageBytes: number;
  /** The same, as shown: `0.9`. */
  maxImageMb: string;
  texts: Record<string, string>;
}

/** The playground page, server-rendered in one language; its script fills in the jobs. */
export function renderPlaygroundPage(o: PageOptions): string {
  const { locale } = o;
  const e = (s: string): string => escapeHtml(s);
  const presets = o.styles ?? defaultStylePresets();
  const mb = megabytes(o.maxImageBytes);
  const helpLines = formatGrammarHelp(locale, presets).split('\n');
  const styleRows = presets.styles
    .map((s) => `<tr><td><code>${e(s.name)}</code></td><td lang="zh-CN">${e(s.displayName['zh-CN'])}</td><td lang="en">${e(s.displayName.en)}</td></tr>`)
    .join('');
  const styleOptions = presets.styles.map((s) => `<option value="${e(s.name)}">${e(s.displayName[locale])}</option>`).join('');
  const aspectOptions = ASPECTS.map((a) => `<option value="${a}">${a}</option>`).join('');
  const config: PageConfig = {
    locale,
    api: '/api/web',
    maxImageBytes: o.maxImageBytes,
    maxImageMb: mb,
    texts: { ...textsOf(locale), eta_seconds: t('eta.seconds', locale, { n: '{n}' }), eta_minutes: t('eta.minutes', locale, { n: '{n}' }) },
  };
  const langLink = (l: Locale, label: string): string =>
    `<a href="/?lang=${l}" hreflang="${l}" lang="${l}" id="lang-${l}"${l === locale ? ' aria-current="true"' : ''}>${label}</a>`;
  return `<!doctype html>
<html lang="${locale}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${e(wt('title', locale))}</title>
<link rel="stylesheet" href="${ASSET_PATHS.style}">
</head>
<body>
<header class="top">
  <h1>${e(wt('title', locale))}</h1>
  <nav aria-label="${e(wt('language', locale))}" class="lang">${langLink('en', 'English')} · ${langLink('zh-CN', '中文')}</nav>
</header>
<main class="layout">
  <section class="chat" aria-labelledby="history-title">
    <p class="intro">${e(wt('intro', locale))}</p>
    <p id="credits" class="credits"></p>
    <section id="board" class="board" aria-labelledby="board-title">
      <h2 id="board-title">${e(wt('board_title', locale))}</h2>
      <p class="hint">${e(wt('board_intro', locale))}</p>
      <p id="board-meta" class="meta" aria-live="polite"></p>
      <form id="board-start" class="board-form" hidden>
        <label for="board-theme">${e(wt('board_theme_label', locale))}</label>
        <input id="board-theme" name="theme" type="text" maxlength="500" autocomplete="off">
        <label for="board-style">${e(wt('board_style_label', locale))}</label>
        <select id="board-style" name="style"><option value="">${e(wt('board_style_none', locale))}</option>${styleOptions}</select>
        <label for="board-aspect">${e(wt('board_aspect_label', locale))}</label>
        <select id="board-aspect" name="aspect">${aspectOptions}</select>
        <label for="board-duration">${e(wt('board_duration_label', locale))}</label>
        <input id="board-duration" name="duration" type="number" min="1" max="10" step="1" inputmode="numeric">
        <span class="check"><input id="board-draft" name="draft" type="checkbox" checked> <label for="board-draft">${e(wt('board_draft_label', locale))}</label></span>
        <button type="submit" id="board-start-submit">${e(wt('board_start', locale))}</button>
      </form>
      <ol id="board-shots" class="shots"></ol>
      <form id="board-add" class="board-form" hidden>
        <label for="shot-text">${e(wt('shot_text_label', locale))}</label>
        <input id="shot-text" name="text" type="text" maxlength="500" autocomplete="off" aria-describedby="shot-hint">
        <label for="shot-image">${e(wt('shot_image_label', locale))}</label>
        <input id="shot-image" name="image" type="file" accept="image/jpeg,image/png,image/webp">
        <button type="submit" id="shot-submit">${e(wt('shot_add', locale))}</button>
        <span id="shot-hint" class="hint">${e(wt('shot_hint', locale))}</span>
      </form>
      <div id="board-starter" class="actions" role="group" aria-label="${e(wt('board_starter_label', locale))}" hidden>
        <button type="button" id="board-lock">${e(wt('board_lock', locale))}</button>
        <button type="button" id="board-unlock">${e(wt('board_unlock', locale))}</button>
        <button type="button" id="board-render">${e(wt('board_render', locale))}</button>
        <button type="button" id="board-close">${e(wt('board_close', locale))}</button>
      </div>
      <div id="board-confirm" class="confirm" role="group" aria-labelledby="board-confirm-text" hidden>
        <p id="board-confirm-text"></p>
        <button type="button" id="board-render-confirm">${e(wt('board_render_confirm', locale))}</button>
        <button type="button" id="board-render-back">${e(wt('board_back', locale))}</button>
      </div>
      <p id="board-error" class="error" role="alert"></p>
      <p id="board-note" class="notice" role="status"></p>
      <p class="hint">${e(wt('board_share', locale))} <a id="board-link" href="/"></a></p>
    </section>
    <h2 id="history-title">${e(wt('history_title', locale))}</h2>
    <p id="history-empty" class="empty">${e(wt('history_empty', locale))}</p>
    <ol id="jobs" class="jobs"></ol>
    <form id="compose" class="compose" method="post" action="/api/web/jobs" enctype="multipart/form-data" novalidate>
      <label for="command">${e(wt('command_label', locale))}</label>
      <textarea id="command" name="text" rows="2" maxlength="8000" autocomplete="off" placeholder="${e(wt('command_placeholder', locale))}" aria-describedby="submit-hint"></textarea>
      <div id="drop" class="drop">
        <label for="image">${e(wt('image_label', locale))}</label>
        <input id="image" name="image" type="file" accept="image/jpeg,image/png,image/webp" aria-describedby="image-limit">
        <p id="image-limit" class="hint">${e(wt('image_drop', locale))} — ${e(wt('image_limit', locale, { mb }))}</p>
        <p id="image-note" class="hint" aria-live="polite"></p>
        <img id="image-preview" class="thumb" alt="" hidden>
        <button type="button" id="image-remove" hidden>${e(wt('image_remove', locale))}</button>
      </div>
      <label for="name">${e(wt('name_label', locale))}</label>
      <input id="name" name="name" type="text" maxlength="40" autocomplete="nickname">
      <p id="form-error" class="error" role="alert"></p>
      <div class="send">
        <button type="submit" id="submit">${e(wt('submit', locale))}</button>
        <span id="submit-hint" class="hint">${e(wt('submit_hint', locale))}</span>
      </div>
    </form>
  </section>
  <aside class="help" aria-labelledby="help-title">
    <h2 id="help-title">${e(wt('help_title', locale))}</h2>
    <ul class="flags">${helpLines.map((l) => `<li>${e(l)}</li>`).join('')}</ul>
    <h3>${e(wt('styles_title', locale))}</h3>
    <table class="styles">
      <thead><tr><th scope="col">${e(wt('style_name', locale))}</th><th scope="col" lang="zh-CN">中文</th><th scope="col" lang="en">English</th></tr></thead>
      <tbody>${styleRows}</tbody>
    </table>
  </aside>
</main>
<noscript><p class="error">${e(wt('noscript', locale))}</p></noscript>
<script type="application/json" id="fc-config">${jsonForScript(config)}</script>
<script src="${ASSET_PATHS.script}" defer></script>
</body>
</html>
`;
}
