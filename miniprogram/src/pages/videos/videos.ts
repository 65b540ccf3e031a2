import { api, messageOf } from '../../api/client';
import { TERMINAL_STATES, type Job } from '../../api/types';
import { getSettings } from '../../config';
import { applyChrome, getLang, messages, t } from '../../i18n/index';
import { jobView, type JobView } from '../../utils/job-view';
import { saveVideoToPhotosAlbum, toast } from '../../utils/wx-async';

interface Card extends JobView {
  job: Job;
  posterPath: string;
}

type DataEvent = WechatMiniprogram.CustomEvent<Record<string, never>, Record<string, never>, { id: string }>;

/** Local files already downloaded, by job id (a video is fetched once per run of the app). */
const videoFiles = new Map<string, string>();
const posterFiles = new Map<string, string>();
/** Posters fetched per list load at most (the rest show none). */
const MAX_POSTERS = 12;

let pollTimer: number | undefined;
let visible = false;

function isActive(job: Job): boolean {
  return !TERMINAL_STATES.includes(job.state);
}

/**
 * My videos: the user's jobs with live progress (polled: a mini program has no EventSource),
 * play, save to the album, share to a chat, publish to the gallery, cancel.
 */
Component({
  data: {
    t: messages(),
    lang: getLang(),
    cards: [] as Card[],
    loaded: false,
    playingId: '',
    videoSrc: '',
    errorText: '',
  },
  lifetimes: {
    detached() {
      visible = false;
      if (pollTimer !== undefined) clearTimeout(pollTimer);
      pollTimer = undefined;
    },
  },
  methods: {
    onLoad() {
      this.setData({ t: messages(), lang: getLang() });
    },
    onShow() {
      visible = true;
      this.setData({ t: messages(), lang: getLang() });
      applyChrome('videos_title');
      void this.load();
    },
    onHide() {
      this.stopPolling();
    },
    onUnload() {
      this.stopPolling();
    },
    async onPullDownRefresh() {
      await this.load();
      wx.stopPullDownRefresh();
    },
    stopPolling() {
      visible = false;
      if (pollTimer !== undefined) clearTimeout(pollTimer);
      pollTimer = undefined;
    },
    toCard(job: Job): Card {
      return { ...jobView(job, getLang()), job, posterPath: posterFiles.get(job.id) ?? job.posterUrl ?? '' };
    },
    async load() {
      try {
        const jobs = await api.listJobs();
        this.setData({ cards: jobs.map((job) => this.toCard(job)), loaded: true, errorText: '' });
        this.schedulePoll();
        void this.loadPosters();
      } catch (error) {
        this.setData({ loaded: true, errorText: messageOf(error) });
      }
    },
    schedulePoll() {
      if (pollTimer !== undefined) clearTimeout(pollTimer);
      pollTimer = undefined;
      if (!visible || !this.data.cards.some((c) => isActive(c.job))) return;
      pollTimer = setTimeout(() => {
        pollTimer = undefined;
        void this.poll();
      }, getSettings().pollIntervalMs);
    },
    /** Asks for each unfinished job's state and updates its card. */
    async poll() {
      const active = this.data.cards.filter((c) => isActive(c.job)).map((c) => c.id);
      const fresh = await Promise.all(active.map((id) => api.getJob(id).catch(() => undefined)));
      if (!visible) return;
      const byId = new Map(fresh.filter((j): j is Job => j !== undefined).map((j) => [j.id, j]));
      const finished = fresh.some((j) => j !== undefined && !isActive(j));
      this.setData({ cards: this.data.cards.map((c) => {
        const job = byId.get(c.id);
        return job ? this.toCard(job) : c;
      }) });
      if (finished) void this.loadPosters();
      this.schedulePoll();
    },
    async loadPosters() {
      const wanted = this.data.cards.filter((c) => c.state === 'succeeded' && !posterFiles.has(c.id) && !c.job.posterUrl).slice(0, MAX_POSTERS);
      for (const card of wanted) {
        try {
          posterFiles.set(card.id, await api.download('poster', card.id));
        } catch {
          // No poster: the card shows its text only.
        }
      }
      if (wanted.length > 0) this.setData({ cards: this.data.cards.map((c) => this.toCard(c.job)) });
    },
    jobOf(id: string): Job | undefined {
      return this.data.cards.find((c) => c.id === id)?.job;
    },
    /** A local copy of the video (downloaded once). */
    async videoFile(job: Job): Promise<string> {
      const cached = videoFiles.get(job.id);
      if (cached !== undefined) return cached;
      wx.showLoading({ title: t('videos_downloading'), mask: true });
      try {
        const path = await api.download('video', job.id, job.videoUrl);
        videoFiles.set(job.id, path);
        return path;
      } finally {
        wx.hideLoading();
      }
    },
    async onPlay(e: DataEvent) {
      const job = this.jobOf(e.currentTarget.dataset.id);
      if (!job || job.state !== 'succeeded') return;
      try {
        // A signed link streams (and seeks) directly; otherwise the token is needed: download first.
        const src = job.videoUrl ?? (await this.videoFile(job));
        this.setData({ playingId: job.id, videoSrc: src });
      } catch (error) {
        toast(messageOf(error));
      }
    },
    async onSave(e: DataEvent) {
      const job = this.jobOf(e.currentTarget.dataset.id);
      if (!job || job.state !== 'succeeded') return;
      try {
        const path = await this.videoFile(job);
        await saveVideoToPhotosAlbum(path);
        toast(t('videos_saved'), 'success');
      } catch (error) {
        if (error instanceof Error && /auth|deny|denied/i.test(error.message)) {
          wx.showModal({
            content: t('videos_save_denied'),
            confirmText: t('videos_open_settings'),
            cancelText: t('cancel'),
            success: (res) => {
              if (res.confirm) wx.openSetting({});
            },
          });
        } else {
          toast(messageOf(error));
        }
      }
    },
    async onCancel(e: DataEvent) {
      const id = e.currentTarget.dataset.id;
      try {
        const job = await api.cancelJob(id);
        const updated = job ?? (await api.getJob(id));
        this.setData({ cards: this.data.cards.map((c) => (c.id === id ? this.toCard(updated) : c)) });
        toast(t('videos_cancelled_toast'));
      } catch (error) {
        toast(messageOf(error));
      }
    },
    async onPublish(e: DataEvent) {
      const id = e.currentTarget.dataset.id;
      try {
        await api.publish(id);
        this.setData({ cards: this.data.cards.map((c) => (c.id === id ? this.toCard({ ...c.job, published: true }) : c)) });
        toast(t('videos_published_toast'), 'success');
      } catch (error) {
        toast(messageOf(error));
      }
    },
    onCreate() {
      wx.switchTab({ url: '/pages/create/index' });
    },
    /** Share to a chat: the button's job, with its poster; the receiver lands on the gallery or Create. */
    onShareAppMessage(res: WechatMiniprogram.Page.IShareAppMessageOption) {
      const target = res.target as { dataset?: { id?: unknown } } | undefined;
      const id = typeof target?.dataset?.id === 'string' ? target.dataset.id : '';
      const card = this.data.cards.find((c) => c.id === id);
      if (!card) return { title: t('videos_share_title_plain'), path: '/pages/create/index' };
      const prompt = card.prompt.length > 24 ? `${card.prompt.slice(0, 24)}…` : card.prompt;
      const share: WechatMiniprogram.Page.ICustomShareContent = {
        title: prompt ? t('videos_share_title', { prompt }) : t('videos_share_title_plain'),
        path: card.published ? `/pages/gallery/index?job=${encodeURIComponent(card.id)}` : '/pages/create/index',
      };
      if (card.posterPath) share.imageUrl = card.posterPath;
      return share;
    },
  },
});
