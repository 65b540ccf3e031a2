import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gradientPng } from '../../bots/miniprogram-api/src/testing/tiny-png.ts';
import { startRealApi, type RealApiRig } from '../testing/real-api-rig.ts';
import type { SimPage } from '../testing/simulate-harness.ts';

/**
 * The storyboard page against the real API, core, Redis and worker: Alice opens a board, Bob joins
 * through the shared link and adds a shot with a photo (his blocked line refused on his page only)
 * and votes, Alice renders and watches each shot's progress, then plays the one video.
 */
let rig: RealApiRig;

beforeAll(async () => {
  // Two diffusion steps keep the tiny model's segments short.
  rig = await startRealApi({ FRAMECAST_STEPS: '2' });
}, 120_000);
afterAll(async () => {
  await rig?.close();
});

/** The phone's user: the client logs in again as `user` at its next call. */
function as(user: string): void {
  rig.h.wx.user = user;
  rig.h.client().api.logout();
}

const shotTexts = (page: SimPage): string[] => page.all('.shot-text').map((n) => (n.dom?.textContent ?? '').trim());

// About 20–40 s on an idle 2-core machine (two one-second draft shots, the stitch and its checks).
describe('the storyboard page against the real API', () => {
  it('in English: own shots edited and removed, the starter alone locks, unlocks and closes, an unknown link says so, each shot\'s progress', async () => {
    const { h, waitFor } = rig;
    h.newUser('unused');
    h.i18n().setLang('en');
    as('erin');
    const e = h.page('board');
    await e.fire('.theme-input', 'input', { value: 'Night market' });
    await e.tap('.create');
    await waitFor(() => e.data.boardId !== '' || e.exists('.error'), 'the board', 30_000);
    const boardId = String(e.data.boardId);
    for (const text of ['steam rises from the grill', 'lanterns sway']) {
      await e.fire('.shot-input', 'input', { value: text });
      await e.tap('.add-shot');
      await waitFor(() => shotTexts(e).includes(text), text);
    }
    expect(e.text('.board-state')).toBe('Collecting shots');
    expect(e.text('.cost')).toMatch(/^Rendering costs about \d+ credits and takes about \d+ s$/);
    await e.tap('.edit', 1);
    await e.fire('.edit-input', 'input', { value: 'red lanterns sway' });
    await e.tap('.save-edit');
    await waitFor(() => shotTexts(e).includes('red lanterns sway'), 'the edit');
    await e.tap('.remove', 0);
    await waitFor(() => shotTexts(e).length === 1, 'the removal');
    e.lifecycle('onHide');

    // Frank, by the link: no edit, remove or starter controls on Erin's shot.
    as('frank');
    const f = h.page('board', { id: boardId });
    await waitFor(() => shotTexts(f).length === 1, 'the board at frank\'s');
    expect([f.exists('.edit'), f.exists('.remove'), f.exists('.starter-actions'), f.exists('.vote')]).toEqual([false, false, false, true]);
    // Segment events name the shot: its line shows the progress.
    f.call('onBoardEvent', { type: 'board', board: { id: boardId, theme: 'Night market', state: 'rendering', starterName: 'x', shots: [{ n: 1, authorName: 'x', text: 'red lanterns sway', votes: 0, voted: false, mine: false, hasImage: false, inCut: true }], maxShots: 6, cost: 1, yourCost: 0, etaSeconds: 5, you: { name: 'frank', starter: false, contributor: false } } });
    expect(f.text('.shot-progress')).toBe('Waiting');
    f.call('onBoardEvent', { type: 'segment', n: 1, phase: 'step', step: 1, totalSteps: 2 });
    expect(f.text('.shot-progress')).toBe('Rendering 1/2');
    f.call('onBoardEvent', { type: 'segment', n: 1, phase: 'done' });
    expect(f.text('.shot-progress')).toBe('Done');
    // A late step event of the same shot does not undo it.
    f.call('onBoardEvent', { type: 'segment', n: 1, phase: 'step', step: 2, totalSteps: 2 });
    expect(f.text('.shot-progress')).toBe('Done');
    f.call('onBoardEvent', { type: 'stitching' });
    expect(f.text('.stitching')).toBe('Joining the shots…');
    f.detach();

    as('erin');
    e.lifecycle('onShow');
    await waitFor(() => e.exists('.lock'), 'the starter\'s controls');
    await e.tap('.lock');
    await waitFor(() => e.text('.board-state') === 'Locked', 'locked');
    expect(e.exists('.add-form')).toBe(false);
    await e.tap('.unlock');
    await waitFor(() => e.text('.board-state') === 'Collecting shots', 'unlocked');
    await e.tap('.close-board');
    await waitFor(() => e.text('.board-state') === 'Closed', 'closed');
    expect(e.exists('.render')).toBe(false);
    e.detach();

    const missing = h.page('board', { id: 'b_AAAAAAAAAAAAAAAAAAAAAA' });
    await waitFor(() => missing.exists('.error'), 'the unknown board');
    expect(missing.text('.error')).toBe('No such storyboard: check the link you were sent.');
    missing.detach();
    h.i18n().setLang('zh-CN');
  }, 120_000);

  it('opens a board, a friend joins by the shared link and adds a shot with a photo, votes; the starter renders, sees per-shot progress and plays the video', async () => {
    const { h, worker, waitFor } = rig;
    h.newUser('unused');
    as('alice');
    // The create page leads to the board page.
    const create = h.page('create');
    await create.tap('.board-entry');
    expect(h.wx.navigatedTo).toEqual(['/pages/board/board']);
    create.detach();

    const a = h.page('board');
    expect(a.exists('.create-form')).toBe(true);
    await a.tap('.create');
    expect(a.text('.error')).toBe('请先写一个主题');
    await a.fire('.theme-input', 'input', { value: '海边的一天' });
    await a.fire('.nickname-input', 'input', { value: 'Alice' });
    await a.fire('.seconds-slider', 'change', { value: 1 });
    // Square draft frames (480×480), the smallest, for a quicker render.
    await a.fire('.aspect', 'change', { value: 2 });
    await a.tap('.style', 0);
    await a.tap('.create');
    await waitFor(() => a.data.boardId !== '' || a.exists('.error'), 'the board', 30_000);
    expect(a.exists('.error') ? a.text('.error') : '').toBe('');
    const boardId = String(a.data.boardId);
    expect(boardId).toMatch(/^b_[A-Za-z0-9_-]{22}$/);
    expect(a.text('.board-theme')).toBe('海边的一天');
    expect(a.text('.board-starter')).toBe('发起人：Alice');
    expect(a.text('.empty')).toBe('还没有镜头，来添加第一个吧');
    await a.fire('.shot-input', 'input', { value: 'gulls over the waves' });
    await a.tap('.add-shot');
    await waitFor(() => shotTexts(a).length === 1, 'alice\'s shot');
    expect(a.text('.shot-author')).toBe('镜头 1 · Alice');
    // Her own shot: edit and remove, no vote for herself needed; the share card carries the board.
    expect(a.exists('.edit')).toBe(true);
    const share = a.call('onShareAppMessage') as { title: string; path: string };
    expect(share).toEqual({ title: '来一起做分镜：海边的一天', path: `/pages/board/board?id=${boardId}` });
    a.lifecycle('onHide');

    // Bob opens the shared link.
    as('bob');
    const b = h.page('board', { id: boardId });
    await waitFor(() => shotTexts(b).length === 1, 'the board at bob\'s');
    expect(b.exists('.edit')).toBe(false);
    expect(b.exists('.render')).toBe(false);
    await b.fire('.shot-input', 'input', { value: '一段屠杀平民的视频' });
    await b.tap('.add-shot');
    await waitFor(() => b.exists('.error'), 'the refusal');
    expect(b.text('.error')).toMatch(/未通过内容审核/);
    h.wx.nextPhoto = h.wx.photo(gradientPng(96, 64));
    await b.tap('.add-photo');
    await waitFor(() => b.data.imageId !== '', 'the photo uploaded', 30_000);
    await b.fire('.nickname-input', 'input', { value: '小明' });
    await b.fire('.shot-input', 'input', { value: '孩子们在沙滩上堆沙堡' });
    await b.tap('.add-shot');
    await waitFor(() => shotTexts(b).length === 2, 'bob\'s shot');
    expect(b.text('.shot-author', 1)).toBe('镜头 2 · 小明');
    expect(b.text('.shot-image')).toBe('含参考图');
    await b.tap('.vote', 0);
    await waitFor(() => b.exists('.voted'), 'bob\'s vote');
    expect(b.text('.shot-votes', 0)).toBe('1 票');
    b.detach();

    // Alice again: her page shows Bob's shot (never his refused line), and she renders.
    as('alice');
    a.lifecycle('onShow');
    await waitFor(() => shotTexts(a).length === 2, 'bob\'s shot at alice\'s');
    expect(a.allText()).not.toContain('屠杀');
    expect(a.text('.cost')).toMatch(/^合成预计消耗 \d+ 点，约 \d+ 秒$/);
    void worker.run();
    await a.tap('.render');
    const seen = new Set<string>();
    await waitFor(() => {
      for (const node of a.all('.shot-progress')) seen.add((node.dom?.textContent ?? '').trim());
      return a.exists('.play');
    }, 'the finished video', 200_000);
    expect(a.text('.board-state')).toBe('已完成');
    expect([...seen].some((s) => /^(生成中|已完成)/.test(s))).toBe(true);
    await a.tap('.play');
    await waitFor(() => a.data.videoSrc !== '', 'the video src');
    const res = await fetch(String(a.data.videoSrc), { headers: { Range: 'bytes=0-99' } });
    expect(res.status).toBe(206);
    // The render is Alice's job: it is in her videos.
    const videos = h.page('videos');
    await waitFor(() => videos.exists('.play'), 'the video in my videos', 30_000);
  }, 300_000);
});
