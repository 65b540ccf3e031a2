import type { Redis } from 'ioredis';
import { z } from 'zod';

/** What an admin did, as the audit log keeps it. */
export const AuditEntrySchema = z.object({
  id: z.string(),
  at: z.number().int(),
  who: z.string().max(64),
  ip: z.string().max(100),
  /** e.g. review.approve, job.cancel, delivery.retry, quota.grant, user.block, user.unblock, keywords.reload, login, login.failed, logout */
  action: z.string().max(40),
  /** A job id, a user key, 'keyword-lists' … */
  target: z.string().max(300),
  /** The core's answer (approved, not_in_review, …) or 'ok'. */
  outcome: z.string().max(60),
  /** Short extra facts (credits granted, a block's reason); never a password. */
  detail: z.string().max(500),
});
export type AuditEntry = z.infer<typeof AuditEntrySchema>;

/** How many entries the audit stream keeps (approximately). */
export const AUDIT_LOG_MAX = 10_000;

/** Every admin action, in a capped Redis stream: who, what, target, when. */
export class AuditLog {
  private readonly key: string;
  constructor(
    private readonly redis: Redis,
    keyPrefix: string,
  ) {
    this.key = `${keyPrefix}:admin:audit`;
  }

  async write(e: Omit<AuditEntry, 'id' | 'at'>): Promise<void> {
    await this.redis.xadd(
      this.key, 'MAXLEN', '~', String(AUDIT_LOG_MAX), '*',
      'who', e.who.slice(0, 64), 'ip', e.ip.slice(0, 100), 'action', e.action.slice(0, 40), 'target', e.target.slice(0, 300),
      'outcome', e.outcome.slice(0, 60), 'detail', e.detail.slice(0, 500),
    );
  }

  /** Newest first. */
  async recent(limit = 50): Promise<AuditEntry[]> {
    const rows = (await this.redis.xrevrange(this.key, '+', '-', 'COUNT', Math.max(1, Math.min(limit, 1000)))) as Array<[string, string[]]>;
    const out: AuditEntry[] = [];
    for (const [id, fields] of rows) {
      const f: Record<string, string> = {};
      for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i] as string] = fields[i + 1] as string;
      const parsed = AuditEntrySchema.safeParse({ ...f, id, at: Number(id.split('-')[0]) });
      if (parsed.success) out.push(parsed.data);
    }
    return out;
  }
}
