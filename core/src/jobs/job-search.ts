import type { Redis } from 'ioredis';
import { Keys } from '../redis/keys.ts';
import type { JobRecord, JobState, JobStore } from './job-record.ts';

export interface JobSearchQuery {
  /** One user's jobs (their own index, newest first); otherwise every job record is scanned. */
  userKey?: string;
  state?: JobState;
  platform?: string;
  /** Default 50, at most 200. */
  limit?: number;
}

export interface JobSearchResult {
  jobs: JobRecord[];
  /** How many records were looked at. */
  scanned: number;
  /** True when the scan stopped at its bound before seeing every record. */
  truncated: boolean;
}

/** The most records one search without a user looks at. */
export const JOB_SEARCH_SCAN_MAX = 20_000;

/** Redis glob metacharacters in a literal part of a MATCH pattern. */
function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/**
 * Finds jobs for operators (the admin console's job list and review queue): by user through the
 * user's index, otherwise by a bounded SCAN over the records (kept 90 days), newest first.
 */
export class JobSearch {
  private readonly keys: Keys;
  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly jobs: JobStore,
  ) {
    this.keys = new Keys(prefix);
  }

  async search(q: JobSearchQuery): Promise<JobSearchResult> {
    const limit = Math.max(1, Math.min(q.limit ?? 50, 200));
    const keep = (r: JobRecord): boolean => (q.state === undefined || r.state === q.state) && (q.platform === undefined || r.platform === q.platform);
    if (q.userKey !== undefined) {
      const all = await this.jobs.listByUser(q.userKey, 500);
      return { jobs: all.filter(keep).slice(0, limit), scanned: all.length, truncated: false };
    }
    const head = this.keys.job('');
    const found: Array<{ jobId: string; createdAt: number }> = [];
    let cursor = '0';
    let scanned = 0;
    let truncated = false;
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${globEscape(head)}*`, 'COUNT', 500);
      cursor = next;
      const ids = keys.map((k) => k.slice(head.length)).filter((id) => id.length > 0 && !id.includes(':'));
      if (ids.length > 0) {
        const pipe = this.redis.pipeline();
        for (const id of ids) pipe.hmget(this.keys.job(id), 'state', 'platform', 'createdAt');
        const rows = (await pipe.exec()) ?? [];
        ids.forEach((jobId, i) => {
          const [err, v] = rows[i] ?? [null, null];
          if (err !== null || !Array.isArray(v)) return;
          const [state, platform, createdAt] = v as Array<string | null>;
          if (q.state !== undefined && state !== q.state) return;
          if (q.platform !== undefined && platform !== q.platform) return;
          found.push({ jobId, createdAt: Number(createdAt ?? 0) });
        });
      }
      scanned += ids.length;
      if (scanned >= JOB_SEARCH_SCAN_MAX && cursor !== '0') {
        truncated = true;
        break;
      }
    } while (cursor !== '0');
    found.sort((a, b) => b.createdAt - a.createdAt);
    const recs = await Promise.all(found.slice(0, limit).map((f) => this.jobs.get(f.jobId).catch(() => undefined)));
    return { jobs: recs.filter((r): r is JobRecord => r !== undefined && keep(r)), scanned, truncated };
  }
}
