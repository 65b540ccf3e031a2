/**
 * WeChat's message push (消息推送) to a server of ours, in plaintext mode: the URL check (GET with
 * `echostr`) and the events it POSTs (`wxa_media_check` among them), as JSON or XML. Every request
 * carries `signature = sha1(sort([token, timestamp, nonce]).join(''))` in the query. Safe mode
 * (`encrypt_type=aes`, AES-encrypted bodies) is not supported: the caller refuses it.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** Largest push body read (a media-check event is well under 4 KB). */
export const WECHAT_PUSH_MAX_BYTES = 64 * 1024;

const QUERY_PART = /^[A-Za-z0-9._-]{1,64}$/;

/** sha1 of the token, timestamp and nonce sorted and joined, as WeChat computes it (hex). */
export function wechatPushSignature(token: string, timestamp: string, nonce: string): string {
  return createHash('sha1').update([token, timestamp, nonce].sort().join('')).digest('hex');
}

/** Whether a push's `signature`, `timestamp` and `nonce` were made with our token (constant time). */
export function verifyWeChatPushSignature(token: string, q: { signature?: unknown; timestamp?: unknown; nonce?: unknown }): boolean {
  const { signature, timestamp, nonce } = q;
  if (typeof signature !== 'string' || typeof timestamp !== 'string' || typeof nonce !== 'string') return false;
  if (!/^[0-9a-f]{40}$/i.test(signature) || !QUERY_PART.test(timestamp) || !QUERY_PART.test(nonce)) return false;
  const want = Buffer.from(wechatPushSignature(token, timestamp, nonce), 'hex');
  return timingSafeEqual(want, Buffer.from(signature.toLowerCase(), 'hex'));
}

export class WeChatPushParseError extends Error {
  readonly code = 'bad_push_body';
}

/**
 * A pushed body as a plain object: JSON as it is; XML (`<xml>…</xml>`, WeChat's flat format with
 * CDATA) with each element's text, nested elements as objects, repeated ones as arrays, and
 * the documented numeric fields as numbers. No DTDs, entities beyond the five predefined, attributes or namespaces.
 */
export function parseWeChatPushBody(raw: Buffer | string, contentType = ''): Record<string, unknown> {
  const text = (typeof raw === 'string' ? raw : raw.toString('utf8')).trim();
  if (text.length > WECHAT_PUSH_MAX_BYTES) throw new WeChatPushParseError('push body too large');
  const looksXml = text.startsWith('<') || /xml/i.test(contentType);
  if (!looksXml) {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      throw new WeChatPushParseError('push body is neither JSON nor XML');
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new WeChatPushParseError('push body is not an object');
    return v as Record<string, unknown>;
  }
  return parseFlatXml(text);
}

/** The fields of WeChat's events that are numbers (everything else stays text, e.g. an all-digit trace_id). */
const NUMERIC = new Set(['CreateTime', 'version', 'errcode', 'label', 'prob', 'level']);
const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function parseFlatXml(text: string): Record<string, unknown> {
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) throw new WeChatPushParseError('DTDs are not accepted');
  let i = 0;
  const body = text.replace(/^<\?xml[^>]*\?>\s*/, '');
  const fail = (why: string): never => {
    throw new WeChatPushParseError(`bad XML: ${why}`);
  };
  // Returns the children of an element (an object) or its text, up to its closing tag.
  const content = (name: string, depth: number): unknown => {
    if (depth > 8) fail('nested too deeply');
    const out: Record<string, unknown> = {};
    let textOut = '';
    let hasChild = false;
    for (;;) {
      if (i >= body.length) fail(`<${name}> is not closed`);
      if (body.startsWith('<![CDATA[', i)) {
        const end = body.indexOf(']]>', i + 9);
        if (end < 0) fail('CDATA not closed');
        textOut += body.slice(i + 9, end);
        i = end + 3;
      } else if (body.startsWith('</', i)) {
        const end = body.indexOf('>', i);
        if (end < 0 || body.slice(i + 2, end).trim() !== name) fail(`</${name}> expected`);
        i = end + 1;
        if (hasChild) return out;
        return textOut.trim();
      } else if (body[i] === '<') {
        const m = /^<([A-Za-z_][A-Za-z0-9_.-]{0,63})\s*(\/?)>/.exec(body.slice(i, i + 80));
        if (m === null) fail('unexpected tag');
        const [tag, child, selfClosing] = m as unknown as [string, string, string];
        i += tag.length;
        const inner = selfClosing === '/' ? '' : content(child, depth + 1);
        const value = NUMERIC.has(child) && typeof inner === 'string' && /^-?\d{1,15}$/.test(inner) ? Number(inner) : inner;
        hasChild = true;
        const prev = out[child];
        out[child] = prev === undefined ? value : Array.isArray(prev) ? [...(prev as unknown[]), value] : [prev, value];
      } else {
        const next = body.indexOf('<', i);
        const chunk = body.slice(i, next < 0 ? body.length : next);
        textOut += chunk.replace(/&(lt|gt|amp|quot|apos);/g, (_, e: string) => ENTITIES[e] ?? '');
        i += chunk.length;
      }
    }
  };
  if (!body.startsWith('<xml>')) fail('the root element must be <xml>');
  i = 5;
  const root = content('xml', 0);
  if (body.slice(i).trim() !== '') fail('text after </xml>');
  if (root === null || typeof root !== 'object') fail('empty <xml>');
  const obj = root as Record<string, unknown>;
  // A media-check event's `detail` is a list even when it has one entry.
  if (obj.detail !== undefined && !Array.isArray(obj.detail)) obj.detail = [obj.detail];
  return obj;
}
