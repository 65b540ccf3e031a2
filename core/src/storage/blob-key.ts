import { BlobStoreError } from './blob-store-error.ts';

/** S3 allows 1024 bytes; our keys are ASCII, so characters = bytes. */
export const MAX_BLOB_KEY_LENGTH = 1024;

/**
 * One path segment: starts with a letter or digit (so never `.`, `..` or a hidden file), then letters,
 * digits, `.`, `_`, `-`. Segments are joined by single `/`; no leading or trailing slash.
 */
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Checks a blob key against the strict charset shared by every store, so a key that works on the local
 * store also works on S3 and can never climb out of the local directory. Returns the key unchanged.
 */
export function assertValidBlobKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new BlobStoreError('invalid_key', 'blob key must be a non-empty string');
  }
  // Never echo a rejected key whole: it may be attacker-controlled; a short prefix is enough to debug.
  const shown = JSON.stringify(key.slice(0, 64));
  if (key.length > MAX_BLOB_KEY_LENGTH) {
    throw new BlobStoreError('invalid_key', `blob key longer than ${MAX_BLOB_KEY_LENGTH} characters: ${shown}…`);
  }
  if (key.includes('\0')) throw new BlobStoreError('invalid_key', `blob key contains NUL: ${shown}`);
  if (key.startsWith('/') || key.startsWith('\\') || /^[A-Za-z]:/.test(key)) {
    throw new BlobStoreError('invalid_key', `blob key must be relative: ${shown}`);
  }
  for (const segment of key.split('/')) {
    if (segment === '..' || segment === '.') {
      throw new BlobStoreError('invalid_key', `blob key must not contain '.' or '..' segments: ${shown}`);
    }
    if (!SEGMENT.test(segment)) {
      throw new BlobStoreError(
        'invalid_key',
        `blob key segments must match ${SEGMENT.source} (letters, digits, '.', '_', '-'; no empty segment): ${shown}`,
      );
    }
  }
  return key;
}

export function isValidBlobKey(key: unknown): key is string {
  try {
    assertValidBlobKey(key);
    return true;
  } catch {
    return false;
  }
}
