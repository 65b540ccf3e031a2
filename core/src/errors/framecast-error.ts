import type { MessageId } from '../i18n/messages.ts';

/**
 * Every error code raised in Framecast, one registry for all packages (Bolt's `ErrorCode`). Each
 * error class narrows `code` to its own part of this union, so a code that is not registered here
 * does not compile. Handlers decide by code, never by matching a message.
 */
export const ERROR_CODES = [
  // Anything not raised as a FramecastError (asFramecastError wraps it).
  'internal',
  // A deployment fault: a node, model file, credential or setting is missing or wrong. Retrying
  // cannot help; the operator must act (refund the user, log an error).
  'misconfigured',
  // Video runtimes (RuntimeError).
  'bad_input', 'moderation', 'transient', 'throttled', 'oom', 'cancelled',
  'dashscope_unauthorized', 'workflow_template_invalid',
  // Video encoding (VideoError).
  'ffmpeg_missing', 'font_missing', 'encode_failed', 'probe_failed', 'bad_metadata',
  // Configuration and storage (ConfigError, BlobStoreError).
  'invalid_config', 'not_found', 'invalid_key', 'invalid_range', 'config', 'backend',
  // Content safety: keyword lists, models, video scan (KeywordListError, KerasConversionError,
  // OnnxGraphError, NsfwError, VideoScanError).
  'unreadable', 'invalid_list', 'unknown_category', 'keras_conversion_failed', 'onnx_graph_invalid',
  'image_decode_failed', 'image_too_large', 'unsupported_format', 'invalid_image', 'invalid_thresholds',
  'no_video_stream', 'video_too_long', 'video_too_large', 'decode_failed', 'timeout',
  // Safe fetch (SafeFetchError).
  'bad_url', 'bad_scheme', 'blocked_address', 'dns_failed', 'too_many_redirects', 'too_large', 'http_status',
  'bad_content_type', 'network', 'aborted',
  // WeChat's API (WeChatApiError).
  'busy', 'quota', 'invalid_token', 'invalid_credentials', 'openid_required', 'openid_not_recent', 'invalid_openid',
  'bad_response', 'api_error',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface FramecastErrorOptions {
  /** True when `message` may be shown to a user or an HTTP client as it is (koa's `expose`). */
  expose?: boolean;
  /** The catalogue message a user is told; with `vars` for its placeholders. */
  messageId?: MessageId;
  vars?: Record<string, string | number>;
  cause?: unknown;
}

/**
 * The one error base: a string `code` that handlers decide by, whether its `message` may be
 * shown (`expose`, default false: messages are for logs), and the catalogue `messageId` that
 * tells a user what happened in their language.
 */
export class FramecastError extends Error {
  readonly code: ErrorCode;
  readonly expose: boolean;
  readonly messageId: MessageId | undefined;
  readonly vars: Readonly<Record<string, string | number>> | undefined;

  constructor(code: ErrorCode, message: string, options: FramecastErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FramecastError';
    this.code = code;
    this.expose = options.expose ?? false;
    this.messageId = options.messageId;
    this.vars = options.vars;
  }
}

export function isFramecastError(err: unknown): err is FramecastError {
  return err instanceof FramecastError;
}

/** Anything thrown, as a FramecastError: itself, or wrapped as `internal` with it as the cause. */
export function asFramecastError(err: unknown): FramecastError {
  if (err instanceof FramecastError) return err;
  const message = err instanceof Error ? err.message : typeof err === 'string' ? err : 'unknown error';
  return new FramecastError('internal', message, { cause: err, messageId: 'refusal.internal' });
}
