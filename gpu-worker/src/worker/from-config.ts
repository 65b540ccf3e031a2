import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { blobStoreFromConfig, type BlobStore, type Core, type FramecastConfig } from '@framecast/core';
import { createSafeFetcher, NsfwClassifier, scanVideo } from '@framecast/content-safety';
import { ComfyUiRuntime } from '../runtime/comfyui/index.ts';
import { DashScopeRuntime, safeFetcherDownloader } from '../runtime/dashscope/index.ts';
import { OnnxVideoRuntime, ensureTinyWanModel, defaultTinyWanDir, executionProviderFromList } from '../runtime/onnx/index.ts';
import type { VideoRuntime } from '../runtime/video-runtime.ts';
import { GenerateWorker, type GenerateWorkerOptions } from './generate-worker.ts';
import type { OutputScanner } from './output-scanner.ts';
import { CollabWorker } from '../collab/collab-worker.ts';

/** The video runtime named by FRAMECAST_RUNTIME; the tiny model is generated on first use. */
export async function runtimeFromConfig(config: FramecastConfig, store: BlobStore, logger: Logger): Promise<VideoRuntime> {
  const e = config.env;
  switch (e.FRAMECAST_RUNTIME) {
    case 'comfyui':
      return new ComfyUiRuntime({ baseUrl: e.COMFYUI_URL ?? '', template: e.COMFYUI_TEMPLATE });
    case 'dashscope': {
      const fetcher = createSafeFetcher({ maxBytes: 512 * 1024 * 1024, timeoutMs: 10 * 60_000 });
      return new DashScopeRuntime({
        baseUrl: e.DASHSCOPE_BASE_URL,
        apiKey: e.DASHSCOPE_API_KEY ?? '',
        model: e.DASHSCOPE_MODEL,
        downloader: safeFetcherDownloader(fetcher),
        publishImage: async (img) => {
          const { default: sharp } = await import('sharp');
          const png = await sharp(Buffer.from(img.rgb), { raw: { width: img.width, height: img.height, channels: 3 } }).png().toBuffer();
          const key = `published/${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}.png`;
          await store.put(key, png, 'image/png');
          return store.url(key, 3600);
        },
      });
    }
    case 'onnx': {
      const dir = path.resolve(e.FRAMECAST_MODEL_DIR);
      if (dir === path.resolve(defaultTinyWanDir())) await ensureTinyWanModel(dir);
      return new OnnxVideoRuntime({
        modelDir: dir,
        executionProvider: executionProviderFromList(e.FRAMECAST_ORT_PROVIDERS),
        logger: { info: (obj: object, msg: string) => logger.info(obj, msg), warn: (obj: object, msg: string) => logger.warn(obj, msg) },
      });
    }
  }
}

/** The output scan: the NSFW classifier over sampled frames. */
export async function outputScannerFromConfig(config: FramecastConfig): Promise<OutputScanner> {
  const e = config.env;
  const classifier = await NsfwClassifier.load({
    thresholds: {
      block: { classes: ['Porn', 'Hentai'], min: e.FRAMECAST_NSFW_BLOCK },
      review: { classes: ['Sexy'], min: e.FRAMECAST_NSFW_REVIEW },
    },
  });
  return {
    async scan(videoPath) {
      const v = await scanVideo(videoPath, classifier, { framesPerSecond: e.FRAMECAST_SCAN_FPS, maxFrames: e.FRAMECAST_SCAN_MAX_FRAMES });
      return {
        action: v.action, decidingFrames: v.decidingFrames, category: 'nsfw-image',
        frames: v.frames.map((f) => ({ timeSec: f.timeSec, scores: { ...f.scores }, action: f.action })),
        thresholds: { block: { ...classifier.thresholds.block }, review: { ...classifier.thresholds.review } },
      };
    },
  };
}

export interface WorkerFromConfigOptions {
  core: Core;
  /** The blob store (bootstrap's); default: the one named by config. */
  store?: BlobStore;
  logger: Logger;
  overrides?: Partial<GenerateWorkerOptions>;
}

/** A worker wired from config: runtime loaded (kept warm), store, output scan. */
export async function createWorkerFromConfig(o: WorkerFromConfigOptions): Promise<GenerateWorker> {
  const config = o.core.config;
  const store = o.overrides?.store ?? o.store ?? blobStoreFromConfig(config);
  const runtime = o.overrides?.runtime ?? (await runtimeFromConfig(config, store, o.logger));
  await runtime.load();
  const scanner = o.overrides?.scanner ?? (await outputScannerFromConfig(config));
  const e = config.env;
  const tiny = e.FRAMECAST_RUNTIME === 'onnx' && path.resolve(e.FRAMECAST_MODEL_DIR) === path.resolve(defaultTinyWanDir());
  const renderScale = e.FRAMECAST_RENDER_SCALE ?? (tiny ? 0.25 : 1);
  const workDir = path.join(os.tmpdir(), 'framecast-worker', String(process.pid));
  const worker = new GenerateWorker({
    core: o.core,
    runtime,
    store,
    scanner,
    logger: o.logger,
    workDir,
    renderScale,
    pipelined: e.FRAMECAST_PIPELINE,
    ...(e.FRAMECAST_STEPS === undefined ? {} : { steps: e.FRAMECAST_STEPS }),
    ...(e.FRAMECAST_LOCK_MS === undefined ? {} : { lockDurationMs: e.FRAMECAST_LOCK_MS }),
    ...(e.FRAMECAST_STALLED_INTERVAL_MS === undefined ? {} : { stalledIntervalMs: e.FRAMECAST_STALLED_INTERVAL_MS }),
    ...o.overrides,
  });
  // Storyboard segments and stitches run on the same runtime, one pipeline at a time with the generate jobs.
  worker.attach(new CollabWorker({
    core: o.core, runtime, store, scanner, logger: o.logger, workDir: path.join(workDir, 'collab'), gate: worker.gate, renderScale: o.overrides?.renderScale ?? renderScale,
    ...(o.overrides?.steps === undefined ? (e.FRAMECAST_STEPS === undefined ? {} : { steps: e.FRAMECAST_STEPS }) : { steps: o.overrides.steps }),
  }));
  return worker;
}
