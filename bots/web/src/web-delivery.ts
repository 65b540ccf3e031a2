import type { BlobStore, DeliveryHandler } from '@framecast/core';
import type { Logger } from 'pino';

export interface WebDeliveryOptions {
  store: Pick<BlobStore, 'exists'>;
  logger: Logger;
}

/**
 * The delivery handler for `core.deliveries.consume('web', …)`. The playground plays videos from
 * the blob store through its own API, so delivering is making sure the video is there: the core
 * then records the delivery once and publishes `delivered`, which each open page receives over its
 * event stream and answers by loading the video. A video not (yet) readable is retried with
 * backoff (a store on another machine catching up); failures, refusals and cancellations need
 * nothing more than their progress events.
 */
export function webDeliveryHandler(opts: WebDeliveryOptions): DeliveryHandler {
  const { store, logger } = opts;
  return async (d) => {
    if (d.replyTarget.platform !== 'web') return { status: 'failed', reason: `not a web reply target (${d.replyTarget.platform})` };
    if (d.outcome.kind !== 'video') return { status: 'delivered' };
    if (!(await store.exists(d.outcome.result.videoRef))) {
      logger.warn({ jobId: d.jobId }, 'web delivery: the video is not in the blob store yet');
      return { status: 'retry', reason: 'video_missing' };
    }
    return { status: 'delivered', info: { bytes: d.outcome.result.bytes } };
  };
}
