import { bootstrap, PLATFORMS, type Bootstrapped } from '@framecast/core';

export class UsageError extends Error {
  readonly code = 'usage';
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** `platform:userId` as typed on the command line. */
export function parseUserKey(user: string): string {
  const m = /^([a-z]+):[^\s:]{1,256}$/.exec(user);
  if (m === null || !(PLATFORMS as readonly string[]).includes(m[1] ?? '')) {
    throw new UsageError(`user must look like platform:userId (platform one of ${PLATFORMS.join(', ')}), got "${user}"`);
  }
  return user;
}

/** Config, Redis (the local one when REDIS_URL is unset) and a core, for commands that read and settle. */
export function openContext(): Promise<Bootstrapped> {
  return bootstrap(process.env, { name: 'framecast-cli', logLevel: 'warn', redisLog: (m) => console.error(m) });
}
