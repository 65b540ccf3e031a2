import { createHash } from 'node:crypto';
import type { Attachment, BlobStore } from '@framecast/core';
import type { Redis } from 'ioredis';
import { z } from 'zod';

/** The last picture a user sent in one chat, as remembered in Redis. */
export const RememberedImageSchema = z.object({
  ref: z.string().min(1).max(512),
  contentType: z.string().max(128),
  size: z.coerce.number().int().nonnegative(),
  /** When it arrived (ms). */
  at: z.coerce.number().int().nonnegative(),
  /** Set once a prompt used it within the window (later prompts need "用上一张图"). */
  used: z.string().max(300).optional(),
});
export type RememberedImage = z.infer<typeof RememberedImageSchema>;

/** "用上一张图" reaches back this far. */
const REMEMBER_SECONDS = 24 * 3600;

function safe(s: string): string {
  return s.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);
}

export interface ImageMemoryOptions {
  redis: Redis;
  store: BlobStore;
  keyPrefix: string;
  /** How long a picture waits for its sender's prompt (FRAMECAST_WECHAT_IMAGE_WINDOW_SECONDS). */
  windowSeconds: number;
  now?: () => number;
}

/**
 * Pictures users send, kept for their next prompt: stored in the blob store at once (the core's
 * image intake decodes and moderates them when a prompt uses one), remembered per chat and sender.
 */
export class ImageMemory {
  private readonly now: () => number;

  constructor(private readonly o: ImageMemoryOptions) {
    this.now = o.now ?? Date.now;
  }

  private key(chatId: string, userId: string): string {
    return `${this.o.keyPrefix}:wechat:img:${chatId}:${userId}`;
  }

  /** Stores a picture's bytes and remembers it as the sender's last one in this chat. */
  async remember(chatId: string, userId: string, messageId: string, bytes: Buffer, contentType: string): Promise<RememberedImage> {
    const tag = createHash('sha256').update(`${chatId}\n${messageId}`).digest('hex').slice(0, 16);
    const ref = `uploads/wechat-${safe(userId)}-${tag}`;
    await this.o.store.put(ref, bytes, contentType);
    const img: RememberedImage = { ref, contentType, size: bytes.length, at: this.now() };
    const key = this.key(chatId, userId);
    await this.o.redis.multi().del(key).hset(key, { ref, contentType, size: String(img.size), at: String(img.at) }).expire(key, REMEMBER_SECONDS).exec();
    return img;
  }

  /** The sender's last picture in this chat, if any. */
  async last(chatId: string, userId: string): Promise<RememberedImage | undefined> {
    const raw = await this.o.redis.hgetall(this.key(chatId, userId));
    const parsed = RememberedImageSchema.safeParse(raw);
    return parsed.success ? parsed.data : undefined;
  }

  /** The picture a prompt picks up by itself: sent within the window and not used by an earlier prompt. */
  async pending(chatId: string, userId: string): Promise<RememberedImage | undefined> {
    const img = await this.last(chatId, userId);
    if (img === undefined || img.used !== undefined) return undefined;
    return this.now() - img.at <= this.o.windowSeconds * 1000 ? img : undefined;
  }

  /** A prompt was accepted with this picture: the next prompt no longer picks it up by itself. */
  async markUsed(chatId: string, userId: string, ref: string, by: string): Promise<void> {
    const key = this.key(chatId, userId);
    // Only if it is still the same picture (a newer one may have arrived meanwhile).
    if ((await this.o.redis.hget(key, 'ref')) === ref) await this.o.redis.hset(key, 'used', by.slice(0, 300));
  }

  static attachmentOf(img: RememberedImage): Attachment {
    return { kind: 'image', storageRef: img.ref, contentType: img.contentType, size: img.size };
  }
}
