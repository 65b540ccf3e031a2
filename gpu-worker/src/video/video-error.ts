import { FramecastError } from '@framecast/core';

export type VideoErrorCode =
  /** ffmpeg or ffprobe is not on the PATH (apt-get install ffmpeg). */
  | 'ffmpeg_missing'
  /** No Noto CJK font file (apt-get install fonts-noto-cjk). */
  | 'font_missing'
  /** The input cannot be decoded: corrupt or empty file, no video stream, frames of the wrong size. */
  | 'bad_input'
  /** ffmpeg failed while encoding an input it could read. */
  | 'encode_failed'
  /** ffprobe could not read back a file we wrote, or it is not what we asked for. */
  | 'probe_failed'
  /** The AIGC metadata tag exists but is not the GB 45438 JSON shape. */
  | 'bad_metadata'
  /** Aborted through the caller's AbortSignal. */
  | 'cancelled';

export class VideoError extends FramecastError {
  declare readonly code: VideoErrorCode;
  /** The last lines of ffmpeg's stderr, when ffmpeg failed (never contains prompt text). */
  readonly ffmpegLog: string | undefined;
  constructor(code: VideoErrorCode, message: string, options?: { cause?: unknown; ffmpegLog?: string }) {
    super(code, message, options?.cause === undefined ? {} : { cause: options.cause });
    this.name = 'VideoError';
    this.ffmpegLog = options?.ffmpegLog;
  }
}

/** Keeps the last `maxLines` non-empty lines of a tool's stderr for an error message. */
export function tailLines(text: string, maxLines = 8): string {
  return text
    .split(/\r?\n/)
    .map((l) => l.trimEnd())
    .filter((l) => l.length > 0)
    .slice(-maxLines)
    .join('\n');
}
