import { en, zhCN, type MessageKey, type Messages } from './messages';

export type { MessageKey, Messages } from './messages';

/** Supported languages, zh-CN first. */
export const LANGS = ['zh-CN', 'en'] as const;
export type Lang = (typeof LANGS)[number];

const CATALOGUES: Readonly<Record<Lang, Messages>> = { 'zh-CN': zhCN, en };
export const LANG_STORAGE_KEY = 'framecast.lang';

let current: Lang | undefined;

export function isLang(value: unknown): value is Lang {
  return typeof value === 'string' && (LANGS as readonly string[]).includes(value);
}

/** The language chosen in the settings, else the phone's when it is English, else zh-CN. */
export function getLang(): Lang {
  if (current) return current;
  let chosen: Lang = 'zh-CN';
  try {
    const stored: unknown = wx.getStorageSync(LANG_STORAGE_KEY);
    if (isLang(stored)) chosen = stored;
    else if (wx.getAppBaseInfo().language.toLowerCase().startsWith('en')) chosen = 'en';
  } catch {
    // Storage or system info unavailable: keep zh-CN.
  }
  current = chosen;
  return chosen;
}

export function setLang(lang: Lang): void {
  current = lang;
  try {
    wx.setStorageSync(LANG_STORAGE_KEY, lang);
  } catch {
    // Not persisted; the choice still holds for this run.
  }
}

/** The whole catalogue of a language, for a page's `t` data (WXML reads `{{t.key}}`). */
export function messages(lang: Lang = getLang()): Messages {
  return CATALOGUES[lang];
}

/** One message, with `{name}` parameters filled in. */
export function t(key: MessageKey, params: Readonly<Record<string, string | number>> = {}, lang: Lang = getLang()): string {
  return CATALOGUES[lang][key].replace(/\{(\w+)\}/g, (whole, name: string) => {
    const value = params[name];
    return value === undefined ? whole : String(value);
  });
}

/** Tab bar texts follow the language (app.json holds the zh-CN ones for the first paint). */
const TABS: readonly MessageKey[] = ['tab_create', 'tab_videos', 'tab_gallery', 'tab_me'];

/** Sets the navigation bar title and the tab bar texts in the current language. */
export function applyChrome(titleKey: MessageKey): void {
  const noop = (): void => undefined;
  wx.setNavigationBarTitle({ title: t(titleKey), fail: noop });
  TABS.forEach((key, index) => {
    wx.setTabBarItem({ index, text: t(key), fail: noop });
  });
}
