import { tAll, type Attachment, type BlobStore, type ReferenceImageIntake, type ReferenceImageOutcome } from '@framecast/core';
import type { SafeFetcher } from '../fetch/index.ts';
import { decodeImageSafely, fetchImageSafely, type DecodeImageOptions, type SafeImageResult } from '../image/index.ts';

export interface ReferenceImageIntakeOptions {
  store: BlobStore;
  /** The SSRF-guarded fetcher for attachment URLs. */
  fetcher: Pick<SafeFetcher, 'fetchBuffer'>;
  decode?: DecodeImageOptions;
}

const NO_SOURCE = tAll('image.no_source');

/**
 * Attachments → checked reference images: fetched through the SSRF guard (or read from the blob
 * store when the adapter stored them), decoded safely, re-encoded clean and stored by content hash.
 */
export function createReferenceImageIntake(o: ReferenceImageIntakeOptions): ReferenceImageIntake {
  return {
    async accept(att: Attachment): Promise<ReferenceImageOutcome> {
      let result: SafeImageResult;
      if (att.storageRef !== undefined) {
        result = await decodeImageSafely(await o.store.get(att.storageRef), o.decode);
      } else if (att.url !== undefined) {
        result = await fetchImageSafely(att.url, o.fetcher, o.decode);
      } else {
        return { ok: false, code: 'no_source', message: NO_SOURCE };
      }
      if (!result.ok) return { ok: false, code: result.code, message: result.message };
      const ext = result.normalizedFormat === 'jpeg' ? 'jpg' : 'png';
      const ref = `refs/${result.sha256}.${ext}`;
      if (!(await o.store.exists(ref))) await o.store.put(ref, result.normalized, `image/${result.normalizedFormat}`);
      return {
        ok: true,
        image: { ref, width: result.width, height: result.height, sha256: result.sha256 },
        pixels: { data: result.rgb, width: result.width, height: result.height },
      };
    },
  };
}
