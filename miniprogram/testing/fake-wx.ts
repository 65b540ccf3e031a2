import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The `wx` APIs the mini program calls, for tests: network calls (request, uploadFile,
 * downloadFile) really go over HTTP to the given server, as WeChat's client would; the rest
 * (login, chooseMedia, storage, toasts, navigation, album) are recorded fakes the test steers.
 */

type Callbacks<T> = { success?: (res: T) => void; fail?: (err: { errMsg: string }) => void; complete?: () => void };
type AnyOptions = Record<string, unknown> & Callbacks<never>;

interface HttpResult {
  statusCode: number;
  body: Buffer;
  header: Record<string, string>;
}

function http(url: string, method: string, headers: Record<string, string>, body: Buffer | undefined, timeout: number): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers: body ? { ...headers, 'content-length': String(body.length) } : headers, timeout }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const header: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') header[k] = v;
        resolve({ statusCode: res.statusCode ?? 0, body: Buffer.concat(chunks), header });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

function finish<T>(options: Callbacks<T>, outcome: { ok: true; res: T } | { ok: false; errMsg: string }): void {
  // WeChat calls back asynchronously.
  setTimeout(() => {
    if (outcome.ok) options.success?.(outcome.res);
    else options.fail?.({ errMsg: outcome.errMsg });
    options.complete?.();
  }, 0);
}

export interface ChosenFile {
  tempFilePath: string;
  size: number;
  fileType: 'image' | 'video';
}

export class FakeWx {
  readonly storage = new Map<string, unknown>();
  readonly toasts: string[] = [];
  readonly modals: string[] = [];
  readonly switchedTo: string[] = [];
  readonly titles: string[] = [];
  /** Pages opened with wx.navigateTo (not tabs). */
  readonly navigatedTo: string[] = [];
  readonly tabTexts: string[] = [];
  readonly savedToAlbum: string[] = [];
  readonly downloads: { url: string; authorization: string | undefined }[] = [];
  /** The user wx.login logs in as (its code is `code:<user>`, unless `codeFor` makes it). */
  user = 'alice';
  /** Makes the login code of a user (a fake of WeChat's code2Session issues real ones). */
  codeFor: (user: string) => string = (user) => `code:${user}`;
  /** What the next wx.chooseMedia picks; undefined: the user backs out. */
  nextPhoto: ChosenFile | undefined;
  /** Index the next action sheet answers with; undefined: the user cancels. */
  nextActionSheetIndex: number | undefined;
  /** Whether the user allowed saving to the album. */
  albumAllowed = true;
  envVersion: 'develop' | 'trial' | 'release' = 'develop';
  /** Templates wx.requestSubscribeMessage was asked for, and what the user answers. */
  readonly subscribeAsked: string[] = [];
  /** Photos wx.compressImage was asked to compress. */
  readonly compressed: string[] = [];
  subscribeAnswer: 'accept' | 'reject' = 'accept';
  readonly dir = mkdtempSync(join(tmpdir(), 'fake-wx-'));

  /** A photo file on disk, as chooseMedia's temp file. */
  photo(bytes: Buffer, fileType: 'image' | 'video' = 'image'): ChosenFile {
    const tempFilePath = join(this.dir, `photo-${randomUUID().slice(0, 8)}.${fileType === 'image' ? 'png' : 'mp4'}`);
    writeFileSync(tempFilePath, bytes);
    return { tempFilePath, size: bytes.length, fileType };
  }

  /** Forgets what was recorded and steered (a new test). */
  reset(): void {
    for (const list of [this.toasts, this.modals, this.switchedTo, this.navigatedTo, this.titles, this.tabTexts, this.savedToAlbum, this.downloads, this.subscribeAsked, this.compressed]) list.length = 0;
    this.subscribeAnswer = 'accept';
    this.nextPhoto = undefined;
    this.nextActionSheetIndex = undefined;
    this.albumAllowed = true;
    this.envVersion = 'develop';
  }

  lastToast(): string | undefined {
    return this.toasts.at(-1);
  }

  /** Open chunked requests (the progress streams). */
  readonly streams = new Set<string>();

  /**
   * wx.request({enableChunked: true}): each piece of the body goes to onChunkReceived listeners as
   * an ArrayBuffer as it arrives (split anywhere, even inside a character, as TCP may); success
   * when the body ends; abort() closes the connection.
   */
  private chunkedRequest(o: AnyOptions & { url: string; method?: string }, headers: Record<string, string>): object {
    const listeners: ((res: { data: ArrayBuffer }) => void)[] = [];
    let done = false;
    const end = (outcome: { ok: true; res: never } | { ok: false; errMsg: string }): void => {
      if (done) return;
      done = true;
      this.streams.delete(o.url);
      finish(o, outcome);
    };
    this.streams.add(o.url);
    const req = httpRequest(o.url, { method: o.method ?? 'GET', headers }, (res) => {
      res.on('data', (chunk: Buffer) => {
        // Split every chunk in two at an odd byte, to exercise the decoder on split characters.
        const cut = Math.max(1, Math.floor(chunk.length / 2) | 1);
        for (const piece of [chunk.subarray(0, cut), chunk.subarray(cut)]) {
          if (piece.length === 0) continue;
          const data = piece.buffer.slice(piece.byteOffset, piece.byteOffset + piece.length) as ArrayBuffer;
          setTimeout(() => {
            for (const l of listeners) l({ data });
          }, 0);
        }
      });
      res.on('end', () => setTimeout(() => end({ ok: true, res: { statusCode: res.statusCode ?? 0, data: new ArrayBuffer(0), header: {} } as never }), 0));
      res.on('error', (err: Error) => end({ ok: false, errMsg: `request:fail ${err.message}` }));
    });
    req.on('error', (err: Error) => end({ ok: false, errMsg: `request:fail ${err.message}` }));
    req.end();
    return {
      onChunkReceived: (listener: (res: { data: ArrayBuffer }) => void) => {
        listeners.push(listener);
      },
      offChunkReceived: () => undefined,
      abort: () => {
        req.destroy();
        end({ ok: false, errMsg: 'request:fail abort' });
      },
    };
  }

  /** The API object to merge into the global `wx`. */
  api(): Record<string, unknown> {
    return {
      request: (o: AnyOptions & { url: string; method?: string; header?: Record<string, string>; data?: unknown; timeout?: number; enableChunked?: boolean }) => {
        const headers = { ...(o.header ?? {}) };
        const body = o.data === undefined ? undefined : Buffer.from(typeof o.data === 'string' ? o.data : JSON.stringify(o.data));
        if (o.enableChunked) return this.chunkedRequest(o, headers);
        http(o.url, o.method ?? 'GET', headers, body, o.timeout ?? 60_000).then(
          (r) => {
            const text = r.body.toString('utf8');
            let data: unknown = text;
            try {
              data = JSON.parse(text);
            } catch {
              // WeChat leaves a non-JSON body as text.
            }
            finish(o, { ok: true, res: { statusCode: r.statusCode, data, header: r.header } as never });
          },
          (err: Error) => finish(o, { ok: false, errMsg: `request:fail ${err.message}` }),
        );
        return { abort: () => undefined, onChunkReceived: () => undefined };
      },
      uploadFile: (o: AnyOptions & { url: string; filePath: string; name: string; header?: Record<string, string>; formData?: Record<string, string>; timeout?: number }) => {
        let file: Buffer;
        try {
          file = readFileSync(o.filePath);
        } catch {
          finish(o, { ok: false, errMsg: 'uploadFile:fail file not found' });
          return { abort: () => undefined };
        }
        const boundary = `----wxfake${randomUUID().replace(/-/g, '')}`;
        const name = o.filePath.split('/').at(-1) ?? 'file';
        const parts: Buffer[] = [];
        for (const [k, v] of Object.entries(o.formData ?? {})) parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
        parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${o.name}"; filename="${name}"\r\nContent-Type: application/octet-stream\r\n\r\n`), file, Buffer.from(`\r\n--${boundary}--\r\n`));
        const headers = { ...(o.header ?? {}), 'content-type': `multipart/form-data; boundary=${boundary}` };
        http(o.url, 'POST', headers, Buffer.concat(parts), o.timeout ?? 60_000).then(
          (r) => finish(o, { ok: true, res: { statusCode: r.statusCode, data: r.body.toString('utf8') } as never }),
          (err: Error) => finish(o, { ok: false, errMsg: `uploadFile:fail ${err.message}` }),
        );
        return { abort: () => undefined, onProgressUpdate: () => undefined };
      },
      downloadFile: (o: AnyOptions & { url: string; header?: Record<string, string>; timeout?: number }) => {
        this.downloads.push({ url: o.url, authorization: o.header?.Authorization });
        http(o.url, 'GET', { ...(o.header ?? {}) }, undefined, o.timeout ?? 60_000).then(
          (r) => {
            const tempFilePath = join(this.dir, `download-${randomUUID().slice(0, 8)}`);
            writeFileSync(tempFilePath, r.body);
            finish(o, { ok: true, res: { statusCode: r.statusCode, tempFilePath } as never });
          },
          (err: Error) => finish(o, { ok: false, errMsg: `downloadFile:fail ${err.message}` }),
        );
        return { abort: () => undefined };
      },
      login: (o: AnyOptions) => finish(o, { ok: true, res: { code: this.codeFor(this.user), errMsg: 'login:ok' } as never }),
      chooseMedia: (o: AnyOptions) => {
        const photo = this.nextPhoto;
        if (!photo) return finish(o, { ok: false, errMsg: 'chooseMedia:fail cancel' });
        finish(o, { ok: true, res: { type: photo.fileType, tempFiles: [{ ...photo, duration: 0, height: 1, width: 1, thumbTempFilePath: '' }] } as never });
      },
      saveVideoToPhotosAlbum: (o: AnyOptions & { filePath: string }) => {
        if (!this.albumAllowed) return finish(o, { ok: false, errMsg: 'saveVideoToPhotosAlbum:fail auth deny' });
        this.savedToAlbum.push(o.filePath);
        finish(o, { ok: true, res: { errMsg: 'saveVideoToPhotosAlbum:ok' } as never });
      },
      showActionSheet: (o: AnyOptions & { itemList: string[] }) => {
        const index = this.nextActionSheetIndex;
        if (index === undefined) return finish(o, { ok: false, errMsg: 'showActionSheet:fail cancel' });
        finish(o, { ok: true, res: { tapIndex: index } as never });
      },
      showModal: (o: AnyOptions & { content?: string }) => {
        this.modals.push(o.content ?? '');
        finish(o, { ok: true, res: { confirm: false, cancel: true } as never });
      },
      showToast: (o: { title: string }) => {
        this.toasts.push(o.title);
      },
      requestSubscribeMessage: (o: AnyOptions & { tmplIds: string[] }) => {
        this.subscribeAsked.push(...o.tmplIds);
        finish(o, { ok: true, res: Object.fromEntries(o.tmplIds.map((id) => [id, this.subscribeAnswer])) as never });
      },
      compressImage: (o: AnyOptions & { src: string; quality?: number }) => {
        this.compressed.push(o.src);
        const tempFilePath = join(this.dir, `compressed-${randomUUID().slice(0, 8)}.png`);
        try {
          // The fake keeps the image as it is: the test only needs to see the smaller copy sent.
          writeFileSync(tempFilePath, readFileSync(o.src));
        } catch {
          return finish(o, { ok: false, errMsg: 'compressImage:fail file not found' });
        }
        finish(o, { ok: true, res: { tempFilePath } as never });
      },
      showLoading: () => undefined,
      hideLoading: () => undefined,
      stopPullDownRefresh: () => undefined,
      openSetting: () => undefined,
      switchTab: (o: { url: string }) => {
        this.switchedTo.push(o.url);
      },
      navigateTo: (o: { url: string }) => {
        this.navigatedTo.push(o.url);
      },
      setNavigationBarTitle: (o: { title: string }) => {
        this.titles.push(o.title);
      },
      setTabBarItem: (o: { index: number; text?: string }) => {
        this.tabTexts[o.index] = o.text ?? '';
      },
      getStorageSync: (key: string) => (this.storage.has(key) ? structuredClone(this.storage.get(key)) : ''),
      setStorageSync: (key: string, value: unknown) => {
        this.storage.set(key, structuredClone(value));
      },
      removeStorageSync: (key: string) => {
        this.storage.delete(key);
      },
      getAccountInfoSync: () => ({ miniProgram: { appId: 'wxtest', envVersion: this.envVersion, version: '' } }),
      getAppBaseInfo: () => ({ language: 'zh_CN', SDKVersion: '3.3.4' }),
    };
  }
}
