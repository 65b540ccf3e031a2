import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { dayIn } from '@framecast/core';

const read = (name: string) => readFileSync(new URL(`./lua/${name}`, import.meta.url), 'utf8');

const SCRIPTS = {
  fcWechatRoomCharge: [1, 'room-charge-1.lua'],
  fcWechatRoomRelease: [1, 'room-release-1.lua'],
  fcWechatRoomSettle: [3, 'room-settle-3.lua'],
  fcWechatRoomRefund: [2, 'room-refund-2.lua'],
} as const;

type RedisWithRoomScripts = Redis & { [K in keyof typeof SCRIPTS]: (...args: Array<string | number>) => Promise<unknown> };

/** A day hash lives two days (a refund the next day still finds it); links and tombstones a week. */
const DAY_TTL_SECONDS = 2 * 24 * 3600;
const LINK_TTL_SECONDS = 8 * 24 * 3600;

/** The calendar day (YYYY-MM-DD) in a time zone: room credits roll over at that zone's midnight, like users'. */
export const dayInZone: (timeZone: string, at?: number) => string = dayIn;

export type RoomCharge = { ok: true; spent: number } | { ok: false; spent: number; left: number };

export interface RoomQuotaOptions {
  redis: Redis;
  keyPrefix: string;
  /** Credits one room may spend a day (FRAMECAST_WECHAT_ROOM_DAILY_CREDITS); 0: no room cap. */
  dailyCredits: number;
  timeZone: string;
  now?: () => number;
}

/**
 * A WeChat room's daily credits, on top of each member's own quota (which the core keeps). A
 * request is charged before it goes to the core, keyed by its event id (a repeated event is
 * charged once), released when the core refuses it, settled to the job's real cost when accepted,
 * and refunded exactly once, keyed by the job id, when the job ends without a video.
 */
export class RoomQuota {
  private readonly redis: RedisWithRoomScripts;
  private readonly now: () => number;

  constructor(private readonly o: RoomQuotaOptions) {
    const redis = o.redis;
    if (!('fcWechatRoomCharge' in redis)) {
      for (const [name, [numberOfKeys, file]] of Object.entries(SCRIPTS)) redis.defineCommand(name, { numberOfKeys, lua: read(file) });
    }
    this.redis = redis as RedisWithRoomScripts;
    this.now = o.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.o.dailyCredits > 0;
  }

  get limit(): number {
    return this.o.dailyCredits;
  }

  private dayKey(roomId: string, day = dayInZone(this.o.timeZone, this.now())): string {
    return `${this.o.keyPrefix}:wechat:room:${roomId}:${day}`;
  }

  private linkKey(jobId: string): string {
    return `${this.o.keyPrefix}:wechat:roomcharge:${jobId}`;
  }

  private tombstoneKey(jobId: string): string {
    return `${this.o.keyPrefix}:wechat:roomrefunded:${jobId}`;
  }

  /** Charges `cost` for the request `eventId` in `roomId`, unless that would pass the daily limit. */
  async charge(roomId: string, eventId: string, cost: number): Promise<RoomCharge & { day: string }> {
    const day = dayInZone(this.o.timeZone, this.now());
    if (!this.enabled) return { ok: true, spent: 0, day };
    const [ok, spent] = (await this.redis.fcWechatRoomCharge(this.dayKey(roomId, day), `c:${eventId}`, cost, this.o.dailyCredits, DAY_TTL_SECONDS)) as [number, number];
    return ok === 1 ? { ok: true, spent, day } : { ok: false, spent, left: Math.max(0, this.o.dailyCredits - spent), day };
  }

  /** The core refused the request: its charge (made on `day`) goes back. */
  async release(roomId: string, eventId: string, day: string): Promise<boolean> {
    if (!this.enabled) return false;
    return (await this.redis.fcWechatRoomRelease(this.dayKey(roomId, day), `c:${eventId}`)) === 1;
  }

  /** The core accepted the request as `jobId` at `cost`: the charge follows the job from now on. */
  async settle(roomId: string, eventId: string, day: string, jobId: string, cost: number): Promise<'settled' | 'refunded' | 'none'> {
    if (!this.enabled) return 'none';
    const r = await this.redis.fcWechatRoomSettle(this.dayKey(roomId, day), this.linkKey(jobId), this.tombstoneKey(jobId), `c:${eventId}`, cost, LINK_TTL_SECONDS);
    return r === 1 ? 'settled' : r === 2 ? 'refunded' : 'none';
  }

  /** The job ended without a video: its room charge goes back, once however often this is called. */
  async refund(jobId: string): Promise<number> {
    return Number(await this.redis.fcWechatRoomRefund(this.linkKey(jobId), this.tombstoneKey(jobId), LINK_TTL_SECONDS));
  }

  /** Credits the room has left today (the limit when there is no cap). */
  async left(roomId: string): Promise<number> {
    if (!this.enabled) return Number.POSITIVE_INFINITY;
    const spent = Number((await this.o.redis.hget(this.dayKey(roomId), 'spent')) ?? 0);
    return Math.max(0, this.o.dailyCredits - spent);
  }
}
