import { FramecastError } from '@framecast/core';

export type KeywordListErrorCode =
  /** A list file or the categories config could not be read. */
  | 'unreadable'
  /** A list file has a bad header, flag or entry; `file` and `line` say where. */
  | 'invalid_list'
  /** categories.json is not valid JSON or does not match its schema. */
  | 'invalid_config'
  /** A list names a category that the config does not define. */
  | 'unknown_category';

export class KeywordListError extends FramecastError {
  declare readonly code: KeywordListErrorCode;
  readonly file: string | undefined;
  readonly line: number | undefined;
  constructor(code: KeywordListErrorCode, message: string, options?: { file?: string; line?: number; cause?: unknown }) {
    const where = options?.file === undefined ? '' : `${options.file}${options.line === undefined ? '' : `:${options.line}`}: `;
    super(code, `${where}${message}`, options?.cause === undefined ? {} : { cause: options.cause });
    this.name = 'KeywordListError';
    this.file = options?.file;
    this.line = options?.line;
  }
}
