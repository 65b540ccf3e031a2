import { STATUS_CODES } from 'node:http';

/**
 * An error that answers an HTTP request with a status. Follows koa's http-errors convention
 * (`status`, `expose`) and the project's coded errors (`code`): only an error with `expose: true`
 * shows its message to the client.
 */
export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly expose: boolean;
  /** Headers the error answer carries (`Retry-After`, `Content-Range`), set only when exposed. */
  readonly headers: Record<string, string>;

  constructor(status: number, code: string, message: string, options: { expose?: boolean; cause?: unknown; headers?: Record<string, string> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HttpError';
    this.status = status;
    this.code = code;
    // Like http-errors: client errors are meant to be read, server errors are not.
    this.expose = options.expose ?? status < 500;
    this.headers = options.headers ?? {};
  }
}

/** `payload_too_large` for 413: the snake-case name of a status, used as the `error` code of a JSON answer. */
export function statusCode(status: number): string {
  const text = STATUS_CODES[status] ?? 'error';
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '');
}
