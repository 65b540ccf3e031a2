// A delivering process for the fault tests (test/faults/delivery-kill): it consumes one
// platform's outcomes like a bot would, writes `begin <jobId>` to FAULT_DELIVERY_LOG when it
// takes one, and then never finishes it, as if the platform call were still under way when the
// process is killed with SIGKILL. Run: node bin/run-ts.mjs test/support/fault-delivery-consumer.ts
import { appendFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { createCore, loadConfig, PlatformSchema } from '@framecast/core';

const config = loadConfig(process.env, { dotenvPath: false });
const log = process.env.FAULT_DELIVERY_LOG ?? '';
const platform = PlatformSchema.parse(process.env.FAULT_DELIVERY_PLATFORM ?? 'discord');
if (config.redisUrl === undefined || log === '') throw new Error('REDIS_URL and FAULT_DELIVERY_LOG are required');
const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
const core = createCore({ config, redis, moderator: { moderateText: async () => ({ action: 'allow', hits: [], source: 'none' }) }, connection: { url: config.redisUrl, maxRetriesPerRequest: null } });
core.deliveries.consume(platform, async (d) => {
  appendFileSync(log, `begin ${d.jobId}\n`);
  await new Promise<never>(() => undefined);
}, { relayEveryMs: 500, lockDurationMs: 4000, stalledIntervalMs: 1000 });
appendFileSync(log, 'ready\n');
