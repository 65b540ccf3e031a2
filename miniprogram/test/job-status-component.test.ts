// @vitest-environment jsdom
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MiniprogramHarness, waitFor } from '../testing/simulate-harness.ts';

let h: MiniprogramHarness;

beforeAll(async () => {
  h = await MiniprogramHarness.start();
});
afterAll(async () => {
  await h?.stop();
});

describe('job-status component', () => {
  it('renders each state in the language it is given, with a bar only while rendering', async () => {
    const comp = h.component('components/job-status/index', { job: { id: 'j1', state: 'queued', position: 4, etaSeconds: 0 }, lang: 'zh-CN' });
    await waitFor(() => comp.text('.status-text') !== '', 'the first render');
    expect(comp.text('.status-text')).toBe('排队中：第 4 位');
    expect(comp.exists('.status-bar')).toBe(false);

    comp.root.setData({ job: { id: 'j1', state: 'queued', position: 0, etaSeconds: 42 } });
    await waitFor(() => comp.text('.status-text') === '排队中，约 42 秒后开始', 'queued, not placed yet');

    comp.root.setData({ job: { id: 'j1', state: 'running', progress: { step: 5, total: 20 } } });
    await waitFor(() => comp.text('.status-text') === '生成中：第 5/20 步', 'running');
    expect(comp.data.percent).toBe(25);
    expect(comp.exists('.status-bar')).toBe(true);

    comp.root.setData({ lang: 'en' });
    await waitFor(() => comp.text('.status-text') === 'Rendering: step 5/20', 'English');

    comp.root.setData({ job: { id: 'j1', state: 'held' } });
    await waitFor(() => comp.text('.status-text') === 'In review', 'held');
    expect(comp.exists('.status-bar')).toBe(false);

    comp.root.setData({ job: { id: 'j1', state: 'failed', error: { code: 'output_blocked', message: 'Blocked by the output check' } } });
    await waitFor(() => comp.exists('.status-error'), 'the reason');
    expect(comp.text('.status-error')).toBe('Blocked by the output check');
    expect(comp.exists('.state-failed')).toBe(true);
    comp.detach();
  });
});
