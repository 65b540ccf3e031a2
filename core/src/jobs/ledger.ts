import type { Redis } from 'ioredis';
import { Keys } from '../redis/keys.ts';
import { withJobScripts, type RedisWithJobScripts } from './job-scripts.ts';

export const RESERVATION_TTL_SECONDS = 30 * 24 * 3600;

export type SettleResult = 'committed' | 'refunded' | 'noop' | 'missing';
export type SettleAction = 'commit' | 'refund' | 'uncommit';

/** The keys a reservation settles against, read from the reservation itself. */
export interface ReservationKeys {
  reservation: string;
  userDay: string;
  bonus: string;
  tenantDay: string;
  active: string;
}

/**
 * The credit ledger's settlement of one reservation, alone. Jobs settle inside JobLifecycle's
 * scripts (with their state and delivery); this is for a reservation that never became a job
 * (an intake that failed before writing the record) and for the ledger's own tests.
 */
export class Ledger {
  private readonly keys: Keys;
  private readonly redis: RedisWithJobScripts;

  constructor(redis: Redis, prefix: string) {
    this.keys = new Keys(prefix);
    this.redis = withJobScripts(redis);
  }

  /** The reservation's keys, or keys that do not exist when there is no reservation. */
  async keysOf(jobId: string): Promise<ReservationKeys> {
    const [user = null, tenant = null, day = null] = await this.redis.hmget(this.keys.quotaReservation(jobId), 'user', 'tenant', 'day');
    const k = this.keys;
    const missing = `${k.prefix}:quota:none`;
    return {
      reservation: k.quotaReservation(jobId),
      userDay: user === null || day === null ? missing : k.quotaUserDay(user, day),
      bonus: user === null ? missing : k.quotaBonus(user),
      tenantDay: tenant === null || day === null ? missing : k.quotaTenantDay(tenant, day),
      active: user === null ? missing : k.quotaActive(user),
    };
  }

  async settle(jobId: string, action: SettleAction, now = Date.now()): Promise<SettleResult> {
    const r = await this.keysOf(jobId);
    return (await this.redis.fcLedgerSettle(r.reservation, r.userDay, r.bonus, r.tenantDay, r.active, action, now, RESERVATION_TTL_SECONDS)) as SettleResult;
  }

  commit(jobId: string): Promise<SettleResult> {
    return this.settle(jobId, 'commit');
  }

  refund(jobId: string): Promise<SettleResult> {
    return this.settle(jobId, 'refund');
  }
}
