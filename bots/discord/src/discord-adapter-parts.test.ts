import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, defaultStylePresets, LocalBlobStore, loadConfig, parseVideoCommand, PROMPT_MAX_CHARS, type DeliveryJobData, type GenerationSpec } from '@framecast/core';
import { commandTextForRerun, commandTextForVary, modalValue, parseActionCustomId, resultButtons, unfoldStyle, varyModal } from './discord-actions.ts';
import { registerDiscordCommands } from './discord-adapter.ts';
import { commandTextOf, discordCommandDefinitions, snowflakeTime } from './discord-commands.ts';
import { createDiscordDeliveryHandler } from './discord-delivery.ts';
import { discordPublicKey, verifyDiscordSignature } from './discord-interactions-endpoint.ts';
import { DiscordReplyBoard } from './discord-progress.ts';
import { createDiscordRest } from './discord-rest.ts';
import { FakeDiscord } from './testing/fake-discord.ts';
import { snowflakeAt } from './testing/fake-interactions.ts';

let fake: FakeDiscord;
let dir: string;
let store: LocalBlobStore;
beforeAll(async () => {
  fake = await new FakeDiscord().start();
  dir = await mkdtemp(path.join(os.tmpdir(), 'framecast-discord-parts-'));
  store = new LocalBlobStore({ dir });
  await store.put('videos/j1.mp4', Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypisom'), Buffer.alloc(1000)]), 'video/mp4');
});
afterAll(async () => {
  await fake.close();
  await rm(dir, { recursive: true, force: true });
});

const SPEC: GenerationSpec = { version: 1, prompt: 'anime style, a fox, cel shading', negativePrompt: 'blurry', mode: 'draft', durationSeconds: 1, fps: 16, frames: 17, aspect: '16:9', width: 848, height: 480, seed: 5, style: 'anime' };

function delivery(over: Partial<DeliveryJobData['replyTarget']> = {}, bytes = 1012): DeliveryJobData {
  return {
    version: 2, jobId: 'j1', platform: 'discord', userKey: 'discord:42', channelId: '900', locale: 'en', spec: SPEC,
    replyTarget: { platform: 'discord', applicationId: fake.applicationId, channelId: '900', interactionToken: `tok-${Math.random()}`, interactionCreatedAt: Date.now(), messageId: '777', maxUploadBytes: 10 * 1024 * 1024, ...over } as DeliveryJobData['replyTarget'],
    outcome: { kind: 'video', result: { videoRef: 'videos/j1.mp4', bytes, width: 128, height: 64, frames: 17, fps: 16, durationSec: 1, needsLink: false, downgraded: false } },
  };
}

describe('commands', () => {
  it('defines /video with typed, localised options and the style presets as choices', () => {
    const defs = discordCommandDefinitions();
    expect(defs.map((d) => d.name)).toEqual(['video', 'video-quota', 'video-jobs', 'video-help']);
    const video = defs[0];
    expect(video?.name_localizations).toMatchObject({ 'zh-CN': '视频', 'en-US': 'video' });
    expect(video?.options?.map((o) => o.name)).toEqual(['prompt', 'image', 'seed', 'aspect', 'duration', 'style', 'negative', 'draft']);
    const style = video?.options?.find((o) => o.name === 'style') as { choices: Array<{ value: string; name_localizations: Record<string, string> }> };
    expect(style.choices.map((c) => c.value)).toEqual(defaultStylePresets().styles.slice(0, 25).map((s) => s.name));
    expect(style.choices.find((c) => c.value === 'anime')?.name_localizations['zh-CN']).toBe('动漫');
    for (const d of defs) {
      expect(d.name).toMatch(/^[-_a-z0-9]{1,32}$/);
      expect(d.description.length).toBeLessThanOrEqual(100);
    }
  });

  it('turns the options into the one grammar, which reads them back', () => {
    const text = commandTextOf({ prompt: 'a fox in the snow', seed: 9, aspect: '9:16', duration: 2, style: 'anime', negative: 'blurry, "low" quality', draft: true });
    const r = parseVideoCommand(text);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.spec).toMatchObject({ seed: 9, aspect: '9:16', durationSeconds: 2, style: 'anime', mode: 'draft' });
    expect(r.spec.negativePrompt).toContain('blurry');
  });

  it('reruns a spec with a new seed or at final quality without folding the style twice', () => {
    const again = parseVideoCommand(commandTextForRerun(SPEC, { seed: 77 }));
    expect(again.ok && again.spec).toMatchObject({ prompt: SPEC.prompt, seed: 77, mode: 'draft', aspect: '16:9' });
    const final = parseVideoCommand(commandTextForRerun(SPEC, { mode: 'final' }));
    expect(final.ok && final.spec).toMatchObject({ prompt: SPEC.prompt, seed: 5, mode: 'final' });
  });

  it('varies a spec: the edited prompt with the same seed, aspect, duration, mode, style and negative prompt', () => {
    const parsed = parseVideoCommand('/video a fox --style anime --neg blurry --seed 5 --ar 9:16 --duration 1 --draft');
    if (!parsed.ok) throw new Error('unparsed');
    const spec = parsed.spec;
    // The modal shows the prompt without the style's words; they come back on submit.
    expect(unfoldStyle(spec)).toMatchObject({ prompt: 'a fox', negative: 'blurry', style: 'anime' });
    const modal = varyModal('fc1:vary:j1:n', spec, 'en');
    expect(modal).toMatchObject({ type: 9, data: { custom_id: 'fc1:vary:j1:n', components: [{ type: 18, component: { type: 4, custom_id: 'prompt', value: 'a fox' } }] } });
    const maxLength = (modal.data.components[0] as { component: { max_length: number } }).component.max_length;
    expect(maxLength).toBeLessThanOrEqual(4000);
    expect(maxLength).toBeLessThan(PROMPT_MAX_CHARS);
    const varied = parseVideoCommand(commandTextForVary(spec, 'a fox in the rain'));
    const again = parseVideoCommand('/video a fox in the rain --style anime --neg blurry --seed 5 --ar 9:16 --duration 1 --draft');
    expect(varied.ok && again.ok).toBe(true);
    if (varied.ok && again.ok) expect(varied.spec).toEqual(again.spec);
    // Style words that are not the preset's (an older preset file): the text as it is, style off.
    expect(unfoldStyle(SPEC)).toMatchObject({ prompt: SPEC.prompt, style: 'none' });
    expect(parseVideoCommand(commandTextForVary(SPEC, 'a cat'))).toMatchObject({ ok: true, spec: { prompt: 'a cat', seed: 5, aspect: '16:9', mode: 'draft', negativePrompt: 'blurry' } });
    expect(modalValue([{ type: 1, components: [{ type: 4, id: 1, custom_id: 'prompt', value: 'x' }] }], 'prompt')).toBe('x');
  });

  it('reads a snowflake\'s time', () => {
    const at = Date.UTC(2026, 0, 2, 3, 4, 5);
    expect(snowflakeTime(snowflakeAt(at))).toBe(at);
  });
});

describe('buttons', () => {
  it('carry the action, the job and a nonce in a custom id under 100 characters', () => {
    const [row] = resultButtons('jabc', SPEC, 'zh-CN');
    const ids = row?.components.map((b) => ('custom_id' in b ? b.custom_id : '')) ?? [];
    expect(ids.map((id) => parseActionCustomId(id)?.action)).toEqual(['reroll', 'vary', 'upscale', 'info', 'delete']);
    expect(new Set(ids.map((id) => parseActionCustomId(id)?.nonce)).size).toBe(1);
    expect(ids.every((id) => id.length <= 100)).toBe(true);
    expect(parseActionCustomId('fc1:explode:j:n')).toBeUndefined();
    expect(parseActionCustomId('other')).toBeUndefined();
  });
});

describe('signature', () => {
  it('verifies Ed25519 over timestamp + body with the hex public key', () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const key = discordPublicKey(publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex'));
    const body = Buffer.from('{"type":1}');
    const sig = sign(null, Buffer.concat([Buffer.from('123'), body]), privateKey).toString('hex');
    expect(verifyDiscordSignature(key, '123', body, sig)).toBe(true);
    expect(verifyDiscordSignature(key, '124', body, sig)).toBe(false);
    expect(verifyDiscordSignature(key, '123', body, 'zz')).toBe(false);
  });
});

describe('delivery', () => {
  const rest = () => createDiscordRest({ token: 'test-token-3', apiBaseUrl: fake.apiBaseUrl });

  it('an unknown channel or missing access is a failure for good', async () => {
    const handler = createDiscordDeliveryHandler({ rest: rest(), store });
    fake.fail(/^POST \/channels\/901\/messages$/, 1, 404, 10003, 'Unknown Channel');
    expect(await handler(delivery({ channelId: '901', interactionCreatedAt: Date.now() - 20 * 60_000 }), { attempt: 1 })).toMatchObject({ status: 'failed' });
    fake.fail(/^POST \/channels\/902\/messages$/, 1, 403, 50001, 'Missing Access');
    expect(await handler(delivery({ channelId: '902', interactionCreatedAt: Date.now() - 20 * 60_000 }), { attempt: 1 })).toMatchObject({ status: 'failed' });
  });

  it('Discord down (5xx) is thrown, for the core to retry with backoff', async () => {
    const handler = createDiscordDeliveryHandler({ rest: createDiscordRest({ token: 'test-token-3', apiBaseUrl: fake.apiBaseUrl }), store });
    fake.fail(/^PATCH \/webhooks\//, 3, 502, 0, 'Bad Gateway');
    await expect(handler(delivery(), { attempt: 1 })).rejects.toThrow();
  });

  it('a 429 is a retry after Retry-After', async () => {
    const handler = createDiscordDeliveryHandler({ rest: rest(), store });
    const d = delivery();
    fake.rateLimit(/^PATCH \/webhooks\//, 1, 2.5);
    const r = await handler(d, { attempt: 1 });
    expect(r).toMatchObject({ status: 'retry' });
    expect(r !== undefined && r.status === 'retry' ? r.retryAfterMs : 0).toBeGreaterThanOrEqual(2500);
  });

  it('a token Discord refuses (50027) falls back to a channel message replying to the request', async () => {
    const handler = createDiscordDeliveryHandler({ rest: rest(), store });
    const d = delivery({ channelId: '903' });
    fake.expiredTokens.add((d.replyTarget as { interactionToken: string }).interactionToken);
    expect(await handler(d, { attempt: 1 })).toMatchObject({ status: 'delivered', info: { via: 'channel' } });
    const [post] = fake.callsTo(/^POST \/channels\/903\/messages$/);
    expect(post?.files[0]?.filename).toBe('framecast-j1.mp4');
    expect(post?.json?.message_reference).toMatchObject({ message_id: '777' });
  });

  it('a video the platform finds too large (413) is sent again as a link', async () => {
    const handler = createDiscordDeliveryHandler({ rest: rest(), store });
    const d = delivery({ channelId: '904' });
    fake.fail(/^PATCH \/webhooks\/.*@original$/, 1, 413, 40005, 'Request entity too large');
    expect(await handler(d, { attempt: 1 })).toMatchObject({ status: 'delivered', info: { link: 1 } });
    const last = fake.callsTo(/^PATCH \/webhooks\/.*@original$/).at(-1);
    expect(last?.files).toHaveLength(0);
    expect(String(last?.json?.content)).toContain('file://');
  });

  it('a failure outcome edits the reply with the localised message and no buttons', async () => {
    const handler = createDiscordDeliveryHandler({ rest: rest(), store });
    const d: DeliveryJobData = { ...delivery(), locale: 'zh-CN', outcome: { kind: 'failed', code: 'out_of_memory', message: { en: 'too big', 'zh-CN': '太大了' } } };
    expect(await handler(d, { attempt: 1 })).toMatchObject({ status: 'delivered' });
    const last = fake.callsTo(/^PATCH \/webhooks\/.*@original$/).at(-1);
    expect(last?.json).toMatchObject({ content: '<@42> 太大了', components: [] });
  });
});

describe('config and registration', () => {
  it('needs the token and the application id together', () => {
    expect(() => loadConfig({ DISCORD_PUBLIC_KEY: 'a'.repeat(64) }, { dotenvPath: false })).toThrow(ConfigError);
    const c = loadConfig({ DISCORD_TOKEN: 't', DISCORD_APPLICATION_ID: '123' }, { dotenvPath: false });
    expect(c.env).toMatchObject({ DISCORD_GATEWAY: true, DISCORD_API_BASE_URL: 'https://discord.com/api' });
  });

  it('registers the four commands globally or in one guild', async () => {
    const config = loadConfig({ DISCORD_TOKEN: 'test-token-4', DISCORD_APPLICATION_ID: fake.applicationId, DISCORD_API_BASE_URL: fake.apiBaseUrl }, { dotenvPath: false });
    expect(await registerDiscordCommands({ config })).toEqual(['video', 'video-quota', 'video-jobs', 'video-help']);
    expect(await registerDiscordCommands({ config, guildId: '555' })).toHaveLength(4);
    expect(fake.callsTo(/^PUT /).map((c) => c.path)).toEqual([`/applications/${fake.applicationId}/commands`, `/applications/${fake.applicationId}/guilds/555/commands`]);
    expect(fake.callsTo(/^PUT /)[0]?.authorization).toBe('Bot test-token-4');
  });
});

describe('attachment hosts', () => {
  it('fetches only from Discord\'s CDN over https, or the configured API origin', async () => {
    const { fromDiscordCdn } = await import('./discord-video-submit.ts');
    expect(fromDiscordCdn('https://cdn.discordapp.com/attachments/1/2/a.png', 'https://discord.com/api')).toBe(true);
    expect(fromDiscordCdn('https://media.discordapp.net/attachments/1/2/a.png', 'https://discord.com/api')).toBe(true);
    expect(fromDiscordCdn('http://cdn.discordapp.com/a.png', 'https://discord.com/api')).toBe(false);
    expect(fromDiscordCdn('http://169.254.169.254/latest/meta-data', 'https://discord.com/api')).toBe(false);
    expect(fromDiscordCdn('https://evil.example/cdn.discordapp.com.png', 'https://discord.com/api')).toBe(false);
    expect(fromDiscordCdn('http://127.0.0.1:4000/cdn/a.png', 'http://127.0.0.1:4000/api')).toBe(true);
    expect(fromDiscordCdn('not a url', 'https://discord.com/api')).toBe(false);
  });
});

describe('reply board', () => {
  it('runs a job\'s progress edits in order; once the delivery settles, the edit in flight finishes first and none follows', async () => {
    const board = new DiscordReplyBoard();
    const done: string[] = [];
    let release: () => void = () => undefined;
    const slow = new Promise<void>((r) => {
      release = r;
    });
    board.edit('j', async () => {
      await slow;
      done.push('encoding');
    });
    board.edit('j', async () => {
      done.push('scanning');
    });
    // The first edit is under way (waiting for Discord's answer) when the delivery begins.
    await new Promise((r) => setTimeout(r, 20));
    let settled = false;
    const settling = board.settle('j').then(() => {
      settled = true;
    });
    board.edit('j', async () => {
      done.push('late');
    });
    await new Promise((r) => setTimeout(r, 20));
    // The delivery waits for the edit in flight.
    expect(settled).toBe(false);
    release();
    await settling;
    await new Promise((r) => setTimeout(r, 20));
    // Queued before the settle but not started: dropped too; the delivery's edit is the last.
    expect(done).toEqual(['encoding']);
    board.forget('j');
    board.edit('j', async () => {
      done.push('a new story');
    });
    await new Promise((r) => setTimeout(r, 20));
    await board.settle('j');
    expect(done).toEqual(['encoding', 'a new story']);
  });
});
