export * from './wechat-api-error.ts';
export * from './wechat-api-client.ts';
export * from './wechat-msg-sec-check.ts';
export * from './wechat-media-check.ts';
export * from './wechat-remote-config.ts';
export * from './wechat-push.ts';
export * from './media-check-scope.ts';
