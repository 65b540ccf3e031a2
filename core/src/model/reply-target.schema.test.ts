import { describe, expect, it } from 'vitest';
import { ChatRequestSchema } from './chat-request.schema.ts';
import { DEFAULT_UPLOAD_BYTES, ReplyTargetSchema } from './reply-target.schema.ts';

const MiB = 1024 * 1024;

describe('typed reply targets', () => {
  it('carry the upload byte budget per platform, with Discord capped at its 25 MiB request limit', () => {
    expect(ReplyTargetSchema.parse({ platform: 'discord', applicationId: 'a', channelId: 'c' }).maxUploadBytes).toBe(10 * MiB);
    expect(ReplyTargetSchema.parse({ platform: 'discord', applicationId: 'a', channelId: 'c', maxUploadBytes: 8 * MiB }).maxUploadBytes).toBe(8 * MiB);
    expect(ReplyTargetSchema.parse({ platform: 'discord', applicationId: 'a', channelId: 'c', maxUploadBytes: 500 * MiB }).maxUploadBytes).toBe(25 * MiB);
    expect(ReplyTargetSchema.parse({ platform: 'slack', teamId: 'T', channelId: 'C' }).maxUploadBytes).toBe(250 * MiB);
    expect(ReplyTargetSchema.parse({ platform: 'wechat', contactId: 'x' }).maxUploadBytes).toBe(20_000_000);
    expect(ReplyTargetSchema.parse({ platform: 'miniprogram', appId: 'wx1', openid: 'o' }).maxUploadBytes).toBeNull();
    expect(ReplyTargetSchema.parse({ platform: 'web', sessionId: 's' }).maxUploadBytes).toBeNull();
    expect(ReplyTargetSchema.parse({ platform: 'cli', out: '/tmp/a.mp4' }).maxUploadBytes).toBeNull();
    expect(DEFAULT_UPLOAD_BYTES.discord).toBe(10 * MiB);
  });

  it('refuse a target of another platform, an unknown platform, or missing fields', () => {
    expect(ReplyTargetSchema.safeParse({ platform: 'irc', channel: '#x' }).success).toBe(false);
    expect(ReplyTargetSchema.safeParse({ platform: 'slack', channelId: 'C' }).success).toBe(false);
    expect(ReplyTargetSchema.safeParse({ platform: 'discord', applicationId: 'a', channelId: 'c', maxUploadBytes: -1 }).success).toBe(false);
    const req = { version: 1, platform: 'discord', tenantId: 'g', channelId: 'c', userId: 'u', eventId: 'e', text: '/video x' };
    expect(ChatRequestSchema.safeParse({ ...req, replyTarget: { platform: 'slack', teamId: 'T', channelId: 'C' } }).success).toBe(false);
    expect(ChatRequestSchema.safeParse({ ...req, replyTarget: { platform: 'discord', applicationId: 'a', channelId: 'c' } }).success).toBe(true);
  });
});
