import { api, messageOf } from '../../api/client';
import type { GalleryItem, GallerySort } from '../../api/types';
import { applyChrome, getLang, messages, t, type MessageKey } from '../../i18n/index';
import { toast } from '../../utils/wx-async';

interface Tile extends GalleryItem {
  likesText: string;
  posterPath: string;
}

type DataEvent = WechatMiniprogram.CustomEvent<Record<string, never>, Record<string, never>, { id: string; sort: string }>;

/** Report reasons: the code sent to the server and the label shown. */
export const REPORT_REASONS: readonly { code: string; label: MessageKey }[] = [
  { code: 'sexual', label: 'report_reason_sexual' },
  { code: 'violence', label: 'report_reason_violence' },
  { code: 'politics', label: 'report_reason_politics' },
  { code: 'illegal', label: 'report_reason_illegal' },
  { code: 'ads', label: 'report_reason_ads' },
  { code: 'copyright', label: 'report_reason_copyright' },
  { code: 'other', label: 'report_reason_other' },
];

function tileOf(item: GalleryItem): Tile {
  return { ...item, likesText: t('gallery_likes', { n: item.likes }), posterPath: item.posterUrl ?? '' };
}

/** Where the next page of the list starts (the server's cursor); '' when there is none. */
let nextCursor = '';
let loadingMore = false;

/** Gallery: published videos, newest or most liked (more as the list scrolls); play, like, report; unpublish one's own. */
Component({
  data: {
    t: messages(),
    lang: getLang(),
    sort: 'newest' as GallerySort,
    tiles: [] as Tile[],
    loaded: false,
    hasMore: false,
    playingId: '',
    videoSrc: '',
    errorText: '',
  },
  methods: {
    onLoad() {
      this.setData({ t: messages(), lang: getLang() });
    },
    onShow() {
      this.setData({ t: messages(), lang: getLang() });
      applyChrome('gallery_title');
      void this.load();
    },
    async onPullDownRefresh() {
      await this.load();
      wx.stopPullDownRefresh();
    },
    async load() {
      const sort = this.data.sort;
      try {
        const page = await api.gallery(sort);
        if (sort !== this.data.sort) return;
        nextCursor = page.nextCursor ?? '';
        this.setData({ tiles: page.items.map(tileOf), loaded: true, errorText: '', hasMore: nextCursor !== '' });
      } catch (error) {
        this.setData({ loaded: true, errorText: messageOf(error) });
      }
    },
    async onReachBottom() {
      if (nextCursor === '' || loadingMore) return;
      loadingMore = true;
      const sort = this.data.sort;
      try {
        const page = await api.gallery(sort, nextCursor);
        if (sort !== this.data.sort) return;
        nextCursor = page.nextCursor ?? '';
        const seen = new Set(this.data.tiles.map((x) => x.id));
        this.setData({ tiles: [...this.data.tiles, ...page.items.filter((i) => !seen.has(i.id)).map(tileOf)], hasMore: nextCursor !== '' });
      } catch (error) {
        toast(messageOf(error));
      } finally {
        loadingMore = false;
      }
    },
    onSortTap(e: DataEvent) {
      const sort: GallerySort = e.currentTarget.dataset.sort === 'liked' ? 'liked' : 'newest';
      if (sort === this.data.sort) return;
      nextCursor = '';
      this.setData({ sort, tiles: [], loaded: false, hasMore: false });
      void this.load();
    },
    tileOf(id: string): Tile | undefined {
      return this.data.tiles.find((x) => x.id === id);
    },
    update(id: string, change: Partial<GalleryItem>) {
      this.setData({ tiles: this.data.tiles.map((x) => (x.id === id ? tileOf({ ...x, ...change }) : x)) });
    },
    async onPlay(e: DataEvent) {
      const tile = this.tileOf(e.currentTarget.dataset.id);
      if (!tile) return;
      // The list's signed link streams directly; once it has expired the list is fetched again.
      if (!tile.videoUrl || (tile.expiresAt !== undefined && tile.expiresAt <= Date.now())) {
        await this.load();
        const fresh = this.tileOf(tile.id);
        if (!fresh?.videoUrl) return toast(t('error_not_found'));
        this.setData({ playingId: fresh.id, videoSrc: fresh.videoUrl });
        return undefined;
      }
      this.setData({ playingId: tile.id, videoSrc: tile.videoUrl });
      return undefined;
    },
    async onLike(e: DataEvent) {
      const tile = this.tileOf(e.currentTarget.dataset.id);
      if (!tile || tile.liked) return;
      // Shown at once; the server's count replaces it when it answers one.
      this.update(tile.id, { liked: true, likes: tile.likes + 1 });
      try {
        const answer = await api.like(tile.id);
        this.update(tile.id, { liked: true, ...(answer.likes !== undefined ? { likes: answer.likes } : {}) });
      } catch (error) {
        this.update(tile.id, { liked: tile.liked, likes: tile.likes });
        toast(messageOf(error));
      }
    },
    onReport(e: DataEvent) {
      const id = e.currentTarget.dataset.id;
      wx.showActionSheet({
        alertText: t('gallery_report_title'),
        itemList: REPORT_REASONS.map((r) => t(r.label)),
        success: (res) => {
          const reason = REPORT_REASONS[res.tapIndex];
          if (reason) void this.sendReport(id, reason.code);
        },
      });
    },
    async onUnpublish(e: DataEvent) {
      const tile = this.tileOf(e.currentTarget.dataset.id);
      if (!tile || tile.mine !== true) return;
      try {
        await api.unpublish(tile.jobId ?? tile.id);
        this.setData({ tiles: this.data.tiles.filter((x) => x.id !== tile.id) });
        toast(t('gallery_unpublished'));
      } catch (error) {
        toast(messageOf(error));
      }
    },
    async sendReport(id: string, reason: string) {
      try {
        await api.report(id, reason);
        toast(t('gallery_reported'));
      } catch (error) {
        toast(messageOf(error));
      }
    },
  },
});
