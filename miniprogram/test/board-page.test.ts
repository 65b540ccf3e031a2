// @vitest-environment jsdom
import { beforeAll, describe, expect, it } from 'vitest';
import { PNG_1X1 } from '../testing/fixtures.ts';
import { useHarness, waitFor, type MiniprogramHarness, type SimPage } from '../testing/simulate-harness.ts';

const rig = useHarness('starter');
let h: MiniprogramHarness;
beforeAll(() => {
  h = rig.h;
});

const bodiesOf = (method: string, path: RegExp): Record<string, unknown>[] =>
  h.server.requests.filter((r) => r.method === method && path.test(r.path)).map((r) => (r.body ?? {}) as Record<string, unknown>);

async function openBoard(page: SimPage, theme: string): Promise<string> {
  await page.fire('.theme-input', 'input', { value: theme });
  await page.tap('.create');
  await waitFor(() => page.data.boardId !== '', 'the board');
  return String(page.data.boardId);
}

describe('storyboard page', () => {
  it('opens a board with the form\'s theme, style, aspect, quality, shot length and name; an empty theme is refused here', async () => {
    const page = h.page('board');
    expect(h.wx.titles.at(-1)).toBe('合作分镜');
    await page.tap('.create');
    expect(page.text('.error')).toBe('请先写一个主题');
    expect(bodiesOf('POST', /^\/api\/mp\/boards$/)).toHaveLength(0);
    await page.tap('.style', 2);
    await page.fire('.aspect', 'change', { value: 1 });
    await page.tap('.mode-final');
    await page.fire('.seconds-slider', 'change', { value: 3 });
    await page.fire('.nickname-input', 'input', { value: '小林' });
    const id = await openBoard(page, '  古镇一日  ');
    const [sent] = bodiesOf('POST', /^\/api\/mp\/boards$/);
    expect(sent).toMatchObject({ theme: '古镇一日', style: 'anime', aspect: '16:9', draft: false, duration: 3 });
    expect(String(sent?.requestId)).toMatch(/^[A-Za-z0-9_-]{8,64}$/);
    expect(bodiesOf('PUT', /^\/api\/mp\/me\/nickname$/)).toEqual([{ nickname: '小林' }]);
    expect(page.text('.board-starter')).toBe('发起人：小林');
    expect(page.exists('.create-form')).toBe(false);
    expect(page.call('onShareAppMessage')).toEqual({ title: '来一起做分镜：古镇一日', path: `/pages/board/board?id=${id}` });
    await waitFor(() => h.server.boards.streamCount(id) === 1, 'the board\'s event stream');
  });

  it('adds shots (with a photo), keeps a refused line for its author to change, votes; others\' shots have no edit', async () => {
    const page = h.page('board');
    const id = await openBoard(page, 'sea');
    h.wx.nextPhoto = h.wx.photo(PNG_1X1);
    await page.tap('.add-photo');
    await waitFor(() => page.data.imageId !== '', 'the upload');
    await page.fire('.shot-input', 'input', { value: 'gulls' });
    await page.tap('.add-shot');
    await waitFor(() => page.all('.shot').length === 1, 'the shot');
    expect(bodiesOf('POST', /\/shots$/)[0]).toMatchObject({ text: 'gulls', imageId: expect.stringMatching(/^img-/) as unknown });
    expect(page.text('.shot-image')).toBe('含参考图');
    expect(page.data.shotText).toBe('');
    await page.fire('.shot-input', 'input', { value: 'a blockedword here' });
    await page.tap('.add-shot');
    await waitFor(() => page.exists('.error'), 'the refusal');
    expect(page.text('.error')).toBe('描述中有不允许的内容，请修改后再试');
    expect(page.data.shotText).toBe('a blockedword here');
    expect(page.all('.shot')).toHaveLength(1);

    // A friend by the link: a shot of theirs, no edit or starter controls on the starter's shot.
    h.newUser('friend');
    const friend = h.page('board', { id });
    await waitFor(() => friend.all('.shot').length === 1, 'the board at the friend\'s');
    expect([friend.exists('.edit'), friend.exists('.remove'), friend.exists('.starter-actions')]).toEqual([false, false, false]);
    await friend.tap('.vote');
    await waitFor(() => friend.exists('.voted'), 'the vote');
    expect(friend.text('.shot-votes')).toBe('1 票');
    expect(bodiesOf('POST', /\/votes$/).map((b) => b.n)).toEqual([1]);
    // Taken back, then given again.
    await friend.tap('.unvote');
    await waitFor(() => friend.exists('.vote'), 'the vote taken back');
    expect([friend.exists('.voted'), friend.text('.shot-votes')]).toEqual([false, '0 票']);
    expect(bodiesOf('DELETE', /\/votes$/).map((b) => b.n)).toEqual([1]);
    await friend.tap('.vote');
    await waitFor(() => friend.exists('.voted'), 'the vote again');
  });

  it('the starter renders once however often the button is tapped; per-shot progress, then the video plays', async () => {
    const page = h.page('board');
    const id = await openBoard(page, 'night market');
    for (const text of ['grill smoke', 'lanterns']) {
      await page.fire('.shot-input', 'input', { value: text });
      await page.tap('.add-shot');
      await waitFor(() => page.data.shotText === '' && page.all('.shot').some((n) => n.dom?.textContent?.includes(text) === true), text);
    }
    expect(page.text('.cost')).toBe('合成预计消耗 2 点，约 60 秒');
    await waitFor(() => h.server.boards.streamCount(id) === 1, 'the stream');
    await Promise.all([page.tap('.render'), page.tap('.render')]);
    await waitFor(() => page.text('.board-state') === '合成中', 'rendering');
    expect(bodiesOf('POST', /\/render$/)).toHaveLength(1);
    expect(page.all('.shot-progress').map((n) => n.dom?.textContent)).toEqual(['等待中', '等待中']);
    h.server.boards.push(id, 'segment', { type: 'segment', n: 2, index: 1, count: 2, phase: 'step', step: 1, totalSteps: 4 });
    h.server.boards.push(id, 'segment', { type: 'segment', n: 1, index: 0, count: 2, phase: 'done' });
    await waitFor(() => page.text('.shot-progress', 0) === '已完成' && page.text('.shot-progress', 1) === '生成中 1/4', 'the progress');
    h.server.boards.push(id, 'stitching', { type: 'stitching' });
    await waitFor(() => page.exists('.stitching'), 'stitching');
    h.server.boards.finish(id);
    await waitFor(() => page.exists('.play'), 'the play button');
    expect(page.text('.board-state')).toBe('已完成');
    await page.tap('.play');
    await waitFor(() => page.data.videoSrc !== '', 'the video');
    expect(String(page.data.videoSrc)).toMatch(new RegExp(`^${h.server.baseUrl}/api/mp/jobs/c${id}/video\\?exp=\\d+&sig=ok$`));
  });

  it('in English, an unknown board says so', async () => {
    h.i18n().setLang('en');
    const page = h.page('board', { id: 'b_AAAAAAAAAAAAAAAAAAAAAA' });
    await waitFor(() => page.exists('.error'), 'the error');
    expect(page.text('.error')).toBe('No such storyboard');
    expect(h.wx.titles.at(-1)).toBe('Storyboard');
  });
});
