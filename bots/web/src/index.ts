// The public surface of @framecast/bot-web: the playground (platform `web`) and, next to it, the admin console.
export { startWebAdapter, isWebEnabled, type WebAdapter, type WebAdapterOptions } from './web-adapter.ts';
export { createPlaygroundRouter, progressView, WEB_TENANT, WEB_MAX_IMAGE_BYTES, MAX_STREAMS_PER_SESSION, type PlaygroundDeps } from './playground-router.ts';
export { webDeliveryHandler, type WebDeliveryOptions } from './web-delivery.ts';
export { WebSessions, webUserKey, SESSION_COOKIE, LANG_COOKIE, type WebSession } from './web-session.ts';
export { jobView, commandTextOf, API_PREFIX, type WebJobView } from './web-jobs.ts';
export { renderPlaygroundPage, PAGE_CSP, ASSET_PATHS } from './web-page.ts';
export { pickLocale, WEB_TEXT } from './web-messages.ts';
export { WebError, type WebErrorCode } from './web-error.ts';
export * from './admin/index.ts';
