import type { Core, Locale } from '@framecast/core';
import type { HomeView } from '@slack/types';
import type { WebClient } from '@slack/web-api';
import { escapeMrkdwn, st } from './slack-messages.ts';

/** The App Home tab: today's credits (core.quota.show) and the user's recent jobs (core.listJobs). */
export async function homeView(core: Core, userId: string, locale: Locale): Promise<HomeView> {
  const userKey = `slack:${userId}`;
  const [quota, jobs] = await Promise.all([core.quota.show(userKey), core.listJobs(userKey, 10)]);
  const lines = jobs.map((j) => st('home_job', locale, { jobId: j.jobId, state: j.state, prompt: escapeMrkdwn(j.spec.prompt.slice(0, 80)) }));
  return {
    type: 'home',
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: st('home_title', locale) } },
      { type: 'section', text: { type: 'mrkdwn', text: st('home_quota', locale, { left: quota.available, limit: quota.dailyCredits + quota.bonus, tier: quota.tier, active: quota.active }) } },
      { type: 'divider' },
      { type: 'section', text: { type: 'mrkdwn', text: st('home_recent', locale) } },
      { type: 'section', text: { type: 'mrkdwn', text: lines.length > 0 ? lines.join('\n') : st('home_none', locale) } },
    ],
  };
}

export async function publishHome(core: Core, client: WebClient, userId: string, locale: Locale): Promise<void> {
  await client.views.publish({ user_id: userId, view: await homeView(core, userId, locale) });
}
