/**
 * Settings of the mini program, in one place.
 *
 * `apiBaseUrl` is where the Framecast HTTP server (`framecast start`, the `/api/mp/*` routes) answers,
 * per build: `develop` is what WeChat DevTools runs, `trial` a trial build, `release` the published
 * one. Its domain must be listed as a request, uploadFile and downloadFile legal domain in the mini
 * program's admin console (DevTools can skip that check for local development: "不校验合法域名").
 * In a develop build the Me page can point the app at another server; that choice is stored under
 * `API_BASE_URL_STORAGE_KEY` and ignored in trial and release builds.
 */
export type EnvVersion = 'develop' | 'trial' | 'release';

export const API_BASE_URLS: Readonly<Record<EnvVersion, string>> = {
  develop: 'http://127.0.0.1:8080',
  trial: 'https://framecast.example.com',
  release: 'https://framecast.example.com',
};

export const API_BASE_URL_STORAGE_KEY = 'framecast.apiBaseUrl';


export interface Settings {
  /** How often My videos checks its unfinished jobs (and polls those without a live event stream). */
  pollIntervalMs: number;
  /** An event stream silent for this long is taken as stalled: closed, and its job polled (the server pings every 15 s). */
  streamStaleMs: number;
  /** Largest reference photo sent to the server (the server enforces its own limit too). */
  maxPhotoBytes: number;
  /**
   * Photos larger than this are recompressed (wx.compressImage) before the upload: the HTTP
   * server refuses bodies over FRAMECAST_HTTP_BODY_LIMIT, 1 MiB by default.
   */
  compressAboveBytes: number;
  /** Longest request the app waits for. */
  requestTimeoutMs: number;
  /** Longest video download it waits for. */
  downloadTimeoutMs: number;
  /**
   * The subscription message template sent when a video is done: the same ID as the server's
   * `FRAMECAST_MP_TEMPLATE_ID`. Empty: the app never asks (and no message is sent).
   */
  subscribeTemplateId: string;
}

const settings: Settings = {
  pollIntervalMs: 2000,
  streamStaleMs: 45_000,
  maxPhotoBytes: 10 * 1024 * 1024,
  compressAboveBytes: 900 * 1024,
  requestTimeoutMs: 15_000,
  downloadTimeoutMs: 120_000,
  subscribeTemplateId: '',
};

export function getSettings(): Readonly<Settings> {
  return settings;
}

/** Changes settings at run time (tests shorten the poll interval with it). */
export function configure(changes: Partial<Settings>): void {
  Object.assign(settings, changes);
}

export function envVersion(): EnvVersion {
  try {
    return wx.getAccountInfoSync().miniProgram.envVersion;
  } catch {
    return 'develop';
  }
}

function isHttpUrl(value: unknown): value is string {
  return typeof value === 'string' && /^https?:\/\/[^\s/]+(\/[^\s]*)?$/.test(value) && value.length <= 200;
}

/** The API's base URL, without a trailing slash. */
export function apiBaseUrl(): string {
  const env = envVersion();
  if (env === 'develop') {
    try {
      const stored: unknown = wx.getStorageSync(API_BASE_URL_STORAGE_KEY);
      if (isHttpUrl(stored)) return stored.replace(/\/+$/, '');
    } catch {
      // No override.
    }
  }
  return API_BASE_URLS[env].replace(/\/+$/, '');
}

/** Points a develop build at another server; `''` returns to the default. Returns false for a bad URL. */
export function setApiBaseUrl(url: string): boolean {
  const trimmed = url.trim();
  if (trimmed === '') {
    wx.removeStorageSync(API_BASE_URL_STORAGE_KEY);
    return true;
  }
  if (!isHttpUrl(trimmed)) return false;
  wx.setStorageSync(API_BASE_URL_STORAGE_KEY, trimmed);
  return true;
}
