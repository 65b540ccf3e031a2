import { api, messageOf } from '../api/client';
import { getSettings } from '../config';
import { t } from '../i18n/index';
import { chooseImage, compressImage, toast } from './wx-async';

/** The reference photo's fields of a page's data. */
export interface PhotoFields {
  photoPath: string;
  imageId: string;
  uploading: boolean;
  errorText: string;
}

/** What a page with a reference photo offers the helper below. */
export interface PhotoPage {
  readonly data: PhotoFields;
  setData(changes: Partial<PhotoFields>): void;
  showError(message: string): void;
}

/**
 * Picks one photo (wx.chooseMedia), checks its type and size, shows it at once and uploads it
 * (recompressed above `compressAboveBytes`): the page's `imageId` once the upload is done, or its
 * error. A newer pick wins over an upload still running for an older one.
 */
export async function choosePhotoFor(page: PhotoPage): Promise<void> {
  let chosen;
  try {
    chosen = await chooseImage();
  } catch (error) {
    toast(messageOf(error));
    return;
  }
  if (!chosen) return;
  if (chosen.fileType !== 'image') return page.showError(t('create_error_photo_type'));
  const maxBytes = getSettings().maxPhotoBytes;
  if (chosen.size > maxBytes) return page.showError(t('create_error_photo_too_large', { max: Math.floor(maxBytes / (1024 * 1024)) }));
  const path = chosen.tempFilePath;
  page.setData({ photoPath: path, imageId: '', uploading: true, errorText: '' });
  try {
    const upload = chosen.size > getSettings().compressAboveBytes ? await compressImage(path, 70) : path;
    const imageId = await api.uploadImage(upload);
    if (page.data.photoPath === path) page.setData({ imageId, uploading: false });
  } catch (error) {
    if (page.data.photoPath !== path) return;
    page.setData({ photoPath: '', imageId: '', uploading: false });
    page.showError(messageOf(error));
  }
}
