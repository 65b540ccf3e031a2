import { describe, expect, it } from 'vitest';
import { ConfigError } from '../config/config.ts';
import { t } from '../i18n/messages.ts';
import { BlobStoreError } from '../storage/blob-store-error.ts';
import { asFramecastError, ERROR_CODES, FramecastError, isFramecastError } from './framecast-error.ts';

describe('FramecastError', () => {
  it('carries a code, expose (false unless said), a catalogue message id with its vars, and a cause', () => {
    const cause = new Error('root');
    const e = new FramecastError('misconfigured', 'node WanFoo missing', { messageId: 'outcome.unavailable', cause });
    expect(e).toBeInstanceOf(Error);
    expect(e).toMatchObject({ name: 'FramecastError', code: 'misconfigured', expose: false, messageId: 'outcome.unavailable', message: 'node WanFoo missing' });
    expect(e.cause).toBe(cause);
    expect(t(e.messageId ?? 'refusal.internal', 'en')).toMatch(/not available right now/);
    expect(new FramecastError('bad_url', 'x', { expose: true, messageId: 'job.not_found', vars: { jobId: 'j1' } })).toMatchObject({ expose: true, vars: { jobId: 'j1' } });
  });

  it('is the base of the packages\' error classes, which keep their names and codes', () => {
    const config = new ConfigError(['REDIS_URL: required']);
    expect(config).toBeInstanceOf(FramecastError);
    expect(config).toMatchObject({ name: 'ConfigError', code: 'invalid_config', expose: true, problems: ['REDIS_URL: required'] });
    const blob = new BlobStoreError('not_found', 'no blob', { key: 'a' });
    expect(isFramecastError(blob)).toBe(true);
    expect(blob).toMatchObject({ name: 'BlobStoreError', code: 'not_found', key: 'a', expose: false });
  });

  it('asFramecastError returns a FramecastError as it is and wraps anything else as internal', () => {
    const coded = new BlobStoreError('backend', 'disk full');
    expect(asFramecastError(coded)).toBe(coded);
    const plain = new TypeError('boom');
    const wrapped = asFramecastError(plain);
    expect(wrapped).toMatchObject({ code: 'internal', message: 'boom', expose: false, messageId: 'refusal.internal' });
    expect(wrapped.cause).toBe(plain);
    expect(asFramecastError('text')).toMatchObject({ code: 'internal', message: 'text' });
    expect(asFramecastError(undefined)).toMatchObject({ code: 'internal', message: 'unknown error' });
  });

  it('has one registry of codes, without duplicates', () => {
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
  });
});
