import { api, messageOf, newRequestId, type BoardAction, type JobWatch } from '../../api/client';
import { ApiError, DURATION_LIMITS, type Aspect, type Board, type BoardAnswer, type BoardEvent, type CreateBoardInput } from '../../api/types';
import { getSettings } from '../../config';
import { applyChrome, getLang, messages, t, type MessageKey } from '../../i18n/index';
import { ASPECT_LABELS, STYLES, aspectIndexOf, styleAfterTap } from '../../presets';
import { choosePhotoFor } from '../../utils/photo';
import { toast } from '../../utils/wx-async';

interface Chip {
  id: string;
  label: string;
}

interface ShotCard {
  n: number;
  head: string;
  text: string;
  votesText: string;
  voted: boolean;
  mine: boolean;
  inCut: boolean;
  cutText: string;
  hasImage: boolean;
  progressText: string;
  canVote: boolean;
  canUnvote: boolean;
  canEdit: boolean;
  canRemove: boolean;
}

const BOARD_ID = /^b_[A-Za-z0-9_-]{22}$/;
const NICKNAME_MAX = 20;
const SHOT_MAX_CHARS = 500;
const SHOT_SECONDS = { min: 1, max: DURATION_LIMITS.draft.max, default: 2 };
const PROGRESS_KEYS: Readonly<Record<string, MessageKey>> = {
  started: 'board_progress_started', done: 'board_progress_done', retrying: 'board_progress_retrying',
};
const OPEN_STATES = ['collecting', 'locked', 'rendering'];

/** Per page instance: what is not view data (the live stream, the last board, the keys of taps in flight). */
interface Live {
  watch: JobWatch | undefined;
  reopen: ReturnType<typeof setTimeout> | undefined;
  board?: Board;
  progress: Record<number, string>;
  createKey: string;
  shotKey: string;
  actionKey: string;
  shown: boolean;
}
const lives = new WeakMap<object, Live>();

/**
 * A collaborative storyboard: with no `id`, the form that opens one (theme, style, aspect, draft or
 * final, each shot's length, the name in the credits); with `?id=<board>` (the share card's link),
 * the board: shots with their authors, votes and the cut, the cost and ETA, a shot form with an
 * optional photo, edit/remove of one's own shots, and for the starter render, lock and close; while
 * it renders, each shot's progress (the board's event stream); then the video for its contributors.
 */
Component({
  data: {
    t: messages(),
    lang: getLang(),
    boardId: '',
    loaded: false,
    // the create form
    theme: '',
    nickname: '',
    nicknameHint: '',
    styles: [] as Chip[],
    style: '',
    aspects: [] as string[],
    aspectIndex: 0,
    draft: true,
    seconds: SHOT_SECONDS.default,
    secondsMax: SHOT_SECONDS.max as number,
    secondsText: '',
    creating: false,
    // the board
    theme2: '',
    stateText: '',
    starterText: '',
    cards: [] as ShotCard[],
    costText: '',
    yourCostText: '',
    cutRuleText: '',
    collecting: false,
    starter: false,
    canRender: false,
    canLock: false,
    canUnlock: false,
    canClose: false,
    stitching: false,
    canPlay: false,
    videoSrc: '',
    // the shot form
    shotText: '',
    photoPath: '',
    imageId: '',
    uploading: false,
    adding: false,
    editingN: 0,
    editText: '',
    busy: false,
    errorText: '',
  },
  lifetimes: {
    detached() {
      this.stopWatching();
    },
  },
  methods: {
    live(): Live {
      let l = lives.get(this);
      if (!l) {
        l = { watch: undefined, reopen: undefined, progress: {}, createKey: '', shotKey: '', actionKey: '', shown: false };
        lives.set(this, l);
      }
      return l;
    },
    onLoad(query: Record<string, string | undefined>) {
      const id = query.id ?? '';
      this.setData({ boardId: BOARD_ID.test(id) ? id : '' });
      this.renderForm();
    },
    onShow() {
      this.live().shown = true;
      applyChrome('board_title');
      this.renderForm();
      if (this.data.boardId !== '') void this.load();
    },
    onHide() {
      this.stopWatching();
    },
    onUnload() {
      this.stopWatching();
    },
    stopWatching() {
      const l = this.live();
      l.shown = false;
      if (l.reopen !== undefined) clearTimeout(l.reopen);
      l.reopen = undefined;
      l.watch?.close();
      l.watch = undefined;
    },
    renderForm() {
      const lang = getLang();
      this.setData({
        t: messages(lang),
        lang,
        styles: STYLES.map((s) => ({ id: s.name, label: t(s.label) })),
        aspects: ASPECT_LABELS.map((a) => t(a.label)),
        secondsText: t('create_duration_value', { n: this.data.seconds }),
      });
      const board = this.live().board;
      if (board) this.show(board);
    },
    showError(message: string) {
      this.setData({ errorText: message });
      toast(message);
    },

    // ---- the create form ----
    onThemeInput(e: WechatMiniprogram.CustomEvent<{ value: string }>) {
      this.setData({ theme: String(e.detail.value ?? ''), errorText: '' });
    },
    onNicknameInput(e: WechatMiniprogram.CustomEvent<{ value: string }>) {
      this.setData({ nickname: String(e.detail.value ?? '').slice(0, NICKNAME_MAX) });
    },
    onStyleTap(e: WechatMiniprogram.CustomEvent<Record<string, never>, Record<string, never>, { id: string }>) {
      this.setData({ style: styleAfterTap(this.data.style, e) });
    },
    onAspectChange(e: WechatMiniprogram.CustomEvent<{ value: string | number }>) {
      const index = aspectIndexOf(e);
      if (index !== undefined) this.setData({ aspectIndex: index });
    },
    onModeTap(e: WechatMiniprogram.CustomEvent<Record<string, never>, Record<string, never>, { mode: string }>) {
      const draft = e.currentTarget.dataset.mode !== 'final';
      const max = draft ? DURATION_LIMITS.draft.max : DURATION_LIMITS.final.max;
      this.setData({ draft, secondsMax: max, seconds: Math.min(max, this.data.seconds) });
      this.renderForm();
    },
    onSecondsChange(e: WechatMiniprogram.CustomEvent<{ value: number }>) {
      const value = Math.round(Number(e.detail.value));
      if (!Number.isFinite(value)) return;
      this.setData({ seconds: Math.min(this.data.secondsMax, Math.max(SHOT_SECONDS.min, value)) });
      this.renderForm();
    },
    /** The name in the credits, when the user typed one (the server moderates it). */
    async saveNickname(): Promise<void> {
      const nickname = this.data.nickname.trim();
      if (nickname !== '') await api.setNickname(nickname);
    },
    async onCreate() {
      const d = this.data;
      if (d.creating) return;
      const theme = d.theme.trim();
      if (theme === '') return this.showError(t('board_error_theme'));
      const l = this.live();
      l.createKey = l.createKey || newRequestId();
      const input: CreateBoardInput = {
        theme: theme.slice(0, SHOT_MAX_CHARS), aspect: ASPECT_LABELS[d.aspectIndex]?.aspect ?? ('9:16' as Aspect), draft: d.draft, duration: d.seconds, requestId: l.createKey,
      };
      if (d.style !== '') input.style = d.style;
      this.setData({ creating: true, errorText: '' });
      try {
        await this.saveNickname();
        const answer = await api.createBoard(input);
        l.createKey = '';
        this.setData({ creating: false, boardId: answer.boardId, nickname: '', loaded: true });
        this.applyAnswer(answer);
        if (l.shown) this.startWatching();
      } catch (error) {
        if (!(error instanceof ApiError) || error.status !== 0) l.createKey = '';
        this.setData({ creating: false });
        this.showError(messageOf(error));
      }
    },

    // ---- the board ----
    async load() {
      try {
        const board = await api.getBoard(this.data.boardId);
        this.show(board);
        this.setData({ loaded: true, errorText: '' });
        this.startWatching();
      } catch (error) {
        this.setData({ loaded: true });
        this.showError(messageOf(error));
      }
    },
    applyAnswer(answer: BoardAnswer) {
      if (answer.board) this.show(answer.board);
      if (answer.message) toast(answer.message);
    },
    /** The board as the page shows it. */
    show(board: Board) {
      const l = this.live();
      if (l.board?.jobId !== board.jobId) l.progress = {};
      l.board = board;
      const collecting = board.state === 'collecting';
      const rendering = board.state === 'rendering';
      const starter = board.you.starter;
      const cards: ShotCard[] = board.shots.map((s) => ({
        n: s.n,
        head: t('board_shot_head', { n: s.n, author: s.authorName }),
        text: s.text,
        votesText: t('board_votes', { n: s.votes }),
        voted: s.voted,
        mine: s.mine,
        inCut: s.inCut,
        cutText: s.inCut ? t('board_in_cut') : t('board_out_of_cut'),
        hasImage: s.hasImage,
        progressText: rendering && s.inCut ? (l.progress[s.n] ?? t('board_progress_waiting')) : '',
        canVote: collecting && !s.voted,
        canUnvote: collecting && s.voted,
        canEdit: collecting && s.mine,
        canRemove: collecting && (s.mine || starter),
      }));
      this.setData({
        theme2: board.theme,
        stateText: t(`board_state_${board.state}` as MessageKey),
        starterText: t('board_starter', { name: board.starterName }),
        nicknameHint: t('board_nickname_placeholder', { name: board.you.name }),
        cards,
        costText: OPEN_STATES.includes(board.state) && board.shots.length > 0 ? t('board_cost', { cost: board.cost, eta: Math.round(board.etaSeconds) }) : '',
        yourCostText: board.yourCost > 0 && board.yourCost !== board.cost ? t('board_your_cost', { n: board.yourCost }) : '',
        cutRuleText: board.shots.length > board.maxShots ? t('board_cut_rule', { max: board.maxShots }) : '',
        collecting,
        starter,
        canRender: starter && (collecting || board.state === 'locked') && board.shots.length > 0,
        canLock: starter && collecting,
        canUnlock: starter && board.state === 'locked',
        canClose: starter && (collecting || board.state === 'locked'),
        stitching: rendering && this.data.stitching,
        canPlay: board.state === 'done' && board.render?.videoReady === true && board.you.contributor,
      });
    },
    startWatching() {
      const l = this.live();
      if (l.watch || l.reopen !== undefined || !l.shown || this.data.boardId === '') return;
      const id = this.data.boardId;
      const entry: JobWatch & { inner?: JobWatch; ended?: boolean } = { close: () => entry.inner?.close(), lastActivity: () => entry.inner?.lastActivity() ?? Date.now() };
      l.watch = entry;
      void api.watchBoard(id, (e) => this.onBoardEvent(e), () => {
        entry.ended = true;
        if (l.watch === entry) l.watch = undefined;
        // The stream ends when the board closes, or when the connection drops: open it again while the board is open.
        const board = l.board;
        if (l.shown && board && OPEN_STATES.includes(board.state)) {
          l.reopen = setTimeout(() => {
            l.reopen = undefined;
            void this.load();
          }, Math.max(1000, getSettings().pollIntervalMs));
        }
      }).then((inner) => {
        entry.inner = inner;
        if (entry.ended) inner.close();
      }, () => {
        if (l.watch === entry) l.watch = undefined;
      });
    },
    onBoardEvent(e: BoardEvent) {
      const l = this.live();
      if (e.type === 'board' && e.board) {
        this.show(e.board);
        return;
      }
      if (e.type === 'segment' && e.n !== undefined) {
        const key = e.phase === 'step' ? undefined : PROGRESS_KEYS[e.phase ?? ''];
        const text = key !== undefined ? t(key) : e.step !== undefined && e.totalSteps !== undefined ? t('board_progress_step', { step: e.step, total: e.totalSteps }) : t('board_progress_started');
        // A shot that is done stays done (a late step event of a retry does not undo it).
        if (l.progress[e.n] !== t('board_progress_done') || e.phase === 'retrying') l.progress[e.n] = text;
        const shown = l.progress[e.n] ?? text;
        this.setData({ cards: this.data.cards.map((c) => (c.n === e.n ? { ...c, progressText: shown } : c)) });
        return;
      }
      if (e.type === 'stitching') this.setData({ stitching: true });
      if (e.type === 'failed' || e.type === 'expired') {
        this.setData({ stitching: false });
        toast(e.message ?? t('board_failed'));
      }
      if (e.type === 'rendered') this.setData({ stitching: false });
    },

    // ---- shots ----
    onShotInput(e: WechatMiniprogram.CustomEvent<{ value: string }>) {
      this.setData({ shotText: String(e.detail.value ?? ''), errorText: '' });
    },
    async onChoosePhoto() {
      await choosePhotoFor(this);
    },
    onRemovePhoto() {
      this.setData({ photoPath: '', imageId: '', uploading: false });
    },
    async onAddShot() {
      const d = this.data;
      if (d.adding) return;
      const text = d.shotText.trim();
      if (text === '') return this.showError(t('board_error_shot_empty'));
      if (text.length > SHOT_MAX_CHARS) return this.showError(t('create_error_too_long', { max: SHOT_MAX_CHARS, n: text.length }));
      if (d.uploading) return this.showError(t('create_error_uploading'));
      const l = this.live();
      l.shotKey = l.shotKey || newRequestId();
      this.setData({ adding: true, errorText: '' });
      try {
        await this.saveNickname();
        const answer = await api.addShot(d.boardId, text, d.imageId === '' ? undefined : d.imageId, l.shotKey);
        l.shotKey = '';
        this.setData({ adding: false, shotText: '', photoPath: '', imageId: '', nickname: '' });
        this.applyAnswer(answer);
      } catch (error) {
        // A refusal (a blocked line, a closed board) is final; only an unanswered request keeps its key for the retry.
        if (!(error instanceof ApiError) || error.status !== 0) l.shotKey = '';
        this.setData({ adding: false });
        this.showError(messageOf(error));
      }
    },
    onEditTap(e: WechatMiniprogram.CustomEvent<Record<string, never>, Record<string, never>, { n: number | string }>) {
      const n = Number(e.currentTarget.dataset.n);
      const card = this.data.cards.find((c) => c.n === n);
      if (card) this.setData({ editingN: n, editText: card.text });
    },
    onEditInput(e: WechatMiniprogram.CustomEvent<{ value: string }>) {
      this.setData({ editText: String(e.detail.value ?? '') });
    },
    async onSaveEdit() {
      const text = this.data.editText.trim();
      if (text === '') return this.showError(t('board_error_shot_empty'));
      await this.act(() => api.editShot(this.data.boardId, this.data.editingN, text));
      this.setData({ editingN: 0, editText: '' });
    },
    async onRemoveTap(e: WechatMiniprogram.CustomEvent<Record<string, never>, Record<string, never>, { n: number | string }>) {
      const n = Number(e.currentTarget.dataset.n);
      await this.act(() => api.removeShot(this.data.boardId, n));
    },
    async onVoteTap(e: WechatMiniprogram.CustomEvent<Record<string, never>, Record<string, never>, { n: number | string }>) {
      const n = Number(e.currentTarget.dataset.n);
      await this.act(() => api.vote(this.data.boardId, n));
    },
    async onUnvoteTap(e: WechatMiniprogram.CustomEvent<Record<string, never>, Record<string, never>, { n: number | string }>) {
      const n = Number(e.currentTarget.dataset.n);
      await this.act(() => api.unvote(this.data.boardId, n));
    },
    /** Render, lock, unlock, close: one requestId per tap, kept for a retry of an unanswered one. */
    async onActionTap(e: WechatMiniprogram.CustomEvent<Record<string, never>, Record<string, never>, { action: BoardAction }>) {
      const action = e.currentTarget.dataset.action;
      const l = this.live();
      l.actionKey = l.actionKey || newRequestId();
      const key = l.actionKey;
      await this.act(() => api.boardAction(this.data.boardId, action, key), () => {
        l.actionKey = '';
      });
      if (action === 'render') this.startWatching();
    },
    async act(call: () => Promise<BoardAnswer>, settled?: () => void) {
      if (this.data.busy) return;
      this.setData({ busy: true, errorText: '' });
      try {
        this.applyAnswer(await call());
        settled?.();
      } catch (error) {
        if (!(error instanceof ApiError) || error.status !== 0) settled?.();
        this.showError(messageOf(error));
      } finally {
        this.setData({ busy: false });
      }
    },

    // ---- the video, and sharing ----
    async onPlay() {
      try {
        const media = await api.boardMedia(this.data.boardId);
        this.setData({ videoSrc: media.videoUrl });
      } catch (error) {
        this.showError(messageOf(error));
      }
    },
    onShareAppMessage(): WechatMiniprogram.Page.ICustomShareContent {
      const id = this.data.boardId;
      if (id === '') return { title: t('board_title'), path: '/pages/board/board' };
      const theme = this.data.theme2.length > 24 ? `${this.data.theme2.slice(0, 24)}…` : this.data.theme2;
      return { title: t('board_share_title', { theme }), path: `/pages/board/board?id=${encodeURIComponent(id)}` };
    },
  },
});
