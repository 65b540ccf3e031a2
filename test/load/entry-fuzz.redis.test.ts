import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testRedisUrl } from '../support/redis.ts';
import { startLoadRig, type LoadRig } from './load-rig.ts';

// Random and malformed bodies, correctly signed (so they reach the parsers behind the signature
// checks), through every HTTP entry point: never a 5xx, always an answer; a refusal says why.
// A fixed seed keeps CI deterministic; FRAMECAST_FUZZ_SEED / FRAMECAST_FUZZ_RUNS explore further.
const RUNS = Number(process.env.FRAMECAST_FUZZ_RUNS ?? 40);
const SEED = Number(process.env.FRAMECAST_FUZZ_SEED ?? 20261128);
const params = { numRuns: RUNS, seed: SEED };

/**
 * Two crashes this suite found, now fixed: a signed Slack body whose JSON (or form `payload`) is
 * `null` (parseSlackBody now refuses what is not an object), and a signed Discord command,
 * component or modal interaction without an object `data`. Pinned by the first two tests below;
 * the random properties include those shapes too.
 */

let rig: LoadRig;
let mpToken: string;
let webCookie: string;
beforeAll(async () => {
  rig = await startLoadRig({ redisUrl: testRedisUrl(), dailyCredits: 1000, web: true });
  mpToken = await rig.mpLogin(1);
  webCookie = await rig.webCookie();
});
afterAll(async () => {
  await rig?.close();
});

type Answer = { status: number; body: string; contentType: string };

/** Never a server error; a refusal (4xx) carries a JSON or text body that says something. */
function expectClear(a: Answer, what: string): void {
  expect(a.status, `${what}: ${a.body.slice(0, 300)}`).toBeLessThan(500);
  if (a.status >= 400) {
    expect(a.contentType, what).toMatch(/json|text/);
    expect(a.body.length, what).toBeGreaterThan(0);
  }
}

/** Any JSON value, nested a little, with odd strings. */
const jsonValue = fc.jsonValue({ maxDepth: 3 });
const oddString = fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 200 }), fc.constantFrom('', ' ', '\u0000', '%', '%zz', '{', '[]', 'null', '--draft --draft', '/video', '<http://127.0.0.1/|x>', 'a'.repeat(9000)));
/** A raw body: JSON of anything, a random string, or truncated JSON. */
const rawBody = fc.oneof(
  jsonValue.map((v) => JSON.stringify(v)),
  oddString,
  jsonValue.map((v) => JSON.stringify(v).slice(0, -1)),
);

describe('HTTP entry points under random and malformed bodies (fast-check)', () => {
  it('a signed Slack body that is JSON null is refused plainly (was a 500)', async () => {
    for (const [b, ct] of [['payload=null', 'application/x-www-form-urlencoded'], ['null', 'application/json']] as const) {
      expectClear(await rig.postRaw('/slack/events', rig.slackHeaders(b, ct), b), `slack ${b}`);
    }
  });

  it('a signed /video interaction without `data` is refused plainly (was a 500)', async () => {
    const i = rig.discordInteraction(9, 'x');
    delete i.data;
    const b = JSON.stringify(i);
    expectClear(await rig.postRaw('/discord/interactions', rig.discordHeaders(b), b), 'discord without data');
  });

  it('Slack POST /slack/events: random forms, payloads and JSON, signed', async () => {
    const slackKeys = fc.constantFrom('command', 'text', 'user_id', 'team_id', 'channel_id', 'trigger_id', 'response_url', 'payload', 'type', 'api_app_id', 'x');
    const form = fc.dictionary(slackKeys, oddString, { maxKeys: 8 }).map((d) => new URLSearchParams(d).toString());
    const payloadForm = jsonValue.map((v) => new URLSearchParams({ payload: JSON.stringify(v) }).toString());
    const eventJson = fc.record({ type: fc.constantFrom('event_callback', 'url_verification', 'block_actions', 'x'), event: jsonValue, challenge: oddString, event_id: oddString }, { requiredKeys: [] }).map((v) => JSON.stringify(v));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(
        form.map((b) => ({ b, ct: 'application/x-www-form-urlencoded' })),
        payloadForm.map((b) => ({ b, ct: 'application/x-www-form-urlencoded' })),
        eventJson.map((b) => ({ b, ct: 'application/json' })),
        rawBody.map((b) => ({ b, ct: 'application/json' })),
        rawBody.map((b) => ({ b, ct: 'application/x-www-form-urlencoded' })),
      ), { minLength: 4, maxLength: 4 }), async (bodies) => {
        // Four at a time: Slack's receiver holds a request it has no handler for ~2.8 s before its empty 200.
        await Promise.all(bodies.map(async ({ b, ct }) => expectClear(await rig.postRaw('/slack/events', rig.slackHeaders(b, ct), b), `slack ${ct} ${b.slice(0, 200)}`)));
      }),
      { ...params, numRuns: Math.ceil(RUNS / 4) },
    );
  }, 120_000);

  it('Discord POST /discord/interactions: random JSON and valid interactions with a field replaced, signed', async () => {
    const mutated = fc.tuple(fc.constantFrom('type', 'data', 'member', 'user', 'guild_id', 'channel', 'channel_id', 'token', 'id', 'locale', 'application_id'), jsonValue, fc.boolean()).map(([k, v, drop]) => {
      const i = rig.discordInteraction(7, 'a kite over the sea');
      if (drop) delete i[k];
      else i[k] = v;
      return JSON.stringify(i);
    });
    const options = fc.array(fc.record({ name: fc.constantFrom('prompt', 'seed', 'aspect', 'duration', 'style', 'negative', 'draft', 'image', 'x'), type: fc.integer({ min: -1, max: 12 }), value: jsonValue }), { maxLength: 6 }).map((opts) => {
      const i = rig.discordInteraction(8, 'x');
      i.data = { id: '1600000000000000001', name: 'video', type: 1, options: opts };
      return JSON.stringify(i);
    });
    await fc.assert(
      fc.asyncProperty(fc.oneof(mutated, options, rawBody), async (b) => {
        expectClear(await rig.postRaw('/discord/interactions', rig.discordHeaders(b), b), `discord ${b.slice(0, 200)}`);
      }),
      params,
    );
  }, 120_000);

  it('mini program POST /api/mp/jobs and /api/mp/login: random and malformed JSON', async () => {
    const good = await rig.postRaw('/api/mp/jobs', { Authorization: `Bearer ${mpToken}`, 'Content-Type': 'application/json' }, JSON.stringify({ prompt: 'a lighthouse', draft: true, requestId: randomUUID() }));
    expect(good.status).toBe(201);
    const jobBody = fc.record({
      prompt: fc.oneof(oddString, jsonValue), draft: jsonValue, aspect: fc.oneof(oddString, jsonValue), duration: jsonValue, seed: jsonValue,
      imageId: fc.oneof(oddString, jsonValue), requestId: fc.oneof(fc.uuid(), oddString, jsonValue), subscribe: jsonValue, style: fc.oneof(oddString, jsonValue),
    }, { requiredKeys: [] }).map((v) => JSON.stringify(v));
    await fc.assert(
      fc.asyncProperty(fc.oneof(jobBody, rawBody), fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded'), async (b, ct) => {
        expectClear(await rig.postRaw('/api/mp/jobs', { Authorization: `Bearer ${mpToken}`, 'Content-Type': ct, 'Accept-Language': 'en' }, b), `mp jobs ${ct} ${b.slice(0, 200)}`);
        expectClear(await rig.postRaw('/api/mp/login', { 'Content-Type': ct }, b), `mp login ${ct} ${b.slice(0, 200)}`);
      }),
      params,
    );
  }, 120_000);

  it('web playground POST /api/web/jobs: random bodies, forms and multipart with odd parts', async () => {
    const boundary = 'fuzzboundary';
    // The session and origin are good: a well-formed submit is accepted, so the random ones reach the parser.
    const good = `--${boundary}\r\nContent-Disposition: form-data; name="text"\r\n\r\na lighthouse at dusk --draft\r\n--${boundary}\r\nContent-Disposition: form-data; name="requestId"\r\n\r\n${randomUUID()}\r\n--${boundary}--\r\n`;
    expect((await rig.postRaw('/api/web/jobs', { Cookie: webCookie, Origin: rig.base, 'Content-Type': `multipart/form-data; boundary=${boundary}` }, good)).status).toBe(201);
    const multipart = fc.array(fc.tuple(fc.constantFrom('text', 'requestId', 'image', 'file', 'x'), oddString, fc.option(fc.constantFrom('a.png', '', '../x', 'a\u0000.png'))), { maxLength: 4 }).map((parts) =>
      parts.map(([name, value, filename]) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"${filename === null ? '' : `; filename="${filename}"`}\r\n${filename === null ? '' : 'Content-Type: image/png\r\n'}\r\n${value}\r\n`).join('') + `--${boundary}--\r\n`);
    await fc.assert(
      fc.asyncProperty(fc.oneof(
        multipart.map((b) => ({ b, ct: `multipart/form-data; boundary=${boundary}` })),
        multipart.map((b) => ({ b: b.slice(0, Math.floor(b.length / 2)), ct: `multipart/form-data; boundary=${boundary}` })),
        rawBody.map((b) => ({ b, ct: 'application/json' })),
        rawBody.map((b) => ({ b, ct: 'multipart/form-data' })),
        rawBody.map((b) => ({ b, ct: 'application/x-www-form-urlencoded' })),
      ), async ({ b, ct }) => {
        expectClear(await rig.postRaw('/api/web/jobs', { Cookie: webCookie, Origin: rig.base, 'Content-Type': ct }, b), `web ${ct} ${b.slice(0, 200)}`);
      }),
      params,
    );
  }, 120_000);
});
