// @vitest-environment jsdom
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { VIDEO_BYTES } from '../testing/fake-mp-api.ts';
import { MiniprogramHarness, waitFor, type SimPage } from '../testing/simulate-harness.ts';

let h: MiniprogramHarness;

beforeAll(async () => {
  h = await MiniprogramHarness.start();
});
afterAll(async () => {
  await h?.stop();
});
beforeEach(() => {
  h.newUser('tourist');
});
afterEach(() => {
  h.closePages();
});

/** Submits a prompt from the Create page and returns the new job's id. */
async function create(prompt: string): Promise<string> {
  const page = h.page('create');
  await page.fire('.prompt', 'input', { value: prompt });
  const before = h.server.jobs.size;
  await page.tap('.submit');
  await waitFor(() => h.server.jobs.size > before && h.wx.switchedTo.length > 0, 'the submission');
  page.lifecycle('onHide');
  const job = [...h.server.jobs.values()].find((j) => j.prompt === prompt);
  if (!job) throw new Error('no job');
  return job.id;
}

function cardStatus(page: SimPage, index = 0): string {
  return page.text('.card .status', index);
}

describe('my videos page', () => {
  it('create → submit → My videos shows queued, running step n/total, done → play sets the video src', async () => {
    const id = await create('古镇黄昏，灯笼亮起');
    expect(h.wx.switchedTo).toEqual(['/pages/videos/videos']);

    const page = h.page('videos');
    await waitFor(() => page.exists('.card'), 'the job card');
    expect(page.text('.card .prompt')).toBe('古镇黄昏，灯笼亮起');
    expect(cardStatus(page)).toBe('排队中：第 1 位，约 30 秒后开始');
    expect(page.text('.card .cost')).toBe('3 点');
    expect(page.exists('.play')).toBe(false);

    // Live progress comes over the job's event stream (wx.request with enableChunked).
    await waitFor(() => h.server.openStreams(id) === 1, 'the event stream');
    h.server.update(id, { state: 'running', progress: { step: 3, total: 20 } });
    await waitFor(() => cardStatus(page) === '生成中：第 3/20 步', 'step 3/20');
    expect(page.one('.card .status').querySelector('.status-bar')).toBeTruthy();

    h.server.update(id, { progress: { step: 17, total: 20 } });
    await waitFor(() => cardStatus(page) === '生成中：第 17/20 步', 'step 17/20');

    h.server.update(id, { state: 'succeeded' });
    await waitFor(() => cardStatus(page) === '已完成', 'done');
    expect(page.exists('.cancel')).toBe(false);
    await waitFor(() => (page.data.cards as { posterPath: string }[])[0]?.posterPath !== '', 'the poster');

    // Polling stops once nothing is unfinished.
    const reads = (): number => h.server.requests.filter((r) => r.method === 'GET' && (r.path === `/api/mp/jobs/${id}` || r.path === `/api/mp/jobs/${id}/events`)).length;
    const polls = reads();
    await new Promise((r) => setTimeout(r, 200));
    expect(reads()).toBe(polls);

    expect(h.server.openStreams(id)).toBe(0);
    expect(h.wx.streams.size).toBe(0);

    await page.tap('.play');
    await waitFor(() => page.data.videoSrc !== '', 'the video src');
    expect(page.data.playingId).toBe(id);
    expect(page.exists('.player')).toBe(true);
    // The <video> gets the signed link (it sends no headers; it streams and seeks with Range).
    expect(String(page.data.videoSrc)).toMatch(new RegExp(`^${h.server.baseUrl}/api/mp/jobs/${id}/video\\?exp=\\d+&sig=ok$`));
    const bytes = await fetch(String(page.data.videoSrc)).then(async (r) => Buffer.from(await r.arrayBuffer()));
    expect(bytes.equals(VIDEO_BYTES)).toBe(true);
  });

  it('falls back to polling when the event stream is not available', async () => {
    h.server.eventsRoute = false;
    try {
      const id = await create('a windmill at noon');
      const page = h.page('videos');
      await waitFor(() => page.exists('.card'), 'the job card');
      expect(cardStatus(page)).toMatch(/^排队中/);
      h.server.update(id, { state: 'running', progress: { step: 3, total: 20 } });
      // A polled job carries no step count.
      await waitFor(() => cardStatus(page) === '生成中', 'running');
      h.server.update(id, { state: 'succeeded' });
      await waitFor(() => cardStatus(page) === '已完成', 'done');
      expect(h.server.calls('GET', `/api/mp/jobs/${id}/events`).length).toBeLessThanOrEqual(3);
    } finally {
      h.server.eventsRoute = true;
    }
  });

  it('a stream that goes silent is closed and its job polled', async () => {
    h.server.streamsStalled = true;
    h.config().configure({ streamStaleMs: 300 });
    try {
      const id = await create('a stalled stream');
      const page = h.page('videos');
      await waitFor(() => h.server.openStreams(id) >= 1, 'the event stream');
      h.server.update(id, { state: 'running', progress: { step: 2, total: 4 } });
      await waitFor(() => cardStatus(page) === '生成中', 'running, from a poll');
      h.server.update(id, { state: 'succeeded' });
      await waitFor(() => cardStatus(page) === '已完成', 'done, from a poll');
    } finally {
      h.server.streamsStalled = false;
      h.config().configure({ streamStaleMs: 45_000 });
    }
  });

  it('marks the job a completion message links to (?id=)', async () => {
    const id = await create('a marked job');
    const page = h.page('videos', { id });
    await waitFor(() => page.exists('.card-focus'), 'the marked card');
    expect(page.text('.card-focus .prompt')).toBe('a marked job');
  });

  it('saves to the album after downloading once, and asks for the permission when denied', async () => {
    const id = await create('雪山日出');
    h.server.update(id, { state: 'succeeded' });
    const page = h.page('videos');
    await waitFor(() => page.exists('.save'), 'the save button');
    await page.tap('.save');
    await waitFor(() => h.wx.lastToast() === '已保存到相册', 'the album save');
    expect(h.wx.savedToAlbum).toHaveLength(1);
    expect(readFileSync(h.wx.savedToAlbum[0] ?? '').equals(VIDEO_BYTES)).toBe(true);

    h.wx.albumAllowed = false;
    await page.tap('.save');
    await waitFor(() => h.wx.modals.length === 1, 'the permission prompt');
    expect(h.wx.modals[0]).toBe('需要允许保存到相册，请在设置中打开');
    const videoDownloads = h.wx.downloads.filter((d) => d.url.includes(`/api/mp/jobs/${id}/video?`));
    expect(videoDownloads).toHaveLength(1);
    expect(videoDownloads[0]?.authorization).toBeUndefined();
  });

  it('shares a finished video to a chat and publishes it to the gallery', async () => {
    const id = await create('夜市烟火，铁板滋滋作响');
    h.server.update(id, { state: 'succeeded' });
    const page = h.page('videos');
    await waitFor(() => page.exists('.share'), 'the share button');
    await waitFor(() => (page.data.cards as { posterPath: string }[])[0]?.posterPath !== '', 'the poster');

    const before = page.call('onShareAppMessage', { from: 'button', target: { dataset: { id } } }) as { title: string; path: string; imageUrl?: string };
    expect(before.title).toBe('我用帧播做了一个视频：夜市烟火，铁板滋滋作响');
    expect(before.path).toBe('/pages/create/create');
    expect(before.imageUrl).toBeTruthy();

    await page.tap('.publish');
    await waitFor(() => page.exists('.published'), 'published');
    expect(h.server.jobs.get(id)?.published).toBe(true);
    const after = page.call('onShareAppMessage', { from: 'button', target: { dataset: { id } } }) as { path: string };
    expect(after.path).toBe(`/pages/gallery/gallery?job=${id}`);

    // In the gallery it is the author's own: unpublish instead of report.
    const gallery = h.page('gallery');
    await waitFor(() => gallery.exists(`#item-${id}`), 'the published video in the gallery');
    expect(gallery.exists(`#item-${id} .report`)).toBe(false);
    await gallery.tap(`#item-${id} .unpublish`);
    await waitFor(() => !gallery.exists(`#item-${id}`), 'the unpublished video gone');
    expect(h.wx.lastToast()).toBe('已从广场撤下');
    expect(h.server.jobs.get(id)?.published).toBe(false);
  });

  it('cancels a queued job; a failed job shows the server\'s reason', async () => {
    const first = await create('a lighthouse');
    const second = await create('a harbour at night');
    h.server.update(first, { state: 'failed', error: { code: 'output_blocked', message: '生成的画面未通过审核，点数已退回' } });
    const page = h.page('videos');
    await waitFor(() => page.all('.card').length === 2, 'two cards');
    // Newest first: the harbour (queued) then the lighthouse (failed).
    expect(page.text('.card .prompt', 0)).toBe('a harbour at night');
    expect(cardStatus(page, 1)).toBe('失败生成的画面未通过审核，点数已退回');
    expect(page.one('.card .status', 1).querySelector('.status-error')?.dom?.textContent).toBe('生成的画面未通过审核，点数已退回');
    expect(page.all('.card')[1]?.querySelector('.cancel')).toBeFalsy();
    await page.tap('.cancel');
    await waitFor(() => h.server.jobs.get(second)?.state === 'cancelled', 'the cancel');
    await waitFor(() => cardStatus(page, 0) === '已取消', 'the cancelled card');
    // The card may turn from the event stream before the cancel call answers: wait for its toast.
    await waitFor(() => h.wx.lastToast() === '已取消，点数已退回', 'the cancel toast');
  });

  it('shows an empty state that leads to Create', async () => {
    const page = h.page('videos');
    await waitFor(() => page.exists('.empty'), 'the empty state');
    expect(page.text('.empty-text')).toBe('还没有视频，去创作一个吧');
    await page.tap('.go-create');
    expect(h.wx.switchedTo).toEqual(['/pages/create/create']);
  });
});
