/**
 * WeChat `msgSecCheck` v2 as a ContentModerator for text. Off unless a caller builds one (see
 * createWeChatModerator). Text longer than 2500 characters is split into chunks at natural breaks
 * and each chunk is checked; the strictest verdict wins and checking stops at the first block.
 */
import { z } from 'zod';
import type { ContentModerator, ModerationAction, ModerationContext, ModerationHit, ModerationVerdict } from '@framecast/core';
import type { WeChatApiClient } from './wechat-api-client.ts';
import { WeChatApiError } from './wechat-api-error.ts';

export const MSG_SEC_CHECK_MAX_CHARS = 2500;

export type WeChatScene = 1 | 2 | 3 | 4;

const SuggestSchema = z.enum(['risky', 'pass', 'review']);
export type WeChatSuggest = z.infer<typeof SuggestSchema>;

export const WeChatCheckDetailSchema = z.looseObject({
  strategy: z.string().optional(),
  errcode: z.number().optional(),
  suggest: SuggestSchema.optional(),
  label: z.number().optional(),
  prob: z.number().optional(),
  level: z.number().optional(),
  keyword: z.string().optional(),
});

export const MsgSecCheckResponseSchema = z.looseObject({
  errcode: z.number().optional(),
  errmsg: z.string().optional(),
  trace_id: z.string().optional(),
  result: z.object({ suggest: SuggestSchema, label: z.number() }),
  detail: z.array(WeChatCheckDetailSchema).optional(),
});

/** WeChat's label numbers, as the category names the rest of Framecast uses. */
export const WECHAT_LABEL_CATEGORIES: Readonly<Record<number, string>> = {
  100: 'normal',
  10001: 'ads',
  20001: 'politics',
  20002: 'sexual',
  20003: 'abuse',
  20006: 'illegal',
  20008: 'fraud',
  20012: 'vulgar',
  20013: 'copyright',
  21000: 'other',
};

export function categoryForWeChatLabel(label: number): string {
  return WECHAT_LABEL_CATEGORIES[label] ?? 'other';
}

export function actionForSuggest(s: WeChatSuggest): ModerationAction {
  return s === 'risky' ? 'block' : s === 'review' ? 'review' : 'allow';
}

const SEVERITY: Record<ModerationAction, number> = { allow: 0, review: 1, block: 2 };
export function stricterAction(a: ModerationAction, b: ModerationAction): ModerationAction {
  return SEVERITY[b] > SEVERITY[a] ? b : a;
}

/**
 * Splits text into chunks of at most `max` code points (never inside a surrogate pair), breaking
 * at a newline, sentence end or space in the last fifth of a chunk when there is one.
 * Returns each chunk with its UTF-16 offset in the original text.
 */
export function splitForMsgSecCheck(text: string, max = MSG_SEC_CHECK_MAX_CHARS): Array<{ text: string; offset: number }> {
  const cps = Array.from(text);
  const out: Array<{ text: string; offset: number }> = [];
  let i = 0;
  let offset = 0;
  while (i < cps.length) {
    let end = Math.min(i + max, cps.length);
    if (end < cps.length) {
      const floor = i + Math.floor(max * 0.8);
      for (let j = end; j > floor; j--) {
        const c = cps[j - 1] ?? '';
        if (/[\n。！？!?.；;，, \t]/.test(c)) {
          end = j;
          break;
        }
      }
    }
    const chunk = cps.slice(i, end).join('');
    out.push({ text: chunk, offset });
    offset += chunk.length;
    i = end;
  }
  return out;
}

export interface WeChatTextModeratorOptions {
  client: WeChatApiClient;
  /** 1 profile, 2 comment, 3 forum, 4 social log; default 2. */
  scene?: WeChatScene;
}

export class WeChatMsgSecCheckModerator implements ContentModerator {
  readonly source = 'wechat-msgseccheck';
  readonly #client: WeChatApiClient;
  readonly #scene: WeChatScene;

  constructor(opts: WeChatTextModeratorOptions) {
    this.#client = opts.client;
    this.#scene = opts.scene ?? 2;
  }

  async moderateText(text: string, ctx?: ModerationContext): Promise<ModerationVerdict> {
    if (text.trim() === '') return { action: 'allow', hits: [], source: this.source };
    const openid = ctx?.openid;
    if (!openid) throw new WeChatApiError('openid_required', '/wxa/msg_sec_check', 'msgSecCheck v2 needs the user’s openid');
    let action: ModerationAction = 'allow';
    const hits: ModerationHit[] = [];
    for (const chunk of splitForMsgSecCheck(text)) {
      const json = await this.#client.post('/wxa/msg_sec_check', { version: 2, openid, scene: this.#scene, content: chunk.text });
      const parsed = MsgSecCheckResponseSchema.safeParse(json);
      if (!parsed.success) throw new WeChatApiError('bad_response', '/wxa/msg_sec_check', 'no result in response');
      const { result, detail } = parsed.data;
      const chunkAction = actionForSuggest(result.suggest);
      action = stricterAction(action, chunkAction);
      if (chunkAction !== 'allow') hits.push(...hitsFrom(result.label, detail ?? [], chunk));
      if (action === 'block') break;
    }
    return { action, hits, source: this.source };
  }
}

function hitsFrom(label: number, detail: Array<z.infer<typeof WeChatCheckDetailSchema>>, chunk: { text: string; offset: number }): ModerationHit[] {
  const category = categoryForWeChatLabel(label);
  const hits: ModerationHit[] = [];
  for (const d of detail) {
    if (d.suggest === 'pass' || d.suggest === undefined) continue;
    if (d.keyword) {
      const at = chunk.text.indexOf(d.keyword);
      const hit: ModerationHit = { category: categoryForWeChatLabel(d.label ?? label), match: d.keyword };
      if (at >= 0) {
        hit.start = chunk.offset + at;
        hit.end = chunk.offset + at + d.keyword.length;
      }
      hits.push(hit);
    }
  }
  if (hits.length === 0) {
    const prob = detail.find((d) => d.suggest !== 'pass' && typeof d.prob === 'number')?.prob;
    const hit: ModerationHit = { category, match: `wechat-label:${label}` };
    if (prob !== undefined) hit.score = prob / 100;
    hits.push(hit);
  }
  return hits;
}
