import { execFile } from 'node:child_process';
import { access } from 'node:fs/promises';
import { promisify } from 'node:util';
import { VideoError } from './video-error.ts';

const execFileAsync = promisify(execFile);

const INSTALL_HINT = 'install it with `apt-get install fonts-noto-cjk` (Debian/Ubuntu)';
const CJK_FILE = /Noto(Sans|Serif)CJK|Noto ?Sans ?CJK|NotoSansSC|NotoSerifSC/i;

let cached: Promise<string> | undefined;

async function fcMatch(pattern: string): Promise<string | undefined> {
  try {
    const { stdout } = await execFileAsync('fc-match', ['-f', '%{file}', pattern], { timeout: 10_000 });
    const file = stdout.trim();
    return CJK_FILE.test(file) ? file : undefined; // fc-match always answers; reject a non-CJK fallback
  } catch {
    return undefined;
  }
}

async function fcList(): Promise<string | undefined> {
  try {
    const { stdout } = await execFileAsync('fc-list', [':lang=zh', 'file'], { timeout: 10_000 });
    const files = stdout
      .split('\n')
      .map((l) => l.replace(/:\s*$/, '').trim())
      .filter((f) => CJK_FILE.test(f))
      .sort((a, b) => Number(/Bold/i.test(b)) - Number(/Bold/i.test(a)));
    return files[0];
  } catch {
    return undefined;
  }
}

/**
 * The path of a Noto CJK font file for drawtext (bold preferred: the label must stay readable on any
 * background). `explicit` (a configured path) wins when given. The .ttc's first face (JP) is what
 * drawtext uses; its glyphs for 生成 and Latin are the same as the SC face's.
 * Throws VideoError 'font_missing' naming the Debian package when none is installed.
 */
export function findCjkFontFile(explicit?: string): Promise<string> {
  if (explicit !== undefined) {
    return access(explicit).then(
      () => explicit,
      (err: unknown) => {
        throw new VideoError('font_missing', `configured label font ${explicit} is not readable; ${INSTALL_HINT}`, {
          cause: err,
        });
      },
    );
  }
  cached ??= (async () => {
    const file = (await fcMatch('Noto Sans CJK SC:style=Bold')) ?? (await fcMatch('Noto Sans CJK SC')) ?? (await fcList());
    if (file === undefined) {
      throw new VideoError('font_missing', `no Noto CJK font found by fc-match/fc-list for the AIGC label; ${INSTALL_HINT}`);
    }
    return file;
  })();
  cached.catch(() => {
    cached = undefined; // retry after the font is installed
  });
  return cached;
}
