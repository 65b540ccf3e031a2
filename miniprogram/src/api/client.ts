import { apiBaseUrl, getSettings } from '../config';
import { getLang, t } from '../i18n/index';
import { SseParser, Utf8Stream } from '../utils/sse';
import * as wxa from '../utils/wx-async';
import {
  ApiError,
  parseError,
  parseGallery,
  parseGalleryItem,
  parseBoard,
  parseBoardAnswer,
  parseBoardEvent,
  parseImageId,
  parseJob,
  parseJobs,
  parseMedia,
  parseProgressEvent,
  parseQuota,
  parseSession,
  type Board,
  type BoardAnswer,
  type BoardEvent,
  type CreateBoardInput,
  type CreateJobInput,
  type GalleryItem,
  type GalleryPage,
  type GallerySort,
  type Job,
  type Media,
  type ProgressEvent,
  type Quota,
  type Session,
} from './types';

/**
 * Every call of the mini program to its API, in one place: routes, the Bearer token, the re-login
 * on 401 and the mapping of errors to a message the user can read. A route change is one edit here.
 */
const job = (id: string): string => `/api/mp/jobs/${encodeURIComponent(id)}`;
export const ROUTES = {
  login: '/api/mp/login',
  me: '/api/mp/me',
  uploads: '/api/mp/uploads',
  jobs: '/api/mp/jobs',
  job,
  events: (id: string) => `${job(id)}/events`,
  cancel: (id: string) => `${job(id)}/cancel`,
  media: (id: string) => `${job(id)}/media`,
  publish: (id: string) => `${job(id)}/publish`,
  unpublish: (id: string) => `${job(id)}/unpublish`,
  gallery: (sort: GallerySort, cursor?: string) => `/api/mp/gallery?sort=${sort}${cursor === undefined ? '' : `&cursor=${encodeURIComponent(cursor)}`}`,
  like: (id: string) => `/api/mp/gallery/${encodeURIComponent(id)}/like`,
  report: (id: string) => `/api/mp/gallery/${encodeURIComponent(id)}/report`,
  nickname: '/api/mp/me/nickname',
  boards: '/api/mp/boards',
  board: (id: string) => `/api/mp/boards/${encodeURIComponent(id)}`,
  boardShots: (id: string) => `/api/mp/boards/${encodeURIComponent(id)}/shots`,
  boardShot: (id: string, n: number) => `/api/mp/boards/${encodeURIComponent(id)}/shots/${n}`,
  boardVotes: (id: string) => `/api/mp/boards/${encodeURIComponent(id)}/votes`,
  boardAction: (id: string, action: BoardAction) => `/api/mp/boards/${encodeURIComponent(id)}/${action}`,
  boardEvents: (id: string) => `/api/mp/boards/${encodeURIComponent(id)}/events`,
  boardMedia: (id: string) => `/api/mp/boards/${encodeURIComponent(id)}/media`,
} as const;

/** What the starter does to a whole board. */
export type BoardAction = 'render' | 'lock' | 'unlock' | 'cancel';

/** A link the API gave (`/api/…` on its server, or absolute) as a full URL. */
export function absoluteUrl(link: string): string {
  return link.startsWith('/') ? apiBaseUrl() + link : link;
}

/** A live progress stream of one job; `close()` ends it. */
export interface JobWatch {
  close(): void;
  /** When the last bytes arrived (epoch ms; pings count). */
  lastActivity(): number;
}

export const SESSION_STORAGE_KEY = 'framecast.session';
/** A token this close to its expiry is renewed before use. */
const RENEW_MARGIN_MS = 60_000;

function readStoredSession(): Session | undefined {
  try {
    return parseSession(wx.getStorageSync(SESSION_STORAGE_KEY));
  } catch {
    return undefined;
  }
}

/** A message for an answer without a usable `{code, message}`. */
function fallbackMessage(status: number): string {
  if (status === 404) return t('error_not_found');
  if (status === 429) return t('error_rate_limited');
  return t('error_server', { status });
}

function errorOf(status: number, data: unknown): ApiError {
  const parsed = parseError(data);
  return new ApiError(status, parsed?.code ?? `http_${status}`, parsed?.message ?? fallbackMessage(status));
}

function networkError(): ApiError {
  return new ApiError(0, 'network', t('error_network'));
}

/** A fresh submission id: 8–64 of [A-Za-z0-9_-], as the API wants. */
export function newRequestId(): string {
  let key = Date.now().toString(36);
  for (let i = 0; i < 3; i++) key += Math.floor(Math.random() * 0x100000000).toString(36);
  return key;
}

export class ApiClient {
  private session: Session | undefined;
  private loggingIn: Promise<Session> | undefined;

  /** Logs in afresh: wx.login's code → POST /api/mp/login → a token kept in storage. */
  login(): Promise<Session> {
    if (!this.loggingIn) {
      this.loggingIn = this.doLogin().finally(() => {
        this.loggingIn = undefined;
      });
    }
    return this.loggingIn;
  }

  private async doLogin(): Promise<Session> {
    let code: string;
    try {
      code = await wxa.login();
    } catch {
      throw new ApiError(0, 'login_failed', t('error_login'));
    }
    const answer = await this.send('POST', ROUTES.login, { code }, undefined);
    if (answer.statusCode !== 200) throw errorOf(answer.statusCode, answer.data);
    const session = parseSession(answer.data);
    this.session = session;
    wx.setStorageSync(SESSION_STORAGE_KEY, session);
    return session;
  }

  /** Forgets the token (the next call logs in again). */
  logout(): void {
    this.session = undefined;
    try {
      wx.removeStorageSync(SESSION_STORAGE_KEY);
    } catch {
      // Nothing stored.
    }
  }

  /** A token that is still valid, logging in when there is none. */
  async token(): Promise<string> {
    this.session ??= readStoredSession();
    if (!this.session || this.session.expiresAt - RENEW_MARGIN_MS <= Date.now()) this.session = await this.login();
    return this.session.token;
  }

  isLoggedIn(): boolean {
    this.session ??= readStoredSession();
    return this.session !== undefined && this.session.expiresAt > Date.now();
  }

  private headers(token: string | undefined, extra: Record<string, string> = {}): Record<string, string> {
    const header: Record<string, string> = { 'Accept-Language': getLang(), ...extra };
    if (token !== undefined) header.Authorization = `Bearer ${token}`;
    return header;
  }

  private async send(method: wxa.Method, path: string, body: object | undefined, token: string | undefined, extra: Record<string, string> = {}): Promise<wxa.HttpAnswer> {
    const header = this.headers(token, body === undefined ? extra : { 'Content-Type': 'application/json', ...extra });
    try {
      return await wxa.request(apiBaseUrl() + path, method, header, body, getSettings().requestTimeoutMs);
    } catch {
      throw networkError();
    }
  }

  /** Runs an authorised call; a 401 (token expired or revoked) logs in again and retries once. */
  private async authorised<T>(call: (token: string) => Promise<wxa.HttpAnswer>, parse: (data: unknown) => T): Promise<T> {
    let answer = await call(await this.token());
    if (answer.statusCode === 401) {
      this.logout();
      answer = await call(await this.token());
    }
    if (answer.statusCode < 200 || answer.statusCode >= 300) throw errorOf(answer.statusCode, answer.data);
    return parse(answer.data);
  }

  private call<T>(method: wxa.Method, path: string, body: object | undefined, parse: (data: unknown) => T, extra?: Record<string, string>): Promise<T> {
    return this.authorised((token) => this.send(method, path, body, token, extra), parse);
  }

  /** Uploads a reference photo (multipart, field `file`). */
  uploadImage(filePath: string): Promise<string> {
    return this.authorised(async (token) => {
      try {
        return await wxa.uploadFile(apiBaseUrl() + ROUTES.uploads, filePath, 'file', this.headers(token), getSettings().requestTimeoutMs * 4);
      } catch {
        throw new ApiError(0, 'network', t('error_upload'));
      }
    }, parseImageId);
  }

  /**
   * Submits a job. Its `requestId` (one per submission, kept across the re-login retry and any
   * retry after a lost answer) makes a repeated request answer the same job instead of a second one.
   */
  createJob(input: CreateJobInput): Promise<Job> {
    return this.call('POST', ROUTES.jobs, { ...input, requestId: input.requestId ?? newRequestId() }, parseJob);
  }

  listJobs(): Promise<Job[]> {
    return this.call('GET', ROUTES.jobs, undefined, parseJobs);
  }

  getJob(id: string): Promise<Job> {
    return this.call('GET', ROUTES.job(id), undefined, parseJob);
  }

  cancelJob(id: string): Promise<Job | undefined> {
    return this.call('POST', ROUTES.cancel(id), {}, (data) => {
      try {
        return parseJob(data);
      } catch {
        return undefined;
      }
    });
  }

  publish(id: string): Promise<void> {
    return this.call('POST', ROUTES.publish(id), {}, () => undefined);
  }

  /** Takes one's own video out of the gallery (a gallery item's id is its job's). */
  unpublish(id: string): Promise<void> {
    return this.call('POST', ROUTES.unpublish(id), {}, () => undefined);
  }

  /** Signed links (10 minutes) to a finished job's video and poster, as full URLs. */
  async media(id: string): Promise<Media> {
    const media = await this.call('GET', ROUTES.media(id), undefined, parseMedia);
    const out: Media = { videoUrl: absoluteUrl(media.videoUrl), expiresAt: media.expiresAt };
    if (media.posterUrl !== undefined) out.posterUrl = absoluteUrl(media.posterUrl);
    return out;
  }

  async gallery(sort: GallerySort, cursor?: string): Promise<GalleryPage> {
    const page = await this.call('GET', ROUTES.gallery(sort, cursor), undefined, parseGallery);
    for (const item of page.items) {
      if (item.videoUrl !== undefined) item.videoUrl = absoluteUrl(item.videoUrl);
      if (item.posterUrl !== undefined) item.posterUrl = absoluteUrl(item.posterUrl);
    }
    return page;
  }

  /** Likes a gallery item; answers the item as the server now has it when it says so. */
  like(id: string): Promise<Partial<GalleryItem>> {
    return this.call('POST', ROUTES.like(id), { like: true }, (data) => {
      try {
        return parseGalleryItem(data);
      } catch {
        return {};
      }
    });
  }

  report(id: string, reason: string): Promise<void> {
    return this.call('POST', ROUTES.report(id), { reason }, () => undefined);
  }

  /** Today's credits (`GET /api/mp/me`). */
  quota(): Promise<Quota> {
    return this.call('GET', ROUTES.me, undefined, parseQuota);
  }

  /** Downloads a signed link (no token: it carries its own signature) to a local file. */
  async download(url: string): Promise<string> {
    let res: { statusCode: number; tempFilePath: string };
    try {
      res = await wxa.downloadFile(url, this.headers(undefined), getSettings().downloadTimeoutMs);
    } catch {
      throw new ApiError(0, 'network', t('error_download'));
    }
    if (res.statusCode !== 200) throw new ApiError(res.statusCode, 'download_failed', res.statusCode === 404 ? t('error_not_found') : t('error_download'));
    return res.tempFilePath;
  }

  /**
   * Follows a job's progress events (`GET …/events`, server-sent events read through
   * `wx.request({enableChunked})`, since a mini program has no EventSource). `onEnd` runs once,
   * when the stream ends (the job finished, the connection dropped, or `close()`).
   */
  watchJob(id: string, onEvent: (event: ProgressEvent) => void, onEnd: () => void): Promise<JobWatch> {
    return this.stream(ROUTES.events(id), (event, data) => {
      const parsed = parseProgressEvent(event, data);
      if (parsed) onEvent(parsed);
    }, onEnd);
  }

  /** Follows a storyboard (`GET /api/mp/boards/:id/events`): the board as it changes, and each shot's render progress. */
  watchBoard(id: string, onEvent: (event: BoardEvent) => void, onEnd: () => void): Promise<JobWatch> {
    return this.stream(ROUTES.boardEvents(id), (event, data) => {
      const parsed = parseBoardEvent(event, data);
      if (parsed) onEvent(parsed);
    }, onEnd);
  }

  private async stream(path: string, onFrame: (event: string, data: string) => void, onEnd: () => void): Promise<JobWatch> {
    const token = await this.token();
    const decoder = new Utf8Stream();
    const parser = new SseParser();
    let ended = false;
    let lastActivity = Date.now();
    const end = (): void => {
      if (ended) return;
      ended = true;
      onEnd();
    };
    const task = wx.request({
      url: apiBaseUrl() + path,
      method: 'GET',
      header: { ...this.headers(token), Accept: 'text/event-stream' },
      enableChunked: true,
      responseType: 'arraybuffer',
      timeout: 24 * 3600_000,
      success: (res) => {
        if (res.statusCode === 401) this.logout();
        end();
      },
      fail: () => end(),
    });
    task.onChunkReceived((res) => {
      if (ended) return;
      lastActivity = Date.now();
      for (const frame of parser.push(decoder.push(res.data))) onFrame(frame.event, frame.data);
    });
    return {
      close: () => {
        if (ended) return;
        task.abort();
        end();
      },
      lastActivity: () => lastActivity,
    };
  }

  // ---- storyboards ----

  /** The nickname the storyboards' credits show (set once, moderated by the server). */
  setNickname(nickname: string): Promise<string> {
    return this.call('PUT', ROUTES.nickname, { nickname }, (data) => {
      const value = (data as { nickname?: unknown } | null)?.nickname;
      return typeof value === 'string' ? value : nickname;
    });
  }

  /** Opens a board; its `requestId` (one per tap) makes a retry answer the same board. */
  createBoard(input: CreateBoardInput): Promise<BoardAnswer> {
    return this.call('POST', ROUTES.boards, { ...input, requestId: input.requestId ?? newRequestId() }, parseBoardAnswer);
  }

  getBoard(id: string): Promise<Board> {
    return this.call('GET', ROUTES.board(id), undefined, parseBoard);
  }

  addShot(id: string, text: string, imageId: string | undefined, requestId: string): Promise<BoardAnswer> {
    return this.call('POST', ROUTES.boardShots(id), imageId === undefined ? { text, requestId } : { text, imageId, requestId }, parseBoardAnswer);
  }

  /** Edits one's own shot (POST: wx.request has no PATCH). */
  editShot(id: string, n: number, text: string): Promise<BoardAnswer> {
    return this.call('POST', ROUTES.boardShot(id, n), { text, requestId: newRequestId() }, parseBoardAnswer);
  }

  removeShot(id: string, n: number): Promise<BoardAnswer> {
    return this.call('DELETE', ROUTES.boardShot(id, n), { requestId: newRequestId() }, parseBoardAnswer);
  }

  vote(id: string, n: number): Promise<BoardAnswer> {
    return this.call('POST', ROUTES.boardVotes(id), { n, requestId: newRequestId() }, parseBoardAnswer);
  }

  /** Takes the caller's vote for shot n back. */
  unvote(id: string, n: number): Promise<BoardAnswer> {
    return this.call('DELETE', ROUTES.boardVotes(id), { n, requestId: newRequestId() }, parseBoardAnswer);
  }

  /** Render, lock, unlock or cancel (the starter); `requestId` one per tap. */
  boardAction(id: string, action: BoardAction, requestId: string): Promise<BoardAnswer> {
    return this.call('POST', ROUTES.boardAction(id, action), { requestId }, parseBoardAnswer);
  }

  /** Signed links to the board's finished video (its contributors). */
  async boardMedia(id: string): Promise<Media> {
    const media = await this.call('GET', ROUTES.boardMedia(id), undefined, parseMedia);
    const out: Media = { videoUrl: absoluteUrl(media.videoUrl), expiresAt: media.expiresAt };
    if (media.posterUrl !== undefined) out.posterUrl = absoluteUrl(media.posterUrl);
    return out;
  }
}

/** The one client of the app. */
export const api = new ApiClient();

/** The message to show for anything a call threw. */
export function messageOf(error: unknown): string {
  // An answer that did not parse carries a developer's text: the user gets a localised one.
  if (error instanceof ApiError && error.code === 'invalid_response') return t('error_bad_answer');
  if (error instanceof ApiError) return error.message;
  return t('error_network');
}
