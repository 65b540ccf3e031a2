import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRealApi, type RealApiRig } from '../testing/real-api-rig.ts';

/**
 * The mini program against the real API (bots/miniprogram-api on the one HTTP server, a real core,
 * Redis and worker rendering the tiny model; only WeChat's code2Session is a fake): create →
 * My videos follows the job's events to the end → play.
 */
let rig: RealApiRig;

beforeAll(async () => {
  rig = await startRealApi();
});
afterAll(async () => {
  await rig?.close();
});

describe('the mini program against the real API', () => {
  it('create → My videos shows the progress to the end → play', async () => {
    const { h, worker, waitFor } = rig;
    h.newUser('e2e');
    const create = h.page('create');
    await waitFor(() => create.text('.quota') !== '', 'the quota');
    expect(create.text('.quota')).toMatch(/^今日剩余 \d+ 点$/);
    await create.fire('.prompt', 'input', { value: 'a red kite over a green hill' });
    await create.tap('.submit');
    await waitFor(() => h.wx.switchedTo.length > 0 || create.exists('.error'), 'the submission', 30_000);
    expect(create.exists('.error') ? create.text('.error') : '').toBe('');
    create.lifecycle('onHide');

    const videos = h.page('videos');
    const seen = new Set<string>();
    void worker.run();
    await waitFor(() => {
      if (videos.exists('.card .status')) seen.add(videos.text('.card .status'));
      return videos.exists('.play');
    }, 'the finished video', 120_000);
    expect([...seen].some((s) => /^生成中/.test(s))).toBe(true);
    expect([...seen].some((s) => /第 0 位/.test(s))).toBe(false);
    expect(videos.text('.card .status')).toBe('已完成');
    await videos.tap('.play');
    await waitFor(() => videos.data.videoSrc !== '', 'the video src');
    const res = await fetch(String(videos.data.videoSrc), { headers: { Range: 'bytes=0-99' } });
    expect(res.status).toBe(206);
  }, 180_000);
});
