import type { Redis } from 'ioredis';
import { z } from 'zod';

/** A published video as stored (Redis hash). `owner` is the author's user tag, never an openid. */
export const GalleryItemSchema = z.object({
  jobId: z.string(),
  owner: z.string(),
  caption: z.string(),
  videoRef: z.string(),
  posterRef: z.string().optional(),
  width: z.coerce.number().int(),
  height: z.coerce.number().int(),
  durationSec: z.coerce.number(),
  publishedAt: z.coerce.number().int(),
  likes: z.coerce.number().int().default(0),
  reports: z.coerce.number().int().default(0),
  hidden: z.enum(['0', '1']).default('0'),
});
export type GalleryItem = z.infer<typeof GalleryItemSchema>;

/** `hidden`: items taken out by reports, for admins. */
export type GallerySort = 'newest' | 'liked' | 'hidden';

/** Distinct reports after which an item leaves the gallery until an admin looks. */
export const REPORTS_TO_HIDE = 3;
export const GALLERY_PAGE_MAX = 50;

// KEYS[1] item hash, KEYS[2] newest zset, KEYS[3] liked zset; ARGV: jobId, then field/value pairs.
// Returns 1 when published, 0 when it already was.
const PUBLISH = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local fields = {}
for i = 2, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
local at = tonumber(redis.call('HGET', KEYS[1], 'publishedAt'))
redis.call('ZADD', KEYS[2], at, ARGV[1])
redis.call('ZADD', KEYS[3], 0, ARGV[1])
return 1`;

// KEYS[1] item hash, KEYS[2] likes set, KEYS[3] liked zset; ARGV[1] user, ARGV[2] '1' like / '0' unlike, ARGV[3] jobId.
// Returns {likes, liked} or {-1, 0} when the item is not published.
const LIKE = `
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HGET', KEYS[1], 'hidden') == '1' then return {-1, 0} end
if ARGV[2] == '1' then
  if redis.call('SADD', KEYS[2], ARGV[1]) == 1 then
    redis.call('HINCRBY', KEYS[1], 'likes', 1)
    redis.call('ZADD', KEYS[3], 'XX', 'INCR', 1, ARGV[3])
  end
else
  if redis.call('SREM', KEYS[2], ARGV[1]) == 1 then
    redis.call('HINCRBY', KEYS[1], 'likes', -1)
    redis.call('ZADD', KEYS[3], 'XX', 'INCR', -1, ARGV[3])
  end
end
return {tonumber(redis.call('HGET', KEYS[1], 'likes')), redis.call('SISMEMBER', KEYS[2], ARGV[1])}`;

// KEYS[1] item hash, KEYS[2] reports set, KEYS[3] newest zset, KEYS[4] liked zset, KEYS[5] hidden zset;
// ARGV[1] user, ARGV[2] threshold, ARGV[3] jobId, ARGV[4] now. Returns {reports, hidden} or {-1, 0}.
const REPORT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, 0} end
if redis.call('SADD', KEYS[2], ARGV[1]) == 1 then redis.call('HINCRBY', KEYS[1], 'reports', 1) end
local n = redis.call('SCARD', KEYS[2])
if n >= tonumber(ARGV[2]) and redis.call('HGET', KEYS[1], 'hidden') ~= '1' then
  redis.call('HSET', KEYS[1], 'hidden', '1')
  redis.call('ZREM', KEYS[3], ARGV[3])
  redis.call('ZREM', KEYS[4], ARGV[3])
  redis.call('ZADD', KEYS[5], tonumber(ARGV[4]), ARGV[3])
end
return {n, redis.call('HGET', KEYS[1], 'hidden') == '1' and 1 or 0}`;

/**
 * The gallery: published videos in Redis (one hash each, a sorted set by time and one by likes,
 * a set of likers and of reporters per item). Every change is one script, so counts and sets
 * never disagree; a like is once per user (like/unlike are idempotent).
 */
export class MpGallery {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private k(name: string): string {
    return `${this.prefix}:mp:gallery:${name}`;
  }

  async get(jobId: string): Promise<GalleryItem | undefined> {
    const h = await this.redis.hgetall(this.k(`item:${jobId}`));
    if (Object.keys(h).length === 0) return undefined;
    const p = GalleryItemSchema.safeParse(h);
    return p.success ? p.data : undefined;
  }

  async publish(item: Omit<GalleryItem, 'likes' | 'reports' | 'hidden'>): Promise<boolean> {
    const fields: string[] = [];
    for (const [k, v] of Object.entries({ ...item, likes: 0, reports: 0, hidden: '0' })) if (v !== undefined) fields.push(k, String(v));
    const r = await this.redis.eval(PUBLISH, 3, this.k(`item:${item.jobId}`), this.k('newest'), this.k('liked'), item.jobId, ...fields);
    return r === 1;
  }

  async unpublish(jobId: string): Promise<boolean> {
    const res = await this.redis
      .multi()
      .del(this.k(`item:${jobId}`), this.k(`likes:${jobId}`), this.k(`reports:${jobId}`))
      .zrem(this.k('newest'), jobId)
      .zrem(this.k('liked'), jobId)
      .zrem(this.k('hidden'), jobId)
      .exec();
    return Number(res?.[0]?.[1] ?? 0) > 0;
  }

  async isPublished(jobId: string): Promise<boolean> {
    return (await this.redis.exists(this.k(`item:${jobId}`))) === 1;
  }

  /** One page, newest first or most liked first; the cursor is the offset of the next page. */
  async list(sort: GallerySort, offset: number, limit: number): Promise<{ items: GalleryItem[]; next: number | undefined }> {
    const ids = await this.redis.zrevrange(this.k(sort), offset, offset + limit);
    const page = ids.slice(0, limit);
    const wanted = sort === 'hidden' ? '1' : '0';
    const items = (await Promise.all(page.map((id) => this.get(id)))).filter((i): i is GalleryItem => i !== undefined && i.hidden === wanted);
    return { items, next: ids.length > limit ? offset + limit : undefined };
  }

  /** An admin puts a hidden item back (its reports are forgotten). */
  async restore(jobId: string): Promise<boolean> {
    const item = await this.get(jobId);
    if (item === undefined || item.hidden !== '1') return false;
    await this.redis
      .multi()
      .hset(this.k(`item:${jobId}`), 'hidden', '0', 'reports', '0')
      .del(this.k(`reports:${jobId}`))
      .zrem(this.k('hidden'), jobId)
      .zadd(this.k('newest'), item.publishedAt, jobId)
      .zadd(this.k('liked'), item.likes, jobId)
      .exec();
    return true;
  }

  async likedBy(user: string, jobIds: string[]): Promise<Set<string>> {
    if (jobIds.length === 0) return new Set();
    const p = this.redis.pipeline();
    for (const id of jobIds) p.sismember(this.k(`likes:${id}`), user);
    const res = (await p.exec()) ?? [];
    return new Set(jobIds.filter((_, i) => res[i]?.[1] === 1));
  }

  async like(jobId: string, user: string, like: boolean): Promise<{ likes: number; liked: boolean } | undefined> {
    const [likes, liked] = (await this.redis.eval(LIKE, 3, this.k(`item:${jobId}`), this.k(`likes:${jobId}`), this.k('liked'), user, like ? '1' : '0', jobId)) as [number, number];
    return likes < 0 ? undefined : { likes, liked: liked === 1 };
  }

  async report(jobId: string, user: string, now: number): Promise<{ reports: number; hidden: boolean } | undefined> {
    const [reports, hidden] = (await this.redis.eval(
      REPORT, 5, this.k(`item:${jobId}`), this.k(`reports:${jobId}`), this.k('newest'), this.k('liked'), this.k('hidden'), user, String(REPORTS_TO_HIDE), jobId, String(now),
    )) as [number, number];
    return reports < 0 ? undefined : { reports, hidden: hidden === 1 };
  }
}
