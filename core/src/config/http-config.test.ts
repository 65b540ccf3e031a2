import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';

describe('HTTP server settings', () => {
  it('default to port 8080 and a 1 MiB body limit; 0 is a valid port (off)', () => {
    const c = loadConfig({}, { dotenvPath: false });
    expect(c.env.FRAMECAST_HTTP_PORT).toBe(8080);
    expect(c.env.FRAMECAST_HTTP_BODY_LIMIT).toBe(1_048_576);
    const off = loadConfig({ FRAMECAST_HTTP_PORT: '0', FRAMECAST_HTTP_BODY_LIMIT: '65536' }, { dotenvPath: false });
    expect(off.env.FRAMECAST_HTTP_PORT).toBe(0);
    expect(off.env.FRAMECAST_HTTP_BODY_LIMIT).toBe(65_536);
  });

  it('refuse a port outside 0–65535, a non-integer, and a body limit under 1 KiB, listing both', () => {
    for (const port of ['65536', '-1', '80.5', 'http']) {
      expect(() => loadConfig({ FRAMECAST_HTTP_PORT: port }, { dotenvPath: false })).toThrow(/FRAMECAST_HTTP_PORT/);
    }
    let err: unknown;
    try {
      loadConfig({ FRAMECAST_HTTP_PORT: '70000', FRAMECAST_HTTP_BODY_LIMIT: '10' }, { dotenvPath: false });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems.join('\n');
    expect(problems).toContain('FRAMECAST_HTTP_PORT');
    expect(problems).toContain('FRAMECAST_HTTP_BODY_LIMIT');
  });
});
