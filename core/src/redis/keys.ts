/** Every Redis key the core uses, under one prefix (tests use a random one). */
export class Keys {
  constructor(readonly prefix: string) {}
  quotaReservation(jobId: string): string {
    return `${this.prefix}:quota:res:${jobId}`;
  }
  quotaUserDay(user: string, day: string): string {
    return `${this.prefix}:quota:u:${user}:${day}`;
  }
  quotaBonus(user: string): string {
    return `${this.prefix}:quota:bonus:${user}`;
  }
  quotaTenantDay(tenant: string, day: string): string {
    return `${this.prefix}:quota:t:${tenant}:${day}`;
  }
  quotaActive(user: string): string {
    return `${this.prefix}:quota:active:${user}`;
  }
  idempotency(platform: string, eventId: string): string {
    return `${this.prefix}:idem:${platform}:${eventId}`;
  }
  job(jobId: string): string {
    return `${this.prefix}:job:${jobId}`;
  }
  userJobs(user: string): string {
    return `${this.prefix}:jobs:user:${user}`;
  }
  waitingCount(user: string): string {
    return `${this.prefix}:fq:waiting:${user}`;
  }
  /** Users an operator blocked (UserBlocks' hash, userKey → the block), read by the intake with its claim. */
  blockedUsers(): string {
    return `${this.prefix}:users:blocked`;
  }
  /** A user's own settings (UserSettingsStore), read by the intake's admission with the job. */
  userSettings(user: string): string {
    return `${this.prefix}:user:${user}:settings`;
  }
  cancelFlag(jobId: string): string {
    return `${this.prefix}:job:${jobId}:cancel`;
  }
  delivery(jobId: string): string {
    return `${this.prefix}:delivery:${jobId}`;
  }
  /** Outcomes written by the lifecycle, not yet confirmed in their platform's delivery queue. */
  deliveryOutbox(): string {
    return `${this.prefix}:delivery:outbox`;
  }
  /** The ordered feed of job events (progress.subscribe). */
  progressStream(): string {
    return `${this.prefix}:progress`;
  }
  /** Jobs per state (live counts for running states, totals for final ones). */
  jobStateCounts(): string {
    return `${this.prefix}:stats:job-states`;
  }
  durations(mode: string): string {
    return `${this.prefix}:stats:durations:${mode}`;
  }
  /** BullMQ's own prefix for our queues. */
  get bullPrefix(): string {
    return `${this.prefix}:bull`;
  }
}

/** A user is scoped to their platform: `discord:1234`. */
export function userKeyOf(platform: string, userId: string): string {
  return `${platform}:${userId}`;
}

export function tenantKeyOf(platform: string, tenantId: string): string {
  return `${platform}:${tenantId}`;
}
