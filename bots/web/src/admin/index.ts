// The admin console's public surface (re-exported from @framecast/bot-web).
export { createAdminConsole, type AdminConsole, type AdminConsoleOptions } from './admin-console.ts';
export { keywordListsVersion, type KeywordListsControl, type KeywordListsVersion } from './keyword-lists.ts';
export { WeChatLoginStateSchema, wechatLoginKey, type WeChatLoginState } from './wechat-login.ts';
export { ADMIN_SESSION_COOKIE, DEFAULT_LOGIN_LIMIT, type LoginLimit } from './admin-session.ts';
export { AUDIT_LOG_MAX, type AuditEntry } from './audit-log.ts';
export { QUEUE_BOARD_PATH } from './queue-board.ts';
