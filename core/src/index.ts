export * from './model/generation-spec.schema.ts';
export * from './model/chat-request.schema.ts';
export * from './moderation/content-moderator.ts';
export * from './storage/index.ts';
