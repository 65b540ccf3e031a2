import { spawn } from 'node:child_process';
import type { Writable } from 'node:stream';
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
  /**
   * Whether the error's message may quote ffmpeg's log (default true). False where the log may hold
   * people's text (drawtext of their shots): then it is kept on the error's ffmpegLog only.
   */
  quoteLog?: boolean;
  /** Writes ffmpeg's stdin (`-i pipe:0`), minding backpressure; ffmpeg's stdin is closed after it. */
  stdin?: (w: Writable) => Promise<void>;
}

/**
 * Runs the ffmpeg CLI with these arguments to its end (spawned directly: no capability probes of
 * its own), turning failures into VideoError with a code and the tail of ffmpeg's log: 'cancelled'
 * (an aborted signal kills ffmpeg), 'ffmpeg_missing', 'bad_input' (a foreign input ffmpeg cannot
 * decode), else 'encode_failed'.
 */
export function runFfmpeg(args: readonly string[], options: RunOptions = {}): Promise<void> {
  const { signal, stdin } = options;
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(new VideoError('cancelled', 'video encoding cancelled'));
      return;
    }
    const p = spawn('ffmpeg', args, { stdio: [stdin === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'] });
    let log = '';
    let settled = false;
    const settle = (err?: VideoError) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      if (err === undefined) resolve();
      else reject(err);
    };
    p.stderr?.on('data', (b: Buffer) => {
      log = (log + b.toString('utf8')).slice(-8000);
    });
    const onAbort = () => p.kill('SIGKILL');
    signal?.addEventListener('abort', onAbort, { once: true });
    p.on('error', (err: NodeJS.ErrnoException) => {
      settle(err.code === 'ENOENT'
        ? new VideoError('ffmpeg_missing', 'ffmpeg not found on the PATH; apt-get install ffmpeg', { cause: err })
        : new VideoError('encode_failed', `ffmpeg: ${err.message}`, { cause: err }));
    });
    p.on('close', (code, sig) => {
      const tail = tailLines(log, 12);
      // An abort that came before ffmpeg had started could not kill it: still report the cancel.
      if (signal?.aborted === true) settle(new VideoError('cancelled', 'video encoding cancelled'));
      else if (code === 0) settle();
      else if (options.inputIsForeign === true && BAD_INPUT_PATTERNS.some((re) => re.test(tail))) {
        settle(new VideoError('bad_input', `ffmpeg cannot decode the input video: ${tailLines(tail, 1)}`, { ffmpegLog: tail }));
      } else {
        const exit = code === null ? `was killed by ${String(sig)}` : `exited with ${code}`;
        const quoted = options.quoteLog === false ? '' : tailLines(tail, 2);
        settle(new VideoError('encode_failed', `ffmpeg ${exit}${quoted === '' ? '' : `: ${quoted}`}`, { ffmpegLog: tail }));
      }
    });
    if (stdin !== undefined && p.stdin !== null) {
      p.stdin.on('error', () => undefined); // ffmpeg gone early: its exit says why
      stdin(p.stdin).then(() => p.stdin?.end(), (err: unknown) => {
        p.kill('SIGKILL');
        settle(new VideoError('encode_failed', `could not feed ffmpeg: ${err instanceof Error ? err.message : String(err)}`, { cause: err }));
      });
    }
  });
}

/** Writes buffers to a stream, waiting for 'drain' when it asks to; stops if the stream closes. */
export async function writeAll(w: Writable, chunks: Iterable<Uint8Array>): Promise<void> {
  for (const f of chunks) {
    if (w.destroyed || w.writableEnded) return;
    if (!w.write(Buffer.from(f.buffer, f.byteOffset, f.byteLength))) {
      await new Promise<void>((resolve) => {
        const go = () => {
          w.off('drain', go);
          w.off('close', go);
          resolve();
        };
        w.on('drain', go);
        w.on('close', go);
      });
    }
  }
}
