// @vitest-environment jsdom
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MiniprogramHarness, waitFor } from '../testing/simulate-harness.ts';

let h: MiniprogramHarness;

beforeAll(async () => {
  h = await MiniprogramHarness.start();
});
afterAll(async () => {
  await h?.stop();
});
beforeEach(() => {
  h.newUser('me');
});
afterEach(() => {
  h.closePages();
  h.i18n().setLang('zh-CN');
});

async function submit(prompt: string): Promise<void> {
  const page = h.page('create');
  await page.fire('.prompt', 'input', { value: prompt });
  const before = h.server.jobs.size;
  await page.tap('.submit');
  await waitFor(() => h.server.jobs.size > before, 'the job');
}

describe('me page', () => {
  it('shows the credits left today and the history', async () => {
    await submit('古镇黄昏');
    const page = h.page('me');
    await waitFor(() => page.text('.quota-line') !== '', 'the quota');
    expect(page.text('.quota-line')).toBe('剩余 97 / 每日 100 点');
    expect(page.text('.quota-detail')).toBe('已用 0 点，进行中 3 点，奖励 0 点');
    await waitFor(() => page.all('.history-row').length === 1, 'the history');
    expect(page.text('.history-prompt')).toBe('古镇黄昏');
    expect(page.text('.history-row')).toMatch(/排队中/);
    await page.tap('.history-row');
    expect(h.wx.switchedTo.at(-1)).toBe('/pages/videos/videos');
  });

  it('says when the quota is unavailable', async () => {
    h.server.meRoute = false;
    try {
      const page = h.page('me');
      await waitFor(() => page.text('.quota-line') !== '', 'the quota');
      expect(page.text('.quota-line')).toBe('额度暂不可用');
      await waitFor(() => page.exists('.history-empty'), 'the empty history');
      expect(page.text('.history-empty')).toBe('暂无记录');
    } finally {
      h.server.meRoute = true;
    }
  });

  it('switches the language to English and back: page texts, tab bar, stored choice, server messages', async () => {
    const page = h.page('me');
    await waitFor(() => page.text('.quota-line') !== '', 'the quota');
    expect(page.text('.lang-value')).toBe('简体中文');
    expect(h.wx.tabTexts).toEqual(['创作', '我的视频', '广场', '我的']);

    await page.fire('.setting', 'change', { value: 1 });
    await waitFor(() => page.text('.quota-line') === '100 left of 100 a day', 'the English quota');
    expect(page.text('.lang-value')).toBe('English');
    expect(page.text('.card-title', 0)).toBe('Today\'s credits');
    expect(h.wx.titles.at(-1)).toBe('Me');
    expect(h.wx.tabTexts).toEqual(['Create', 'My videos', 'Gallery', 'Me']);
    expect(h.wx.storage.get('framecast.lang')).toBe('en');

    const create = h.page('create');
    expect(create.text('.submit')).toBe('Make the video');
    expect(create.text('.template', 0)).toBe('Old town at dusk');
    await create.tap('.template', 0);
    expect(create.data.prompt).toMatch(/^An old water town at dusk/);
    await create.fire('.prompt', 'input', { value: 'blockedword' });
    await create.tap('.submit');
    await waitFor(() => create.exists('.error'), 'the refusal');
    expect(create.text('.error')).toBe('The description contains something not allowed: please change it');
    expect(h.server.requests.at(-1)?.path).toBe('/api/mp/jobs');

    await page.fire('.setting', 'change', { value: 0 });
    await waitFor(() => page.text('.quota-line') === '剩余 100 / 每日 100 点', 'zh-CN again');
    expect(h.wx.tabTexts[0]).toBe('创作');
    expect(h.wx.storage.get('framecast.lang')).toBe('zh-CN');
  });

  it('logs in again on demand', async () => {
    const page = h.page('me');
    await waitFor(() => page.text('.quota-line') !== '', 'the quota');
    const logins = h.server.logins();
    await page.tap('.relogin');
    await waitFor(() => h.wx.lastToast() === '已登录', 'the login');
    expect(h.server.logins()).toBe(logins + 1);
  });
});
