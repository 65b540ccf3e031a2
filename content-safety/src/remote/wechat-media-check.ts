/**
 * WeChat `mediaCheckAsync` v2 for images. WeChat downloads `media_url` itself (so the URL must be
 * public), and pushes the verdict later as the event `wxa_media_check`, matched by `trace_id`.
 *
 * - `submit()` returns the trace_id.
 * - `handlePushEvent(payload)` is called by whatever receives WeChat's pushes (the bot's message
 *   endpoint, after it checked the signature and decrypted/parsed the body): it records the
 *   verdict and resolves a waiter.
 * - `waitForVerdict(traceId)` resolves with the verdict, or with 'review' after the timeout: an
 *   image whose verdict never came is not silently allowed.
 * Verdicts that arrive before anyone waits are kept (bounded) so the race does not lose them.
 * Pending state is in this process's memory: run the push receiver in the process that submits,
 * or forward events to it (see the report/README note on multi-process use).
 */
import { z } from 'zod';
import sharp from 'sharp';
import type { ContentModerator, ModerationContext, ModerationHit, ModerationVerdict } from '@framecast/core';
import type { WeChatApiClient } from './wechat-api-client.ts';
import { WeChatApiError } from './wechat-api-error.ts';
import { pendingMediaCheckVerdict } from './media-check-scope.ts';
import {
  actionForSuggest,
  categoryForWeChatLabel,
  WeChatCheckDetailSchema,
  type WeChatMsgSecCheckModerator,
  type WeChatScene,
} from './wechat-msg-sec-check.ts';

export const MediaCheckSubmitResponseSchema = z.looseObject({
  errcode: z.number().optional(),
  errmsg: z.string().optional(),
  trace_id: z.string().min(1),
});

/** The pushed event, as JSON (the documented field names). */
export const WxaMediaCheckEventSchema = z.looseObject({
  ToUserName: z.string().optional(),
  FromUserName: z.string().optional(),
  CreateTime: z.number().optional(),
  MsgType: z.literal('event'),
  Event: z.literal('wxa_media_check'),
  appid: z.string().optional(),
  trace_id: z.string().min(1),
  version: z.union([z.number(), z.string()]).optional(),
  errcode: z.number().optional(),
  errmsg: z.string().optional(),
  detail: z.array(WeChatCheckDetailSchema).optional(),
  result: z.object({ suggest: z.enum(['risky', 'pass', 'review']), label: z.number() }).optional(),
});
export type WxaMediaCheckEvent = z.infer<typeof WxaMediaCheckEventSchema>;

export type PushEventOutcome =
  | { matched: true; traceId: string; verdict: ModerationVerdict }
  /** Not a media-check event, another appid's, or a trace nobody is waiting for (recorded anyway). */
  | { matched: false; reason: 'not_media_check' | 'other_appid' | 'unknown_trace'; traceId?: string };

export interface WeChatMediaCheckOptions {
  client: WeChatApiClient;
  scene?: WeChatScene;
  /** How long to wait for the pushed verdict before answering 'review'; default 60 s. */
  resultTimeoutMs?: number;
  /** Verdicts kept for traces nobody waits for yet; default 10 000. */
  maxRecorded?: number;
}

export const MEDIA_CHECK_SOURCE = 'wechat-mediacheckasync';

interface Waiter {
  resolve: (v: ModerationVerdict) => void;
  timer: NodeJS.Timeout;
}

export class WeChatMediaCheck {
  readonly #client: WeChatApiClient;
  readonly #scene: WeChatScene;
  readonly #timeoutMs: number;
  readonly #maxRecorded: number;
  readonly #waiters = new Map<string, Waiter[]>();
  readonly #recorded = new Map<string, ModerationVerdict>();

  constructor(opts: WeChatMediaCheckOptions) {
    this.#client = opts.client;
    this.#scene = opts.scene ?? 2;
    this.#timeoutMs = opts.resultTimeoutMs ?? 60_000;
    this.#maxRecorded = opts.maxRecorded ?? 10_000;
  }

  /** Asks WeChat to check the image at a public URL; returns the trace_id of the pending check. */
  async submit(params: { mediaUrl: string; openid: string | undefined; scene?: WeChatScene }, signal?: AbortSignal): Promise<string> {
    if (!params.openid) throw new WeChatApiError('openid_required', '/wxa/media_check_async', 'mediaCheckAsync v2 needs the user’s openid');
    let u: URL;
    try {
      u = new URL(params.mediaUrl);
    } catch {
      throw new TypeError('mediaUrl must be an absolute http(s) URL');
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError('mediaUrl must be an absolute http(s) URL');
    const json = await this.#client.post(
      '/wxa/media_check_async',
      { media_url: params.mediaUrl, media_type: 2, version: 2, scene: params.scene ?? this.#scene, openid: params.openid },
      signal,
    );
    const parsed = MediaCheckSubmitResponseSchema.safeParse(json);
    if (!parsed.success) throw new WeChatApiError('bad_response', '/wxa/media_check_async', 'no trace_id in response');
    return parsed.data.trace_id;
  }

  /** The verdict for a trace, when its push has arrived; 'review' once `timeoutMs` passes without one. */
  waitForVerdict(traceId: string, timeoutMs = this.#timeoutMs): Promise<ModerationVerdict> {
    const known = this.#recorded.get(traceId);
    if (known) return Promise.resolve(known);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        resolve,
        timer: setTimeout(() => {
          this.#removeWaiter(traceId, waiter);
          resolve({ action: 'review', hits: [{ category: 'remote-timeout', match: 'wechat-media-check-no-result' }], source: MEDIA_CHECK_SOURCE });
        }, timeoutMs),
      };
      const list = this.#waiters.get(traceId) ?? [];
      list.push(waiter);
      this.#waiters.set(traceId, list);
    });
  }

  /** submit() then waitForVerdict(). */
  async check(params: { mediaUrl: string; openid: string | undefined; scene?: WeChatScene }, signal?: AbortSignal): Promise<ModerationVerdict> {
    return this.waitForVerdict(await this.submit(params, signal));
  }

  /** The recorded verdict for a trace, if its push arrived. */
  verdictFor(traceId: string): ModerationVerdict | undefined {
    return this.#recorded.get(traceId);
  }

  get pendingCount(): number {
    return this.#waiters.size;
  }

  /** Feed a pushed event (parsed JSON). Unknown shapes are ignored, never thrown at the caller. */
  handlePushEvent(payload: unknown): PushEventOutcome {
    const parsed = WxaMediaCheckEventSchema.safeParse(payload);
    if (!parsed.success) return { matched: false, reason: 'not_media_check' };
    const ev = parsed.data;
    if (ev.appid !== undefined && ev.appid !== this.#client.appId) return { matched: false, reason: 'other_appid', traceId: ev.trace_id };
    const verdict = verdictFromEvent(ev);
    this.#recorded.set(ev.trace_id, verdict);
    while (this.#recorded.size > this.#maxRecorded) {
      const oldest = this.#recorded.keys().next().value;
      if (oldest === undefined) break;
      this.#recorded.delete(oldest);
    }
    const waiters = this.#waiters.get(ev.trace_id);
    if (!waiters) return { matched: false, reason: 'unknown_trace', traceId: ev.trace_id };
    this.#waiters.delete(ev.trace_id);
    for (const w of waiters) {
      clearTimeout(w.timer);
      w.resolve(verdict);
    }
    return { matched: true, traceId: ev.trace_id, verdict };
  }

  /** Resolves every waiter with 'review' and clears timers (shutdown). */
  close(): void {
    for (const [, list] of this.#waiters) {
      for (const w of list) {
        clearTimeout(w.timer);
        w.resolve({ action: 'review', hits: [{ category: 'remote-timeout', match: 'shutdown' }], source: MEDIA_CHECK_SOURCE });
      }
    }
    this.#waiters.clear();
  }

  #removeWaiter(traceId: string, waiter: Waiter): void {
    const list = this.#waiters.get(traceId)?.filter((w) => w !== waiter) ?? [];
    if (list.length === 0) this.#waiters.delete(traceId);
    else this.#waiters.set(traceId, list);
  }
}

export function verdictFromEvent(ev: WxaMediaCheckEvent): ModerationVerdict {
  if ((ev.errcode ?? 0) !== 0 || !ev.result) {
    // WeChat could not check it (e.g. could not download the URL): a human looks.
    return { action: 'review', hits: [{ category: 'remote-error', match: `wechat-errcode:${ev.errcode ?? 'none'}` }], source: MEDIA_CHECK_SOURCE };
  }
  const action = actionForSuggest(ev.result.suggest);
  const hits: ModerationHit[] = [];
  if (action !== 'allow') {
    const hit: ModerationHit = { category: categoryForWeChatLabel(ev.result.label), match: `wechat-label:${ev.result.label}` };
    const prob = ev.detail?.find((d) => d.suggest !== 'pass' && typeof d.prob === 'number')?.prob;
    if (prob !== undefined) hit.score = prob / 100;
    hits.push(hit);
  }
  return { action, hits, source: MEDIA_CHECK_SOURCE };
}

/** Puts a JPEG somewhere WeChat can download it and returns its public URL. */
export type PublishImage = (jpeg: Buffer, ctx: ModerationContext | undefined) => Promise<string>;

/**
 * A ContentModerator over both WeChat checks: text through msgSecCheck, images (already decoded
 * safely) through mediaCheckAsync after publishing them as JPEG with `publishImage`.
 */
export class WeChatModerator implements ContentModerator {
  readonly #text: WeChatMsgSecCheckModerator;
  readonly #media: WeChatMediaCheck | undefined;
  readonly #publish: PublishImage | undefined;
  readonly #defer: boolean;

  /**
   * With `deferImageVerdicts`, moderateImage submits the check and answers at once with a 'review'
   * verdict naming the trace_id (see media-check-scope.ts): the job is held, not the request.
   * Without it, moderateImage waits for the pushed verdict (or the timeout) before answering.
   */
  constructor(text: WeChatMsgSecCheckModerator, media?: WeChatMediaCheck, publishImage?: PublishImage, opts: { deferImageVerdicts?: boolean } = {}) {
    this.#text = text;
    this.#media = media;
    this.#publish = publishImage;
    this.#defer = opts.deferImageVerdicts === true;
  }

  get mediaCheck(): WeChatMediaCheck | undefined {
    return this.#media;
  }

  moderateText(text: string, ctx?: ModerationContext): Promise<ModerationVerdict> {
    return this.#text.moderateText(text, ctx);
  }

  async moderateImage(image: { data: Uint8Array; width: number; height: number }, ctx?: ModerationContext): Promise<ModerationVerdict> {
    if (!this.#media || !this.#publish) throw new Error('image checks need a media checker and publishImage');
    const channels = image.data.length / (image.width * image.height);
    if (channels !== 3 && channels !== 4) throw new RangeError('image data must be RGB or RGBA');
    const jpeg = await sharp(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength), {
      raw: { width: image.width, height: image.height, channels },
    })
      .removeAlpha()
      .jpeg({ quality: 90 })
      .toBuffer();
    const url = await this.#publish(jpeg, ctx);
    if (!this.#defer) return this.#media.check({ mediaUrl: url, openid: ctx?.openid });
    return pendingMediaCheckVerdict(await this.#media.submit({ mediaUrl: url, openid: ctx?.openid }), MEDIA_CHECK_SOURCE);
  }
}
