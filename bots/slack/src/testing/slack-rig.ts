import type { Redis } from 'ioredis';
import { blobStoreFromConfig, mediaSecret, type BlobStore, type ConsumeOptions, type Core, type FramecastConfig, type JobRecord } from '@framecast/core';
import { createHttpApp, listen, mediaRouter, type ListeningServer } from '@framecast/http-server';
import type { GenerateWorker } from '@framecast/gpu-worker';
import { productCoreAndWorker, silentLogger, waitFor } from '../../../../test/support/e2e.ts';
import { testRedisUrl } from '../../../../test/support/redis.ts';
import { testConfig } from '../../../../test/support/config.ts';
import { startSlackAdapter, type SlackAdapter, type SlackAdapterOptions } from '../slack-adapter.ts';
import { slackSignature } from '../slack-signature.ts';
import { FakeSlackApi } from './fake-slack-api.ts';

/*
 * The Slack tests' rig (not part of the package's build: tsconfig.build.json leaves it out): a fake
 * Slack on a real socket, the product's core and worker, the adapter; signed requests, slash
 * command and button payloads as Slack sends them.
 */
export const BOT_TOKEN = 'xoxb-test-bot-token';
export const APP_TOKEN = 'xapp-test-app-token';
export const SECRET = 'test-signing-secret';


function env(fake: FakeSlackApi, dataDir: string, extra: Record<string, string>): Record<string, string> {
  return {
    REDIS_URL: testRedisUrl(), FRAMECAST_DATA_DIR: dataDir, FRAMECAST_STEPS: '4', FRAMECAST_FREE_MAX_CONCURRENT: '5', FRAMECAST_FREE_DAILY_CREDITS: '1000',
    FRAMECAST_DEFAULT_LOCALE: 'en', SLACK_BOT_TOKEN: BOT_TOKEN, SLACK_API_BASE_URL: fake.apiUrl, ...extra,
  };
}

export interface Rig {
  fake: FakeSlackApi;
  config: FramecastConfig;
  core: Core;
  worker: GenerateWorker;
  store: BlobStore;
  adapter: SlackAdapter;
  server?: ListeningServer;
  close(): Promise<void>;
}

export interface RigOptions {
  /** The test's Redis and data folder. */
  redis: Redis;
  dataDir: string;
  /** More environment (FRAMECAST_DELIVERY_RETRY_HOURS, …). */
  env?: Record<string, string>;
  /** More consume options (the simulated clock, a faster backoff). */
  consume?: ConsumeOptions;
  /** Local storage served by the HTTP server at FRAMECAST_PUBLIC_URL (GET /media/…). */
  publicMedia?: boolean;
  /** The delivery handler's choices (the link fallback). */
  delivery?: SlackAdapterOptions['delivery'];
}

/** A fake Slack, the product's core and worker on the test's Redis, and the adapter (HTTP mode on a throwaway server, or Socket Mode). */
export async function slackRig(mode: 'http' | 'socket', o: RigOptions): Promise<Rig> {
  const { redis, dataDir } = o;
  const fake = await new FakeSlackApi({ botToken: BOT_TOKEN, appToken: APP_TOKEN }).start();
  let server: ListeningServer | undefined;
  let http: ReturnType<typeof createHttpApp> | undefined;
  if (mode === 'http' || o.publicMedia === true) {
    http = createHttpApp({ metrics: { metrics: async () => '', contentType: 'text/plain' }, readiness: async () => ({ ok: true, checks: {} }) });
    server = await listen(http, 0, '127.0.0.1');
  }
  const publicUrl = o.publicMedia === true && server !== undefined ? { FRAMECAST_PUBLIC_URL: `http://127.0.0.1:${server.port}` } : {};
  const config = testConfig(env(fake, dataDir, { ...(mode === 'http' ? { SLACK_SIGNING_SECRET: SECRET } : { SLACK_APP_TOKEN: APP_TOKEN }), ...publicUrl, ...o.env }));
  const { core, worker } = await productCoreAndWorker(config, redis);
  const store = blobStoreFromConfig(config);
  if (o.publicMedia === true) http?.mount(mediaRouter({ store, secret: mediaSecret(config) }));
  const adapter = await startSlackAdapter({
    core, store, logger: silentLogger, config, ...(mode === 'http' && http !== undefined ? { http } : {}), consume: { relayEveryMs: 500, ...o.consume },
    ...(o.delivery === undefined ? {} : { delivery: o.delivery }),
  });
  void worker.run();
  return {
    fake, config, core, worker, store, adapter, ...(server === undefined ? {} : { server }),
    async close() {
      await adapter.close();
      await worker.close();
      await core.close();
      await server?.close();
      await fake.close();
    },
  };
}

/** POSTs a body to /slack/events signed the way Slack signs it. */
export async function signedPost(server: ListeningServer, body: string, opts: { contentType?: string; secret?: string; timestamp?: number; retryNum?: number } = {}): Promise<Response> {
  const ts = opts.timestamp ?? Math.floor(Date.now() / 1000);
  return fetch(`http://127.0.0.1:${server.port}/slack/events`, {
    method: 'POST',
    headers: {
      'Content-Type': opts.contentType ?? 'application/x-www-form-urlencoded',
      'X-Slack-Request-Timestamp': String(ts),
      'X-Slack-Signature': slackSignature(opts.secret ?? SECRET, ts, body),
      ...(opts.retryNum === undefined ? {} : { 'X-Slack-Retry-Num': String(opts.retryNum), 'X-Slack-Retry-Reason': 'http_timeout' }),
    },
    body,
  });
}

let seq = 0;
export function slashCommand(fake: FakeSlackApi, text: string, user = 'U1', channel = 'C1'): Record<string, string> {
  seq += 1;
  return {
    token: 'legacy', team_id: fake.teamId, team_domain: 'fake', channel_id: channel, channel_name: 'general', user_id: user, user_name: user.toLowerCase(),
    command: '/video', text, api_app_id: 'A0FAKE', is_enterprise_install: 'false',
    response_url: `${fake.origin}/commands/${seq}`, trigger_id: `${Date.now()}.${seq}.trigger`,
  };
}

/** A block_actions payload: `user` clicked `button` under the message `ts` in `channel`. */
export function click(fake: FakeSlackApi, user: string, channel: string, ts: string, button: { action_id: string; value: string }, n: number): string {
  return new URLSearchParams({
    payload: JSON.stringify({
      type: 'block_actions', team: { id: fake.teamId, domain: 'fake' }, user: { id: user, team_id: fake.teamId }, api_app_id: 'A0FAKE',
      container: { type: 'message', message_ts: ts, channel_id: channel }, channel: { id: channel, name: 'general' },
      message: { ts, text: '', type: 'message' }, trigger_id: `${Date.now()}.${n}.click`, response_url: `${fake.origin}/actions/${n}`,
      actions: [{ type: 'button', action_id: button.action_id, block_id: 'fc_actions', value: button.value, action_ts: `${Date.now() / 1000 + n}` }],
    }),
  }).toString();
}

export function buttonsOf(blocks: unknown): Array<{ action_id: string; value: string }> {
  return (blocks as Array<{ type: string; elements?: Array<{ action_id: string; value: string }> }>).find((b) => b.type === 'actions')?.elements ?? [];
}

export async function jobsOf(core: Core, user: string): Promise<JobRecord[]> {
  return core.listJobs(`slack:${user}`, 100);
}

export function isMp4(bytes: Buffer): boolean {
  return bytes.subarray(4, 8).toString('ascii') === 'ftyp';
}

export async function awaitSharedVideo(r: Rig, jobId: string, timeoutMs = 150_000) {
  return waitFor(async () => r.fake.sharedFiles().find((f) => f.name === `framecast-${jobId}.mp4`), timeoutMs, `the video of ${jobId} in Slack`);
}
