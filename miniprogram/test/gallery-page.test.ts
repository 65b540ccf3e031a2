// @vitest-environment jsdom
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MiniprogramHarness, waitFor, type SimPage } from '../testing/simulate-harness.ts';

let h: MiniprogramHarness;
let ids: { town: string; market: string; mountain: string };

beforeAll(async () => {
  h = await MiniprogramHarness.start();
});
afterAll(async () => {
  await h?.stop();
});
beforeEach(() => {
  h.newUser('visitor');
  h.server.gallery.clear();
  ids = {
    mountain: h.server.seedGallery('雪山日出', 10, 1),
    town: h.server.seedGallery('古镇黄昏', 5, 2),
    market: h.server.seedGallery('夜市烟火', 1, 3),
  };
});
afterEach(() => {
  h.closePages();
});

function prompts(page: SimPage): string[] {
  return page.all('.tile .prompt').map((x) => x.dom?.textContent ?? '');
}

describe('gallery page', () => {
  it('browses newest first, then most liked', async () => {
    const page = h.page('gallery');
    await waitFor(() => page.all('.tile').length === 3, 'the tiles');
    expect(prompts(page)).toEqual(['夜市烟火', '古镇黄昏', '雪山日出']);
    expect(page.text('.tab-on')).toBe('最新');
    expect(page.text('.tile .likes', 0)).toBe('1 人喜欢');

    await page.tap('.sort-liked');
    await waitFor(() => prompts(page)[0] === '雪山日出', 'most liked first');
    expect(prompts(page)).toEqual(['雪山日出', '古镇黄昏', '夜市烟火']);
    expect(page.text('.tab-on')).toBe('最多喜欢');
    expect(h.server.calls('GET', '/api/mp/gallery?sort=liked')).toHaveLength(1);
  });

  it('a like counts once, however many taps', async () => {
    const page = h.page('gallery');
    await waitFor(() => page.all('.tile').length === 3, 'the tiles');
    await page.tap('.like', 0);
    await page.tap('.like', 0);
    await waitFor(() => h.server.calls('POST', `/api/mp/gallery/${ids.market}/like`).length === 1, 'the like');
    await waitFor(() => page.text('.tile .likes', 0) === '2 人喜欢', 'the new count');
    expect(page.text('.like', 0)).toMatch(/^♥/);
    expect(h.server.gallery.get(ids.market)?.likedBy.size).toBe(2);
    await new Promise((r) => setTimeout(r, 100));
    expect(h.server.calls('POST', `/api/mp/gallery/${ids.market}/like`)).toHaveLength(1);
  });

  it('a refused like is rolled back with the server\'s message', async () => {
    const page = h.page('gallery');
    await waitFor(() => page.all('.tile').length === 3, 'the tiles');
    h.server.gallery.delete(ids.town);
    await page.tap('.like', 1);
    await waitFor(() => h.wx.lastToast() === '找不到这个视频', 'the refusal');
    expect(page.text('.tile .likes', 1)).toBe('5 人喜欢');
    expect(page.text('.like', 1)).toMatch(/^♡/);
  });

  it('reports with a chosen reason; backing out of the sheet sends nothing', async () => {
    const page = h.page('gallery');
    await waitFor(() => page.all('.tile').length === 3, 'the tiles');
    await page.tap('.report', 2);
    await new Promise((r) => setTimeout(r, 50));
    expect(h.server.calls('POST', `/api/mp/gallery/${ids.mountain}/report`)).toHaveLength(0);

    h.wx.nextActionSheetIndex = 4;
    await page.tap('.report', 2);
    await waitFor(() => h.wx.lastToast() === '已举报，我们会尽快处理', 'the report');
    expect(h.server.gallery.get(ids.mountain)?.reports).toEqual([{ user: h.wx.user, reason: 'ads' }]);
  });

  it('plays a published video from its signed link', async () => {
    const page = h.page('gallery');
    await waitFor(() => page.all('.tile').length === 3, 'the tiles');
    await page.tap('.tile-media', 1);
    await waitFor(() => page.data.playingId === ids.town, 'the player');
    expect(String(page.data.videoSrc)).toMatch(new RegExp(`^${h.server.baseUrl}/api/mp/jobs/${ids.town}/video\\?exp=\\d+&sig=ok$`));
    expect(page.exists('.player')).toBe(true);
  });

  it('an empty gallery says so', async () => {
    h.server.gallery.clear();
    const page = h.page('gallery');
    await waitFor(() => page.exists('.empty'), 'the empty state');
    expect(page.text('.empty')).toBe('广场上还没有作品');
  });

  it('loads the next page when the list reaches the bottom', async () => {
    h.server.galleryPageSize = 2;
    try {
      const page = h.page('gallery');
      await waitFor(() => page.all('.tile').length === 2, 'the first page');
      expect(page.exists('.more')).toBe(true);
      page.call('onReachBottom');
      page.call('onReachBottom');
      await waitFor(() => page.all('.tile').length === 3, 'the second page');
      expect(prompts(page)).toEqual(['夜市烟火', '古镇黄昏', '雪山日出']);
      expect(page.exists('.more')).toBe(false);
      expect(h.server.calls('GET', '/api/mp/gallery?sort=newest&cursor=2')).toHaveLength(1);
    } finally {
      h.server.galleryPageSize = 20;
    }
  });
});
