import { open } from 'node:fs/promises';

/** What `describeEncoded` needs to know of an mp4 we wrote, read from its `moov` box. */
export interface Mp4Summary {
  /** 'h264' for an `avc1`/`avc3` sample entry, else the entry's four-character code. */
  codec: string;
  codecTag: string;
  /** ffprobe's name for the avcC profile (e.g. 'High'). */
  profile: string | undefined;
  /** avcC level × 10 (41 = 4.1), as ffprobe reports it. */
  level: number | undefined;
  /** 'yuv420p' when the avcC says 4:2:0 at 8 bits; undefined when it cannot tell. */
  pixFmt: string | undefined;
  width: number;
  height: number;
  /** Samples in the video track's sample table. */
  frames: number;
  fps: number;
  durationSec: number;
  hasAudio: boolean;
}

/** The largest `moov` this reader loads (an hour of 60 fps video has a moov of a few MB). */
const MAX_MOOV_BYTES = 32 * 1024 * 1024;
const PROFILE_NAMES: Readonly<Record<number, string>> = {
  66: 'Baseline', 77: 'Main', 88: 'Extended', 100: 'High', 110: 'High 10', 122: 'High 4:2:2', 244: 'High 4:4:4 Predictive',
};

interface Box {
  type: string;
  /** Payload, after the header. */
  body: Buffer;
}

function* boxes(buf: Buffer): Generator<Box> {
  let off = 0;
  while (off + 8 <= buf.length) {
    let size = buf.readUInt32BE(off);
    let header = 8;
    if (size === 1) {
      if (off + 16 > buf.length) return;
      size = Number(buf.readBigUInt64BE(off + 8));
      header = 16;
    } else if (size === 0) {
      size = buf.length - off;
    }
    if (size < header || off + size > buf.length) return;
    yield { type: buf.toString('latin1', off + 4, off + 8), body: buf.subarray(off + header, off + size) };
    off += size;
  }
}

function child(buf: Buffer | undefined, ...path: string[]): Buffer | undefined {
  let cur = buf;
  for (const type of path) {
    if (cur === undefined) return undefined;
    let found: Buffer | undefined;
    for (const b of boxes(cur)) {
      if (b.type === type) {
        found = b.body;
        break;
      }
    }
    cur = found;
  }
  return cur;
}

/** Reads the top-level `moov` box with positional reads (never the media data). */
async function readMoov(file: string): Promise<Buffer | undefined> {
  const fh = await open(file, 'r');
  try {
    const { size: fileSize } = await fh.stat();
    const head = Buffer.alloc(16);
    let off = 0;
    while (off + 8 <= fileSize) {
      const { bytesRead } = await fh.read(head, 0, 16, off);
      if (bytesRead < 8) return undefined;
      let size = head.readUInt32BE(0);
      let header = 8;
      if (size === 1) {
        if (bytesRead < 16) return undefined;
        size = Number(head.readBigUInt64BE(8));
        header = 16;
      } else if (size === 0) {
        size = fileSize - off;
      }
      if (size < header || off + size > fileSize) return undefined;
      if (head.toString('latin1', 4, 8) === 'moov') {
        if (size - header > MAX_MOOV_BYTES) return undefined;
        const body = Buffer.alloc(size - header);
        const read = await fh.read(body, 0, body.length, off + header);
        return read.bytesRead === body.length ? body : undefined;
      }
      off += size;
    }
    return undefined;
  } finally {
    await fh.close();
  }
}

interface Track {
  handler: string;
  timescale: number;
  duration: number;
  stbl: Buffer | undefined;
}

function trackOf(trak: Buffer): Track | undefined {
  const mdia = child(trak, 'mdia');
  const hdlr = child(mdia, 'hdlr');
  const mdhd = child(mdia, 'mdhd');
  if (hdlr === undefined || hdlr.length < 12 || mdhd === undefined || mdhd.length < 4) return undefined;
  const v1 = mdhd[0] === 1;
  if (mdhd.length < (v1 ? 32 : 20)) return undefined;
  const timescale = mdhd.readUInt32BE(v1 ? 20 : 12);
  const duration = v1 ? Number(mdhd.readBigUInt64BE(24)) : mdhd.readUInt32BE(16);
  return { handler: hdlr.toString('latin1', 8, 12), timescale, duration, stbl: child(mdia, 'minf', 'stbl') };
}

/** 78 bytes of a visual sample entry before its child boxes (ISO 14496-12 VisualSampleEntry). */
const VISUAL_ENTRY_BYTES = 78;

function avcInfo(avcC: Buffer | undefined): Pick<Mp4Summary, 'profile' | 'level' | 'pixFmt'> {
  if (avcC === undefined || avcC.length < 7) return { profile: undefined, level: undefined, pixFmt: undefined };
  const profileIdc = avcC[1] ?? 0;
  const level = avcC[3] ?? 0;
  let profile = PROFILE_NAMES[profileIdc];
  if (profileIdc === 66 && ((avcC[2] ?? 0) & 0x40) !== 0) profile = 'Constrained Baseline';
  // Parameter sets, then (High profiles) chroma format and bit depths.
  let off = 6;
  const sps = (avcC[5] ?? 0) & 0x1f;
  for (let i = 0; i < sps && off + 2 <= avcC.length; i++) off += 2 + avcC.readUInt16BE(off);
  const pps = avcC[off] ?? 0;
  off += 1;
  for (let i = 0; i < pps && off + 2 <= avcC.length; i++) off += 2 + avcC.readUInt16BE(off);
  let pixFmt: string | undefined;
  if (profileIdc === 100 || profileIdc === 110 || profileIdc === 122 || profileIdc === 244) {
    if (off + 3 <= avcC.length) {
      const chroma = (avcC[off] ?? 0) & 0x03;
      const lumaDepth = ((avcC[off + 1] ?? 0) & 0x07) + 8;
      const chromaDepth = ((avcC[off + 2] ?? 0) & 0x07) + 8;
      pixFmt = chroma === 1 && lumaDepth === 8 && chromaDepth === 8 ? 'yuv420p' : undefined;
    }
  } else if (off <= avcC.length) {
    pixFmt = 'yuv420p'; // Baseline, Main and Extended are 4:2:0 at 8 bits
  }
  return { profile, level, pixFmt };
}

/**
 * The first video track of an mp4, read from its `moov` box in this process (no ffprobe): codec,
 * profile, level and chroma format from the avcC, size from the sample entry, frames from the sample
 * table, duration from the media header. Undefined when the file is not an mp4 this reader follows
 * (no moov, no video track, an unexpected layout): the caller then asks ffprobe.
 */
export async function readMp4Summary(file: string): Promise<Mp4Summary | undefined> {
  const moov = await readMoov(file);
  if (moov === undefined) return undefined;
  const tracks: Track[] = [];
  for (const b of boxes(moov)) {
    if (b.type !== 'trak') continue;
    const t = trackOf(b.body);
    if (t !== undefined) tracks.push(t);
  }
  const video = tracks.find((t) => t.handler === 'vide');
  if (video === undefined || video.stbl === undefined || !(video.timescale > 0) || !(video.duration > 0)) return undefined;
  const stsd = child(video.stbl, 'stsd');
  const stsz = child(video.stbl, 'stsz');
  const stts = child(video.stbl, 'stts');
  if (stsd === undefined || stsd.length < 8 || stsz === undefined || stsz.length < 12 || stts === undefined || stts.length < 8) return undefined;
  const entry = boxes(stsd.subarray(8)).next();
  if (entry.done === true || entry.value.body.length < VISUAL_ENTRY_BYTES) return undefined;
  const { type: codecTag, body: sampleEntry } = entry.value;
  const width = sampleEntry.readUInt16BE(24);
  const height = sampleEntry.readUInt16BE(26);
  const frames = stsz.readUInt32BE(8);
  if (!(width > 0 && height > 0 && frames > 0)) return undefined;
  // One stts run: a constant rate, exactly timescale / delta; otherwise the average.
  const runs = stts.readUInt32BE(4);
  const oneDelta = runs === 1 && stts.length >= 16 ? stts.readUInt32BE(12) : 0;
  const durationSec = video.duration / video.timescale;
  const fps = oneDelta > 0 ? video.timescale / oneDelta : frames / durationSec;
  const isAvc = codecTag === 'avc1' || codecTag === 'avc3';
  return {
    codec: isAvc ? 'h264' : codecTag,
    codecTag,
    ...(isAvc ? avcInfo(child(sampleEntry.subarray(VISUAL_ENTRY_BYTES), 'avcC')) : { profile: undefined, level: undefined, pixFmt: undefined }),
    width,
    height,
    frames,
    fps,
    durationSec,
    hasAudio: tracks.some((t) => t.handler === 'soun'),
  };
}
