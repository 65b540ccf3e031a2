import { api, messageOf, type JobWatch } from '../../api/client';
import { TERMINAL_STATES, type Job, type Media, type ProgressEvent } from '../../api/types';
import { getSettings } from '../../config';
import { applyChrome, getLang, messages, t } from '../../i18n/index';
import { jobView, type JobView } from '../../utils/job-view';
import { saveVideoToPhotosAlbum, toast } from '../../utils/wx-async';

interface Card extends JobView {
  job: Job;
  posterPath: string;
  focus: boolean;
}

type DataEvent = WechatMiniprogram.CustomEvent<Record<string, never>, Record<string, never>, { id: string }>;

/** Signed media links by job id (refreshed a minute before they expire). */
const mediaLinks = new Map<string, Media>();
/** Local copies of videos already downloaded (for the album), by job id. */
const videoFiles = new Map<string, string>();
/** Live progress streams by job id. */
const watches = new Map<string, JobWatch>();
/** Jobs whose stream keeps failing: they are polled only. */
const streamFailures = new Map<string, number>();
const MAX_STREAM_FAILURES = 3;
/** Posters fetched per list load at most (the rest show none). */
const MAX_POSTERS = 12;

let pollTimer: number | undefined;
let visible = false;

function isActive(job: Job): boolean {
  return !TERMINAL_STATES.includes(job.state);
}

/** A job with a progress event applied. */
function applyEvent(job: Job, e: ProgressEvent): Job {
  if (e.job) return e.job;
  const next: Job = { ...job };
  if (e.state) next.state = e.state;
  if (e.position !== undefined) next.position = e.position;
  if (e.etaSeconds !== undefined) next.etaSeconds = e.etaSeconds;
  if (e.step !== undefined && e.totalSteps !== undefined && e.totalSteps > 0) next.progress = { step: Math.min(e.step, e.totalSteps), total: e.totalSteps };
  if (next.state !== 'running') delete next.progress;
  return next;
}

function stopAll(): void {
  visible = false;
  if (pollTimer !== undefined) clearTimeout(pollTimer);
  pollTimer = undefined;
  for (const watch of watches.values()) watch.close();
  watches.clear();
}

/**
 * My videos: the user's jobs with live progress (the job's server-sent events read through
 * wx.request's chunks, a mini program having no EventSource; a poll of each unfinished job as the
 * fallback), play, save to the album, share to a chat, publish to the gallery, cancel.
 * `?id=<job>` (the completion message's link) marks that job.
 */
Component({
  data: {
    t: messages(),
    lang: getLang(),
    cards: [] as Card[],
    loaded: false,
    focusId: '',
    playingId: '',
    videoSrc: '',
    errorText: '',
  },
  lifetimes: {
    detached() {
      stopAll();
    },
  },
  methods: {
    onLoad(query: Record<string, string | undefined>) {
      const id = typeof query?.id === 'string' && /^[\w-]{1,128}$/.test(query.id) ? query.id : '';
      this.setData({ t: messages(), lang: getLang(), focusId: id });
    },
    onShow() {
      visible = true;
      this.setData({ t: messages(), lang: getLang() });
      applyChrome('videos_title');
      void this.load();
    },
    onHide() {
      stopAll();
    },
    onUnload() {
      stopAll();
    },
    async onPullDownRefresh() {
      await this.load();
      wx.stopPullDownRefresh();
    },
    toCard(job: Job): Card {
      return { ...jobView(job, getLang()), job, posterPath: mediaLinks.get(job.id)?.posterUrl ?? '', focus: job.id === this.data.focusId };
    },
    setJob(job: Job) {
      this.setData({ cards: this.data.cards.map((c) => (c.id === job.id ? this.toCard(job) : c)) });
      if (!isActive(job)) {
        watches.get(job.id)?.close();
        if (job.state === 'succeeded') void this.loadPosters();
      }
    },
    async load() {
      try {
        const jobs = await api.listJobs();
        this.setData({ cards: jobs.map((job) => this.toCard(job)), loaded: true, errorText: '' });
        this.follow();
        void this.loadPosters();
      } catch (error) {
        this.setData({ loaded: true, errorText: messageOf(error) });
      }
    },
    /** Opens a progress stream for each unfinished job without one, and schedules the fallback poll. */
    follow() {
      if (!visible) return;
      for (const card of this.data.cards) {
        if (!isActive(card.job) || watches.has(card.id) || (streamFailures.get(card.id) ?? 0) >= MAX_STREAM_FAILURES) continue;
        void this.watch(card.id);
      }
      if (pollTimer !== undefined) clearTimeout(pollTimer);
      pollTimer = undefined;
      if (!this.data.cards.some((c) => isActive(c.job))) return;
      pollTimer = setTimeout(() => {
        pollTimer = undefined;
        void this.poll();
      }, getSettings().pollIntervalMs);
    },
    async watch(id: string) {
      // The entry stands in the map from now on, so a second follow() does not open a second stream.
      const opened = Date.now();
      const entry: JobWatch & { inner?: JobWatch } = { close: () => entry.inner?.close(), lastActivity: () => entry.inner?.lastActivity() ?? opened };
      watches.set(id, entry);
      let delivered = false;
      const failed = (): void => {
        if (watches.get(id) === entry) watches.delete(id);
        if (!delivered) streamFailures.set(id, (streamFailures.get(id) ?? 0) + 1);
      };
      try {
        entry.inner = await api.watchJob(
          id,
          (event) => {
            delivered = true;
            const card = this.data.cards.find((c) => c.id === id);
            if (card && visible) this.setJob(applyEvent(card.job, event));
          },
          failed,
        );
        // Closed (page hidden) while it was opening.
        if (watches.get(id) !== entry) entry.inner.close();
      } catch {
        failed();
      }
    },
    /** The fallback: closes stalled streams, asks for each unfinished job without a live stream, then follows again. */
    async poll() {
      const staleBefore = Date.now() - getSettings().streamStaleMs;
      for (const [id, watch] of [...watches]) {
        if (watch.lastActivity() < staleBefore) {
          watches.delete(id);
          watch.close();
        }
      }
      const due = this.data.cards.filter((c) => isActive(c.job) && !watches.has(c.id)).map((c) => c.id);
      const fresh = await Promise.all(due.map((id) => api.getJob(id).catch(() => undefined)));
      if (!visible) return;
      for (const job of fresh) {
        if (!job) continue;
        const card = this.data.cards.find((c) => c.id === job.id);
        // The polled job has no step count: keep the one the stream last gave while it still runs.
        const merged = card?.job.progress && job.state === 'running' && !job.progress ? { ...job, progress: card.job.progress } : job;
        this.setJob(merged);
      }
      this.follow();
    },
    /** Signed links of a finished job (cached until a minute before they expire). */
    async mediaOf(id: string): Promise<Media> {
      const cached = mediaLinks.get(id);
      if (cached && cached.expiresAt - 60_000 > Date.now()) return cached;
      const media = await api.media(id);
      mediaLinks.set(id, media);
      return media;
    },
    async loadPosters() {
      const wanted = this.data.cards.filter((c) => c.state === 'succeeded' && c.posterPath === '').slice(0, MAX_POSTERS);
      let changed = false;
      for (const card of wanted) {
        try {
          if ((await this.mediaOf(card.id)).posterUrl) changed = true;
        } catch {
          // No poster: the card shows its text only.
        }
      }
      if (changed) this.setData({ cards: this.data.cards.map((c) => this.toCard(c.job)) });
    },
    jobOf(id: string): Job | undefined {
      return this.data.cards.find((c) => c.id === id)?.job;
    },
    async onPlay(e: DataEvent) {
      const job = this.jobOf(e.currentTarget.dataset.id);
      if (!job || job.state !== 'succeeded') return;
      try {
        // A signed link: the <video> component streams it and seeks with Range requests.
        const media = await this.mediaOf(job.id);
        this.setData({ playingId: job.id, videoSrc: media.videoUrl });
      } catch (error) {
        toast(messageOf(error));
      }
    },
    /** A local copy of the video (downloaded once). */
    async videoFile(job: Job): Promise<string> {
      const cached = videoFiles.get(job.id);
      if (cached !== undefined) return cached;
      wx.showLoading({ title: t('videos_downloading'), mask: true });
      try {
        const path = await api.download((await this.mediaOf(job.id)).videoUrl);
        videoFiles.set(job.id, path);
        return path;
      } finally {
        wx.hideLoading();
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
        this.setJob(job ?? (await api.getJob(id)));
        toast(t('videos_cancelled_toast'));
      } catch (error) {
        toast(messageOf(error));
      }
    },
    async onPublish(e: DataEvent) {
      const id = e.currentTarget.dataset.id;
      const job = this.jobOf(id);
      if (!job) return;
      try {
        await api.publish(id);
        this.setJob({ ...job, published: true });
        toast(t('videos_published_toast'), 'success');
      } catch (error) {
        toast(messageOf(error));
      }
    },
    onCreate() {
      wx.switchTab({ url: '/pages/create/create' });
    },
    /** Share to a chat: the button's job, with its poster; the receiver lands on the gallery or Create. */
    onShareAppMessage(res: WechatMiniprogram.Page.IShareAppMessageOption) {
      const target = res.target as { dataset?: { id?: unknown } } | undefined;
      const id = typeof target?.dataset?.id === 'string' ? target.dataset.id : '';
      const card = this.data.cards.find((c) => c.id === id);
      if (!card) return { title: t('videos_share_title_plain'), path: '/pages/create/create' };
      const prompt = card.prompt.length > 24 ? `${card.prompt.slice(0, 24)}…` : card.prompt;
      const share: WechatMiniprogram.Page.ICustomShareContent = {
        title: prompt ? t('videos_share_title', { prompt }) : t('videos_share_title_plain'),
        path: card.published ? `/pages/gallery/gallery?job=${encodeURIComponent(card.id)}` : '/pages/create/create',
      };
      if (card.posterPath) share.imageUrl = card.posterPath;
      return share;
    },
  },
});
