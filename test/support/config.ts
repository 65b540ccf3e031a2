import { loadConfig, type FramecastConfig } from '@framecast/core';
import { uniquePrefix } from './redis.ts';

/** A config for tests: a unique key prefix, nothing read from the developer's environment or .env. */
export function testConfig(env: Record<string, string> = {}): FramecastConfig {
  return loadConfig({ FRAMECAST_KEY_PREFIX: uniquePrefix(), FRAMECAST_TIMEZONE: 'Asia/Shanghai', LOG_LEVEL: 'silent', ...env }, { dotenvPath: false });
}
