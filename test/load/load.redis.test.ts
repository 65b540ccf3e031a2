import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testRedisUrl } from '../support/redis.ts';
import { LOAD_PLATFORMS, readLedger, runCommands, settle, startLoadRig, type LoadRig } from './load-rig.ts';

// The CI-sized variant of `npm run bench -- load`: correctness only, never timing.
const COMMANDS = 105;
const USERS = 21;
const PER_USER = COMMANDS / USERS;
const DAILY_CREDITS = 10;
const PROMPTS = ['a lighthouse at dusk, waves crashing --draft', '一只橘猫在雨中的屋顶上奔跑 --draft', 'paper boats on a rainy street --draft'];

let rig: LoadRig;
beforeAll(async () => {
  rig = await startLoadRig({ redisUrl: testRedisUrl(), dailyCredits: DAILY_CREDITS });
});
afterAll(async () => {
  await rig?.close();
});

describe('load through Slack HTTP, Discord HTTP interactions and the mini program API (one server, one Redis)', () => {
  it(`${COMMANDS} commands from ${USERS} users: every one acknowledged, quotas exact to the credit, every accepted job queued once`, async () => {
    const tokens = new Map<number, string>();
    for (let u = 0; u < USERS; u++) if (LOAD_PLATFORMS[u % 3] === 'miniprogram') tokens.set(u, await rig.mpLogin(u));
    const before = await rig.queueDepth();
    const out = await runCommands(rig, { commands: COMMANDS, users: USERS, windowMs: 3000, settleMs: 30_000 }, (i) => PROMPTS[i % 3] ?? '', tokens);
    expect(out.failures).toEqual([]);
    expect(out.acked).toHaveLength(COMMANDS);
    for (const a of out.acked) {
      if (a.platform === 'miniprogram') expect([201, 402]).toContain(a.status);
      else expect(a.status).toBe(200);
    }
    // Each draft costs 3 credits: 3 of a user's 5 commands fit in 10 credits; the others are refused.
    const perUserAccepted = Math.min(PER_USER, Math.floor(DAILY_CREDITS / 3));
    await settle(rig, USERS, USERS * perUserAccepted, 45_000);
    const ledger = await readLedger(rig, USERS);
    expect(ledger.costs).toEqual([3]);
    for (const [user, jobs] of ledger.jobsByUser) expect({ user, jobs: jobs.length }).toEqual({ user, jobs: perUserAccepted });
    expect(ledger.accepted).toBe(USERS * perUserAccepted);
    expect(ledger.charged).toBe(ledger.accepted * 3);
    expect(ledger.overDrawn).toEqual([]);
    expect(ledger.inexact).toEqual([]);
    expect(ledger.duplicateEvents).toBe(0);
    expect(ledger.missingFromQueue).toBe(0);
    expect(ledger.queued - before).toBe(ledger.accepted);
    // The mini program refused exactly the ones over the quota, with its 402.
    const mpRefused = out.acked.filter((a) => a.platform === 'miniprogram' && a.status === 402).length;
    expect(mpRefused).toBe((USERS / 3) * (PER_USER - perUserAccepted));
  }, 120_000);
});
