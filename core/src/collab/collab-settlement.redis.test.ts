import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { createCore, type Core } from '../core.ts';
import { CollabLedger } from '../jobs/collab-ledger.ts';
import type { ContentModerator } from '../moderation/content-moderator.ts';
import type { DeliveryOutcome } from '../queue/job-payloads.schema.ts';
import { testRedis, testRedisUrl } from '../../../test/support/redis.ts';
import { testConfig } from '../../../test/support/config.ts';
import { COLLAB_SEGMENT_QUEUE, COLLAB_STITCH_QUEUE } from './collab-payloads.ts';
import type { CollabContext } from './collab-service.ts';

let redis: Redis;
beforeAll(() => {
  redis = testRedis();
});
afterAll(async () => {
  await redis.quit();
});

const moderator: ContentModerator = { moderateText: async () => ({ action: 'allow', hits: [], source: 'test' }) } as unknown as ContentModerator;

const ctx = (userId: string, channelId: string): CollabContext => ({
  platform: 'discord', tenantId: 'g', channelId, userId, userName: userId, locale: 'en',
  replyTarget: { platform: 'discord', applicationId: 'app', channelId },
});

const VIDEO: DeliveryOutcome = { kind: 'video', result: { videoRef: 'videos/x.mp4', bytes: 10, width: 64, height: 64, frames: 17, fps: 16, durationSec: 1, needsLink: false, downgraded: false } };
const FAILED: DeliveryOutcome = { kind: 'failed', code: 'transient', message: { en: 'failed', 'zh-CN': '失败' } };
const USERS = ['alice', 'bob', 'carol'] as const;
type Policy = 'starter' | 'split' | 'pool';

/** Three contributors, a shot each (2 credits each: a 2-second draft), rendered; the render's job started. */
async function rendered(policy: Policy, room: string): Promise<{ core: Core; ledger: CollabLedger; jobId: string }> {
  const config = testConfig({
    FRAMECAST_COLLAB_QUOTA_POLICY: policy, FRAMECAST_FREE_DAILY_CREDITS: '100', FRAMECAST_FREE_MAX_CONCURRENT: '20', FRAMECAST_ADMINS: 'discord:admin',
  });
  const core = createCore({ config, redis, moderator, connection: { url: testRedisUrl(), maxRetriesPerRequest: null } });
  await core.collab.command(ctx('alice', room), 'collab start --draft --duration 2');
  for (const u of USERS) expect((await core.collab.command(ctx(u, room), `add a shot by ${u}`))?.ok).toBe(true);
  if (policy === 'pool') {
    // The chat command for the group pool: an admin's only.
    expect(await core.collab.command(ctx('bob', room), 'collab pool 10')).toMatchObject({ ok: false, code: 'not_starter' });
    expect(await core.collab.command(ctx('admin', room), '/video collab pool 10')).toMatchObject({ ok: true, code: 'pool_granted', audience: 'author' });
  }
  const r = await core.collab.command(ctx('alice', room), 'collab render');
  expect(r).toMatchObject({ ok: true, code: 'rendering' });
  const jobId = r?.jobId ?? '';
  expect(await core.lifecycle.start(jobId, 1)).toBe(true);
  return { core, ledger: new CollabLedger(redis, config.keyPrefix), jobId };
}

/** Every payer's held and spent credits, and the pool's balance. */
async function books(core: Core, room: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const u of USERS) {
    const q = await core.quota.show(`discord:${u}`, { tier: 'free' });
    out[`${u}.held`] = q.held;
    out[`${u}.spent`] = q.spent;
  }
  out.pool = await core.collab.poolBalance(ctx('x', room));
  return out;
}

/** What the books say once a render of cost 6 is committed (video) or refunded (anything else). */
function expected(policy: Policy, committed: boolean): Record<string, number> {
  const share = (u: string): number => {
    if (!committed || policy === 'pool') return 0;
    if (policy === 'starter') return u === 'alice' ? 6 : 0;
    return 2;
  };
  const out: Record<string, number> = {};
  for (const u of USERS) {
    out[`${u}.held`] = 0;
    out[`${u}.spent`] = share(u);
  }
  out.pool = policy === 'pool' ? (committed ? 4 : 10) : 0;
  return out;
}

describe('storyboard shares settle in the render job\'s own finish (real Redis)', () => {
  for (const policy of ['starter', 'split', 'pool'] as const) {
    for (const outcome of [VIDEO, FAILED]) {
      it(`${policy}, ${outcome.kind}: two finishes at once and the old settlement in any order move every share exactly once`, async () => {
        const room = `settle-${policy}-${outcome.kind}`;
        const { core, ledger, jobId } = await rendered(policy, room);
        try {
          const before = await books(core, room);
          // Reserved at render: each payer holds its share (the pool holds the whole cost).
          if (policy === 'split') for (const u of USERS) expect(before[`${u}.held`]).toBe(2);
          if (policy === 'starter') expect(before['alice.held']).toBe(6);
          if (policy === 'pool') expect(before.pool).toBe(4);
          const charges = (await core.collab.board(`discord:${room}`))?.charges ?? [];
          expect(await ledger.attached(jobId)).toEqual(charges);
          // The old order, broken on purpose: the settlement piece before the job ended settles nothing.
          expect(await ledger.settleByJob(jobId, charges)).toBe('pending');
          expect(await books(core, room)).toEqual(before);
          // Two workers finish the same render at once (a stalled job taken over), the old settlement racing them.
          const [a, b] = await Promise.all([core.lifecycle.finish(jobId, outcome), core.lifecycle.finish(jobId, outcome), ledger.settleByJob(jobId, charges)]);
          expect([a.status, b.status].sort()).toEqual(['final', 'ok']);
          // The process dies right here (no afterRender, no sweep): the books are already settled.
          const settled = expected(policy, outcome.kind === 'video');
          expect(await books(core, room)).toEqual(settled);
          if (policy === 'pool') expect(await ledger.poolHoldState(`${jobId}-p0`)).toBe(outcome.kind === 'video' ? 'committed' : 'refunded');
          // Everything after it repeats harmlessly.
          await Promise.all([core.collab.afterRender(`discord:${room}`), core.collab.afterRender(`discord:${room}`), ledger.settleByJob(jobId, charges)]);
          await core.collab.sweep();
          expect((await core.lifecycle.finish(jobId, FAILED)).status).toBe('final');
          expect(await books(core, room)).toEqual(settled);
          expect((await core.collab.board(`discord:${room}`))?.state).toBe(outcome.kind === 'video' ? 'done' : 'collecting');
          if (outcome.kind === 'video') {
            // A video that can never be delivered gives every share back, once.
            expect(await core.lifecycle.markUndeliverable(jobId, 'gone')).toBe('undeliverable');
            expect(await core.lifecycle.markUndeliverable(jobId, 'gone')).toBe('undeliverable');
            await ledger.settleByJob(jobId, charges);
            expect(await books(core, room)).toEqual(expected(policy, false));
          }
        } finally {
          await core.close();
        }
      });
    }
  }

  it('a video and a failure racing to end one render: one wins, and the shares follow the winner once', async () => {
    for (const policy of ['split', 'pool'] as const) {
      const room = `race-${policy}`;
      const { core, jobId } = await rendered(policy, room);
      try {
        const results = await Promise.all([core.lifecycle.finish(jobId, VIDEO), core.lifecycle.finish(jobId, FAILED), core.lifecycle.finish(jobId, VIDEO)]);
        expect(results.filter((r) => r.status === 'ok')).toHaveLength(1);
        const state = (await core.job(jobId))?.state;
        expect(await books(core, room)).toEqual(expected(policy, state === 'succeeded'));
      } finally {
        await core.close();
      }
    }
  });

  it('collab cancel of a render nobody runs yet: the job cancelled, every share refunded in that step, its flow gone from the queues, the board open again, one failed event with reason cancelled', async () => {
    for (const policy of ['split', 'pool'] as const) {
      const room = `cancel-${policy}`;
      const { core, jobId } = await rendered(policy, room);
      try {
        expect((await core.collab.command(ctx('bob', room), 'collab cancel'))?.code).toBe('not_starter');
        const c = await core.collab.command(ctx('alice', room), 'collab cancel');
        expect(c).toMatchObject({ ok: true, code: 'render_cancelled', audience: 'channel', jobId, board: { state: 'collecting' } });
        expect((await core.job(jobId))?.state).toBe('cancelled');
        expect(await books(core, room)).toEqual(expected(policy, false));
        const stitch = new Queue(COLLAB_STITCH_QUEUE, { connection: { url: testRedisUrl(), maxRetriesPerRequest: null }, prefix: core.workQueue.bullPrefix });
        const segment = new Queue(COLLAB_SEGMENT_QUEUE, { connection: { url: testRedisUrl(), maxRetriesPerRequest: null }, prefix: core.workQueue.bullPrefix });
        try {
          expect(await stitch.getJob(jobId)).toBeUndefined();
          expect(await segment.getJob(`${jobId}-seg-0`)).toBeUndefined();
        } finally {
          await Promise.all([stitch.close(), segment.close()]);
        }
        const events = (await core.collab.events.read()).filter((e) => e.jobId === jobId);
        expect(events.map((e) => [e.type, e.reason])).toEqual([['failed', 'cancelled']]);
        // Twice, or the sweep after it: nothing more moves.
        await core.collab.sweep();
        expect(await books(core, room)).toEqual(expected(policy, false));
        // The board open again renders anew: another job, the shares reserved again; stopped again, refunded again.
        const again = await core.collab.command(ctx('alice', room), 'collab render');
        expect(again).toMatchObject({ ok: true, code: 'rendering' });
        expect(again?.jobId).not.toBe(jobId);
        expect((await core.job(again?.jobId ?? ''))?.state).toBe('queued');
        if (policy === 'split') for (const u of USERS) expect((await books(core, room))[`${u}.held`]).toBe(2);
        else expect((await books(core, room)).pool).toBe(4);
        expect((await core.collab.command(ctx('alice', room), 'collab cancel'))?.code).toBe('render_cancelled');
        expect(await books(core, room)).toEqual(expected(policy, false));
        // Now a cancel closes the board.
        expect((await core.collab.command(ctx('alice', room), 'collab cancel'))?.code).toBe('cancelled');
        expect((await core.collab.board(`discord:${room}`))?.state).toBe('cancelled');
      } finally {
        await core.close();
      }
    }
  });

  it('a stitched video held for review keeps every share held; approval commits them in its step, a cancel refunds them', async () => {
    for (const decision of ['approve', 'cancel'] as const) {
      const room = `review-${decision}`;
      const { core, jobId } = await rendered('split', room);
      try {
        if (VIDEO.kind !== 'video') return;
        expect((await core.lifecycle.hold(jobId, VIDEO.result)).kind).toBe('review');
        for (const u of USERS) expect((await books(core, room))[`${u}.held`]).toBe(2);
        await core.collab.sweep();
        expect((await core.collab.board(`discord:${room}`))?.state).toBe('rendering');
        if (decision === 'approve') {
          expect((await core.lifecycle.decide(jobId, 'approve', 'discord:admin')).kind).toBe('video');
          expect(await books(core, room)).toEqual(expected('split', true));
          await core.collab.sweep();
          expect((await core.collab.board(`discord:${room}`))?.state).toBe('done');
          expect((await core.collab.events.read()).filter((e) => e.jobId === jobId).map((e) => e.type)).toEqual(['rendered']);
        } else {
          expect(await core.collab.command(ctx('alice', room), 'collab cancel')).toMatchObject({ ok: true, code: 'render_cancelled' });
          expect((await core.job(jobId))?.state).toBe('cancelled');
          expect(await books(core, room)).toEqual(expected('split', false));
        }
      } finally {
        await core.close();
      }
    }
  });

  it('collab cancel while the render is still starting (no job yet): asked, then done when its first segment starts', async () => {
    const config = testConfig({ FRAMECAST_COLLAB_QUOTA_POLICY: 'split', FRAMECAST_FREE_DAILY_CREDITS: '100', FRAMECAST_FREE_MAX_CONCURRENT: '20' });
    const core = createCore({ config, redis, moderator, connection: { url: testRedisUrl(), maxRetriesPerRequest: null } });
    const room = 'cancel-early';
    try {
      await core.collab.command(ctx('alice', room), 'collab start --draft --duration 2');
      for (const u of USERS) await core.collab.command(ctx(u, room), `add a shot by ${u}`);
      // The render's job is written only once the test lets it.
      const lifecycle = core.lifecycle as unknown as { create: (...a: unknown[]) => Promise<boolean> };
      const create = lifecycle.create.bind(core.lifecycle);
      let go: () => void = () => undefined;
      const gate = new Promise<void>((r) => {
        go = r;
      });
      lifecycle.create = async (...a: unknown[]) => {
        await gate;
        return create(...a);
      };
      const rendering = core.collab.command(ctx('alice', room), 'collab render');
      for (let i = 0; i < 200 && (await core.collab.board(`discord:${room}`))?.charges?.length !== 3; i++) await new Promise((r) => setTimeout(r, 50));
      const jobId = (await core.collab.board(`discord:${room}`))?.jobId ?? '';
      expect(await core.collab.command(ctx('alice', room), 'collab cancel')).toMatchObject({ ok: true, code: 'cancel_requested', jobId });
      go();
      expect(await rendering).toMatchObject({ ok: true, jobId });
      // A worker takes the first segment: it reports the start, which ends the render.
      await core.collab.reportSegment({ jobId, boardKey: `discord:${room}`, index: 0, count: 3, phase: 'started' });
      expect((await core.job(jobId))?.state).toBe('cancelled');
      expect(await books(core, room)).toEqual(expected('split', false));
      expect((await core.collab.board(`discord:${room}`))?.state).toBe('collecting');
    } finally {
      await core.close();
    }
  });

  it('collab cancel while a segment runs (text-only runtime: segments side by side): the waiting ones leave the queue, the running one is not touched', async () => {
    const room = 'cancel-running';
    const { core, jobId } = await rendered('split', room);
    const connection = { url: testRedisUrl(), maxRetriesPerRequest: null };
    const prefix = core.workQueue.bullPrefix;
    let taken = '';
    let release: () => void = () => undefined;
    const released = new Promise<void>((r) => {
      release = r;
    });
    // A stand-in for a GPU worker: takes one segment and holds it (locked) until the test lets go.
    const worker = new Worker(COLLAB_SEGMENT_QUEUE, async (job) => {
      taken = job.id ?? '';
      await Promise.race([released, new Promise((r) => setTimeout(r, 30_000))]);
      return { skipped: true };
    }, { connection, prefix, concurrency: 1 });
    const segments = new Queue(COLLAB_SEGMENT_QUEUE, { connection, prefix });
    const stitches = new Queue(COLLAB_STITCH_QUEUE, { connection, prefix });
    try {
      for (let i = 0; i < 200 && taken === ''; i++) await new Promise((r) => setTimeout(r, 50));
      expect(taken).toMatch(new RegExp(`^${jobId}-seg-\\d$`));
      expect(await core.collab.command(ctx('alice', room), 'collab cancel')).toMatchObject({ ok: true, code: 'render_cancelled' });
      const left = await Promise.all([0, 1, 2].map(async (i) => [`${jobId}-seg-${i}`, (await segments.getJob(`${jobId}-seg-${i}`))?.id]));
      expect(left.filter(([, id]) => id !== undefined).map(([id]) => id)).toEqual([taken]);
      expect(await books(core, room)).toEqual(expected('split', false));
      // The running one ends (skipped); the stitch then comes up only to be skipped by its worker.
      release();
      for (let i = 0; i < 200 && (await stitches.getJob(jobId).then((j) => j?.getState())) === 'waiting-children'; i++) await new Promise((r) => setTimeout(r, 50));
      expect(await stitches.getJob(jobId).then((j) => j?.getState())).toBe('waiting');
    } finally {
      release();
      await worker.close();
      await Promise.all([segments.close(), stitches.close()]);
      await core.close();
    }
  });

  it('a render whose process died before writing its job gives its shares back at the sweep, after a grace period', async () => {
    const config = testConfig({ FRAMECAST_COLLAB_QUOTA_POLICY: 'split', FRAMECAST_FREE_DAILY_CREDITS: '100', FRAMECAST_FREE_MAX_CONCURRENT: '20' });
    const core = createCore({ config, redis, moderator, connection: { url: testRedisUrl(), maxRetriesPerRequest: null } });
    const room = 'orphan';
    try {
      await core.collab.command(ctx('alice', room), 'collab start --draft --duration 2');
      for (const u of USERS) await core.collab.command(ctx(u, room), `add a shot by ${u}`);
      // The render's job is never written: the lifecycle refuses to create it (the process "dies" there).
      const lifecycle = core.lifecycle as unknown as { create: () => Promise<boolean> };
      const create = lifecycle.create;
      lifecycle.create = () => new Promise(() => undefined);
      void core.collab.command(ctx('alice', room), 'collab render');
      for (let i = 0; i < 200 && (await core.collab.board(`discord:${room}`))?.charges?.length !== 3; i++) await new Promise((r) => setTimeout(r, 50));
      lifecycle.create = create;
      for (const u of USERS) expect((await books(core, room))[`${u}.held`]).toBe(2);
      await core.collab.sweep();
      for (const u of USERS) expect((await books(core, room))[`${u}.held`]).toBe(2);
      let now = Date.now() + 11 * 60_000;
      (core.collab as unknown as { now: () => number }).now = () => (now += 1);
      await core.collab.sweep();
      expect(await books(core, room)).toEqual(expected('split', false));
      expect((await core.collab.board(`discord:${room}`))?.state).toBe('locked');
    } finally {
      await core.close();
    }
  });
});
