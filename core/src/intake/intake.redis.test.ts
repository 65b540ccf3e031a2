import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createCore, type Core } from '../core.ts';
import { FairQueue, type QueuePosition } from '../queue/fair-queue.ts';
import { DeliveryQueues } from '../queue/delivery-queues.ts';
import type { GenerateJobDataInput } from '../queue/job-payloads.schema.ts';
import { Intake } from './intake.ts';
import type { AdmitInput, IntakeClaim, JobLifecycle } from '../jobs/job-lifecycle.ts';
import { Worker, type RedisClient } from 'bullmq';
import { GENERATE_QUEUE } from '../queue/job-payloads.schema.ts';
import { UserBlocks } from '../users/user-blocks.ts';
import { QuotaService } from '../quota/quota-service.ts';
import type { ContentModerator } from '../moderation/content-moderator.ts';
import type { ChatRequestInput } from '../model/chat-request.schema.ts';
import type { ReferenceImageIntake } from './reference-image-intake.ts';
import { UserSettingsStore } from '../users/user-settings.ts';
import { testRedis } from '../../../test/support/redis.ts';
import { testConfig } from '../../../test/support/config.ts';

let redis: Redis;
beforeAll(() => {
  redis = testRedis();
});
afterAll(async () => {
  await redis.quit();
});

/** The port's contract with a word list: enough for intake's own tests. */
const listModerator: ContentModerator = {
  async moderateText(text) {
    const lower = text.toLowerCase();
    // A moderator names the category for users (content-safety reads categories.json); `unlabelled` has no name.
    for (const [word, category, action] of [['gore', 'violence', 'block'], ['lingerie', 'sexual', 'review'], ['unlabelled', 'mystery', 'block']] as const) {
      const i = lower.indexOf(word);
      const categoryLabel = category === 'violence' ? { en: 'graphic violence', 'zh-CN': '暴力血腥' } : undefined;
      if (i >= 0) return { action, hits: [{ category, match: word, start: i, end: i + word.length, ...(categoryLabel === undefined ? {} : { categoryLabel }) }], source: 'test-list' };
    }
    return { action: 'allow', hits: [], source: 'test-list' };
  },
};

let seq = 0;
function req(text: string, over: Partial<ChatRequestInput> = {}): ChatRequestInput {
  seq += 1;
  return {
    version: 1, platform: 'discord', tenantId: 'guild1', channelId: 'chan1', userId: 'user1', eventId: `evt-${seq}-${Math.random()}`,
    text, replyTarget: { platform: 'discord', applicationId: 'app', channelId: 'chan1', interactionToken: 'x' }, locale: 'en', ...over,
  };
}

/** The core, with the test's own view of the generate queue (internal to the core). */
type TestCore = Core & { queue: FairQueue; deliveryQueue: (platform: string) => ReturnType<DeliveryQueues['queue']> };

async function withCore<T>(env: Record<string, string>, fn: (core: TestCore) => Promise<T>, extra: { imageIntake?: ReferenceImageIntake } = {}): Promise<T> {
  const config = testConfig(env);
  const core = createCore({ config, redis, moderator: listModerator, random: () => 0.5, ...extra });
  const queue = new FairQueue(redis, config.keyPrefix);
  const dq = new DeliveryQueues(redis, config.keyPrefix);
  try {
    return await fn(Object.assign(Object.create(core) as Core, core, { queue, deliveryQueue: (p: string) => dq.queue(p) }));
  } finally {
    await queue.queue.obliterate({ force: true });
    await queue.close();
    await dq.close();
    await core.close();
  }
}

describe('core.intake on a real Redis', () => {
  it('accepts a request: job record, queue position, ETA, charge, localised message', async () => {
    await withCore({}, async (core) => {
      const r = await core.submit(req('/video a red fox running through snow --ar 9:16 --draft --seed 7'));
      expect(r.status).toBe('accepted');
      if (r.status !== 'accepted') return;
      expect(r.spec).toMatchObject({ aspect: '9:16', mode: 'draft', seed: 7, width: 480, height: 848 });
      expect(r.position).toBe(1);
      expect(r.etaSeconds).toBeGreaterThan(0);
      expect(r.cost).toBe(3);
      expect(r.creditsLeft).toBe(27);
      expect(r.message.en).toContain(r.jobId);
      expect(r.message['zh-CN']).toContain('已加入队列');
      const rec = await core.job(r.jobId);
      expect(rec).toMatchObject({ state: 'queued', userKey: 'discord:user1', cost: 3, spec: { seed: 7 }, version: 2 });
      // The queue entry only points at the record: nothing in it can drift from the job.
      const job = await core.queue.queue.getJob(r.jobId);
      expect(job?.data).toEqual({ version: 2, jobId: r.jobId, userKey: 'discord:user1', enqueuedAt: rec?.createdAt });
    });
  });

  it('keeps any text of the request in the job record as sent (the record goes to Redis as one JSON argument)', async () => {
    await withCore({}, async (core) => {
      const channelId = 'chan \\u0041 "q" \\ 频道 \ud800 end';
      const r = await core.submit(req('/video 一只"猫" \\ in \u{1F431} rain --draft', { channelId, replyTarget: { platform: 'discord', applicationId: 'app', channelId, interactionToken: 'x' } }));
      expect(r.status).toBe('accepted');
      if (r.status !== 'accepted') return;
      const rec = await core.job(r.jobId);
      // A lone surrogate in a plain field is U+FFFD, as the UTF-8 of a separate argument made it
      // (in a JSON field it stays escaped, as before); the rest is as sent.
      const expected = 'chan \\u0041 "q" \\ 频道 \uFFFD end';
      expect(rec).toMatchObject({ state: 'queued', channelId: expected, replyTarget: { channelId }, spec: { prompt: r.spec.prompt } });
      expect(r.spec.prompt).toContain('\u{1F431}');
    });
  });

  it('the same event id sent 20 times concurrently gives one job and one charge', async () => {
    await withCore({}, async (core) => {
      const one = req('/video a lighthouse at dusk --draft');
      const results = await Promise.all(Array.from({ length: 20 }, () => core.submit({ ...one })));
      const ids = new Set(results.map((r) => (r.status === 'accepted' ? r.jobId : 'refused')));
      expect(ids.size).toBe(1);
      expect([...ids][0]).not.toBe('refused');
      expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
      expect(await core.queue.queue.getJobCountByTypes('prioritized', 'waiting')).toBe(1);
      expect((await core.quota.show('discord:user1', { tier: 'free' })).held).toBe(3);
      // And later, as a platform retry would.
      const again = await core.submit({ ...one });
      expect(again).toMatchObject({ status: 'accepted', duplicate: true });
    });
  });

  it('500 concurrent intakes by one user with credits for 10 jobs: 10 accepted, 490 refused', async () => {
    await withCore({ FRAMECAST_FREE_DAILY_CREDITS: '30', FRAMECAST_FREE_MAX_CONCURRENT: '1000' }, async (core) => {
      const results = await Promise.all(Array.from({ length: 500 }, (_, i) => core.submit(req(`/video shot ${i} of a calm sea --draft`))));
      const accepted = results.filter((r) => r.status === 'accepted');
      const refused = results.filter((r) => r.status === 'refused');
      expect(accepted).toHaveLength(10);
      expect(refused).toHaveLength(490);
      expect(refused.every((r) => r.status === 'refused' && r.reason === 'quota_credits')).toBe(true);
      expect(await core.queue.queue.getJobCountByTypes('prioritized', 'waiting')).toBe(10);
      const r0 = refused[0];
      if (r0?.status === 'refused') {
        expect(r0.message.en).toMatch(/Not enough credits: this video costs 3, you have 0 left/);
        expect(r0.message['zh-CN']).toContain('额度不足');
      }
    });
  });

  it('refuses a bad command with the grammar error, and charges nothing', async () => {
    await withCore({}, async (core) => {
      const r = await core.submit(req('/video a cat --ar 21:9'));
      expect(r).toMatchObject({ status: 'refused', reason: 'bad_command', detail: { code: 'out_of_range', param: 'ar' } });
      expect((await core.quota.show('discord:user1', { tier: 'free' })).held).toBe(0);
    });
  });

  it('refuses a blocked prompt with the category in both languages; review-level prompts are accepted for review', async () => {
    await withCore({}, async (core) => {
      const blocked = await core.submit(req('/video gore everywhere'));
      expect(blocked).toMatchObject({ status: 'refused', reason: 'moderation_blocked', detail: { category: 'violence' } });
      if (blocked.status === 'refused') {
        expect(blocked.message['zh-CN']).toContain('（暴力血腥）');
        expect(blocked.message.en).toContain('(graphic violence)');
      }
      // A category the moderator gives no name: the catalogue's generic one, in each language.
      const unlabelled = await core.submit(req('/video unlabelled things'));
      expect(unlabelled).toMatchObject({ status: 'refused', reason: 'moderation_blocked', detail: { category: 'mystery' } });
      if (unlabelled.status === 'refused') {
        expect(unlabelled.message.en).toContain('(policy)');
        expect(unlabelled.message['zh-CN']).toContain('（平台规则）');
      }
      const review = await core.submit(req('/video a lingerie catalogue shoot --draft'));
      expect(review).toMatchObject({ status: 'accepted', reviewRequired: true });
      if (review.status === 'accepted') expect((await core.job(review.jobId))?.reviewRequired).toBe(true);
    });
  });

  it('refuses malformed requests with a clear message', async () => {
    await withCore({}, async (core) => {
      const r = await core.submit({ ...req('/video x'), platform: 'myspace' } as unknown as ChatRequestInput);
      expect(r.status).toBe('refused');
      if (r.status === 'refused') {
        expect(r.reason).toBe('invalid_request');
        expect(r.message.en).toContain('platform');
        // Each language gets its own detail: no English zod message in the Chinese text.
        expect(r.message['zh-CN']).toMatch(/^无法识别此请求：字段 .*platform.* 无效$/);
        expect(r.message['zh-CN']).not.toMatch(/Invalid|expected/i);
      }
    });
  });

  it('passes the reference image through the image port and refuses what it refuses', async () => {
    const imageIntake: ReferenceImageIntake = {
      async accept(att) {
        if (att.url?.includes('bad') === true) return { ok: false, code: 'corrupt', message: { en: 'the file is not a readable image', 'zh-CN': '文件不是可读取的图片' } };
        return { ok: true, image: { ref: 'ref/x.png', width: 64, height: 64, sha256: 'a'.repeat(64) }, pixels: { data: new Uint8Array(64 * 64 * 3), width: 64, height: 64 } };
      },
    };
    await withCore({}, async (core) => {
      const ok = await core.submit(req('/video make it move --draft', { attachments: [{ kind: 'image', url: 'https://example.com/good.png' }] }));
      expect(ok).toMatchObject({ status: 'accepted', spec: { referenceImage: { ref: 'ref/x.png' } } });
      const bad = await core.submit(req('/video make it move --draft', { attachments: [{ kind: 'image', url: 'https://example.com/bad.png' }] }));
      expect(bad).toMatchObject({ status: 'refused', reason: 'image_invalid', detail: { code: 'corrupt' } });
      if (bad.status === 'refused') {
        expect(bad.message.en).toBe('The reference image could not be used: the file is not a readable image');
        expect(bad.message['zh-CN']).toBe('参考图片无法使用：文件不是可读取的图片');
      }
    }, { imageIntake });
  });

  it('limits concurrent jobs and tells the user', async () => {
    await withCore({ FRAMECAST_FREE_MAX_CONCURRENT: '1' }, async (core) => {
      expect((await core.submit(req('/video one --draft'))).status).toBe('accepted');
      const r = await core.submit(req('/video two --draft'));
      expect(r).toMatchObject({ status: 'refused', reason: 'quota_concurrency' });
    });
  });

  it('lets the owner or an admin cancel a waiting job, refunding it; others cannot', async () => {
    await withCore({ FRAMECAST_ADMINS: 'discord:boss' }, async (core) => {
      const r = await core.submit(req('/video to be cancelled --draft'));
      if (r.status !== 'accepted') throw new Error('not accepted');
      expect(await core.cancel(r.jobId, { userKey: 'discord:other', isAdmin: false })).toMatchObject({ status: 'not_owner' });
      expect(await core.cancel(r.jobId, { userKey: 'discord:user1', isAdmin: false })).toMatchObject({ status: 'cancelled' });
      expect((await core.job(r.jobId))?.state).toBe('cancelled');
      expect(await core.quota.show('discord:user1', { tier: 'free' })).toMatchObject({ held: 0, spent: 0, active: 0 });
      expect(await core.cancel(r.jobId, { userKey: 'discord:boss', isAdmin: true })).toMatchObject({ status: 'already_finished' });
      expect(await core.cancel('nope', { userKey: 'discord:boss', isAdmin: true })).toMatchObject({ status: 'not_found' });
    });
  });
});

describe('round trips', () => {
  /** Commands and socket writes of one accepted text-only intake, on a connection of its own. */
  async function counted(twoStep: boolean): Promise<{ sent: string[]; writes: number; rereads: Set<string> }> {
    // Its own connection, so that only this core's commands are counted.
    const conn = testRedis();
    const config = testConfig({ FRAMECAST_FREE_MAX_CONCURRENT: '5' });
    const core = createCore({ config, redis: conn, moderator: listModerator, random: () => 0.5 });
    const queue = new FairQueue(conn, config.keyPrefix);
    // The two-step path: what the intake takes where BullMQ's add script cannot run inside its own.
    const lifecycle = twoStep ? Object.assign(Object.create(core.lifecycle) as JobLifecycle, { intakeOne: undefined }) : core.lifecycle;
    const intake = new Intake({ config, redis: conn, moderator: listModerator, queue, lifecycle, quota: new QuotaService(conn, config), random: () => 0.5 });
    try {
      // Scripts loaded, the queue's client ready, the runtimes and the worker count cached.
      expect((await intake.intake(req('/video a warm-up --draft'))).status).toBe('accepted');
      const sent: string[] = [];
      let writes = 0;
      const send = conn.sendCommand.bind(conn);
      conn.sendCommand = (command, stream) => {
        sent.push(command.name);
        return send(command, stream);
      };
      const write = conn.stream.write.bind(conn.stream) as (...a: unknown[]) => boolean;
      conn.stream.write = ((...a: unknown[]) => {
        writes += 1;
        return write(...a);
      }) as typeof conn.stream.write;
      const r = await intake.intake(req('/video a counted one --draft'));
      expect(r.status).toBe('accepted');
      // Caches that lapsed on a slow machine are read again (the worker count, the runtimes, the run times): not the intake's own.
      return { sent: [...sent], writes, rereads: new Set(['client', 'zremrangebyscore', 'zrange', 'mget', 'lrange']) };
    } finally {
      await queue.queue.obliterate({ force: true });
      await queue.close();
      await core.close();
      await conn.quit();
    }
  }

  it('a text-only request costs 1 command in 1 round trip: claim, admission, BullMQ add, queued event and answer in one script', async () => {
    const { sent, writes, rereads } = await counted(false);
    expect(sent.filter((n) => !rereads.has(n))).toEqual(['evalsha']);
    if (sent.every((n) => !rereads.has(n))) expect(writes).toBe(1);
  });

  it('without BullMQ\'s add in the script: 3 commands in 2 round trips (claim + admission, then the add and the answer in one pipeline)', async () => {
    const { sent, writes, rereads } = await counted(true);
    expect(sent.filter((n) => !rereads.has(n))).toEqual(['evalsha', 'evalsha', 'evalsha']);
    if (sent.every((n) => !rereads.has(n))) expect(writes).toBe(2);
  });
});

describe('the one-call intake (claim, admission, BullMQ\'s own add, queued event and answer in one script)', () => {
  const bull = (core: Core, jobId: string) => `${core.config.keyPrefix}:bull:generate:${jobId}`;

  it('adds the job exactly as Queue.add does: same hash, same priority band, marker and events, and a BullMQ worker takes it', async () => {
    await withCore({}, async (core) => {
      const one = await core.submit(req('/video a one-call fox --draft', { userId: 'oc1' }));
      // The same request through the two-step path (FairQueue.add → Queue.add), by another user (rank 0 too).
      const two = await new Intake({ config: core.config, redis, moderator: listModerator, queue: core.queue, lifecycle: Object.assign(Object.create(core.lifecycle) as JobLifecycle, { intakeOne: undefined }), quota: new QuotaService(redis, core.config), random: () => 0.5 })
        .intake(req('/video a one-call fox --draft', { userId: 'oc2' }));
      if (one.status !== 'accepted' || two.status !== 'accepted') throw new Error(JSON.stringify([one, two]));
      const [a, b] = await Promise.all([redis.hgetall(bull(core, one.jobId)), redis.hgetall(bull(core, two.jobId))]);
      expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
      expect({ ...a, timestamp: '', data: '', opts: '' }).toEqual({ ...b, timestamp: '', data: '', opts: '' });
      expect(JSON.parse(a.opts ?? '')).toEqual({ ...(JSON.parse(b.opts ?? '') as object), jobId: one.jobId });
      expect(JSON.parse(a.data ?? '')).toEqual({ version: 2, jobId: one.jobId, userKey: 'discord:oc1', enqueuedAt: Number(a.timestamp) });
      expect(a.priority).toBe('1');
      const scores = await Promise.all([one.jobId, two.jobId].map((id) => redis.zscore(`${core.config.keyPrefix}:bull:generate:prioritized`, id)));
      expect(scores.map((x) => Math.floor(Number(x) / 2 ** 32))).toEqual([1, 1]);
      expect(await redis.zcard(`${core.config.keyPrefix}:bull:generate:marker`)).toBe(1);
      const events = await redis.xrange(`${core.config.keyPrefix}:bull:generate:events`, '-', '+');
      const of = (id: string) => events.filter(([, f]) => f.includes(id)).map(([, f]) => f[1]);
      expect(of(one.jobId)).toEqual(of(two.jobId));
      expect(of(one.jobId)).toEqual(['added', 'waiting']);
      // A worker takes both, in the order they came, with BullMQ's options as given.
      const worker = new Worker(GENERATE_QUEUE, null, { connection: redis.duplicate(), prefix: `${core.config.keyPrefix}:bull`, autorun: false });
      try {
        const first = await worker.getNextJob('t1');
        const second = await worker.getNextJob('t2');
        expect([first?.id, second?.id]).toEqual([one.jobId, two.jobId]);
        expect(first?.data).toEqual({ version: 2, jobId: one.jobId, userKey: 'discord:oc1', enqueuedAt: Number(a.timestamp) });
        expect(first?.opts).toMatchObject({ attempts: 4, priority: 1, backoff: { type: 'exponential' }, removeOnComplete: { count: 10_000 } });
        expect(first?.opts).toEqual({ ...second?.opts, jobId: one.jobId });
      } finally {
        await worker.close();
      }
    });
  });

  it('stores the answer as its facts, sends the queued event, and a repeat of the event gets the same answer made again', async () => {
    await withCore({}, async (core) => {
      const r = req('/video 一只橘猫在屋顶上 --draft');
      const first = await core.submit(r);
      if (first.status !== 'accepted') throw new Error(JSON.stringify(first));
      const stored = JSON.parse((await redis.get(`${core.config.keyPrefix}:idem:discord:${r.eventId}`)) ?? '{}') as Record<string, unknown>;
      expect(stored).toEqual({
        state: 'done', jobId: first.jobId,
        accepted: { cost: first.cost, reviewRequired: false, spec: first.spec, position: first.position, etaSeconds: first.etaSeconds, creditsLeft: first.creditsLeft },
      });
      const again = await core.submit({ ...r });
      expect(again).toEqual({ ...first, duplicate: true });
      const queued = (await redis.xrange(`${core.config.keyPrefix}:progress`, '-', '+')).map(([, f]) => f).filter((f) => f.includes(first.jobId));
      expect(queued).toHaveLength(1);
      expect(queued[0]).toEqual(['jobId', first.jobId, 'platform', 'discord', 'userKey', 'discord:user1', 'type', 'queued', 'data', JSON.stringify({ position: first.position, etaSeconds: first.etaSeconds })]);
    });
  });

  it('its reply lost after it ran: accepted all the same (found in the event\'s record), one job and one charge; the retry repeats it', async () => {
    await withCore({ FRAMECAST_FREE_MAX_CONCURRENT: '5' }, async (core) => {
      const lifecycle = Object.assign(Object.create(core.lifecycle) as JobLifecycle, {
        intakeOne: async (...a: Parameters<JobLifecycle['intakeOne']>) => {
          await core.lifecycle.intakeOne(...a);
          throw new Error('connection reset');
        },
      });
      const intake = new Intake({ config: core.config, redis, moderator: listModerator, queue: core.queue, lifecycle, quota: new QuotaService(redis, core.config), random: () => 0.5 });
      const one = req('/video a reply lost --draft');
      const first = await intake.intake(one);
      if (first.status !== 'accepted') throw new Error(JSON.stringify(first));
      expect(first.duplicate).toBe(false);
      expect(await core.submit({ ...one })).toEqual({ ...first, duplicate: true });
      expect(await core.queue.queue.getJobCountByTypes('prioritized', 'waiting')).toBe(1);
      expect(await core.quota.show('discord:user1', { tier: 'free' })).toMatchObject({ held: 3, active: 1 });
      expect(await core.job(first.jobId)).toMatchObject({ state: 'queued' });
    });
  });

  it('BullMQ\'s add failing inside it (after the reservation and the record were written) releases them, and the retry makes one job', async () => {
    await withCore({ FRAMECAST_FREE_MAX_CONCURRENT: '5' }, async (core) => {
      // The queue's meta hash of the wrong type: BullMQ's script fails on its first read of it.
      const meta = `${core.config.keyPrefix}:bull:generate:meta`;
      await redis.set(meta, 'not a hash');
      const one = req('/video a broken add --draft');
      expect(await core.submit(one)).toMatchObject({ status: 'refused', reason: 'internal' });
      expect(await core.quota.show('discord:user1', { tier: 'free' })).toMatchObject({ held: 0, active: 0 });
      expect(await redis.zcard(`${core.config.keyPrefix}:fq:waiting:discord:user1`)).toBe(0);
      expect(await redis.exists(`${core.config.keyPrefix}:idem:discord:${one.eventId}`)).toBe(0);
      await redis.del(meta);
      const retry = await core.submit({ ...one });
      if (retry.status !== 'accepted') throw new Error(JSON.stringify(retry));
      expect(retry.position).toBe(1);
      expect(await core.queue.queue.getJobCountByTypes('prioritized', 'waiting')).toBe(1);
      expect(await core.quota.show('discord:user1', { tier: 'free' })).toMatchObject({ held: 3, active: 1 });
    });
  });

  it('a blocked user and a spent quota are refused in it, their answers recorded for a repeat, nothing held', async () => {
    await withCore({ FRAMECAST_FREE_DAILY_CREDITS: '4', FRAMECAST_FREE_MAX_CONCURRENT: '5' }, async (core) => {
      await new UserBlocks(redis, core.config.keyPrefix).block('discord:blocked1', 'discord:admin');
      const blocked = req('/video anything --draft', { userId: 'blocked1' });
      const b = await core.submit(blocked);
      expect(b).toMatchObject({ status: 'refused', reason: 'user_blocked', duplicate: false });
      expect(await core.submit({ ...blocked })).toEqual({ ...b, duplicate: true });
      expect((await core.submit(req('/video the first --draft'))).status).toBe('accepted');
      const spent = req('/video the second --draft');
      const s = await core.submit(spent);
      expect(s).toMatchObject({ status: 'refused', reason: 'quota_credits', detail: { cost: 3, available: 1 } });
      expect(await core.submit({ ...spent })).toEqual({ ...s, duplicate: true });
      expect(await core.quota.show('discord:user1', { tier: 'free' })).toMatchObject({ held: 3, active: 1 });
      expect(await core.queue.queue.getJobCountByTypes('prioritized', 'waiting')).toBe(1);
    });
  });

  it('intakes of one tick go in pipelines of at most 8; when one fails whole (nothing ran) its intakes are refused, nothing of theirs held, and each retry is accepted', async () => {
    const conn = testRedis();
    let pipelines = 0;
    let broken = 0;
    const proxied = new Proxy(conn, {
      get: (target, prop, receiver) => {
        if (prop !== 'pipeline') return Reflect.get(target, prop, receiver) as unknown;
        return () => {
          const p = target.pipeline();
          pipelines += 1;
          if (pipelines === 2) {
            p.exec = () => {
              broken += 1;
              return Promise.reject(new Error('connection reset'));
            };
          }
          return p;
        };
      },
    });
    const config = testConfig({ FRAMECAST_FREE_MAX_CONCURRENT: '50', FRAMECAST_FREE_DAILY_CREDITS: '1000' });
    const core = createCore({ config, redis: proxied, moderator: listModerator, random: () => 0.5 });
    const queue = new FairQueue(conn, config.keyPrefix);
    try {
      expect((await core.submit(req('/video a warm-up --draft', { userId: 'warm' }))).status).toBe('accepted');
      const before = pipelines;
      const many = Array.from({ length: 12 }, (_, i) => req(`/video wave ${i} --draft`));
      const results = await Promise.all(many.map((r) => core.submit(r)));
      // 8 then 4; the first of them fails.
      expect(pipelines - before).toBe(2);
      expect(broken).toBe(1);
      expect(results.map((r) => (r.status === 'refused' ? r.reason : r.status))).toEqual([...Array.from({ length: 8 }, () => 'internal'), ...Array.from({ length: 4 }, () => 'accepted')]);
      expect(await core.quota.show('discord:user1', { tier: 'free' })).toMatchObject({ held: 12, active: 4 });
      const again = await Promise.all(many.map((r) => core.submit({ ...r })));
      expect(again.map((r) => r.status)).toEqual(Array.from({ length: 12 }, () => 'accepted'));
      expect(await queue.queue.getJobCountByTypes('prioritized', 'waiting')).toBe(13);
      expect(await core.quota.show('discord:user1', { tier: 'free' })).toMatchObject({ held: 36, active: 12 });
    } finally {
      await queue.queue.obliterate({ force: true });
      await queue.close();
      await core.close();
      await conn.quit();
    }
  });
});

describe('human review before delivery', () => {
  it('an admin approves (delivered, charged) or rejects (told, refunded); others cannot', async () => {
    await withCore({ FRAMECAST_ADMINS: 'discord:boss', FRAMECAST_FREE_MAX_CONCURRENT: '5' }, async (core) => {
      const held = async (text: string) => {
        const r = await core.submit(req(text));
        if (r.status !== 'accepted') throw new Error('not accepted');
        // What a worker does with a result that needs review.
        await core.lifecycle.start(r.jobId, 1);
        await core.lifecycle.hold(r.jobId, { videoRef: `videos/${r.jobId}.mp4`, bytes: 10, width: 848, height: 480, frames: 49, fps: 16, durationSec: 3, needsLink: false, downgraded: false });
        return r.jobId;
      };
      const a = await held('/video a lingerie ad --draft');
      const b = await held('/video a lingerie ad again --draft');
      expect(await core.review(a, { userKey: 'discord:user1', isAdmin: false }, 'approve')).toMatchObject({ status: 'not_admin' });
      expect(await core.review(a, { userKey: 'discord:boss', isAdmin: true }, 'approve')).toMatchObject({ status: 'approved' });
      expect(await core.review(b, { userKey: 'discord:boss', isAdmin: true }, 'reject')).toMatchObject({ status: 'rejected' });
      expect(await core.review(a, { userKey: 'discord:boss', isAdmin: true }, 'reject')).toMatchObject({ status: 'not_in_review' });
      expect((await core.job(a))?.state).toBe('succeeded');
      expect((await core.job(b))?.state).toBe('blocked');
      expect(await core.quota.show('discord:user1', { tier: 'free' })).toMatchObject({ spent: 3, held: 0 });
      const dq = core.deliveryQueue('discord');
      expect((await dq.getJob(`deliver-${a}`))?.data.outcome.kind).toBe('video');
      expect((await dq.getJob(`deliver-${b}`))?.data.outcome.kind).toBe('blocked');
      // The owner may cancel a video held for review; the queue entry is not needed to answer.
      const c = await held('/video a lingerie ad, third --draft');
      await core.queue.queue.remove(c);
      expect(await core.cancel(c, { userKey: 'discord:user1', isAdmin: false })).toMatchObject({ status: 'cancelled' });
      expect((await dq.getJob(`deliver-${c}`))?.data.outcome.kind).toBe('cancelled');
      expect(await core.quota.show('discord:user1', { tier: 'free' })).toMatchObject({ spent: 3, held: 0, active: 0 });
      await dq.obliterate({ force: true });
    });
  });
});

describe('user settings', () => {
  it("a user's allow-downgrade choice wins over the operator's default in the job", async () => {
    await withCore({ FRAMECAST_FREE_MAX_CONCURRENT: '5' }, async (core) => {
      const settings = new UserSettingsStore(redis, core.config.keyPrefix);
      const a = await core.submit(req('/video default choice --draft'));
      await settings.set('discord:user1', 'allow-downgrade', false);
      const b = await core.submit(req('/video opted out --draft'));
      if (a.status !== 'accepted' || b.status !== 'accepted') throw new Error('not accepted');
      expect((await core.job(a.jobId))?.allowDowngrade).toBe(true);
      expect((await core.job(b.jobId))?.allowDowngrade).toBe(false);
      expect(await settings.get('discord:user1')).toEqual({ allowDowngrade: false });
    });
  });
});

describe('intake failures', () => {
  /** `twoStep`: without the one-call admission (as where this BullMQ's add script cannot be run inside it). */
  function intakeWith(core: Core, queue: FairQueue, twoStep = false): Intake {
    const lifecycle = twoStep ? twoStepOf(core.lifecycle) : core.lifecycle;
    return new Intake({ config: core.config, redis, moderator: listModerator, queue, lifecycle, quota: new QuotaService(redis, core.config), random: () => 0.5 });
  }
  function twoStepOf(lifecycle: JobLifecycle): JobLifecycle {
    return Object.assign(Object.create(lifecycle) as JobLifecycle, { intakeOne: undefined });
  }

  it('a failure after the job was queued still answers accepted, and a retry of the event gives the same job', async () => {
    await withCore({ FRAMECAST_FREE_MAX_CONCURRENT: '5' }, async (core) => {
      class FlakyQueue extends FairQueue {
        failures = 1;
        override async waitingPosition(jobId: string, mode: 'draft' | 'final'): Promise<QueuePosition> {
          if (this.failures-- > 0) throw new Error('connection reset');
          return super.waitingPosition(jobId, mode);
        }
      }
      const queue = new FlakyQueue(redis, core.config.keyPrefix);
      const intake = intakeWith(core, queue);
      const one = req('/video a flaky lighthouse --draft');
      const first = await intake.intake(one);
      expect(first.status).toBe('accepted');
      const again = await intake.intake({ ...one });
      expect(again).toMatchObject({ status: 'accepted', duplicate: true });
      if (first.status === 'accepted' && again.status === 'accepted') expect(again.jobId).toBe(first.jobId);
      expect(await core.queue.queue.getJobCountByTypes('prioritized', 'waiting')).toBe(1);
      expect(await core.quota.show('discord:user1', { tier: 'free' })).toMatchObject({ held: 3, active: 1 });
      await queue.close();
    });
  });

  it('(two steps) a failure before the job was queued refunds, marks nothing queued, and lets the retry run', async () => {
    await withCore({ FRAMECAST_FREE_MAX_CONCURRENT: '5' }, async (core) => {
      class BrokenQueue extends FairQueue {
        failures = 1;
        override async add(input: GenerateJobDataInput, mode: 'draft' | 'final'): Promise<{ rank: number; priority: number }> {
          if (this.failures-- > 0) throw new Error('READONLY You can\'t write against a read only replica.');
          return super.add(input, mode);
        }
      }
      const queue = new BrokenQueue(redis, core.config.keyPrefix);
      const intake = intakeWith(core, queue, true);
      const one = req('/video a broken queue --draft');
      const first = await intake.intake(one);
      expect(first).toMatchObject({ status: 'refused', reason: 'internal' });
      expect(await core.quota.show('discord:user1', { tier: 'free' })).toMatchObject({ held: 0, active: 0 });
      const retry = await intake.intake({ ...one });
      expect(retry.status).toBe('accepted');
      expect(await core.queue.queue.getJobCountByTypes('prioritized', 'waiting')).toBe(1);
      expect(await core.quota.show('discord:user1', { tier: 'free' })).toMatchObject({ held: 3, active: 1 });
      await queue.close();
    });
  });

  it('(two steps) the answer failing to be recorded after the enqueue still answers accepted; a retry after the lease takes it over: one job, one charge', async () => {
    await withCore({ FRAMECAST_FREE_MAX_CONCURRENT: '5' }, async (core) => {
      const lifecycle = Object.assign(twoStepOf(core.lifecycle), {
        queuedAnswer: () => Promise.reject(new Error('connection reset')),
      });
      const intake = new Intake({ config: core.config, redis, moderator: listModerator, queue: core.queue, lifecycle, quota: new QuotaService(redis, core.config), random: () => 0.5 });
      const one = req('/video an answer lost --draft');
      const first = await intake.intake(one);
      if (first.status !== 'accepted') throw new Error(JSON.stringify(first));
      // The claim is still pending: once its lease lapses (as after a crash), a retry takes it over.
      const idemKey = `${core.config.keyPrefix}:idem:discord:${one.eventId}`;
      const claim = JSON.parse((await redis.get(idemKey)) ?? '{}') as { state: string; jobId: string };
      expect(claim).toMatchObject({ state: 'pending', jobId: first.jobId });
      await redis.set(idemKey, JSON.stringify({ ...claim, leaseUntil: Date.now() - 1 }));
      const retry = await core.submit({ ...one });
      expect(retry).toMatchObject({ status: 'accepted', jobId: first.jobId });
      expect(await core.submit({ ...one })).toMatchObject({ status: 'accepted', jobId: first.jobId, duplicate: true });
      expect(await core.queue.queue.getJobCountByTypes('prioritized', 'waiting')).toBe(1);
      expect(await core.quota.show('discord:user1', { tier: 'free' })).toMatchObject({ held: 3, active: 1 });
      expect(await core.job(first.jobId)).toMatchObject({ state: 'queued' });
    });
  });

  it('(two steps) an admission whose reply is lost (it ran) is released: nothing held, the job failed, and the retry makes one job', async () => {
    await withCore({ FRAMECAST_FREE_MAX_CONCURRENT: '5' }, async (core) => {
      let lost = '';
      // A text-only request is claimed and admitted in one call (intakeAdmit); admit is the path of a takeover or an image.
      const lifecycle = Object.assign(twoStepOf(core.lifecycle), {
        admit: async (input: AdmitInput) => {
          await core.lifecycle.admit(input);
          lost = input.record.jobId;
          throw new Error('connection reset');
        },
        intakeAdmit: async (input: AdmitInput, claim: IntakeClaim) => {
          await core.lifecycle.intakeAdmit(input, claim);
          lost = input.record.jobId;
          throw new Error('connection reset');
        },
      });
      const intake = new Intake({ config: core.config, redis, moderator: listModerator, queue: core.queue, lifecycle, quota: new QuotaService(redis, core.config), random: () => 0.5 });
      const one = req('/video an admission lost --draft');
      expect(await intake.intake(one)).toMatchObject({ status: 'refused', reason: 'internal' });
      expect(await core.quota.show('discord:user1', { tier: 'free' })).toMatchObject({ held: 0, active: 0 });
      expect(await core.job(lost)).toMatchObject({ state: 'failed' });
      const retry = await core.submit({ ...one });
      expect(retry.status).toBe('accepted');
      expect(await core.queue.queue.getJobCountByTypes('prioritized', 'waiting')).toBe(1);
      expect(await core.quota.show('discord:user1', { tier: 'free' })).toMatchObject({ held: 3, active: 1 });
    });
  });

  it('(two steps) many intakes in one tick share one pipeline for their adds and answers; if it fails, each job is enqueued and answered on its own', async () => {
    await withCore({ FRAMECAST_FREE_MAX_CONCURRENT: '50', FRAMECAST_FREE_DAILY_CREDITS: '1000' }, async (core) => {
      class PipelineBroken extends FairQueue {
        pipelines = 0;
        broken = 0;
        override async client(): Promise<RedisClient> {
          const c = await super.client();
          return new Proxy(c, {
            get: (target, prop, receiver) => {
              if (prop !== 'pipeline') return Reflect.get(target, prop, receiver) as unknown;
              return () => {
                const p = target.pipeline();
                this.pipelines += 1;
                // The first holds the 12 admissions (claim + admit), the second their adds and answers.
                if (this.pipelines === 2) {
                  p.exec = () => {
                    this.broken += 1;
                    return Promise.reject(new Error('connection reset'));
                  };
                }
                return p;
              };
            },
          });
        }
      }
      const queue = new PipelineBroken(redis, core.config.keyPrefix);
      const intake = new Intake({ config: core.config, redis, moderator: listModerator, queue, lifecycle: twoStepOf(core.lifecycle), quota: new QuotaService(redis, core.config), random: () => 0.5 });
      const many = Array.from({ length: 12 }, (_, i) => req(`/video wave ${i} --draft`));
      const results = await Promise.all(many.map((r) => intake.intake(r)));
      expect(results.map((r) => (r.status === 'refused' ? r.reason : r.status))).toEqual(Array.from({ length: 12 }, () => 'accepted'));
      expect(queue.broken).toBe(1);
      expect(queue.pipelines).toBeGreaterThanOrEqual(2);
      expect(queue.pipelines).toBeLessThan(12);
      expect(await core.queue.queue.getJobCountByTypes('prioritized', 'waiting')).toBe(12);
      expect(await core.quota.show('discord:user1', { tier: 'free' })).toMatchObject({ held: 36, active: 12 });
      // Each answer was recorded all the same: a retry of any event repeats it.
      const again = await Promise.all(many.map((r) => intake.intake({ ...r })));
      expect(again.map((r, i) => r.status === 'accepted' && r.duplicate && r.jobId === (results[i] as { jobId: string }).jobId)).toEqual(Array.from({ length: 12 }, () => true));
      await queue.close();
    });
  });

  it('takes over an event whose intake died (lease expired) and finishes it under the same job id', async () => {
    await withCore({}, async (core) => {
      const one = req('/video an orphaned event --draft');
      // What a crashed intake leaves: a pending claim with a lapsed lease.
      await redis.set(`${core.config.keyPrefix}:idem:discord:${one.eventId}`, JSON.stringify({ state: 'pending', jobId: 'jorphan', leaseUntil: Date.now() - 1 }));
      const r = await core.submit(one);
      expect(r).toMatchObject({ status: 'accepted', jobId: 'jorphan' });
      expect(await core.submit({ ...one })).toMatchObject({ status: 'accepted', jobId: 'jorphan', duplicate: true });
      expect(await core.queue.queue.getJobCountByTypes('prioritized', 'waiting')).toBe(1);
    });
  });

  it('a moderator that fails gives an internal refusal, holds nothing, and lets the retry run', async () => {
    await withCore({}, async (core) => {
      let fail = true;
      const flaky: ContentModerator = {
        moderateText: (text, ctx) => (fail ? Promise.reject(new Error('moderation service down')) : listModerator.moderateText(text, ctx)),
      };
      const intake = new Intake({ config: core.config, redis, moderator: flaky, queue: core.queue, lifecycle: core.lifecycle, quota: new QuotaService(redis, core.config), random: () => 0.5 });
      const one = req('/video a moderator down --draft');
      expect(await intake.intake(one)).toMatchObject({ status: 'refused', reason: 'internal' });
      expect(await core.quota.show('discord:user1', { tier: 'free' })).toMatchObject({ held: 0, active: 0 });
      fail = false;
      expect(await intake.intake({ ...one })).toMatchObject({ status: 'accepted', duplicate: false });
    });
  });

  it('uses the configured default language when the platform gives none', async () => {
    await withCore({ FRAMECAST_DEFAULT_LOCALE: 'zh-CN' }, async (core) => {
      const { locale: _drop, ...noLocale } = req('/video 一只猫 --draft');
      const r = await core.submit(noLocale);
      if (r.status !== 'accepted') throw new Error('not accepted');
      expect((await core.job(r.jobId))?.locale).toBe('zh-CN');
    });
  });
});

describe('sizes from the runtime', () => {
  const ti2v = { version: 1 as const, runtime: 'comfyui', model: 'ti2v-5b', sizes: [{ kind: 'list' as const, sizes: [{ width: 1280, height: 704 }, { width: 704, height: 1280 }] }], imageInput: 'optional' as const, maxFrames: 121, fps: 24 };
  const t2v = { ...ti2v, model: 't2v-a14b', sizes: [{ kind: 'grid' as const, multiple: 16, minSide: 256, maxWidth: 1280, maxHeight: 1280, maxPixels: 1280 * 720 }], imageInput: 'none' as const, maxFrames: 81, fps: 16 };

  it('maps the aspect to the nearest size the live workers render, so an accepted job always renders', async () => {
    await withCore({ FRAMECAST_FREE_MAX_CONCURRENT: '5', FRAMECAST_FREE_DAILY_CREDITS: '500' }, async (core) => {
      await core.runtimes.publish('w1', ti2v, 30);
      core.runtimes.invalidate();
      const r = await core.submit(req('/video a lighthouse at dusk --ar 16:9'));
      if (r.status !== 'accepted') throw new Error(JSON.stringify(r));
      expect(r.spec).toMatchObject({ width: 1280, height: 704, fps: 24 });
      expect((await core.job(r.jobId))?.spec).toMatchObject({ width: 1280, height: 704 });
    });
  });

  it('refuses a reference image on a text-only runtime before fetching or charging it, in both languages', async () => {
    let fetched = 0;
    const imageIntake: ReferenceImageIntake = {
      async accept() {
        fetched += 1;
        throw new Error('must not be called');
      },
    };
    await withCore({}, async (core) => {
      await core.runtimes.publish('w1', t2v, 30);
      core.runtimes.invalidate();
      const r = await core.submit(req('/video the wall starts to glow', { attachments: [{ kind: 'image', url: 'https://example.com/a.png' }] }));
      expect(r).toMatchObject({ status: 'refused', reason: 'runtime_unsupported', detail: { code: 'image_not_supported' } });
      if (r.status !== 'refused') return;
      expect(r.message.en).toContain('text only');
      expect(r.message['zh-CN']).toContain('只支持文字');
      expect(fetched).toBe(0);
      expect(await core.quota.show('discord:user1', { tier: 'free' })).toMatchObject({ held: 0, spent: 0, active: 0 });
    }, { imageIntake });
  });
});
