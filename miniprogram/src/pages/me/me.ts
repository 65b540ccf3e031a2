import { api, messageOf } from '../../api/client';
import type { Job } from '../../api/types';
import { apiBaseUrl, envVersion, setApiBaseUrl } from '../../config';
import { LANGS, applyChrome, getLang, messages, setLang, t, type Lang } from '../../i18n/index';
import { toast } from '../../utils/wx-async';

/** History entries shown. */
const HISTORY_MAX = 20;

interface HistoryRow {
  id: string;
  prompt: string;
  job: Job;
}

function langLabel(lang: Lang): string {
  return t(lang === 'en' ? 'lang_en' : 'lang_zh_CN');
}

/** Me: credits left today, the history of jobs, and the settings (language; the server in develop builds). */
Component({
  data: {
    t: messages(),
    lang: getLang(),
    quotaLine: '',
    quotaDetail: '',
    history: [] as HistoryRow[],
    historyLoaded: false,
    langLabels: [] as string[],
    langIndex: 0,
    server: '',
    serverEditable: false,
    loggedIn: false,
  },
  methods: {
    onLoad() {
      this.render();
    },
    onShow() {
      this.render();
      void this.loadQuota();
      void this.loadHistory();
    },
    render() {
      const lang = getLang();
      this.setData({
        t: messages(lang),
        lang,
        langLabels: LANGS.map((l) => langLabel(l)),
        langIndex: LANGS.indexOf(lang),
        server: apiBaseUrl(),
        serverEditable: envVersion() === 'develop',
        loggedIn: api.isLoggedIn(),
      });
      applyChrome('me_title');
    },
    async loadQuota() {
      try {
        const q = await api.quota();
        this.setData({
          quotaLine: t('me_quota_line', { available: q.available, daily: q.dailyCredits ?? '—' }),
          quotaDetail: t('me_quota_detail', { spent: q.spent ?? 0, held: q.held ?? 0, bonus: q.bonus ?? 0 }),
          loggedIn: api.isLoggedIn(),
        });
      } catch {
        this.setData({ quotaLine: t('me_quota_unknown'), quotaDetail: '' });
      }
    },
    async loadHistory() {
      try {
        const jobs = await api.listJobs();
        this.setData({
          history: jobs.slice(0, HISTORY_MAX).map((job) => ({ id: job.id, prompt: job.prompt ?? '', job })),
          historyLoaded: true,
        });
      } catch (error) {
        this.setData({ historyLoaded: true });
        toast(messageOf(error));
      }
    },
    onLangChange(e: WechatMiniprogram.CustomEvent<{ value: string | number }>) {
      const lang = LANGS[Number(e.detail.value)];
      if (!lang || lang === getLang()) return;
      setLang(lang);
      this.render();
      void this.loadQuota();
    },
    onServerConfirm(e: WechatMiniprogram.CustomEvent<{ value: string }>) {
      if (!setApiBaseUrl(String(e.detail.value ?? ''))) {
        toast(t('error_server', { status: 'URL' }));
        return;
      }
      api.logout();
      this.render();
    },
    async onRelogin() {
      api.logout();
      try {
        await api.login();
        this.setData({ loggedIn: true });
        toast(t('me_logged_in'), 'success');
        void this.loadQuota();
      } catch (error) {
        this.setData({ loggedIn: false });
        toast(messageOf(error));
      }
    },
    onHistoryTap() {
      wx.switchTab({ url: '/pages/videos/videos' });
    },
  },
});
