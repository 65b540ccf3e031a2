import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { BlobStore, DeliveryHandler } from '@framecast/core';

/**
 * The `cli` platform's delivery: a video is written to the file its reply target names (and its
 * poster beside it); any other outcome has nothing to write (the waiting command prints it).
 */
export function cliDeliveryHandler(store: BlobStore): DeliveryHandler {
  return async (delivery) => {
    const target = delivery.replyTarget;
    if (target.platform !== 'cli') return { status: 'failed', reason: `not a cli target: ${target.platform}` };
    if (delivery.outcome.kind !== 'video') return { status: 'delivered' };
    const out = target.out;
    await mkdir(path.dirname(out), { recursive: true });
    await pipeline(await store.stream(delivery.outcome.result.videoRef), createWriteStream(out));
    if (delivery.outcome.result.posterRef !== undefined) {
      await pipeline(await store.stream(delivery.outcome.result.posterRef), createWriteStream(`${out.replace(/\.mp4$/i, '')}.jpg`));
    }
    return { status: 'delivered', info: { file: out } };
  };
}
