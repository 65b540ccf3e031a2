import { randomUUID } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { QueueEvents } from 'bullmq';
import { connectRedis, createCore, createLogger, GENERATE_QUEUE, Keys, loadConfig, resolveRedis, type JobProgress, type Locale } from '@framecast/core';
import { blobStoreFromConfig, createWorkerFromConfig, type GenerateWorker } from '@framecast/gpu-worker';
import { awaitCliDelivery } from './cli-delivery.ts';
import { UsageError } from './cli-context.ts';
import { productImageIntake, productModerator } from './services.ts';

const MAX_IMAGE_BYTES = 20 * 1024 * 1024;

function localeFromEnv(): Locale {
  const lang = process.env.LC_ALL ?? process.env.LANG ?? '';
  return /^zh/i.test(lang) ? 'zh-CN' : 'en';
}

/**
 * `framecast generate "<prompt>" --out video.mp4`: the whole path on this machine — intake
 * (grammar, moderation, quota), the queue, a worker (this process's own unless one is running),
 * and delivery to a file.
 */
export async function generateCommand(prompt: string, opts: { image?: string; seed?: string; draft?: boolean; out: string }): Promise<void> {
  if (!/\.mp4$/i.test(opts.out)) throw new UsageError('--out must name an .mp4 file');
  if (opts.seed !== undefined && !/^\d{1,10}$/.test(opts.seed)) throw new UsageError('--seed must be an integer from 0 to 4294967295');
  const config = loadConfig();
  const logger = createLogger(config.env.LOG_LEVEL === 'info' ? 'warn' : config.env.LOG_LEVEL, 'framecast');
  const locale = localeFromEnv();
  const handle = await resolveRedis({ redisUrl: config.redisUrl, dataDir: config.dataDir, log: (m) => console.error(m) });
  const redis = connectRedis(handle.url, 'framecast-generate');
  const store = blobStoreFromConfig(config);
  const { moderator } = await productModerator(config);
  const core = createCore({ config, redis, moderator, imageIntake: productImageIntake(store), logger });
  let worker: GenerateWorker | undefined;
  const events = new QueueEvents(GENERATE_QUEUE, { connection: { url: handle.url }, prefix: new Keys(config.keyPrefix).bullPrefix });
  try {
    const attachments = [];
    if (opts.image !== undefined) {
      const st = await stat(opts.image).catch(() => undefined);
      if (st === undefined || !st.isFile()) throw new UsageError(`--image: no such file ${opts.image}`);
      if (st.size > MAX_IMAGE_BYTES) throw new UsageError(`--image: the file is larger than ${MAX_IMAGE_BYTES / 1024 / 1024} MiB`);
      const ref = `uploads/cli-${randomUUID()}`;
      await store.put(ref, await readFile(opts.image), 'application/octet-stream');
      attachments.push({ kind: 'image' as const, storageRef: ref });
    }
    if ((await core.queue.queue.getWorkers()).length === 0) {
      worker = await createWorkerFromConfig({ config, redis, connection: { url: handle.url, maxRetriesPerRequest: null }, logger, overrides: { store } });
      void worker.run();
    }
    const text = [prompt, opts.seed === undefined ? '' : `--seed ${opts.seed}`, opts.draft === true ? '--draft' : ''].filter(Boolean).join(' ');
    const result = await core.intake.intake({
      version: 1, platform: 'cli', tenantId: 'local', channelId: 'terminal', userId: os.userInfo().username || 'local', eventId: randomUUID(),
      text, attachments, replyTarget: { out: path.resolve(opts.out) }, locale,
    });
    if (result.status === 'refused') {
      console.error(result.message[locale]);
      console.log(JSON.stringify({ ok: false, reason: result.reason, message: result.message, detail: result.detail ?? null }, null, 2));
      process.exitCode = 1;
      return;
    }
    console.error(result.message[locale]);
    events.on('progress', ({ jobId, data }) => {
      if (jobId !== result.jobId || typeof data !== 'object' || data === null) return;
      const p = data as JobProgress;
      console.error(p.phase === 'denoising' ? `  step ${p.step}/${p.totalSteps}` : `  ${p.phase}…`);
    });
    const delivered = await awaitCliDelivery(core.deliveries, store, result.jobId, 30 * 60_000);
    const o = delivered.outcome;
    if (o.kind === 'video') {
      console.error(locale === 'zh-CN' ? `视频已保存：${opts.out}` : `Video written to ${opts.out}`);
      console.log(JSON.stringify({ ok: true, jobId: result.jobId, out: path.resolve(opts.out), spec: result.spec, video: o.result }, null, 2));
    } else {
      console.error(o.message[locale]);
      console.log(JSON.stringify({ ok: false, jobId: result.jobId, outcome: o }, null, 2));
      process.exitCode = 1;
    }
  } finally {
    await events.close();
    if (worker !== undefined) await worker.close();
    await core.close();
    await redis.quit();
    await handle.close();
  }
}
