/**
 * A fetcher for URLs that users (or a hosted API) hand us: reference images, result videos.
 *
 * The address is checked at connect time. Node's built-in fetch ignores `http.Agent`, and a
 * lookup hook alone is bypassed by literal-IP URLs, so this module uses node:http/https directly:
 * - literal IP hosts (after WHATWG URL normalisation: 2130706433, 0x7f.1, 0177.0.0.1, 127.1 all
 *   become 127.0.0.1) are checked before any socket is opened;
 * - host names resolve through a `lookup` passed to the socket, which checks every address it
 *   returns before the socket connects to it, so there is no gap for DNS rebinding between a
 *   check and a connect: the checked address is the one connected to.
 * Every redirect hop goes through the same gate. Bodies are capped while streaming (and by
 * Content-Length first); a compressed body is decompressed with the same cap on its output.
 */
import { lookup as dnsLookup } from 'node:dns';
import { createWriteStream } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import type { IncomingMessage, ClientRequest } from 'node:http';
import type { LookupFunction, Socket } from 'node:net';
import { isIP } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Transform, Writable } from 'node:stream';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { createAddressPolicy } from './ip-address-policy.ts';
import type { AddressPolicy } from './ip-address-policy.ts';
import { SafeFetchError } from './safe-fetch-error.ts';

export interface ResolvedAddress {
  address: string;
  /** 4 or 6 */
  family: number;
}

/** Resolves a host name to all its addresses. Injectable so tests never need a real DNS. */
export type SafeLookup = (hostname: string) => Promise<ResolvedAddress[]>;

export interface SafeFetchOptions {
  /** Cap on the body (after decompression, and on the wire). */
  maxBytes: number;
  /** Total time for the whole fetch, redirects and body included. */
  timeoutMs: number;
  /** DNS + TCP (+ TLS) connect time per hop; default min(timeoutMs, 10 s). */
  connectTimeoutMs?: number;
  /** Longest silence on the socket once connected; default min(timeoutMs, 15 s). */
  idleTimeoutMs?: number;
  /** Redirect hops followed; default 5. */
  maxRedirects?: number;
  userAgent?: string;
  /** CIDRs explicitly trusted despite being private/loopback — for tests and an operator's own object store ONLY; empty by default. */
  allowPrivateCidrs?: string[];
  /** Media types accepted on the final response (`image/png`, `image/*`); any when absent. */
  allowedContentTypes?: string[];
  /** Host name resolution; default node:dns lookup (all addresses). */
  lookup?: SafeLookup;
  /** Extra CA certificates (PEM) trusted for https besides Node's roots: an operator's private store, tests. */
  extraCaCerts?: string[];
}

export interface SafeFetchInit {
  signal?: AbortSignal;
}

export interface FetchBufferResult {
  body: Buffer;
  contentType: string | undefined;
  finalUrl: string;
}

export interface FetchFileResult {
  bytes: number;
  contentType: string | undefined;
  finalUrl: string;
}

export interface SafeFetcher {
  readonly maxBytes: number;
  fetchBuffer(url: string, init?: SafeFetchInit): Promise<FetchBufferResult>;
  /** Streams to `path` (written to a temporary name beside it, renamed when complete). */
  fetchToFile(url: string, path: string, init?: SafeFetchInit): Promise<FetchFileResult>;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const MAX_URL_LENGTH = 8192;
const DNS_ERROR_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'ENODATA', 'ESERVFAIL', 'ENONAME']);

const defaultLookup: SafeLookup = (hostname) =>
  new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses)));
  });

/** Parses and vets a URL given by a user or a Location header; throws SafeFetchError. */
export function parseFetchUrl(input: string | URL, base?: URL): URL {
  const text = typeof input === 'string' ? input : input.href;
  if (text.length > MAX_URL_LENGTH) throw new SafeFetchError('bad_url', 'URL too long');
  let url: URL;
  try {
    url = base ? new URL(text, base) : new URL(text);
  } catch {
    throw new SafeFetchError('bad_url', 'not a valid absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new SafeFetchError('bad_scheme', `scheme ${url.protocol} is not allowed`);
  }
  if (url.username !== '' || url.password !== '') throw new SafeFetchError('bad_url', 'credentials in URL are not allowed');
  if (url.hostname === '') throw new SafeFetchError('bad_url', 'no host');
  return url;
}

/** The host to connect to, without IPv6 brackets. */
function connectHost(url: URL): string {
  const h = url.hostname;
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

function mediaType(contentType: string | undefined): string | undefined {
  return contentType?.split(';')[0]?.trim().toLowerCase() || undefined;
}

function contentTypeAllowed(allowed: readonly string[], contentType: string | undefined): boolean {
  const mt = mediaType(contentType);
  if (!mt) return false;
  return allowed.some((a) => {
    const p = a.trim().toLowerCase();
    if (p === '*/*') return true;
    if (p.endsWith('/*')) return mt.startsWith(p.slice(0, -1));
    return mt === p;
  });
}

function byteCounter(limit: number, what: string): Transform {
  let n = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      n += chunk.length;
      if (n > limit) cb(new SafeFetchError('too_large', `${what} exceeded ${limit} bytes`));
      else cb(null, chunk);
    },
  });
}

function decoderFor(encoding: string | undefined): Transform | undefined | 'unsupported' {
  const e = (encoding ?? '').trim().toLowerCase();
  if (e === '' || e === 'identity') return undefined;
  if (e === 'gzip' || e === 'x-gzip') return zlib.createGunzip();
  if (e === 'deflate') return zlib.createInflate();
  if (e === 'br') return zlib.createBrotliDecompress();
  return 'unsupported';
}

function classify(err: unknown, hostForMessage: string): SafeFetchError {
  if (err instanceof SafeFetchError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && DNS_ERROR_CODES.has(code)) {
    return new SafeFetchError('dns_failed', `could not resolve ${hostForMessage} (${code})`);
  }
  // With autoSelectFamily, net may wrap per-address failures in an AggregateError.
  if (err instanceof AggregateError) {
    const inner = err.errors.find((e) => e instanceof SafeFetchError) as SafeFetchError | undefined;
    if (inner) return inner;
  }
  const cause = (err as { cause?: unknown } | null)?.cause;
  if (cause instanceof SafeFetchError) return cause;
  const why = typeof code === 'string' ? code : err instanceof Error ? err.name : 'unknown';
  return new SafeFetchError('network', `connection to ${hostForMessage} failed (${why})`);
}

interface HopContext {
  policy: AddressPolicy;
  lookup: SafeLookup;
  signal: AbortSignal;
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  userAgent: string;
  ca: string[] | undefined;
  /** Records a failure that explains a later AbortError. */
  fail(e: SafeFetchError): void;
}

/** A `lookup` for net.connect that refuses unless every resolved address passes the policy. */
function guardedLookup(policy: AddressPolicy, lookup: SafeLookup): LookupFunction {
  return (hostname, options, callback) => {
    lookup(hostname).then(
      (addresses) => {
        const family = options.family === 4 || options.family === 6 ? options.family : 0;
        const usable = family === 0 ? addresses : addresses.filter((a) => a.family === family);
        if (usable.length === 0) {
          const e = Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' });
          callback(e, '', 0);
          return;
        }
        for (const a of usable) {
          const decision = policy.check(a.address);
          if (!decision.allowed) {
            callback(new SafeFetchError('blocked_address', `${hostname} resolves to ${decision.address} (${decision.reason})`), '', 0);
            return;
          }
        }
        if (options.all) callback(null, usable.map((a) => ({ address: a.address, family: a.family })));
        else callback(null, usable[0]!.address, usable[0]!.family);
      },
      (err: unknown) => callback(err as NodeJS.ErrnoException, '', 0),
    );
  };
}

/** Opens one hop and resolves with its response headers; the body is left unread. */
function openHop(url: URL, ctx: HopContext): Promise<{ req: ClientRequest; res: IncomingMessage }> {
  const host = connectHost(url);
  if (isIP(host) !== 0) {
    const decision = ctx.policy.check(host);
    if (!decision.allowed) {
      return Promise.reject(new SafeFetchError('blocked_address', `${decision.address} is ${decision.reason}`));
    }
  }
  const isHttps = url.protocol === 'https:';
  const mod = isHttps ? https : http;
  return new Promise((resolve, reject) => {
    let connectTimer: NodeJS.Timeout | undefined;
    const req = mod.request({
      host,
      port: url.port === '' ? (isHttps ? 443 : 80) : Number(url.port),
      path: `${url.pathname}${url.search}`,
      method: 'GET',
      agent: false,
      lookup: guardedLookup(ctx.policy, ctx.lookup),
      signal: ctx.signal,
      ...(isHttps && ctx.ca ? { ca: ctx.ca } : {}),
      ...(isHttps && isIP(host) === 0 ? { servername: host } : {}),
      headers: {
        host: url.host,
        'user-agent': ctx.userAgent,
        accept: '*/*',
        'accept-encoding': 'identity',
      },
    });
    req.on('error', (err) => {
      if (connectTimer) clearTimeout(connectTimer);
      reject(classify(err, url.hostname));
    });
    req.on('socket', (socket: Socket) => {
      connectTimer = setTimeout(() => {
        const e = new SafeFetchError('timeout', `connect to ${url.hostname} took over ${ctx.connectTimeoutMs} ms`);
        ctx.fail(e);
        req.destroy(e);
      }, ctx.connectTimeoutMs);
      socket.once(isHttps ? 'secureConnect' : 'connect', () => clearTimeout(connectTimer));
    });
    req.setTimeout(ctx.idleTimeoutMs, () => {
      const e = new SafeFetchError('timeout', `${url.hostname} was silent for ${ctx.idleTimeoutMs} ms`);
      ctx.fail(e);
      req.destroy(e);
    });
    req.once('response', (res) => {
      if (connectTimer) clearTimeout(connectTimer);
      resolve({ req, res });
    });
    req.end();
  });
}

export function createSafeFetcher(opts: SafeFetchOptions): SafeFetcher {
  if (!(opts.maxBytes > 0) || !(opts.timeoutMs > 0)) throw new TypeError('maxBytes and timeoutMs must be positive');
  const policy = createAddressPolicy(opts.allowPrivateCidrs ?? []);
  const lookup = opts.lookup ?? defaultLookup;
  const maxRedirects = opts.maxRedirects ?? 5;
  const connectTimeoutMs = opts.connectTimeoutMs ?? Math.min(opts.timeoutMs, 10_000);
  const idleTimeoutMs = opts.idleTimeoutMs ?? Math.min(opts.timeoutMs, 15_000);
  const userAgent = opts.userAgent ?? 'Framecast-SafeFetch/0.1';
  // `ca` replaces Node's roots, so extra CAs are added to them rather than used alone.
  const ca = opts.extraCaCerts && opts.extraCaCerts.length > 0 ? [...tls.rootCertificates, ...opts.extraCaCerts] : undefined;

  /**
   * Follows redirects to a final 2xx response, then streams its body through the caps into the
   * sink made by `makeSink`. Returns the final URL and content type.
   */
  async function run(
    rawUrl: string,
    init: SafeFetchInit | undefined,
    consume: (body: Readable, signal: AbortSignal) => Promise<void>,
  ): Promise<{ contentType: string | undefined; finalUrl: string }> {
    const controller = new AbortController();
    let failure: SafeFetchError | undefined;
    const fail = (e: SafeFetchError): void => {
      if (failure) return;
      failure = e;
      controller.abort(e);
    };
    const total = setTimeout(() => fail(new SafeFetchError('timeout', `no complete response within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    const onCallerAbort = (): void => fail(new SafeFetchError('aborted', 'aborted by caller'));
    if (init?.signal?.aborted) onCallerAbort();
    else init?.signal?.addEventListener('abort', onCallerAbort, { once: true });
    const ctx: HopContext = { policy, lookup, signal: controller.signal, connectTimeoutMs, idleTimeoutMs, userAgent, ca, fail };

    let current: { req: ClientRequest; res: IncomingMessage } | undefined;
    try {
      if (failure) throw failure;
      let url = parseFetchUrl(rawUrl);
      for (let hop = 0; ; hop++) {
        current = await openHop(url, ctx);
        const { res } = current;
        const status = res.statusCode ?? 0;
        if (REDIRECT_STATUSES.has(status)) {
          const location = res.headers.location;
          res.destroy();
          if (!location) throw new SafeFetchError('http_status', `redirect ${status} without Location from ${url.hostname}`, { status });
          if (hop >= maxRedirects) throw new SafeFetchError('too_many_redirects', `more than ${maxRedirects} redirects`);
          url = parseFetchUrl(location, url);
          continue;
        }
        if (status < 200 || status > 299) {
          res.destroy();
          throw new SafeFetchError('http_status', `${url.hostname} answered ${status}`, { status });
        }
        const contentType = res.headers['content-type'];
        if (opts.allowedContentTypes && !contentTypeAllowed(opts.allowedContentTypes, contentType)) {
          res.destroy();
          throw new SafeFetchError('bad_content_type', `content type ${mediaType(contentType) ?? '(none)'} is not allowed`);
        }
        const declared = Number(res.headers['content-length']);
        if (Number.isFinite(declared) && declared > opts.maxBytes) {
          res.destroy();
          throw new SafeFetchError('too_large', `Content-Length ${declared} exceeds ${opts.maxBytes} bytes`);
        }
        const decoder = decoderFor(res.headers['content-encoding']);
        if (decoder === 'unsupported') {
          res.destroy();
          throw new SafeFetchError('bad_content_type', 'unsupported Content-Encoding');
        }
        const stages: Transform[] = [byteCounter(opts.maxBytes, 'body')];
        if (decoder) stages.push(decoder, byteCounter(opts.maxBytes, 'decompressed body'));
        const body = stages.reduce<Readable>((src, t) => src.pipe(t), res);
        // Errors in the intermediate stages must end the chain; pipe() alone does not forward them.
        for (const s of [res, ...stages]) s.on('error', (e) => fail(classify(e, url.hostname)));
        await consume(body, controller.signal);
        return { contentType, finalUrl: url.href };
      }
    } catch (err) {
      throw failure ?? classify(err, '(host)');
    } finally {
      clearTimeout(total);
      init?.signal?.removeEventListener('abort', onCallerAbort);
      current?.res.destroy();
      current?.req.destroy();
    }
  }

  return {
    maxBytes: opts.maxBytes,

    async fetchBuffer(url, init) {
      const chunks: Buffer[] = [];
      const sink = new Writable({
        write(chunk: Buffer, _enc, cb) {
          chunks.push(chunk);
          cb();
        },
      });
      const meta = await run(url, init, (body, signal) => pipeline(body, sink, { signal }));
      return { body: Buffer.concat(chunks), ...meta };
    },

    async fetchToFile(url, path, init) {
      const tmp = `${path}.${randomBytes(6).toString('hex')}.part`;
      let bytes = 0;
      try {
        const meta = await run(url, init, async (body, signal) => {
          body.on('data', (c: Buffer) => {
            bytes += c.length;
          });
          await pipeline(body, createWriteStream(tmp, { flags: 'wx' }), { signal });
        });
        await rename(tmp, path);
        return { bytes, ...meta };
      } catch (err) {
        await unlink(tmp).catch(() => undefined);
        throw err;
      }
    },
  };
}
