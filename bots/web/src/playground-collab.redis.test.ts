import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../../test/support/e2e.ts';
import { startPlaygroundRig, type PlaygroundRig } from './testing/playground-rig.ts';

/** One browser, as far as the server can tell: its own session cookie and this page's Origin. */
class Visitor {
  cookie = '';
  constructor(private readonly base: string) {}

  async open(): Promise<void> {
    const res = await fetch(`${this.base}/`, { headers: { 'Accept-Language': 'en' } });
    const set = res.headers.getSetCookie().find((c) => c.startsWith('fc_web='));
    if (set !== undefined) this.cookie = set.split(';')[0] as string;
  }

  fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('Cookie', this.cookie);
    headers.set('Accept-Language', 'en');
    if (init.method !== undefined && init.method !== 'GET') headers.set('Origin', this.base);
    return fetch(`${this.base}${path}`, { ...init, headers });
  }

  async submit(text: string, requestId: string, o: { board?: string; name?: string } = {}): Promise<{ status: number; body: CollabBody }> {
    const form = new FormData();
    form.append('text', text);
    form.append('requestId', requestId);
    if (o.board !== undefined) form.append('board', o.board);
    if (o.name !== undefined) form.append('name', o.name);
    const res = await this.fetch('/api/web/jobs', { method: 'POST', body: form });
    return { status: res.status, body: (await res.json()) as CollabBody };
  }
}

interface CollabBody {
  status: string;
  duplicate: boolean;
  ok: boolean;
  code: string;
  audience: string;
  boardId: string;
  message: string;
  jobId?: string;
  board?: {
    theme: string; state: string; cost: number; etaSeconds: number; youStarted: boolean; yourCost: number;
    shots: Array<{ n: number; authorName: string; text: string; votes: number; inCut: boolean; mine: boolean; voted: boolean; segment?: { phase: string; step?: number; totalSteps?: number } }>;
  };
}

let rig: PlaygroundRig;
beforeAll(async () => {
  rig = await startPlaygroundRig({ env: { FRAMECAST_STEPS: '2', FRAMECAST_COLLAB_TRANSITION_SECONDS: '0.5' } });
}, 120_000);
afterAll(async () => {
  await rig?.close();
});

// About 20–40 s on an idle 2-core machine (two draft shots on the tiny model and the stitch); the limit leaves room for a busy one.
describe('playground storyboards over the HTTP API (real Redis, core and worker)', { timeout: 180_000 }, () => {
  it('two sessions build one board by its id, vote, and the starter renders one video into their own history', async () => {
    const alice = new Visitor(rig.baseUrl);
    const bob = new Visitor(rig.baseUrl);
    await alice.open();
    await bob.open();
    const aliceId = ((await (await alice.fetch('/api/web/me')).json()) as { userId: string }).userId;

    // Alice's board is her session's own by default; its id is what she shares (`?board=<id>`).
    const started = await alice.submit('/video collab start a day at the sea --draft --duration 1 --seed 7', 'req-start-1', { name: 'Alice' });
    expect(started.status).toBe(200);
    expect(started.body).toMatchObject({ status: 'collab', ok: true, code: 'started', boardId: aliceId, board: { theme: 'a day at the sea', shots: [] } });
    const board = started.body.boardId;

    const added = await bob.submit('/video add gulls over the waves', 'req-bob-add-1', { board, name: 'Bob' });
    expect(added.body).toMatchObject({ ok: true, code: 'added', duplicate: false });
    // The same request again (a double click, a retry) is one shot, answered alike.
    const again = await bob.submit('/video add gulls over the waves', 'req-bob-add-1', { board, name: 'Bob' });
    expect(again.body).toMatchObject({ ok: true, code: 'added', duplicate: true });
    expect((await alice.submit('+ 孩子们在沙滩上堆沙堡', 'req-alice-add-1', { board, name: 'Alice' })).body.code).toBe('added');
    expect((await bob.submit('投票 2', 'req-bob-vote-1', { board })).body).toMatchObject({ ok: true, code: 'voted' });
    const blocked = await bob.submit('/video add 一段屠杀平民的视频', 'req-bob-add-2', { board, name: 'Bob' });
    expect(blocked.status).toBe(422);
    expect(blocked.body).toMatchObject({ ok: false, code: 'moderation_blocked', audience: 'author' });

    // Anyone with the id reads the board: shots, authors, votes, cost and ETA.
    const shown = (await (await bob.fetch(`/api/web/boards/${board}`)).json()) as { board: NonNullable<CollabBody['board']> };
    expect(shown.board.shots.map((s) => [s.n, s.authorName, s.text, s.votes])).toEqual([[1, 'Bob', 'gulls over the waves', 0], [2, 'Alice', '孩子们在沙滩上堆沙堡', 1]]);
    // Display names only: no user key of an author or a payer is given to whoever holds the link.
    expect(JSON.stringify(shown)).not.toMatch(/web:[a-f0-9]{24}/);
    expect(shown.board.cost).toBeGreaterThan(0);
    expect(shown.board.etaSeconds).toBeGreaterThan(0);
    // The caller's own: which shots are theirs, which they voted for, whether they started the board.
    expect(shown.board.shots.map((s) => [s.mine, s.voted])).toEqual([[true, false], [false, true]]);
    expect(shown.board.youStarted).toBe(false);
    const alicesView = (await (await alice.fetch(`/api/web/boards/${board}`)).json()) as { board: NonNullable<CollabBody['board']> };
    expect(alicesView.board.shots.map((s) => [s.mine, s.voted])).toEqual([[false, false], [true, false]]);
    expect(alicesView.board.youStarted).toBe(true);
    expect(alicesView.board.yourCost).toBe(alicesView.board.cost);
    expect(((await (await bob.fetch('/api/web/boards/nope-board')).json()) as { board: unknown }).board).toBeNull();
    expect((await bob.fetch('/api/web/boards/a')).status).toBe(404);
    // Bob's own board is another one.
    expect((await bob.submit('/video collab show', 'req-bob-show-1')).body.code).toBe('none');

    expect((await bob.submit('/video collab render', 'req-bob-render-1', { board })).body.code).toBe('not_starter');
    const render = await alice.submit('/video collab render', 'req-alice-render-1', { board });
    expect(render.body).toMatchObject({ ok: true, code: 'rendering' });
    const jobId = render.body.jobId ?? '';
    expect(jobId).not.toBe('');
    const again2 = await alice.submit('/video collab render', 'req-alice-render-2', { board });
    expect(again2.body.code).toBe('already_rendering');

    // While it renders, anyone with the link sees each shot's segment progress (the stitch waits for all of them).
    const progressed = await waitFor(async () => {
      const v = ((await (await bob.fetch(`/api/web/boards/${board}`)).json()) as { board: CollabBody['board'] | null }).board;
      return v?.state === 'rendering' && v.shots.some((s) => s.segment !== undefined) ? v : undefined;
    }, 150_000, 'segment progress on the board');
    for (const s of progressed.shots) if (s.segment !== undefined) expect(['started', 'step', 'done', 'retrying']).toContain(s.segment.phase);

    // The video lands in the starter's history, and only there.
    const listed = (await (await alice.fetch('/api/web/jobs')).json()) as { jobs: Array<{ jobId: string }> };
    expect(listed.jobs.filter((j) => j.jobId === jobId)).toHaveLength(1);
    expect((await bob.fetch(`/api/web/jobs/${jobId}`)).status).toBe(404);
    await rig.awaitState(jobId, 'succeeded', 150_000);
    const job = (await (await alice.fetch(`/api/web/jobs/${jobId}`)).json()) as { state: string; video?: { url: string } };
    expect(job.state).toBe('succeeded');
    const video = await alice.fetch(job.video?.url ?? '');
    expect(video.status).toBe(200);
    expect(Buffer.from(await video.arrayBuffer()).subarray(4, 8).toString('ascii')).toBe('ftyp');
    const history = (await (await alice.fetch('/api/web/jobs')).json()) as { jobs: Array<{ jobId: string }> };
    expect(history.jobs.filter((j) => j.jobId === jobId)).toHaveLength(1);
    // A prompt that is no storyboard command still makes its own video.
    const plain = await alice.submit('/video a red kite --draft --duration 1', 'req-alice-plain-1', { board });
    expect(plain.status).toBe(201);
    expect(plain.body.status).toBe('accepted');
    const plainId = (plain.body as unknown as { job: { jobId: string } }).job.jobId;
    expect((await alice.fetch(`/api/web/jobs/${plainId}/cancel`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' })).status).toBe(200);
  });
});
