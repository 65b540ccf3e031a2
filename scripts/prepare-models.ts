// Generates the models the product and the tests use, once, into ./models (idempotent).
import { ensureNsfwModel } from '@framecast/content-safety';
import { ensureTinyWanModel } from '@framecast/gpu-worker';

const nsfw = await ensureNsfwModel();
console.error(`[setup] NSFW classifier: ${nsfw}`);
const wan = await ensureTinyWanModel();
console.error(`[setup] tiny Wan-style model: ${wan}`);
