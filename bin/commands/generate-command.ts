import { randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { bootstrap, isTerminalEvent, type Locale, type ProgressEvent } from '@framecast/core';
import { createProductImageIntake, createProductModerator } from '@framecast/content-safety';
import { createWorkerFromConfig, type GenerateWorker } from '@framecast/gpu-worker';
import { cliDeliveryHandler } from './cli-delivery.ts';
import { UsageError } from './cli-context.ts';

const MAX_IMAGE_BYTES = 20 * 1024 * 1024;
const WAIT_MS = 30 * 60_000;

function localeFromEnv(): Locale {
  const lang = process.env.LC_ALL ?? process.env.LANG ?? '';
  return /^zh/i.test(lang) ? 'zh-CN' : 'en';
}

/** Fails before anything is charged when the video could not be written where --out says. */
async function checkWritable(out: string): Promise<void> {
  const dir = path.dirname(out);
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK);
  } catch {
    throw new UsageError(`--out: cannot write into ${dir}`);
  }
  const st = await stat(out).catch(() => undefined);
  if (st !== undefined && (!st.isFile() || (await access(out, constants.W_OK).then(() => false, () => true)))) {
    throw new UsageError(`--out: ${out} exists and cannot be overwritten`);
  }
}

/**
 * `framecast generate "<prompt>" --out video.mp4`: the whole path on this machine — submit
 * (grammar, moderation, quota), the queue, a worker (this process's own unless one is running),
 * and the cli platform's delivery, which writes the file.
 */
export async function generateCommand(prompt: string, opts: { image?: string; seed?: string; draft?: boolean; out: string }): Promise<void> {
  if (!/\.mp4$/i.test(opts.out)) throw new UsageError('--out must name an .mp4 file');
  if (opts.seed !== undefined && !/^\d{1,10}$/.test(opts.seed)) throw new UsageError('--seed must be an integer from 0 to 4294967295');
  const out = path.resolve(opts.out);
  await checkWritable(out);
  let image: Buffer | undefined;
  if (opts.image !== undefined) {
    const st = await stat(opts.image).catch(() => undefined);
    if (st === undefined || !st.isFile()) throw new UsageError(`--image: no such file ${opts.image}`);
    if (st.size > MAX_IMAGE_BYTES) throw new UsageError(`--image: the file is larger than ${MAX_IMAGE_BYTES / 1024 / 1024} MiB`);
    image = await readFile(opts.image);
  }
  const locale = localeFromEnv();
  const app = await bootstrap(process.env, {
    name: 'framecast-generate',
    redisLog: (m) => console.error(m),
    moderator: ({ config, logger, store }) => createProductModerator(config, { logger, store }).then((m) => m.moderator),
    imageIntake: ({ store }) => createProductImageIntake(store),
  });
  if (app.config.env.LOG_LEVEL === 'info') app.logger.level = 'warn';
  const { core, store } = app;
  let worker: GenerateWorker | undefined;
  const consumer = core.deliveries.consume('cli', cliDeliveryHandler(store));
  try {
    const attachments = [];
    if (image !== undefined) {
      const ref = `uploads/cli-${randomUUID()}`;
      await store.put(ref, image, 'application/octet-stream');
      attachments.push({ kind: 'image' as const, storageRef: ref });
    }
    if ((await core.workQueue.workerCount()) === 0) {
      worker = await createWorkerFromConfig({ core, store, logger: app.logger });
      void worker.run();
    }
    const text = [prompt, opts.seed === undefined ? '' : `--seed ${opts.seed}`, opts.draft === true ? '--draft' : ''].filter(Boolean).join(' ');
    const result = await core.submit({
      version: 1, platform: 'cli', tenantId: 'local', channelId: 'terminal', userId: os.userInfo().username || 'local', eventId: randomUUID(),
      text, attachments, replyTarget: { platform: 'cli', out }, locale,
    });
    if (result.status === 'refused') {
      console.error(result.message[locale]);
      console.log(JSON.stringify({ ok: false, reason: result.reason, message: result.message, detail: result.detail ?? null }, null, 2));
      process.exitCode = 1;
      return;
    }
    console.error(result.message[locale]);
    const show = (e: ProgressEvent) => {
      if (e.type === 'step') console.error(`  step ${e.step}/${e.totalSteps}`);
      else if (e.type === 'encoding') console.error(`  ${e.phase}…`);
      else if (e.type === 'review') console.error(locale === 'zh-CN' ? '  视频等待人工审核…' : '  held for a moderator…');
    };
    const end = await core.progress.waitFor(result.jobId, isTerminalEvent, WAIT_MS, show);
    if (end === undefined) throw new Error(`no result for job ${result.jobId} within ${WAIT_MS / 60_000} min`);
    if (end.type === 'delivered') {
      const rec = await core.job(result.jobId);
      console.error(locale === 'zh-CN' ? `视频已保存：${out}` : `Video written to ${out}`);
      console.log(JSON.stringify({ ok: true, jobId: result.jobId, out, spec: rec?.spec ?? result.spec, video: rec?.result }, null, 2));
    } else {
      console.error(end.message[locale]);
      console.log(JSON.stringify({ ok: false, jobId: result.jobId, outcome: end.type === 'failed' ? { kind: 'failed', code: end.code, message: end.message } : { kind: 'cancelled', message: end.message } }, null, 2));
      process.exitCode = 1;
    }
  } finally {
    await consumer.close();
    if (worker !== undefined) await worker.close();
    await app.close();
  }
}
