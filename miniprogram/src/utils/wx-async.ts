/** The callback-style wx APIs the app uses, as promises. */

export interface HttpAnswer {
  statusCode: number;
  data: unknown;
}

/** wx.request has no PATCH: the API takes POST where it takes PATCH. */
export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export function request(url: string, method: Method, header: Record<string, string>, data: object | undefined, timeout: number): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const options: WechatMiniprogram.RequestOption = {
      url,
      method,
      header,
      timeout,
      dataType: 'json',
      success: (res) => resolve({ statusCode: res.statusCode, data: res.data }),
      fail: (err) => reject(new Error(err.errMsg)),
    };
    if (data !== undefined) options.data = data as WechatMiniprogram.IAnyObject;
    wx.request(options);
  });
}

/** wx.uploadFile answers the body as text: it is parsed as JSON here (or left undefined). */
export function uploadFile(url: string, filePath: string, name: string, header: Record<string, string>, timeout: number): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    wx.uploadFile({
      url,
      filePath,
      name,
      header,
      timeout,
      success: (res) => {
        let data: unknown;
        try {
          data = JSON.parse(res.data);
        } catch {
          data = undefined;
        }
        resolve({ statusCode: res.statusCode, data });
      },
      fail: (err) => reject(new Error(err.errMsg)),
    });
  });
}

export function downloadFile(url: string, header: Record<string, string>, timeout: number): Promise<{ statusCode: number; tempFilePath: string }> {
  return new Promise((resolve, reject) => {
    wx.downloadFile({
      url,
      header,
      timeout,
      success: (res) => resolve({ statusCode: res.statusCode, tempFilePath: res.tempFilePath }),
      fail: (err) => reject(new Error(err.errMsg)),
    });
  });
}

export function login(): Promise<string> {
  return new Promise((resolve, reject) => {
    wx.login({
      success: (res) => (res.code ? resolve(res.code) : reject(new Error('wx.login gave no code'))),
      fail: (err) => reject(new Error(err.errMsg)),
    });
  });
}

export function saveVideoToPhotosAlbum(filePath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    wx.saveVideoToPhotosAlbum({ filePath, success: () => resolve(), fail: (err) => reject(new Error(err.errMsg)) });
  });
}

export interface ChosenMedia {
  tempFilePath: string;
  size: number;
  fileType: string;
}

/** One photo from the album or the camera; undefined when the user backs out. */
export function chooseImage(): Promise<ChosenMedia | undefined> {
  return new Promise((resolve, reject) => {
    wx.chooseMedia({
      count: 1,
      mediaType: ['image'],
      sourceType: ['album', 'camera'],
      sizeType: ['compressed'],
      success: (res) => {
        const file = res.tempFiles[0];
        resolve(file ? { tempFilePath: file.tempFilePath, size: file.size, fileType: file.fileType ?? res.type } : undefined);
      },
      fail: (err) => (/cancel/.test(err.errMsg) ? resolve(undefined) : reject(new Error(err.errMsg))),
    });
  });
}

export function toast(title: string, icon: 'none' | 'success' | 'error' = 'none'): void {
  wx.showToast({ title, icon, duration: 2500 });
}

/** Asks to send one subscription message of this template; true when the user accepted. */
export function requestSubscribe(templateId: string): Promise<boolean> {
  return new Promise((resolve) => {
    wx.requestSubscribeMessage({
      tmplIds: [templateId],
      success: (res) => resolve((res as unknown as Record<string, unknown>)[templateId] === 'accept'),
      fail: () => resolve(false),
    });
  });
}

/** A smaller JPEG of a photo (the original path when compression fails). */
export function compressImage(src: string, quality: number): Promise<string> {
  return new Promise((resolve) => {
    wx.compressImage({ src, quality, success: (res) => resolve(res.tempFilePath), fail: () => resolve(src) });
  });
}
