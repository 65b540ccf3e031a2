import { apiBaseUrl, getSettings } from '../config';
import { getLang, t } from '../i18n/index';
import * as wxa from '../utils/wx-async';
import {
  ApiError,
  parseError,
  parseGallery,
  parseGalleryItem,
  parseImageId,
  parseJob,
  parseJobs,
  parseQuota,
  parseSession,
  type CreateJobInput,
  type GalleryItem,
  type GallerySort,
  type Job,
  type Quota,
  type Session,
} from './types';

/**
 * Every call of the mini program to its API, in one place: routes, the Bearer token, the re-login
 * on 401 and the mapping of errors to a message the user can read. A route change is one edit here.
 */
export const ROUTES = {
  login: '/api/mp/login',
  uploads: '/api/mp/uploads',
  jobs: '/api/mp/jobs',
  job: (id: string) => `/api/mp/jobs/${encodeURIComponent(id)}`,
  cancel: (id: string) => `/api/mp/jobs/${encodeURIComponent(id)}/cancel`,
  video: (id: string) => `/api/mp/jobs/${encodeURIComponent(id)}/video`,
  poster: (id: string) => `/api/mp/jobs/${encodeURIComponent(id)}/poster`,
  publish: (id: string) => `/api/mp/jobs/${encodeURIComponent(id)}/publish`,
  gallery: (sort: GallerySort) => `/api/mp/gallery?sort=${sort}`,
  like: (id: string) => `/api/mp/gallery/${encodeURIComponent(id)}/like`,
  report: (id: string) => `/api/mp/gallery/${encodeURIComponent(id)}/report`,
  quota: '/api/mp/quota',
} as const;

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

function randomKey(): string {
  let key = Date.now().toString(36);
  for (let i = 0; i < 4; i++) key += Math.floor(Math.random() * 0x100000000).toString(36);
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
   * Submits a job. One `Idempotency-Key` per submission (kept across the re-login retry), so a
   * repeated request never makes a second job.
   */
  createJob(input: CreateJobInput, idempotencyKey: string = randomKey()): Promise<Job> {
    return this.call('POST', ROUTES.jobs, input, parseJob, { 'Idempotency-Key': idempotencyKey });
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

  gallery(sort: GallerySort): Promise<GalleryItem[]> {
    return this.call('GET', ROUTES.gallery(sort), undefined, parseGallery);
  }

  /** Likes a gallery item; answers the item as the server now has it when it says so. */
  like(id: string): Promise<Partial<GalleryItem>> {
    return this.call('POST', ROUTES.like(id), {}, (data) => {
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

  quota(): Promise<Quota> {
    return this.call('GET', ROUTES.quota, undefined, parseQuota);
  }

  /**
   * A local file of a job's video or poster, downloaded with the token (a `<video>` or `<image>`
   * cannot send an Authorization header). Signed absolute links (S3) are downloaded as they are.
   */
  async download(what: 'video' | 'poster', jobId: string, signedUrl?: string): Promise<string> {
    const url = signedUrl ?? apiBaseUrl() + (what === 'video' ? ROUTES.video(jobId) : ROUTES.poster(jobId));
    const get = async (token: string | undefined): Promise<{ statusCode: number; tempFilePath: string }> => {
      try {
        return await wxa.downloadFile(url, this.headers(token), getSettings().downloadTimeoutMs);
      } catch {
        throw new ApiError(0, 'network', t('error_download'));
      }
    };
    if (signedUrl !== undefined) {
      const res = await get(undefined);
      if (res.statusCode !== 200) throw new ApiError(res.statusCode, 'download_failed', t('error_download'));
      return res.tempFilePath;
    }
    let res = await get(await this.token());
    if (res.statusCode === 401) {
      this.logout();
      res = await get(await this.token());
    }
    if (res.statusCode !== 200) throw new ApiError(res.statusCode, 'download_failed', res.statusCode === 404 ? t('error_not_found') : t('error_download'));
    return res.tempFilePath;
  }
}

/** The one client of the app. */
export const api = new ApiClient();

/** The message to show for anything a call threw. */
export function messageOf(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  return t('error_network');
}
