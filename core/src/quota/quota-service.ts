import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import type { FramecastConfig, Tier, TierLimits } from '../config/config.ts';
import { Keys } from '../redis/keys.ts';
import { dayIn } from '../util/day.ts';

const DAY_TTL_SECONDS = 8 * 24 * 3600;
/** A concurrency slot held longer than this is taken to be leaked (its intake died) and freed. */
const SLOT_MAX_AGE_MS = 6 * 3600 * 1000;
/** A held reservation with no job record this long after it was made is leaked (its intake died): refunded. */
const LEAK_GRACE_MS = 10 * 60 * 1000;

function lua(name: string): string {
  return readFileSync(new URL(`./lua/${name}`, import.meta.url), 'utf8');
}
/** The reserve function (reserve.lua), shared with the jobs' admit script. */
const RESERVE_FUNCTION_LUA = lua('reserve.lua');
const RESERVE = `${RESERVE_FUNCTION_LUA}\n${lua('reserve-5.lua')}`;

export type ReserveDecision =
  | { ok: true; dailyLeft: number; bonusLeft: number; alreadyReserved: false }
  | { ok: true; alreadyReserved: true; state: string }
  | { ok: false; reason: 'credits'; available: number }
  | { ok: false; reason: 'concurrency'; active: number; limit: number }
  | { ok: false; reason: 'tenant'; used: number; cap: number };

export interface ReserveInput {
  jobId: string;
  userKey: string;
  tenantKey: string;
  cost: number;
  tier: Tier;
  now?: number;
}

export interface QuotaSnapshot {
  user: string;
  tier: Tier;
  day: string;
  timeZone: string;
  dailyCredits: number;
  spent: number;
  held: number;
  bonus: number;
  available: number;
  active: number;
  maxConcurrent: number;
}

type RedisWithQuota = Redis & {
  fcReserve(...args: (string | number)[]): Promise<[string, string | number, number]>;
};

/**
 * Per-user daily credits, per-tenant daily caps and per-user concurrent-job limits, kept in Redis
 * and changed only by Lua scripts, so concurrent intakes and workers never over-spend.
 * Reserve on accept here; commit (video delivered) or refund (failure, block, cancel) happen only in
 * JobLifecycle, together with the job's state.
 */
export class QuotaService {
  private readonly keys: Keys;
  private readonly redis: RedisWithQuota;

  constructor(
    redis: Redis,
    private readonly config: Pick<FramecastConfig, 'keyPrefix' | 'timeZone' | 'tiers' | 'tenantDailyCap'>,
  ) {
    this.keys = new Keys(config.keyPrefix);
    if (!('fcReserve' in redis)) {
      redis.defineCommand('fcReserve', { numberOfKeys: 5, lua: RESERVE });
    }
    this.redis = redis as RedisWithQuota;
  }

  limits(tier: Tier): TierLimits {
    return this.config.tiers[tier];
  }

  /** The last day computed and the minute it was computed for (every zone's midnight falls on a minute). */
  private dayCache: { minute: number; day: string } | undefined;

  today(now = Date.now()): string {
    const minute = Math.floor(now / 60_000);
    if (this.dayCache?.minute === minute) return this.dayCache.day;
    const day = dayIn(this.config.timeZone, now);
    this.dayCache = { minute, day };
    return day;
  }

  async reserve(input: ReserveInput): Promise<ReserveDecision> {
    const { keys, args } = this.reserveCall(input);
    return this.decide(input.tier, await this.redis.fcReserve(...keys, ...args));
  }

  /**
   * The reserve script's 5 keys and 14 arguments for one request (reserve.lua), for this service's
   * own script and for JobLifecycle.admit, which runs the same reservation inside its own.
   */
  reserveCall(input: ReserveInput): { keys: [string, string, string, string, string]; args: (string | number)[] } {
    if (!Number.isInteger(input.cost) || input.cost < 1) throw new RangeError(`cost must be a positive integer, got ${input.cost}`);
    const now = input.now ?? Date.now();
    const day = this.today(now);
    const limits = this.limits(input.tier);
    const k = this.keys;
    return {
      keys: [
        k.quotaReservation(input.jobId),
        k.quotaUserDay(input.userKey, day),
        k.quotaBonus(input.userKey),
        k.quotaTenantDay(input.tenantKey, day),
        k.quotaActive(input.userKey),
      ],
      args: [
        input.jobId,
        input.cost,
        limits.dailyCredits,
        this.config.tenantDailyCap,
        limits.maxConcurrent,
        day,
        input.userKey,
        input.tenantKey,
        now,
        DAY_TTL_SECONDS,
        k.quotaReservation(''),
        SLOT_MAX_AGE_MS,
        k.job(''),
        LEAK_GRACE_MS,
      ],
    };
  }

  /** The reserve script's answer { status, n1, n2 } as a decision. */
  decide(tier: Tier, [status, a, b]: readonly [string, string | number, string | number]): ReserveDecision {
    const limits = this.limits(tier);
    switch (status) {
      case 'ok':
        return { ok: true, alreadyReserved: false, dailyLeft: Number(a), bonusLeft: Number(b) };
      case 'exists':
        return { ok: true, alreadyReserved: true, state: String(a) };
      case 'credits':
        return { ok: false, reason: 'credits', available: Number(a) };
      case 'concurrency':
        return { ok: false, reason: 'concurrency', active: Number(a), limit: limits.maxConcurrent };
      case 'tenant':
        return { ok: false, reason: 'tenant', used: Number(a), cap: this.config.tenantDailyCap };
      default:
        throw new Error(`unexpected quota script status ${status}`);
    }
  }

  async reservation(jobId: string): Promise<Record<string, string> | undefined> {
    const res = await this.redis.hgetall(this.keys.quotaReservation(jobId));
    return Object.keys(res).length === 0 ? undefined : res;
  }

  async show(userKey: string, tier: Tier, now = Date.now()): Promise<QuotaSnapshot> {
    const day = this.today(now);
    const limits = this.limits(tier);
    const [dayHash, bonus, active] = await Promise.all([
      this.redis.hgetall(this.keys.quotaUserDay(userKey, day)),
      this.redis.get(this.keys.quotaBonus(userKey)),
      this.redis.scard(this.keys.quotaActive(userKey)),
    ]);
    const spent = Number(dayHash.spent ?? 0);
    const held = Number(dayHash.held ?? 0);
    const bonusN = Number(bonus ?? 0);
    return {
      user: userKey,
      tier,
      day,
      timeZone: this.config.timeZone,
      dailyCredits: limits.dailyCredits,
      spent,
      held,
      bonus: bonusN,
      available: Math.max(0, limits.dailyCredits - spent - held) + bonusN,
      active,
      maxConcurrent: limits.maxConcurrent,
    };
  }

  /** Adds credits that do not expire at midnight (spent after the daily allowance). */
  async grant(userKey: string, credits: number): Promise<number> {
    if (!Number.isInteger(credits) || credits <= 0 || credits > 1_000_000) {
      throw new RangeError('credits must be a positive integer of at most 1,000,000');
    }
    return this.redis.incrby(this.keys.quotaBonus(userKey), credits);
  }
}
