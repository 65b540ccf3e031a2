import type { FfmpegCommand } from 'fluent-ffmpeg';
import { VideoError, tailLines } from './video-error.ts';

const BAD_INPUT_PATTERNS = [
  /Invalid data found when processing input/i,
  /moov atom not found/i,
  /could not find codec parameters/i,
  /Error while decoding/i,
  /corrupt/i,
  /End of file/i,
];

export interface RunOptions {
  signal?: AbortSignal;
  /** Whether a failure is more likely the input's fault (a file we did not write). */
  inputIsForeign?: boolean;
}

/**
 * Runs a prepared fluent-ffmpeg command to its end, turning failures into VideoError with a code and
 * the tail of ffmpeg's log. An aborted signal kills ffmpeg and rejects with code 'cancelled'.
 */
export function runFfmpeg(command: FfmpegCommand, options: RunOptions = {}): Promise<void> {
  const { signal } = options;
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(new VideoError('cancelled', 'video encoding cancelled'));
      return;
    }
    let cancelled = false;
    const onAbort = () => {
      cancelled = true;
      command.kill('SIGKILL');
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    command.on('error', (err: Error, _stdout: string | null, stderr: string | null) => {
      signal?.removeEventListener('abort', onAbort);
      const log = tailLines(stderr ?? '', 12);
      if (cancelled) {
        reject(new VideoError('cancelled', 'video encoding cancelled', { cause: err }));
      } else if (/Cannot find ffmpeg|ENOENT/.test(err.message)) {
        reject(new VideoError('ffmpeg_missing', 'ffmpeg not found on the PATH; apt-get install ffmpeg', { cause: err }));
      } else if (options.inputIsForeign === true && BAD_INPUT_PATTERNS.some((p) => p.test(log))) {
        reject(new VideoError('bad_input', `ffmpeg cannot decode the input video: ${tailLines(log, 1)}`, { cause: err, ffmpegLog: log }));
      } else {
        reject(new VideoError('encode_failed', `ffmpeg failed: ${tailLines(log, 2) || err.message}`, { cause: err, ffmpegLog: log }));
      }
    });
    command.on('end', () => {
      signal?.removeEventListener('abort', onAbort);
      // An abort that came before ffmpeg had started could not kill it: still report the cancel.
      if (cancelled || signal?.aborted === true) reject(new VideoError('cancelled', 'video encoding cancelled'));
      else resolve();
    });
    command.run();
  });
}
