import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { Keys } from '../redis/keys.ts';
import { FINAL_STATES, JobStore } from './job-record.ts';
import { ledgerScript } from './job-scripts.ts';
import { Ledger, RESERVATION_TTL_SECONDS, type SettleResult } from './ledger.ts';

const read = (name: string) => readFileSync(new URL(`./lua/${name}`, import.meta.url), 'utf8');

type RedisWithPool = Redis & {
  fcCollabPoolReserve(...args: (string | number)[]): Promise<[string, string | number]>;
  fcCollabPoolSettle(...args: (string | number)[]): Promise<SettleResult>;
};

/** One payer's part of a storyboard render: a user's reservation, or a group pool's hold. */
export interface CollabCharge {
  payer: string;
  credits: number;
  reservationId: string;
}

const ChargesSchema = z.array(z.object({ payer: z.string().min(1).max(300), credits: z.number().int(), reservationId: z.string().min(1).max(200) })).max(100);

/** Where a job's extra shares are listed, for its finish to settle them in the same step. */
function chargesKey(prefix: string, jobId: string): string {
  return `${prefix}:job:${jobId}:charges`;
}

function poolKeyOf(prefix: string, boardKey: string): string {
  return `${prefix}:collab:pool:${boardKey}`;
}

function holdKeyOf(prefix: string, reservationId: string): string {
  return `${prefix}:collab:poolres:${reservationId}`;
}

/** A job's attached charges; an unreadable list is an error (settling without it would leave shares held). */
function parseCharges(raw: string | null, jobId: string): CollabCharge[] {
  if (raw === null) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  const charges = ChargesSchema.safeParse(parsed);
  if (!charges.success) throw new Error(`unreadable charges of job ${jobId}`);
  return charges.data;
}

/** The extra shares of a job as the finish and undeliverable scripts take them: their kinds ('u' | 'p') and keys, in order. */
export interface ShareKeys {
  kinds: string;
  keys: string[];
}

/**
 * The keys of a job's extra shares (a storyboard render's split shares or pool hold, attached
 * before its record was written); none for any other job. Its own reservation is not among them.
 */
export async function shareKeysOf(redis: Redis, prefix: string, jobId: string, ledger = new Ledger(redis, prefix)): Promise<ShareKeys> {
  const charges = parseCharges(await redis.get(chargesKey(prefix, jobId)), jobId);
  const kinds: string[] = [];
  const keys: string[] = [];
  for (const c of charges) {
    if (c.reservationId === jobId) continue;
    if (c.payer.startsWith('pool:')) {
      kinds.push('p');
      keys.push(poolKeyOf(prefix, c.payer.slice('pool:'.length)), holdKeyOf(prefix, c.reservationId));
    } else {
      const r = await ledger.keysOf(c.reservationId);
      kinds.push('u');
      keys.push(r.reservation, r.userDay, r.bonus, r.tenantDay, r.active);
    }
  }
  return { kinds: kinds.join(','), keys };
}

export type PoolReserveResult = { ok: true; balance: number } | { ok: false; available: number };

/**
 * The ledger operations of collaborative storyboards, beside the job scripts: a group pool's
 * balance and holds (each a Lua script), and the settlement of a render's extra reservations (the
 * split policy's shares, the pool's hold) by the final state of the render's job. The job's own
 * reservation (the starter policy) settles with the job in finish-11, as every job's does.
 * Every settlement moves a reservation held → committed/refunded once, whoever calls it how often.
 */
export class CollabLedger {
  private readonly keys: Keys;
  private readonly redis: RedisWithPool;
  private readonly ledger: Ledger;
  private readonly store: JobStore;

  constructor(redis: Redis, prefix: string) {
    this.keys = new Keys(prefix);
    if (!('fcCollabPoolReserve' in redis)) {
      redis.defineCommand('fcCollabPoolReserve', { numberOfKeys: 2, lua: read('collab-pool-reserve-2.lua') });
      redis.defineCommand('fcCollabPoolSettle', { numberOfKeys: 2, lua: ledgerScript('collab-pool-settle-2.lua') });
    }
    this.redis = redis as RedisWithPool;
    this.ledger = new Ledger(redis, prefix);
    this.store = new JobStore(redis, prefix);
  }

  private poolKey(boardKey: string): string {
    return poolKeyOf(this.keys.prefix, boardKey);
  }

  private holdKey(reservationId: string): string {
    return holdKeyOf(this.keys.prefix, reservationId);
  }

  /**
   * Lists a render's shares with its job before the job's record is written, so that the job's
   * finish (and a later undeliverable) settles every share in the same Lua step as the job itself:
   * no crash can leave a finished job with held shares, or settled shares on a running job.
   */
  async attach(jobId: string, charges: readonly CollabCharge[]): Promise<void> {
    const list = ChargesSchema.parse(charges.map((c) => ({ payer: c.payer, credits: c.credits, reservationId: c.reservationId })));
    await this.redis.set(chargesKey(this.keys.prefix, jobId), JSON.stringify(list), 'EX', RESERVATION_TTL_SECONDS);
  }

  /** The shares attached to a job (an empty list when none). */
  async attached(jobId: string): Promise<CollabCharge[]> {
    return parseCharges(await this.redis.get(chargesKey(this.keys.prefix, jobId)), jobId);
  }

  /** A hold's state: 'held', 'committed', 'refunded', or undefined (tests, the admin console). */
  async poolHoldState(reservationId: string): Promise<string | undefined> {
    return (await this.redis.hget(this.holdKey(reservationId), 'state')) ?? undefined;
  }

  async poolBalance(boardKey: string): Promise<number> {
    return Number((await this.redis.get(this.poolKey(boardKey))) ?? 0);
  }

  /** An admin adds credits to a room's pool. */
  async grantPool(boardKey: string, credits: number): Promise<number> {
    if (!Number.isInteger(credits) || credits <= 0 || credits > 1_000_000) throw new RangeError('credits must be a positive integer of at most 1,000,000');
    return this.redis.incrby(this.poolKey(boardKey), credits);
  }

  async reservePool(boardKey: string, reservationId: string, cost: number, now = Date.now()): Promise<PoolReserveResult> {
    const [status, n] = await this.redis.fcCollabPoolReserve(this.poolKey(boardKey), this.holdKey(reservationId), cost, now, RESERVATION_TTL_SECONDS, boardKey);
    if (status === 'credits') return { ok: false, available: Number(n) };
    return { ok: true, balance: status === 'ok' ? Number(n) : await this.poolBalance(boardKey) };
  }

  /**
   * A split share is one person's part of a render whose job is the starter's: it takes no slot of
   * its payer's concurrent jobs, and (having no job record of its own) must not be mistaken for a
   * leaked intake's reservation, which the reserve script looks for among those slots.
   */
  async detachShare(reservationId: string): Promise<void> {
    const user = await this.redis.hget(this.keys.quotaReservation(reservationId), 'user');
    if (user !== null) await this.redis.srem(this.keys.quotaActive(user), reservationId);
  }

  /** Gives back every extra reservation of a render that never became a job (the render failed to start). */
  async release(charges: readonly CollabCharge[]): Promise<void> {
    for (const c of charges) await this.settleOne(c, 'refund');
  }

  /**
   * Settles a render's extra reservations by its job's state: succeeded → committed; failed,
   * cancelled, blocked → refunded; undeliverable → refunded (uncommitted if already committed).
   * 'pending' while the job still runs. A render's job settles its attached shares itself when it
   * ends (finish-11); this is the backstop for renders started before shares were attached, and a
   * no-op otherwise (every share moves once).
   */
  async settleByJob(jobId: string, charges: readonly CollabCharge[]): Promise<'committed' | 'refunded' | 'pending' | 'missing'> {
    const rec = await this.store.get(jobId);
    if (rec === undefined) return 'missing';
    if (!FINAL_STATES.has(rec.state)) return 'pending';
    const extra = charges.filter((c) => c.reservationId !== jobId);
    if (rec.state === 'succeeded') {
      for (const c of extra) await this.settleOne(c, 'commit');
      return 'committed';
    }
    for (const c of extra) {
      await this.settleOne(c, 'refund');
      if (rec.state === 'undeliverable') await this.settleOne(c, 'uncommit');
    }
    return 'refunded';
  }

  private async settleOne(c: CollabCharge, action: 'commit' | 'refund' | 'uncommit'): Promise<SettleResult> {
    if (c.payer.startsWith('pool:')) {
      return this.redis.fcCollabPoolSettle(this.poolKey(c.payer.slice('pool:'.length)), this.holdKey(c.reservationId), action, Date.now(), RESERVATION_TTL_SECONDS);
    }
    return this.ledger.settle(c.reservationId, action);
  }
}
