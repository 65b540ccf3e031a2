import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

/** The keyword filter a process moderates with, as the admin console sees and drives it. */
export interface KeywordListsControl {
  /** The directory the lists are read from (every `*.txt` and `categories.json`). */
  readonly dir: string;
  /** Entries of the lists in force. */
  entries(): number;
  /** The error of the last failed reload, undefined after a successful one. */
  lastError(): unknown;
  /** Re-reads the lists; on error the old ones stay in force and the promise rejects. */
  reload(): Promise<void>;
}

export interface KeywordListsVersion {
  /** SHA-256 over the list files' names and contents, in name order (the first 16 hex digits). */
  version: string;
  files: number;
}

/** The version of the lists on disk: changes with any list file or categories.json. */
export async function keywordListsVersion(dir: string): Promise<KeywordListsVersion> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.txt') || n === 'categories.json').sort();
  const hash = createHash('sha256');
  for (const name of names) {
    hash.update(`${name}\0`);
    hash.update(await readFile(path.join(dir, name)));
    hash.update('\0');
  }
  return { version: hash.digest('hex').slice(0, 16), files: names.length };
}
