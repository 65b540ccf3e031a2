import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

const read = (name: string) => readFileSync(new URL(`./lua/${name}`, import.meta.url), 'utf8');
const LEDGER = read('ledger.lua');
/** The quota's reserve function, which the admit script runs inside its own call. */
const RESERVE = readFileSync(new URL('../quota/lua/reserve.lua', import.meta.url), 'utf8');

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
} as const;
/** Scripts that also need the quota's reserve function in front of them. */
const WITH_RESERVE = new Set<string>(['fcJobAdmit']);

type Arg = string | number;
export type RedisWithJobScripts = Redis & {
  [K in keyof typeof SCRIPTS]: (...args: Arg[]) => Promise<unknown>;
};

/** Defines the job scripts on a connection once (ioredis runs them by SHA, loading them when needed). */
export function withJobScripts(redis: Redis): RedisWithJobScripts {
  if (!('fcJobAdmit' in redis)) {
    for (const [name, [numberOfKeys, file]] of Object.entries(SCRIPTS)) {
      redis.defineCommand(name, { numberOfKeys, lua: `${LEDGER}\n${WITH_RESERVE.has(name) ? `${RESERVE}\n` : ''}${read(file)}` });
    }
  }
  return redis as RedisWithJobScripts;
}
