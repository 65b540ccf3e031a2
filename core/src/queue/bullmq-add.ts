import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * BullMQ's own script for adding a prioritized job (addPrioritizedJob, its includes inlined), as
 * one Lua function `bullmqAddPrioritized(KEYS, ARGV)` for a script of ours to call in its own run:
 * the intake then admits and enqueues in a single call, with the job written exactly as Queue.add
 * writes it (BullMQ's code, not a copy of its format). Its KEYS and ARGV are the ones Queue.add
 * sends: 9 keys (marker, meta, id, prioritized, delayed, completed, active, events, pc), then the
 * msgpacked [key prefix, job id, name, timestamp], the data as JSON and the msgpacked options.
 * Undefined when this BullMQ does not ship the script under that name (the intake then takes its
 * two-step path: admission, then Queue.add).
 */
export const BULLMQ_ADD_PRIORITIZED_LUA: string | undefined = load();

/** The keys of BullMQ's addPrioritizedJob, in its order (QueueKeys names). */
export const BULLMQ_ADD_PRIORITIZED_KEYS = ['marker', 'meta', 'id', 'prioritized', 'delayed', 'completed', 'active', 'events', 'pc'] as const;

function load(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    const dir = path.dirname(require.resolve('bullmq'));
    const mod = require(path.join(dir, 'scripts', 'addPrioritizedJob-9.js')) as { addPrioritizedJob?: { content?: unknown; keys?: unknown } };
    const s = mod.addPrioritizedJob;
    if (s === undefined || typeof s.content !== 'string' || s.keys !== 9) return undefined;
    // Its header names the keys and arguments this wrapper passes; a BullMQ that changed them is not used.
    if (!/KEYS\[9\] 'pc'/.test(s.content) || !/cmsgpack\.unpack\(ARGV\[1\]\)/.test(s.content) || !/cmsgpack\.unpack\(ARGV\[3\]\)/.test(s.content)) return undefined;
    return `local function bullmqAddPrioritized(KEYS, ARGV)\n${s.content}\nend`;
  } catch {
    return undefined;
  }
}

