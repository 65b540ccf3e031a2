import { bootstrap } from '@framecast/core';
import { createWorkerFromConfig } from '@framecast/gpu-worker';
import { stopOnSignal } from './run-until-signal.ts';

/** `framecast worker`: one process per GPU, the model loaded once, until SIGINT/SIGTERM. */
export async function workerCommand(): Promise<void> {
  const app = await bootstrap(process.env, { name: 'framecast-worker' });
  const worker = await createWorkerFromConfig({ core: app.core, store: app.store, logger: app.logger });
  app.logger.info({ runtime: app.config.env.FRAMECAST_RUNTIME }, 'worker ready');
  stopOnSignal(app.logger, async () => {
    await worker.close();
    await app.close();
  });
  await worker.run();
}
