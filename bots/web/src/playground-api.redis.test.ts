import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../../test/support/e2e.ts';
import { gradientPng } from './testing/gradient-png.ts';
import { startPlaygroundRig, type PlaygroundRig } from './testing/playground-rig.ts';

/** One browser, as far as the server can tell: its own session cookie, its language, this page's Origin. */
class Visitor {
  cookie = '';
  constructor(
    private readonly base: string,
    readonly lang = 'en-US,en;q=0.9',
  ) {}

  async open(): Promise<Response> {
    const res = await fetch(`${this.base}/`, { headers: { 'Accept-Language': this.lang } });
    const set = res.headers.getSetCookie().find((c) => c.startsWith('fc_web='));
    if (set !== undefined) this.cookie = set.split(';')[0] as string;
    return res;
  }

  fetch(path: string, init: RequestInit & { origin?: string | null } = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookie !== '') headers.set('Cookie', this.cookie);
    headers.set('Accept-Language', this.lang);
    const origin = init.origin === undefined ? this.base : init.origin;
    if (origin !== null && init.method !== undefined && init.method !== 'GET') headers.set('Origin', origin);
    return fetch(`${this.base}${path}`, { ...init, headers });
  }

  submit(text: string, requestId: string, image?: { bytes: Buffer; type: string; name?: string }, origin?: string | null): Promise<Response> {
    const form = new FormData();
    form.append('text', text);
    form.append('requestId', requestId);
    if (image !== undefined) form.append('image', new Blob([new Uint8Array(image.bytes)], { type: image.type }), image.name ?? 'ref.png');
    return this.fetch('/api/web/jobs', { method: 'POST', body: form, ...(origin === undefined ? {} : { origin }) });
  }
}

/** The fields of the API's answers these tests read. */
interface ApiBody {
  error?: string;
  message?: string;
  messages: Record<'zh-CN' | 'en', string>;
  userId: string;
  jobs: Array<{ jobId: string }>;
  video: { url: string };
}

async function json<T = ApiBody>(res: Response | Promise<Response>): Promise<T> {
  return (await (await res).json()) as T;
}

interface JobAnswer {
  status: string;
  duplicate: boolean;
  job: { jobId: string; state: string; spec: { seed: number; mode: string; referenceImage: boolean }; video?: { url: string } };
}

let rig: PlaygroundRig;
beforeAll(async () => {
  rig = await startPlaygroundRig({ maxImageBytes: 200 * 1024 });
});
afterAll(async () => {
  await rig?.close();
});

describe('playground HTTP API', () => {
  it('serves the page in the browser\'s language with a session cookie and a strict CSP', async () => {
    const en = new Visitor(rig.baseUrl);
    const res = await en.open();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('fc_web=')) ?? '';
    expect(cookie.toLowerCase()).toContain('httponly');
    expect(cookie.toLowerCase()).toContain('samesite=lax');
    const html = await res.text();
    expect(html).toContain('<html lang="en">');
    expect(html).toContain('--style');
    expect(html).toMatch(/<label for="command">/);
    expect(html).toMatch(/<label for="image">/);

    const zh = new Visitor(rig.baseUrl, 'zh-CN,zh;q=0.9,en;q=0.5');
    const zhHtml = await (await zh.open()).text();
    expect(zhHtml).toContain('<html lang="zh-CN">');
    expect(zhHtml).toContain('水墨');
    // The switch wins over Accept-Language, and is remembered.
    const switched = await zh.fetch('/?lang=en');
    expect(await switched.text()).toContain('<html lang="en">');
    expect(switched.headers.getSetCookie().some((c) => c.startsWith('fc_lang=en'))).toBe(true);

    const script = await fetch(`${rig.baseUrl}/assets/playground.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/javascript/);
  });

  it('refuses the API without a session, and state changes from another origin or none', async () => {
    const stranger = new Visitor(rig.baseUrl);
    const noSession = await stranger.fetch('/api/web/jobs');
    expect(noSession.status).toBe(401);
    expect((await json(noSession)).error).toBe('no_session');

    const v = new Visitor(rig.baseUrl);
    await v.open();
    const evil = await v.submit('/video a cat', 'req-evil-0001', undefined, 'http://evil.example');
    expect(evil.status).toBe(403);
    expect((await json(evil)).error).toBe('forbidden_origin');
    const none = await v.submit('/video a cat', 'req-none-0001', undefined, null);
    expect(none.status).toBe(403);
    expect(await rig.core.listJobs(`web:${(await json(v.fetch('/api/web/me'))).userId}`)).toEqual([]);
  });

  it('refuses bad grammar with a localised message, and bad input plainly', async () => {
    const en = new Visitor(rig.baseUrl);
    await en.open();
    const bad = await en.submit('/video a lighthouse --ar 5:4', 'req-bad-00001');
    expect(bad.status).toBe(422);
    const body = await json(bad);
    expect(body.error).toBe('bad_command');
    expect(body.message).toMatch(/[A-Za-z]/);
    expect(body.messages['zh-CN']).toMatch(/[\u4e00-\u9fff]/);

    const zh = new Visitor(rig.baseUrl, 'zh-CN');
    await zh.open();
    const zhBad = await json(zh.submit('/video 灯塔 --ar 5:4', 'req-bad-00002'));
    expect(zhBad.message).toMatch(/[\u4e00-\u9fff]/);

    expect((await en.submit('   ', 'req-empty-0001')).status).toBe(400);
    expect((await en.submit('/video a cat', 'x')).status).toBe(400);
    const notJson = await en.fetch('/api/web/jobs', { method: 'POST', body: 'text=hi', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    expect(notJson.status).toBe(415);
  });

  it('refuses an oversize image (localised 413) and a file that is not an image', async () => {
    const v = new Visitor(rig.baseUrl);
    await v.open();
    const big = gradientPng(200, 400, [0, 0, 0], [255, 255, 255], 60);
    expect(big.length).toBeGreaterThan(200 * 1024);
    const res = await v.submit('/video a harbour at dawn --draft', 'req-big-00001', { bytes: big, type: 'image/png' });
    expect(res.status).toBe(413);
    const body = await json(res);
    expect(body.error).toBe('image_too_large');
    expect(body.messages['zh-CN']).toContain('MB');
    // Past the server's ordinary body limit (1 MiB): the submit route is an upload route, so the
    // playground's own limit answers, in the user's language.
    const huge = Buffer.alloc(1_200_000, 7);
    const hugeRes = await v.submit('/video a harbour', 'req-huge-0001', { bytes: huge, type: 'image/png' });
    expect(hugeRes.status).toBe(413);
    expect((await json(hugeRes)).error).toBe('image_too_large');
    // Past the server's upload limit (10 MiB) the HTTP server refuses it before the playground reads it.
    const enormous = Buffer.alloc(11 * 1024 * 1024, 7);
    const enormousRes = await v.submit('/video a harbour', 'req-huge-0002', { bytes: enormous, type: 'image/png' });
    expect(enormousRes.status).toBe(413);
    expect((await json(enormousRes)).error).toBe('payload_too_large');
    const text = await v.submit('/video a harbour', 'req-text-0001', { bytes: Buffer.from('not an image'), type: 'text/plain', name: 'a.txt' });
    expect(text.status).toBe(415);
    expect((await json(text)).error).toBe('image_type');
    // Declared an image, but it is not one: the core's image intake decodes it and refuses.
    const fake = await v.submit('/video a harbour', 'req-fake-0001', { bytes: Buffer.from('definitely not a png'), type: 'image/png' });
    expect(fake.status).toBe(422);
    expect((await json(fake)).error).toBe('image_invalid');
    const me = await json(v.fetch('/api/web/me'));
    expect(await rig.core.listJobs(`web:${me.userId}`)).toEqual([]);
  });

  it('makes a video from a prompt and an image; only its owner sees it; Range, reroll and idempotency', async () => {
    const alice = new Visitor(rig.baseUrl);
    const bob = new Visitor(rig.baseUrl);
    await alice.open();
    await bob.open();
    const image = { bytes: gradientPng(160, 96, [200, 60, 40], [40, 80, 220]), type: 'image/png' };
    const first = await alice.submit('/video a paper boat on a rainy street --draft --seed 7', 'req-alice-0001', image);
    expect(first.status).toBe(201);
    const accepted = await json<JobAnswer>(first);
    const jobId = accepted.job.jobId;
    expect(accepted.job.spec.referenceImage).toBe(true);
    // The same request again (a double click, a retry) is the same job.
    const again = await alice.submit('/video a paper boat on a rainy street --draft --seed 7', 'req-alice-0001', image);
    expect(again.status).toBe(200);
    const dup = await json<JobAnswer>(again);
    expect(dup.duplicate).toBe(true);
    expect(dup.job.jobId).toBe(jobId);

    // Bob sees nothing of Alice's.
    expect((await json(bob.fetch('/api/web/jobs'))).jobs).toEqual([]);
    for (const p of ['', '/video', '/preview', '/poster', '/events']) expect((await bob.fetch(`/api/web/jobs/${jobId}${p}`)).status).toBe(404);
    for (const p of ['/cancel', '/reroll', '/upscale']) {
      expect((await bob.fetch(`/api/web/jobs/${jobId}${p}`, { method: 'POST', body: JSON.stringify({ requestId: 'req-bob-00001' }), headers: { 'Content-Type': 'application/json' } })).status).toBe(404);
    }
    expect((await json(alice.fetch('/api/web/jobs'))).jobs.map((j: { jobId: string }) => j.jobId)).toEqual([jobId]);

    // Its event stream, opened while it waits: the record, then each event in order, to the end.
    // At most 4 open event streams per session; a closed one frees its place.
    const abort = new AbortController();
    const streams = await Promise.all([1, 2, 3, 4].map(() => alice.fetch(`/api/web/jobs/${jobId}/events`, { signal: abort.signal })));
    expect(streams.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    const fifth = await alice.fetch(`/api/web/jobs/${jobId}/events`);
    expect(fifth.status).toBe(429);
    expect((await json(fifth)).error).toBe('too_many_streams');
    abort.abort();
    const live = await waitFor(async () => {
      const r = await alice.fetch(`/api/web/jobs/${jobId}/events`);
      if (r.status === 200) return r;
      await r.body?.cancel();
      return undefined;
    }, 15_000, 'an event stream after the others closed');
    expect(live.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = (live.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let stream = '';
    // Events arrive as they happen, not when the stream ends: the job's record comes while it is unfinished.
    while (!stream.includes('event: job')) stream += decoder.decode((await reader.read()).value);
    expect((await rig.core.job(jobId))?.state).not.toBe('succeeded');
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) stream += decoder.decode(chunk.value);
    const types = [...stream.matchAll(/event: progress\ndata: (.*)\n/g)].map((m) => (JSON.parse(m[1] as string) as { type: string }).type);
    expect(types).toContain('step');
    expect(types.at(-1)).toBe('delivered');
    expect(stream).toMatch(/"previewUrl":"\/api\/web\/jobs\/[^"]+\/preview\?step=\d+"/);
    expect(stream).not.toContain('userKey');

    await rig.awaitState(jobId, 'succeeded');
    const view = await json(alice.fetch(`/api/web/jobs/${jobId}`));
    expect(view.video.url).toBe(`/api/web/jobs/${jobId}/video`);
    const whole = await alice.fetch(view.video.url);
    expect(whole.status).toBe(200);
    expect(whole.headers.get('accept-ranges')).toBe('bytes');
    const bytes = Buffer.from(await whole.arrayBuffer());
    expect(bytes.subarray(4, 8).toString('ascii')).toBe('ftyp');
    const part = await alice.fetch(view.video.url, { headers: { Range: 'bytes=0-99' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 0-99/${bytes.length}`);
    expect(Buffer.from(await part.arrayBuffer())).toEqual(bytes.subarray(0, 100));
    const tail = await alice.fetch(view.video.url, { headers: { Range: 'bytes=-16' } });
    expect(Buffer.from(await tail.arrayBuffer())).toEqual(bytes.subarray(bytes.length - 16));
    expect((await alice.fetch(view.video.url, { headers: { Range: `bytes=${bytes.length}-` } })).status).toBe(416);
    expect((await bob.fetch(view.video.url, { headers: { Range: 'bytes=0-99' } })).status).toBe(404);
    const download = await alice.fetch(`${view.video.url}?download=1`);
    expect(download.headers.get('content-disposition')).toContain(`framecast-${jobId}.mp4`);

    // The event stream of a finished job: its record, then the stream ends.
    const events = await (await alice.fetch(`/api/web/jobs/${jobId}/events`)).text();
    expect(events).toContain('event: job');
    expect(events).toContain('"state":"succeeded"');

    // Reroll: a new seed, once per click id.
    const reroll = (id: string) => alice.fetch(`/api/web/jobs/${jobId}/reroll`, { method: 'POST', body: JSON.stringify({ requestId: id }), headers: { 'Content-Type': 'application/json' } });
    const r1 = await json<JobAnswer>(reroll('req-reroll-001'));
    const r2 = await json<JobAnswer>(reroll('req-reroll-001'));
    expect(r2.job.jobId).toBe(r1.job.jobId);
    expect(r1.job.spec.seed).not.toBe(7);
    expect(r1.job.spec.referenceImage).toBe(true);
    // Cancel it while it waits or runs: the owner may.
    const cancel = await alice.fetch(`/api/web/jobs/${r1.job.jobId}/cancel`, { method: 'POST' });
    expect([200, 409]).toContain(cancel.status);
    // Without the Origin header a state change is refused even with the cookie.
    expect((await alice.fetch(`/api/web/jobs/${jobId}/reroll`, { method: 'POST', origin: null, body: JSON.stringify({ requestId: 'req-reroll-002' }), headers: { 'Content-Type': 'application/json' } })).status).toBe(403);
  }, 180_000);
});
