import { pino, type Logger } from 'pino';

/** Structured logs (pino) on stderr; secrets redacted wherever they appear in a logged object. */
export function createLogger(level: string, name = 'framecast'): Logger {
  return pino(
    {
      name,
      level,
      redact: {
        paths: ['*.apiKey', '*.token', '*.secret', '*.password', '*.authorization', '*.accessToken', '*.secretAccessKey', 'apiKey', 'token', 'secret', 'prompt', '*.prompt', 'text', '*.text'],
        censor: '[redacted]',
      },
    },
    pino.destination(2),
  );
}
