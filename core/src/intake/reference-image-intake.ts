import type { LocalizedText } from '../i18n/messages.ts';
import type { Attachment } from '../model/chat-request.schema.ts';
import type { ReferenceImage } from '../model/generation-spec.schema.ts';

export type ReferenceImageOutcome =
  | { ok: true; image: ReferenceImage; pixels: { data: Uint8Array; width: number; height: number } }
  | { ok: false; code: string; message: LocalizedText };

/**
 * The port through which intake turns an attachment into a stored, checked reference image.
 * content-safety implements it (SSRF-guarded fetch, safe decoding, blob storage).
 */
export interface ReferenceImageIntake {
  accept(attachment: Attachment, ctx: { jobId: string }): Promise<ReferenceImageOutcome>;
}
