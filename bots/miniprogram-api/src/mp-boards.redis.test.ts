import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { testRedis } from '../../../test/support/redis.ts';
import { BOARD_ID } from './mp-boards.ts';
import { call, login, readSse, rig, upload, type Json, type Rig } from './testing/mp-rig.ts';
import { gradientPng } from './testing/tiny-png.ts';

let redis: Redis;
let dataDir: string;
let r: Rig;
let alice: string;
let bob: string;
let carol: string;
let dave: string;
let boardId: string;

beforeAll(async () => {
  redis = testRedis();
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'framecast-mp-boards-'));
  // Five shots make the cut of six; two diffusion steps keep the tiny model's segments short.
  r = await rig({ redis, dataDir, env: { FRAMECAST_STEPS: '2', FRAMECAST_COLLAB_MAX_SHOTS: '5' } });
  alice = await login(r, 'o_alice');
  bob = await login(r, 'o_bob');
  carol = await login(r, 'o_carol');
  dave = await login(r, 'o_dave');
}, 120_000);
afterAll(async () => {
  await r?.close();
  await redis.quit();
  await rm(dataDir, { recursive: true, force: true });
});

const b = (suffix = ''): string => `/api/mp/boards/${boardId}${suffix}`;

// About 25–40 s on an idle 2-core machine (five one-second draft shots on the tiny model, then the
// stitch, labels and output scan); the limit leaves room for a busy one.
describe('storyboards in the mini program API: real Redis, core and worker, a fake WeChat over a socket', { timeout: 240_000 }, () => {
  it('sets nicknames for the credits (moderated, bounded); without one a user is a short masked id', async () => {
    expect((await call(r, 'GET', '/api/mp/me/nickname', { token: carol })).body.name).toMatch(/^mp-[A-Za-z0-9_-]{4}$/);
    expect(await call(r, 'PUT', '/api/mp/me/nickname', { token: alice, body: { nickname: '  Alice  ' } })).toMatchObject({ status: 200, body: { nickname: 'Alice' } });
    expect((await call(r, 'PUT', '/api/mp/me/nickname', { token: bob, body: { nickname: '小明' } })).status).toBe(200);
    expect((await call(r, 'PUT', '/api/mp/me/nickname', { token: carol, body: { nickname: 'Carol' } })).status).toBe(200);
    const blocked = await call(r, 'PUT', '/api/mp/me/nickname', { token: dave, body: { nickname: '海洛因' }, lang: 'en' });
    expect(blocked).toMatchObject({ status: 403, body: { code: 'nickname_blocked', message: 'This nickname cannot be used; please pick another.' } });
    expect((await call(r, 'PUT', '/api/mp/me/nickname', { token: dave, body: { nickname: 'x'.repeat(21) } })).body).toMatchObject({ code: 'bad_request' });
    expect((await call(r, 'PUT', '/api/mp/me/nickname', { token: dave, body: { nickname: 'a\u0007b' } })).status).toBe(400);
    expect((await call(r, 'GET', '/api/mp/me/nickname', { token: bob })).body).toMatchObject({ name: '小明', nickname: '小明' });
  });

  it('three users build a board: a retried create is one board, a blocked shot is refused to its author alone, own shots only are edited', async () => {
    const requestId = randomUUID();
    // Square draft frames (480×480): the smallest the grammar makes, for a quicker stitch and scan.
    const body = { theme: 'a day at the sea', draft: true, duration: 1, seed: 7, aspect: '1:1', requestId };
    const created = await call(r, 'POST', '/api/mp/boards', { token: alice, body });
    expect(created.status).toBe(201);
    boardId = created.body.boardId as string;
    expect(boardId).toMatch(BOARD_ID);
    expect(created.body.board).toMatchObject({ id: boardId, theme: 'a day at the sea', state: 'collecting', seed: 7, aspect: '1:1', mode: 'draft', starterName: 'Alice', sharePath: `pages/board/board?id=${boardId}`, you: { starter: true } });
    const again = await call(r, 'POST', '/api/mp/boards', { token: alice, body });
    expect(again).toMatchObject({ status: 200, body: { boardId, duplicate: true } });

    const shot = async (token: string, text: string, extra: Json = {}): Promise<{ status: number; body: Json }> => call(r, 'POST', b('/shots'), { token, body: { text, ...extra } });
    expect(await shot(alice, 'the tide comes in')).toMatchObject({ status: 201, body: { ok: true, code: 'added' } });
    // A double tap (the same requestId twice, at once) is one shot.
    const tap = randomUUID();
    const [t1, t2] = await Promise.all([shot(bob, 'gulls over the waves', { requestId: tap }), shot(bob, 'gulls over the waves', { requestId: tap })]);
    expect([t1.status, t2.status].sort()).toEqual([200, 201]);
    const photo = await upload(r, carol, gradientPng(96, 64));
    expect(photo.status).toBe(201);
    expect((await shot(carol, '孩子们在沙滩上堆沙堡', { imageId: photo.body.imageId })).status).toBe(201);
    // Someone else's upload is not theirs to use.
    expect((await shot(bob, 'a boat', { imageId: photo.body.imageId })).body).toMatchObject({ code: 'image_not_found' });
    const blocked = await shot(bob, '一段屠杀平民的视频');
    expect(blocked).toMatchObject({ status: 403, body: { code: 'moderation_blocked' } });
    expect(blocked.body.message).toMatch(/[\u4e00-\u9fff]/);
    expect((await shot(carol, 'a lighthouse at dusk')).status).toBe(201);
    expect((await shot(alice, 'a sailboat on the horizon')).status).toBe(201);
    expect((await shot(bob, 'sunset over the pier')).status).toBe(201);
    const extra = await shot(bob, 'one too many');
    expect(extra.body.board).toMatchObject({ shots: expect.any(Array) as unknown });
    expect(await call(r, 'DELETE', b('/shots/7'), { token: carol })).toMatchObject({ status: 403, body: { code: 'not_author' } });
    expect(await call(r, 'DELETE', b('/shots/7'), { token: bob })).toMatchObject({ status: 200, body: { code: 'removed' } });

    expect(await call(r, 'PATCH', b('/shots/1'), { token: carol, body: { text: 'mine now' } })).toMatchObject({ status: 403, body: { code: 'not_author' } });
    expect(await call(r, 'PATCH', b('/shots/1'), { token: alice, body: { text: 'the tide comes in slowly' } })).toMatchObject({ status: 200, body: { code: 'edited' } });
    expect(await call(r, 'PATCH', b('/shots/9'), { token: alice, body: { text: 'nothing there' } })).toMatchObject({ status: 404, body: { code: 'no_shot' } });

    const view = await call(r, 'GET', b(), { token: carol });
    expect(view.status).toBe(200);
    const shots = view.body.shots as Json[];
    expect(shots.map((s) => [s.n, s.authorName, s.text, s.mine, s.hasImage])).toEqual([
      [1, 'Alice', 'the tide comes in slowly', false, false], [2, '小明', 'gulls over the waves', false, false], [3, 'Carol', '孩子们在沙滩上堆沙堡', true, true],
      [4, 'Carol', 'a lighthouse at dusk', true, false], [5, 'Alice', 'a sailboat on the horizon', false, false], [6, '小明', 'sunset over the pier', false, false],
    ]);
    // The refused line is nowhere on the board; no user id (openid) is in any answer.
    expect(JSON.stringify(view.body)).not.toMatch(/屠杀|o_alice|o_bob|o_carol|miniprogram:/);
  });

  it('refuses bad bodies with clear 400s, and strangers and non-starters where they have no say', async () => {
    const cases: Array<[string, string, unknown, string]> = [
      ['POST', '/api/mp/boards', { theme: '' }, 'theme'],
      ['POST', '/api/mp/boards', { theme: 'x', aspect: '2:1' }, 'aspect'],
      ['POST', '/api/mp/boards', { theme: 'x', owner: 'o_evil' }, '(body)'],
      ['POST', b('/shots'), {}, 'text'],
      ['POST', b('/shots'), { text: 'x'.repeat(501) }, 'text'],
      ['POST', b('/votes'), { n: 'two' }, 'n'],
      ['POST', b('/votes'), { n: 0 }, 'n'],
      ['POST', b('/reorder'), { order: 'a,b' }, 'order'],
      ['PATCH', b('/shots/abc'), { text: 'x' }, 'n'],
      ['POST', b('/render'), { requestId: 'short' }, 'requestId'],
    ];
    for (const [method, route, body, field] of cases) {
      const res = await call(r, method, route, { token: bob, body, lang: 'en' });
      expect({ route, status: res.status, code: res.body.code }).toEqual({ route, status: 400, code: 'bad_request' });
      expect(res.body.message).toContain(field);
    }
    expect((await call(r, 'POST', b('/shots'), { token: bob, body: '{not json' })).status).toBe(400);
    expect(await call(r, 'POST', b('/reorder'), { token: alice, body: { order: [1, 1, 2, 3, 4, 5] } })).toMatchObject({ status: 400, body: { code: 'bad_order' } });

    // No token, or a stranger without the id: nothing to read.
    expect((await call(r, 'GET', b())).status).toBe(401);
    const guess = `b_${randomBytes(16).toString('base64url')}`;
    expect(await call(r, 'GET', `/api/mp/boards/${guess}`, { token: dave })).toMatchObject({ status: 404, body: { code: 'board_not_found' } });
    expect(await call(r, 'GET', '/api/mp/boards/1', { token: dave })).toMatchObject({ status: 404, body: { code: 'board_not_found' } });
    expect((await call(r, 'POST', `/api/mp/boards/${guess}/shots`, { token: dave, body: { text: 'hello' } })).status).toBe(404);
    // The starter administers the board: nobody else renders, locks, reorders or cancels it.
    for (const action of ['render', 'lock', 'cancel']) {
      expect(await call(r, 'POST', b(`/${action}`), { token: bob, body: {} })).toMatchObject({ status: 403, body: { code: 'not_starter' } });
    }
    expect(await call(r, 'POST', b('/reorder'), { token: carol, body: { order: [2, 1, 3, 4, 5, 6] } })).toMatchObject({ status: 403, body: { code: 'not_starter' } });
    // Not a contributor, and nothing rendered yet.
    expect(await call(r, 'GET', b('/media'), { token: dave })).toMatchObject({ status: 403, body: { code: 'not_contributor' } });
    expect(await call(r, 'GET', b('/media'), { token: bob })).toMatchObject({ status: 404, body: { code: 'not_finished' } });
  });

  it('votes decide the cut, the starter renders once (a double tap is one job), per-shot progress streams, one video charged once', async () => {
    // Six candidates, five make the cut: shot 2 (no votes) is left out.
    for (const [token, n] of [[alice, 6], [bob, 6], [carol, 6], [bob, 1], [carol, 3], [alice, 4], [bob, 5]] as Array<[string, number]>) {
      expect((await call(r, 'POST', b('/votes'), { token, body: { n } })).status).toBe(200);
    }
    expect(await call(r, 'POST', b('/votes'), { token: bob, body: { n: 6 } })).toMatchObject({ status: 409, body: { code: 'already_voted' } });
    // A vote taken back (DELETE), once; then given again.
    expect(await call(r, 'DELETE', b('/votes'), { token: carol, body: { n: 3 } })).toMatchObject({ status: 200, body: { code: 'unvoted' } });
    expect(await call(r, 'DELETE', b('/votes'), { token: carol, body: { n: 3 } })).toMatchObject({ status: 409, body: { code: 'not_voted' } });
    expect(await call(r, 'DELETE', b('/votes'), { token: carol, body: { n: 'three' } })).toMatchObject({ status: 400 });
    expect((await call(r, 'POST', b('/votes'), { token: carol, body: { n: 3 } })).status).toBe(200);
    const before = await call(r, 'GET', b(), { token: alice });
    expect((before.body.shots as Json[]).map((s) => [s.votes, s.voted, s.inCut])).toEqual([[1, false, true], [0, false, false], [1, false, true], [1, true, true], [1, false, true], [3, true, true]]);
    const cost = before.body.cost as number;
    expect(cost).toBeGreaterThan(0);
    expect(before.body).toMatchObject({ policy: 'starter', yourCost: cost, etaSeconds: expect.any(Number) as unknown });
    expect((await call(r, 'GET', b(), { token: bob })).body.yourCost).toBe(0);
    const spentBefore = ((await call(r, 'GET', '/api/mp/me', { token: alice })).body.quota as Json).spent as number;

    // Bob follows the board from before the render to its end.
    const stream = fetch(`${r.base}${b('/events')}`, { headers: { Authorization: `Bearer ${bob}`, 'Accept-Language': 'en' } }).then((res) => {
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      return readSse(res, 200_000);
    });
    const t0 = Date.now();
    const requestId = randomUUID();
    const [first, second] = await Promise.all([
      call(r, 'POST', b('/render'), { token: alice, body: { requestId } }),
      call(r, 'POST', b('/render'), { token: alice, body: { requestId } }),
    ]);
    expect([first.status, second.status]).toEqual([200, 200]);
    const jobId = first.body.jobId as string;
    expect(jobId).toBeTruthy();
    expect(second.body.jobId).toBe(jobId);
    // A third tap without the id: already rendering, the same job.
    expect(await call(r, 'POST', b('/render'), { token: alice, body: {} })).toMatchObject({ status: 409, body: { code: 'already_rendering' } });
    expect(await call(r, 'POST', b('/shots'), { token: carol, body: { text: 'too late' } })).toMatchObject({ status: 409, body: { code: 'not_collecting' } });

    const events = await stream;
    const renderSeconds = (Date.now() - t0) / 1000;
    expect(events[0]?.event).toBe('board');
    // The board again as it changed (rendering), before the per-shot events.
    expect(events.some((e) => e.event === 'board' && e.data.state === 'rendering')).toBe(true);
    const segments = events.filter((e) => e.event === 'segment');
    const done = segments.filter((e) => e.data.phase === 'done');
    expect(done.map((e) => e.data.index).sort()).toEqual([0, 1, 2, 3, 4]);
    // Each segment names its shot on the board: the cut is shots 1, 3, 4, 5, 6.
    expect(done.map((e) => e.data.n).sort()).toEqual([1, 3, 4, 5, 6]);
    expect(segments.every((e) => e.data.jobId === jobId && e.data.count === 5)).toBe(true);
    expect(events.some((e) => e.event === 'stitching')).toBe(true);
    expect(events.filter((e) => e.event === 'rendered')).toHaveLength(1);
    const last = events[events.length - 1];
    expect(last?.event).toBe('board');
    expect(last?.data).toMatchObject({ state: 'done', jobId, render: { state: 'succeeded', videoReady: true } });

    // The starter's video: one job in "my videos", played through the usual signed links, charged once.
    const mine = await call(r, 'GET', '/api/mp/jobs', { token: alice });
    expect((mine.body.jobs as Json[]).map((j) => [j.id, j.state])).toEqual([[jobId, 'succeeded']]);
    const media = await call(r, 'GET', `/api/mp/jobs/${jobId}/media`, { token: alice });
    expect(media.status).toBe(200);
    const ranged = await fetch(`${r.base}${String(media.body.videoUrl)}`, { headers: { Range: 'bytes=0-99' } });
    expect(ranged.status).toBe(206);
    expect(Buffer.from(await ranged.arrayBuffer()).subarray(4, 8).toString('ascii')).toBe('ftyp');
    const quota = (await call(r, 'GET', '/api/mp/me', { token: alice })).body.quota as Json;
    expect(quota.spent).toBe(spentBefore + cost);
    expect(quota.held).toBe(0);
    expect(((await call(r, 'GET', '/api/mp/me', { token: bob })).body.quota as Json).spent).toBe(0);

    // Contributors fetch it through the board; the job itself stays the starter's; strangers get nothing.
    const bobs = await call(r, 'GET', b('/media'), { token: bob });
    expect(bobs).toMatchObject({ status: 200, body: { jobId } });
    const video = await fetch(`${r.base}${String(bobs.body.videoUrl)}`);
    expect(video.status).toBe(200);
    expect(Number(video.headers.get('content-length'))).toBeGreaterThan(1000);
    await video.arrayBuffer();
    expect((await call(r, 'GET', `/api/mp/jobs/${jobId}`, { token: bob })).status).toBe(404);
    expect(await call(r, 'GET', b('/media'), { token: dave })).toMatchObject({ status: 403, body: { code: 'not_contributor' } });
    // A finished board's stream sends the board and ends.
    const closed = await readSse(await fetch(`${r.base}${b('/events')}`, { headers: { Authorization: `Bearer ${carol}` } }), 10_000);
    expect(closed.map((e) => e.event)).toEqual(['board']);
    console.info(JSON.stringify({ mpBoardRenderSeconds: renderSeconds, shots: 5, videoBytes: Number(video.headers.get('content-length')) }));
  });
});

describe('storyboard changes are rate-limited per session', { timeout: 120_000 }, () => {
  it('answers 429 rate_limited with Retry-After past the limit (counted across creates, shots and votes)', async () => {
    const small = await rig({ redis, dataDir, runWorker: false, rateLimits: { boards: { max: 3, windowSeconds: 60 } } });
    try {
      const token = await login(small, 'o_kim');
      const created = await call(small, 'POST', '/api/mp/boards', { token, body: { theme: 'rain on the window', draft: true } });
      expect(created.status).toBe(201);
      const route = `/api/mp/boards/${String(created.body.boardId)}`;
      expect((await call(small, 'POST', `${route}/shots`, { token, body: { text: 'drops race down the glass' } })).status).toBe(201);
      expect((await call(small, 'POST', `${route}/votes`, { token, body: { n: 1 } })).status).toBe(200);
      const limited = await call(small, 'POST', `${route}/shots`, { token, body: { text: 'a cat watches' }, lang: 'en' });
      expect(limited).toMatchObject({ status: 429, body: { code: 'rate_limited' } });
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      // Reading is not a change: the board still answers.
      expect((await call(small, 'GET', route, { token })).status).toBe(200);
    } finally {
      await small.close();
    }
  });
});
