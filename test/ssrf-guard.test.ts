/**
 * The SSRF guard: every blocked address form is refused before a socket connects, on the first
 * hop and on every redirect hop; bodies are capped while streaming; stalls time out.
 *
 * Layout: the "allowed" server listens on 127.0.0.2 and is the only address trusted
 * (`allowPrivateCidrs: ['127.0.0.2/32']`). The "forbidden" server listens on 127.0.0.1 and counts
 * every TCP connection it accepts; tests that aim at it assert the count stays 0, which proves the
 * refusal happened before connecting. No test sends traffic to a non-loopback address: names that
 * resolve to 10.0.0.1 and the like are refused inside the lookup, before the socket connects.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import https from 'node:https';
import { execFileSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createAddressPolicy,
  createSafeFetcher,
  SafeFetchError,
  type SafeFetchOptions,
  type SafeLookup,
} from '@framecast/content-safety';

interface TestServer {
  server: http.Server;
  port: number;
  connections: number;
  requests: string[];
  /** Bytes the /big-chunked handler managed to write before the client went away. */
  bigWritten: number;
  bigFinished: boolean;
}

async function startServer(host: string, handler: (s: TestServer, req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<TestServer> {
  const state = { connections: 0, requests: [] as string[], bigWritten: 0, bigFinished: false } as TestServer;
  const server = http.createServer((req, res) => {
    state.requests.push(req.url ?? '');
    handler(state, req, res);
  });
  server.on('connection', () => {
    state.connections++;
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  state.server = server;
  state.port = (server.address() as AddressInfo).port;
  return state;
}

const MB = 1024 * 1024;
let allowed: TestServer;
let forbidden: TestServer;
let tmp: string;

function allowedUrl(path: string): string {
  return `http://127.0.0.2:${allowed.port}${path}`;
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ssrf-test-'));
  forbidden = await startServer('127.0.0.1', (_s, _req, res) => res.end('internal secret'));
  allowed = await startServer('127.0.0.2', (s, req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const go = (location: string): void => {
      res.writeHead(302, { location });
      res.end();
    };
    switch (u.pathname) {
      case '/ok':
        res.writeHead(200, { 'content-type': 'image/png' });
        res.end('hello image');
        return;
      case '/final':
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('final');
        return;
      case '/to-relative':
        return go('/final?x=1');
      case '/to-loopback':
        return go(`http://127.0.0.1:${forbidden.port}/`);
      case '/to-loopback-hex':
        return go(`http://0x7f.1:${forbidden.port}/`);
      case '/to-loopback-v6':
        return go(`http://[::ffff:127.0.0.1]:${forbidden.port}/`);
      case '/to-metadata':
        return go('http://169.254.169.254/latest/meta-data/iam/security-credentials/');
      case '/to-alibaba-metadata':
        return go('http://100.100.100.200/latest/meta-data/');
      case '/to-private-name':
        return go(`http://internal.example:${forbidden.port}/`);
      case '/to-file':
        return go('file:///etc/passwd');
      case '/to-gopher':
        return go(`gopher://127.0.0.1:${forbidden.port}/_INFO`);
      case '/to-credentials':
        return go(`http://user:pw@127.0.0.2:${allowed.port}/ok`);
      case '/no-location':
        res.writeHead(302);
        res.end();
        return;
      case '/loop': {
        const n = Number(u.searchParams.get('n') ?? '0');
        return go(`/loop?n=${n + 1}`);
      }
      case '/chain': {
        const n = Number(u.searchParams.get('n') ?? '0');
        if (n >= 5) {
          res.end('end of chain');
          return;
        }
        return go(`/chain?n=${n + 1}`);
      }
      case '/big-declared':
        res.writeHead(200, { 'content-length': String(50 * MB), 'content-type': 'image/jpeg' });
        res.write(Buffer.alloc(1024));
        // never finishes; the client must refuse from the header alone
        return;
      case '/big-chunked': {
        res.writeHead(200, { 'content-type': 'image/jpeg' });
        const chunk = Buffer.alloc(64 * 1024, 0xab);
        const total = 50 * MB;
        const pump = (): void => {
          while (s.bigWritten < total) {
            s.bigWritten += chunk.length;
            if (!res.write(chunk)) {
              res.once('drain', pump);
              return;
            }
          }
          s.bigFinished = true;
          res.end();
        };
        res.on('close', () => res.removeAllListeners('drain'));
        pump();
        return;
      }
      case '/gzip-bomb': {
        const bomb = gzipSync(Buffer.alloc(50 * MB));
        res.writeHead(200, { 'content-type': 'image/png', 'content-encoding': 'gzip', 'content-length': String(bomb.length) });
        res.end(bomb);
        return;
      }
      case '/gzip-small': {
        const body = gzipSync(Buffer.from('small and compressed'));
        res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip' });
        res.end(body);
        return;
      }
      case '/weird-encoding':
        res.writeHead(200, { 'content-encoding': 'compress' });
        res.end('x');
        return;
      case '/html':
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end('<html></html>');
        return;
      case '/missing':
        res.writeHead(404);
        res.end();
        return;
      case '/stall-headers':
        // never answers
        return;
      case '/stall-body':
        res.writeHead(200, { 'content-type': 'image/png' });
        res.write('a');
        return;
      case '/drip': {
        res.writeHead(200, { 'content-type': 'image/png' });
        const t = setInterval(() => res.write('x'), 20);
        res.on('close', () => clearInterval(t));
        return;
      }
      default:
        res.writeHead(404);
        res.end();
    }
  });
});

afterAll(async () => {
  allowed.server.closeAllConnections();
  forbidden.server.closeAllConnections();
  await new Promise((r) => allowed.server.close(r));
  await new Promise((r) => forbidden.server.close(r));
  await rm(tmp, { recursive: true, force: true });
});

/** Maps test names to addresses; anything else fails like an unknown name. */
function fakeDns(map: Record<string, string[]>, calls?: string[]): SafeLookup {
  return async (hostname) => {
    calls?.push(hostname);
    const addrs = map[hostname];
    if (!addrs) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addrs.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
}

const baseOpts: SafeFetchOptions = {
  maxBytes: 1 * MB,
  timeoutMs: 10_000,
  allowPrivateCidrs: ['127.0.0.2/32'],
  lookup: fakeDns({ 'internal.example': ['10.0.0.1'], 'allowed.example': ['127.0.0.2'] }),
};

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (e instanceof SafeFetchError) return e.code;
    throw e;
  }
}

describe('address forms', () => {
  const fetcher = (): ReturnType<typeof createSafeFetcher> => createSafeFetcher(baseOpts);
  // Every one of these names 127.0.0.1 (the forbidden server) or another blocked address.
  const blocked = (): string[] => {
    const p = forbidden.port;
    return [
      `http://127.0.0.1:${p}/`,
      `http://2130706433:${p}/`,
      `http://0x7f.1:${p}/`,
      `http://0x7f000001:${p}/`,
      `http://0177.0.0.1:${p}/`,
      `http://127.1:${p}/`,
      `http://127.0.0.1.:${p}/`,
      `http://%31%32%37.0.0.1:${p}/`,
      `http://１２７.０.０.１:${p}/`,
      `http://[::ffff:127.0.0.1]:${p}/`,
      `http://[::ffff:7f00:1]:${p}/`,
      `http://[::127.0.0.1]:${p}/`,
      `http://[64:ff9b::7f00:1]:${p}/`,
      `http://[2002:7f00:1::1]:${p}/`,
      `http://[::1]:${p}/`,
      `http://[::]:${p}/`,
      `http://0.0.0.0:${p}/`,
      `http://0:${p}/`,
      'http://10.0.0.1/',
      'http://10.255.255.255/',
      'http://172.16.0.1/',
      'http://172.31.255.254/',
      'http://192.168.1.1/',
      'http://169.254.169.254/latest/meta-data/',
      'http://[::ffff:169.254.169.254]/',
      'http://[::ffff:a9fe:a9fe]/',
      'http://[64:ff9b::a9fe:a9fe]/',
      'http://[2002:a9fe:a9fe::]/',
      'http://100.100.100.200/latest/meta-data/',
      'http://100.64.0.1/',
      'http://192.0.0.192/',
      'http://224.0.0.1/',
      'http://239.255.255.250/',
      'http://255.255.255.255/',
      'http://240.0.0.1/',
      'http://[fc00::1]/',
      'http://[fd00:ec2::254]/',
      'http://[fe80::1]/',
      'http://[ff02::1]/',
      'http://[2001::1]/',
      'http://[2001:db8::1]/',
      'https://10.1.2.3/',
    ];
  };

  it('refuses every blocked literal form with blocked_address and never connects', async () => {
    const f = fetcher();
    const before = forbidden.connections;
    const results: Record<string, string> = {};
    for (const url of blocked()) results[url] = await codeOf(f.fetchBuffer(url));
    const notBlocked = Object.entries(results).filter(([, c]) => c !== 'blocked_address');
    expect(notBlocked).toEqual([]);
    expect(forbidden.connections).toBe(before);
  });

  it('control: once 127.0.0.1 is trusted, the forbidden server is reached and its counter moves', async () => {
    const before = forbidden.connections;
    const r = await createSafeFetcher({ ...baseOpts, allowPrivateCidrs: ['127.0.0.1/32'] }).fetchBuffer(`http://0x7f.1:${forbidden.port}/`);
    expect(r.body.toString()).toBe('internal secret');
    expect(forbidden.connections).toBe(before + 1);
  });

  it('refuses names that resolve to blocked addresses inside the lookup, before connecting', async () => {
    const p = forbidden.port;
    const f = createSafeFetcher({
      ...baseOpts,
      lookup: fakeDns({
        'private.example': ['10.0.0.1'],
        'loop.example': ['127.0.0.1'],
        'mapped.example': ['::ffff:127.0.0.1'],
        'metadata.example': ['169.254.169.254'],
        'ula.example': ['fd00::1'],
        // one good address does not excuse a bad one
        'mixed.example': ['127.0.0.2', '127.0.0.1'],
      }),
    });
    const before = forbidden.connections;
    for (const host of ['private.example', 'loop.example', 'mapped.example', 'metadata.example', 'ula.example', 'mixed.example']) {
      expect([host, await codeOf(f.fetchBuffer(`http://${host}:${p}/`))]).toEqual([host, 'blocked_address']);
    }
    expect(forbidden.connections).toBe(before);
  });

  it('uses the real resolver by default: localhost is refused', async () => {
    const f = createSafeFetcher({ maxBytes: MB, timeoutMs: 5000 });
    const before = forbidden.connections;
    expect(await codeOf(f.fetchBuffer(`http://localhost:${forbidden.port}/`))).toBe('blocked_address');
    expect(forbidden.connections).toBe(before);
  });

  it('resolves once per connection, so the checked address is the connected one', async () => {
    const calls: string[] = [];
    const f = createSafeFetcher({ ...baseOpts, lookup: fakeDns({ 'allowed.example': ['127.0.0.2'] }, calls) });
    const r = await f.fetchBuffer(`http://allowed.example:${allowed.port}/ok`);
    expect(r.body.toString()).toBe('hello image');
    expect(calls).toEqual(['allowed.example']);
  });

  it('reports unknown names as dns_failed', async () => {
    expect(await codeOf(fetcher().fetchBuffer('http://nowhere.example/'))).toBe('dns_failed');
  });

  it('refuses non-http schemes and malformed URLs', async () => {
    const f = fetcher();
    for (const url of ['file:///etc/passwd', 'ftp://example.com/a.png', 'data:image/png;base64,iVBORw0KGgo=', `gopher://127.0.0.1:${forbidden.port}/_x`, 'javascript:alert(1)', 'ws://example.com/']) {
      expect([url, await codeOf(f.fetchBuffer(url))]).toEqual([url, 'bad_scheme']);
    }
    for (const url of ['', 'not a url', 'http://', 'http://[::1/', 'http://256.256.256.256/', 'http://user:pw@example.com/', `http://a@127.0.0.2:${allowed.port}/ok`, `http://x/${'a'.repeat(9000)}`]) {
      expect([url.slice(0, 40), await codeOf(f.fetchBuffer(url))]).toEqual([url.slice(0, 40), 'bad_url']);
    }
  });

  it('the policy allows public addresses (the guard is not simply refusing everything)', () => {
    const policy = createAddressPolicy();
    for (const a of ['8.8.8.8', '1.1.1.1', '93.184.216.34', '2606:4700:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808', '2002:808:808::1', '100.63.255.255', '100.128.0.1', '172.32.0.1', '11.0.0.1']) {
      expect([a, policy.check(a).allowed]).toEqual([a, true]);
    }
    for (const a of ['127.0.0.1', '::1', '10.0.0.1', 'fe80::1%eth0', '::ffff:10.0.0.1']) {
      expect([a, policy.check(a).allowed]).toEqual([a, false]);
    }
    expect(createAddressPolicy(['10.1.0.0/16']).check('10.1.2.3').allowed).toBe(true);
    expect(createAddressPolicy(['10.1.0.0/16']).check('10.2.0.1').allowed).toBe(false);
    expect(() => createAddressPolicy(['10.0.0.0/33'])).toThrow();
  });
});

describe('redirects', () => {
  const f = (): ReturnType<typeof createSafeFetcher> => createSafeFetcher(baseOpts);

  it('follows an allowed redirect, relative Location included', async () => {
    const r = await f().fetchBuffer(allowedUrl('/to-relative'));
    expect(r.body.toString()).toBe('final');
    expect(r.finalUrl).toBe(allowedUrl('/final?x=1'));
  });

  it('re-checks every hop: a redirect to loopback, metadata or a private name is refused at the hop', async () => {
    const before = forbidden.connections;
    for (const path of ['/to-loopback', '/to-loopback-hex', '/to-loopback-v6', '/to-metadata', '/to-alibaba-metadata', '/to-private-name']) {
      expect([path, await codeOf(f().fetchBuffer(allowedUrl(path)))]).toEqual([path, 'blocked_address']);
    }
    expect(forbidden.connections).toBe(before);
  });

  it('refuses a scheme change or credentials in a Location', async () => {
    expect(await codeOf(f().fetchBuffer(allowedUrl('/to-file')))).toBe('bad_scheme');
    expect(await codeOf(f().fetchBuffer(allowedUrl('/to-gopher')))).toBe('bad_scheme');
    expect(await codeOf(f().fetchBuffer(allowedUrl('/to-credentials')))).toBe('bad_url');
    expect(await codeOf(f().fetchBuffer(allowedUrl('/no-location')))).toBe('http_status');
  });

  it('follows at most 5 hops', async () => {
    const r = await f().fetchBuffer(allowedUrl('/chain'));
    expect(r.body.toString()).toBe('end of chain');
    const start = allowed.requests.length;
    expect(await codeOf(f().fetchBuffer(allowedUrl('/loop')))).toBe('too_many_redirects');
    expect(allowed.requests.length - start).toBe(6);
    expect(await codeOf(createSafeFetcher({ ...baseOpts, maxRedirects: 0 }).fetchBuffer(allowedUrl('/to-relative')))).toBe('too_many_redirects');
  });
});

describe('size, type and status', () => {
  it('refuses from Content-Length before reading the body', async () => {
    expect(await codeOf(createSafeFetcher({ ...baseOpts, maxBytes: 20 * MB }).fetchBuffer(allowedUrl('/big-declared')))).toBe('too_large');
  });

  it('stops a 50 MB chunked body while streaming', async () => {
    allowed.bigWritten = 0;
    allowed.bigFinished = false;
    expect(await codeOf(createSafeFetcher({ ...baseOpts, maxBytes: 20 * MB }).fetchBuffer(allowedUrl('/big-chunked')))).toBe('too_large');
    await new Promise((r) => setTimeout(r, 50));
    expect(allowed.bigFinished).toBe(false);
    expect(allowed.bigWritten).toBeLessThan(50 * MB);
  });

  it('caps a gzip bomb by its decompressed size, and decompresses honest gzip', async () => {
    expect(await codeOf(createSafeFetcher(baseOpts).fetchBuffer(allowedUrl('/gzip-bomb')))).toBe('too_large');
    const r = await createSafeFetcher(baseOpts).fetchBuffer(allowedUrl('/gzip-small'));
    expect(r.body.toString()).toBe('small and compressed');
    expect(await codeOf(createSafeFetcher(baseOpts).fetchBuffer(allowedUrl('/weird-encoding')))).toBe('bad_content_type');
  });

  it('checks the content type when asked, and non-2xx statuses', async () => {
    const f = createSafeFetcher({ ...baseOpts, allowedContentTypes: ['image/*'] });
    expect((await f.fetchBuffer(allowedUrl('/ok'))).contentType).toBe('image/png');
    expect(await codeOf(f.fetchBuffer(allowedUrl('/html')))).toBe('bad_content_type');
    const e = await createSafeFetcher(baseOpts).fetchBuffer(allowedUrl('/missing')).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(SafeFetchError);
    expect((e as SafeFetchError).code).toBe('http_status');
    expect((e as SafeFetchError).status).toBe(404);
  });

  it('fetchToFile writes the file, and leaves nothing behind on refusal', async () => {
    const f = createSafeFetcher(baseOpts);
    const ok = await f.fetchToFile(allowedUrl('/ok'), join(tmp, 'ok.png'));
    expect(ok.bytes).toBe(11);
    expect((await readFile(join(tmp, 'ok.png'))).toString()).toBe('hello image');
    expect(await codeOf(f.fetchToFile(allowedUrl('/big-chunked'), join(tmp, 'big.bin')))).toBe('too_large');
    expect(await codeOf(f.fetchToFile(`http://127.0.0.1:${forbidden.port}/`, join(tmp, 'x.bin')))).toBe('blocked_address');
    expect((await readdir(tmp)).sort()).toEqual(['ok.png']);
  });
});

describe('timeouts and cancellation', () => {
  it('times out a server that never answers, and one that stalls mid-body', async () => {
    const f = createSafeFetcher({ ...baseOpts, timeoutMs: 5000, idleTimeoutMs: 200 });
    expect(await codeOf(f.fetchBuffer(allowedUrl('/stall-headers')))).toBe('timeout');
    expect(await codeOf(f.fetchBuffer(allowedUrl('/stall-body')))).toBe('timeout');
  });

  it('enforces the total timeout on a server that keeps dripping bytes', async () => {
    const f = createSafeFetcher({ ...baseOpts, timeoutMs: 300, idleTimeoutMs: 5000 });
    expect(await codeOf(f.fetchBuffer(allowedUrl('/drip')))).toBe('timeout');
  });

  it('times out a connect that never completes (a resolver that hangs)', async () => {
    const f = createSafeFetcher({ ...baseOpts, connectTimeoutMs: 200, lookup: () => new Promise(() => undefined) });
    expect(await codeOf(f.fetchBuffer('http://hangs.example/'))).toBe('timeout');
  });

  it('stops when the caller aborts', async () => {
    const ac = new AbortController();
    const p = createSafeFetcher(baseOpts).fetchBuffer(allowedUrl('/stall-body'), { signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    expect(await codeOf(p)).toBe('aborted');
  });

  it('gives localised messages and never echoes the path or query', async () => {
    const e = await createSafeFetcher(baseOpts)
      .fetchBuffer('http://169.254.169.254/latest/meta-data/?X-Amz-Signature=secretsig')
      .then(
        () => undefined,
        (x: unknown) => x,
      );
    if (!(e instanceof SafeFetchError)) throw new Error('expected a SafeFetchError');
    expect(e.userMessage['zh-CN']).toMatch(/内部|保留/);
    expect(e.localizedMessage('en')).toMatch(/internal or reserved/);
    expect(e.message).not.toContain('secretsig');
    expect(e.message).not.toContain('meta-data');
  });
});

describe('https', () => {
  it('verifies the certificate for the name that was checked, through the guarded lookup', async () => {
    const key = join(tmp, 'tls.key');
    const cert = join(tmp, 'tls.crt');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=secure.example', '-addext', 'subjectAltName=DNS:secure.example', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    const pem = (await readFile(cert)).toString();
    const server = https.createServer({ key: await readFile(key), cert: pem }, (_req, res) => res.end('over tls'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.2', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const lookup = fakeDns({ 'secure.example': ['127.0.0.2'], 'other.example': ['127.0.0.2'], 'evil.example': ['127.0.0.1'] });
      const f = createSafeFetcher({ ...baseOpts, lookup, extraCaCerts: [pem] });
      expect((await f.fetchBuffer(`https://secure.example:${port}/`)).body.toString()).toBe('over tls');
      // the certificate is still checked: a wrong name or an untrusted CA fails
      expect(await codeOf(f.fetchBuffer(`https://other.example:${port}/`))).toBe('network');
      expect(await codeOf(createSafeFetcher({ ...baseOpts, lookup }).fetchBuffer(`https://secure.example:${port}/`))).toBe('network');
      expect(await codeOf(f.fetchBuffer(`https://evil.example:${port}/`))).toBe('blocked_address');
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
