import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { BULLMQ_ADD_PRIORITIZED_LUA } from '../queue/bullmq-add.ts';

const read = (name: string) => readFileSync(new URL(`./lua/${name}`, import.meta.url), 'utf8');
const LEDGER = read('ledger.lua');
/** The quota's reserve function, which the admit scripts run inside their own call, then admit's. */
const RESERVE = `${readFileSync(new URL('../quota/lua/reserve.lua', import.meta.url), 'utf8')}\n${read('admit.lua')}`;

/** Each job script with the shared ledger functions in front of it: name, number of keys, source. */
const SCRIPTS = {
  fcJobCreate: [3, 'create-3.lua'],
  fcJobTransition: [3, 'transition-3.lua'],
  fcJobFinish: [11, 'finish-11.lua'],
  fcJobDelivered: [5, 'delivered-5.lua'],
  fcJobUndeliverable: [10, 'undeliverable-10.lua'],
  fcLedgerSettle: [5, 'settle-5.lua'],
  fcJobAdmit: [14, 'admit-14.lua'],
  fcIntakeQueued: [4, 'intake-queued-4.lua'],
  fcIntakeAdmit: [16, 'intake-admit-16.lua'],
  fcIntakeOne: [26, 'intake-one-26.lua'],
} as const;
/** Scripts that also need the quota's reserve function and admit's in front of them. */
const WITH_RESERVE = new Set<string>(['fcJobAdmit', 'fcIntakeAdmit', 'fcIntakeOne']);
/** Scripts that also run BullMQ's add (defined only where this BullMQ ships it: see bullmq-add.ts). */
const WITH_BULLMQ_ADD = new Set<string>(['fcIntakeOne']);

/** Whether fcIntakeOne is defined: the intake's admission and enqueue in one call. */
export const INTAKE_IN_ONE_CALL = BULLMQ_ADD_PRIORITIZED_LUA !== undefined;
/**
 * Scripts whose callers pass the number of keys first: their fixed keys, then a job's extra shares'
 * keys (a storyboard render's split shares or pool hold, settled in the same step as the job).
 */
const VARIADIC = new Set<string>(['fcJobFinish', 'fcJobUndeliverable']);

/** A ledger script of core/src/jobs/lua with the shared ledger functions (settle, settlePool, settleShares) in front. */
export function ledgerScript(file: string): string {
  return `${LEDGER}\n${read(file)}`;
}

type Arg = string | number | Buffer;
export type RedisWithJobScripts = Redis & {
  [K in keyof typeof SCRIPTS]: (...args: Arg[]) => Promise<unknown>;
};

/** Defines the job scripts on a connection once (ioredis runs them by SHA, loading them when needed). */
export function withJobScripts(redis: Redis): RedisWithJobScripts {
  if (!('fcJobAdmit' in redis)) {
    for (const [name, [numberOfKeys, file]] of Object.entries(SCRIPTS)) {
      if (WITH_BULLMQ_ADD.has(name) && BULLMQ_ADD_PRIORITIZED_LUA === undefined) continue;
      const bullmq = WITH_BULLMQ_ADD.has(name) ? `${BULLMQ_ADD_PRIORITIZED_LUA}\n` : '';
      const lua = `${LEDGER}\n${WITH_RESERVE.has(name) ? `${RESERVE}\n` : ''}${bullmq}${read(file)}`;
      redis.defineCommand(name, VARIADIC.has(name) ? { lua } : { numberOfKeys, lua });
    }
  }
  return redis as RedisWithJobScripts;
}
