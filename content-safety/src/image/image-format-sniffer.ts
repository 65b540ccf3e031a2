/**
 * Tells what a file is from its first bytes only; never from a name, an extension or a
 * Content-Type header, all of which the sender controls.
 */
export type SniffedFormat =
  | 'jpeg'
  | 'png'
  | 'webp'
  | 'gif'
  | 'svg'
  | 'pdf'
  | 'heif'
  | 'avif'
  | 'bmp'
  | 'tiff'
  | 'zip'
  | 'html'
  | 'unknown';

/** The formats the image intake decodes. */
export type AcceptedImageFormat = 'jpeg' | 'png' | 'webp';

export function isAcceptedFormat(f: SniffedFormat): f is AcceptedImageFormat {
  return f === 'jpeg' || f === 'png' || f === 'webp';
}

function startsWith(buf: Uint8Array, bytes: readonly number[], at = 0): boolean {
  if (buf.length < at + bytes.length) return false;
  return bytes.every((b, i) => buf[at + i] === b);
}

function ascii(buf: Uint8Array, from: number, to: number): string {
  return Buffer.from(buf.subarray(from, Math.min(to, buf.length))).toString('latin1');
}

export function sniffImageFormat(buf: Uint8Array): SniffedFormat {
  if (startsWith(buf, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (startsWith(buf, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (ascii(buf, 0, 4) === 'RIFF' && ascii(buf, 8, 12) === 'WEBP') return 'webp';
  const head6 = ascii(buf, 0, 6);
  if (head6 === 'GIF87a' || head6 === 'GIF89a') return 'gif';
  if (ascii(buf, 4, 8) === 'ftyp') {
    const brand = ascii(buf, 8, 12);
    if (brand === 'avif' || brand === 'avis') return 'avif';
    if (['heic', 'heix', 'hevc', 'hevx', 'mif1', 'msf1', 'heim', 'heis'].includes(brand)) return 'heif';
    return 'unknown';
  }
  if (startsWith(buf, [0x49, 0x49, 0x2a, 0x00]) || startsWith(buf, [0x4d, 0x4d, 0x00, 0x2a])) return 'tiff';
  if (startsWith(buf, [0x50, 0x4b, 0x03, 0x04]) || startsWith(buf, [0x50, 0x4b, 0x05, 0x06])) return 'zip';
  if (ascii(buf, 0, 2) === 'BM') return 'bmp';
  // PDF readers accept the header anywhere in the first KiB.
  const head = ascii(buf, 0, 1024);
  if (head.includes('%PDF-')) return 'pdf';
  // Markup: skip a BOM and whitespace, then look for an <svg element near the start.
  const text = head.replace(/^\uFEFF|^\u00EF\u00BB\u00BF/, '').trimStart();
  if (text.startsWith('<')) {
    const lower = ascii(buf, 0, 4096).toLowerCase();
    return lower.includes('<svg') ? 'svg' : 'html';
  }
  return 'unknown';
}
