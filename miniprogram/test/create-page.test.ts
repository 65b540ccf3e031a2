// @vitest-environment jsdom
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PNG_1X1 } from '../testing/fixtures.ts';
import { MiniprogramHarness, waitFor, type SimPage } from '../testing/simulate-harness.ts';

let h: MiniprogramHarness;

beforeAll(async () => {
  h = await MiniprogramHarness.start();
});
afterAll(async () => {
  await h?.stop();
});
beforeEach(() => {
  h.newUser('creator');
});
afterEach(() => {
  h.closePages();
});

function typePrompt(page: SimPage, text: string): Promise<void> {
  return page.fire('.prompt', 'input', { value: text });
}

describe('create page', () => {
  it('shows the form in zh-CN with the credits left and the estimated cost', async () => {
    const page = h.page('create');
    await waitFor(() => page.text('.quota') !== '', 'the quota');
    expect(page.text('.quota')).toBe('今日剩余 100 点');
    expect(page.text('.cost')).toBe('预计消耗约 3 点');
    expect(page.text('.submit')).toBe('生成视频');
    expect(page.all('.template').map((c) => c.dom?.textContent)).toEqual(['古镇黄昏', '雪山日出', '夜市烟火', '商品旋转展示']);
    expect(h.wx.titles.at(-1)).toBe('创作视频');
    expect(h.server.logins()).toBeGreaterThanOrEqual(1);
  });

  it('a template tap fills the prompt, the style and the framing', async () => {
    const page = h.page('create');
    await page.tap('.template', 0);
    expect(page.data.prompt).toMatch(/^黄昏时分的江南古镇/);
    expect(page.data.style).toBe('cinematic');
    expect(page.text('.picker-value')).toBe('竖屏 9:16');
    expect(page.text('.chip-on.style')).toBe('电影感');
    await page.tap('.template', 3);
    expect(page.data.prompt).toMatch(/白色转台/);
    expect(page.text('.picker-value')).toBe('方形 1:1');
  });

  it('an empty prompt gets a clear message and sends nothing', async () => {
    const page = h.page('create');
    const before = h.server.calls('POST', '/api/mp/jobs').length;
    await typePrompt(page, '   ');
    await page.tap('.submit');
    await waitFor(() => page.exists('.error'), 'the error');
    expect(page.text('.error')).toBe('请先写一句描述');
    expect(h.wx.lastToast()).toBe('请先写一句描述');
    expect(h.server.calls('POST', '/api/mp/jobs')).toHaveLength(before);
  });

  it('submits the form and opens My videos; a double tap makes one job', async () => {
    const page = h.page('create');
    await page.tap('.template', 1);
    await page.tap('.mode-final');
    await page.fire('.duration-slider', 'change', { value: 8 });
    expect(page.text('.cost')).toBe('预计消耗约 37 点');
    await page.tap('.submit');
    await page.tap('.submit');
    await waitFor(() => h.wx.switchedTo.length > 0, 'the switch to My videos');
    expect(h.wx.switchedTo).toEqual(['/pages/videos/videos']);
    const posts = h.server.calls('POST', '/api/mp/jobs');
    expect(posts).toHaveLength(1);
    expect(posts[0]?.body).toMatchObject({ aspect: '9:16', duration: 8, draft: false, style: 'documentary' });
    expect(posts[0]?.authorization).toMatch(/^Bearer /);
    expect((posts[0]?.body as { requestId?: string }).requestId).toMatch(/^[A-Za-z0-9_-]{8,64}$/);
    expect(h.wx.toasts).toContain('已提交，第 1 位，消耗 37 点');
    expect(h.server.jobs.size).toBeGreaterThanOrEqual(1);
  });

  it('shows the API refusal message (moderation, quota) inline and as a toast', async () => {
    const page = h.page('create');
    await typePrompt(page, 'a city with a blockedword sign');
    await page.tap('.submit');
    await waitFor(() => page.exists('.error'), 'the refusal');
    expect(page.text('.error')).toBe('描述中有不允许的内容，请修改后再试');
    expect(h.wx.lastToast()).toBe('描述中有不允许的内容，请修改后再试');
    expect(page.data.submitting).toBe(false);

    h.server.credits.set(h.wx.user, 2);
    await typePrompt(page, 'a quiet lake');
    await page.tap('.submit');
    await waitFor(() => page.exists('.error') && page.text('.error') !== '描述中有不允许的内容，请修改后再试', 'the quota refusal');
    expect(page.text('.error')).toBe('今日额度不足：需要 3 点，剩余 2 点');
    expect(h.wx.switchedTo).toEqual([]);
  });

  it('a reference photo is uploaded as multipart `file` and its imageId goes with the job', async () => {
    const page = h.page('create');
    h.wx.nextPhoto = h.wx.photo(PNG_1X1);
    await page.tap('.add-photo');
    await waitFor(() => page.data.imageId !== '', 'the upload');
    expect(page.text('.photo-state')).toBe('照片已就绪');
    expect(h.wx.compressed).toEqual([]);
    const upload = h.server.calls('POST', '/api/mp/uploads')[0];
    expect(upload?.contentType).toMatch(/^multipart\/form-data; boundary=/);
    expect(upload?.authorization).toMatch(/^Bearer /);
    await typePrompt(page, 'this photo comes alive, leaves drifting');
    await page.tap('.submit');
    await waitFor(() => h.wx.switchedTo.length > 0, 'the submission');
    expect(h.server.calls('POST', '/api/mp/jobs').at(-1)?.body).toMatchObject({ imageId: page.data.imageId });
  });

  it('a file that is not an image, or too large, gets a clear message', async () => {
    const page = h.page('create');
    h.wx.nextPhoto = h.wx.photo(Buffer.from('not an image at all'));
    await page.tap('.add-photo');
    await waitFor(() => page.exists('.error'), 'the upload refusal');
    expect(page.text('.error')).toBe('无法识别这张图片');
    expect(page.data.photoPath).toBe('');

    h.config().configure({ maxPhotoBytes: 10 });
    try {
      const uploads = h.server.calls('POST', '/api/mp/uploads').length;
      h.wx.nextPhoto = h.wx.photo(PNG_1X1);
      await page.tap('.add-photo');
      await waitFor(() => page.exists('.error') && page.text('.error') !== '无法识别这张图片', 'the size message');
      expect(page.text('.error')).toMatch(/^照片太大了：最大/);
      expect(h.server.calls('POST', '/api/mp/uploads')).toHaveLength(uploads);
    } finally {
      h.config().configure({ maxPhotoBytes: 10 * 1024 * 1024 });
    }

    h.wx.nextPhoto = h.wx.photo(PNG_1X1, 'video');
    await page.tap('.add-photo');
    await waitFor(() => page.text('.error') === '只能使用图片作为参考照片', 'the type message');
  });

  it('logs in again when the token is refused (401) and the submission goes through once', async () => {
    const page = h.page('create');
    await waitFor(() => page.text('.quota') !== '', 'the first login');
    const logins = h.server.logins();
    h.server.revokeAllTokens();
    await typePrompt(page, 'a lighthouse in a storm');
    await page.tap('.submit');
    await waitFor(() => h.wx.switchedTo.length > 0, 'the submission');
    expect(h.server.logins()).toBe(logins + 1);
    const posts = h.server.calls('POST', '/api/mp/jobs').filter((r) => (r.body as { prompt?: string }).prompt === 'a lighthouse in a storm');
    expect(posts).toHaveLength(2);
    expect((posts[0]?.body as { requestId?: string }).requestId).toBe((posts[1]?.body as { requestId?: string }).requestId);
    expect([...h.server.jobs.values()].filter((j) => j.prompt === 'a lighthouse in a storm')).toHaveLength(1);
  });

  it('asks for the completion message when a template is configured, and says so to the API', async () => {
    h.config().configure({ subscribeTemplateId: 'tmpl-done' });
    try {
      const page = h.page('create');
      await page.fire('.prompt', 'input', { value: 'a paper boat on a canal' });
      await page.tap('.submit');
      await waitFor(() => h.wx.switchedTo.length > 0, 'the submission');
      expect(h.wx.subscribeAsked).toEqual(['tmpl-done']);
      expect(h.server.calls('POST', '/api/mp/jobs').at(-1)?.body).toMatchObject({ subscribe: true });

      h.wx.subscribeAnswer = 'reject';
      await page.fire('.prompt', 'input', { value: 'a paper boat at night' });
      await page.tap('.submit');
      await waitFor(() => h.wx.switchedTo.length > 1, 'the second submission');
      expect(h.server.calls('POST', '/api/mp/jobs').at(-1)?.body).not.toHaveProperty('subscribe');
    } finally {
      h.config().configure({ subscribeTemplateId: '' });
    }
  });

  it('recompresses a large photo before the upload', async () => {
    h.config().configure({ compressAboveBytes: 10 });
    try {
      const page = h.page('create');
      const photo = h.wx.photo(PNG_1X1);
      h.wx.nextPhoto = photo;
      await page.tap('.add-photo');
      await waitFor(() => page.data.imageId !== '', 'the upload');
      expect(h.wx.compressed).toEqual([photo.tempFilePath]);
      expect(page.data.photoPath).toBe(photo.tempFilePath);
    } finally {
      h.config().configure({ compressAboveBytes: 900 * 1024 });
    }
  });

  it('a lost answer shows the network message, and the retry gets the same job, not a second one', async () => {
    const page = h.page('create');
    await page.fire('.prompt', 'input', { value: 'a tram in the rain' });
    h.server.dropNextJobAnswer = true;
    await page.tap('.submit');
    await waitFor(() => page.exists('.error'), 'the network message');
    expect(page.text('.error')).toBe('网络不通，请稍后再试');
    expect([...h.server.jobs.values()].filter((j) => j.prompt === 'a tram in the rain')).toHaveLength(1);

    await page.tap('.submit');
    await waitFor(() => h.wx.switchedTo.length > 0, 'the retry');
    const posts = h.server.calls('POST', '/api/mp/jobs').filter((r) => (r.body as { prompt?: string }).prompt === 'a tram in the rain');
    expect(posts).toHaveLength(2);
    expect((posts[1]?.body as { requestId?: string }).requestId).toBe((posts[0]?.body as { requestId?: string }).requestId);
    expect([...h.server.jobs.values()].filter((j) => j.prompt === 'a tram in the rain')).toHaveLength(1);

    // A new submission after that one gets a new requestId.
    await page.tap('.submit');
    await waitFor(() => h.wx.switchedTo.length > 1, 'another submission');
    const third = h.server.calls('POST', '/api/mp/jobs').filter((r) => (r.body as { prompt?: string }).prompt === 'a tram in the rain')[2];
    expect((third?.body as { requestId?: string }).requestId).not.toBe((posts[0]?.body as { requestId?: string }).requestId);
  });
});
