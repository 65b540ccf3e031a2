import { mkdir } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { DeliveryJobDataSchema, type BlobStore, type Deliveries, type DeliveryJobData } from '@framecast/core';

/**
 * The `cli` platform's delivery: waits for one job's delivery and writes the video to the file
 * named in its reply target. Delivered once (the delivery record), then the queue entry is removed.
 */
export async function awaitCliDelivery(deliveries: Deliveries, store: BlobStore, jobId: string, timeoutMs: number): Promise<DeliveryJobData> {
  const queue = deliveries.queue('cli');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await queue.getJob(`deliver-${jobId}`);
    if (job !== undefined) {
      const data = DeliveryJobDataSchema.parse(job.data);
      if (data.outcome.kind === 'video') {
        const out = data.replyTarget.out;
        if (typeof out !== 'string') throw new Error('cli reply target has no output path');
        await mkdir(path.dirname(out), { recursive: true });
        await pipeline(await store.stream(data.outcome.result.videoRef), createWriteStream(out));
        if (data.outcome.result.posterRef !== undefined) {
          const poster = out.replace(/\.mp4$/i, '') + '.jpg';
          await pipeline(await store.stream(data.outcome.result.posterRef), createWriteStream(poster));
        }
      }
      await deliveries.markDelivered(jobId, { via: 'cli' });
      await job.remove().catch(() => undefined);
      return data;
    }
    if (Date.now() > deadline) throw new Error(`no result for job ${jobId} within ${Math.round(timeoutMs / 1000)} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

