/**
 * Server-sent events read from `wx.request({enableChunked: true})` chunks: a streaming UTF-8
 * decoder (the mini program runtime has no TextDecoder everywhere) and a parser of SSE frames.
 */

/** Decodes UTF-8 across chunk boundaries: a character split between two chunks is kept for the next. */
export class Utf8Stream {
  private pending: number[] = [];

  push(chunk: ArrayBuffer | Uint8Array): string {
    const bytes = chunk instanceof Uint8Array ? chunk : new Uint8Array(chunk);
    const all = this.pending.length > 0 ? [...this.pending, ...bytes] : Array.from(bytes);
    let end = all.length;
    // Keep an incomplete sequence at the end for the next chunk.
    for (let back = 1; back <= 3 && back <= all.length; back++) {
      const b = all[all.length - back] ?? 0;
      if ((b & 0xc0) === 0x80) continue;
      const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
      if (need > back) end = all.length - back;
      break;
    }
    this.pending = all.slice(end);
    let out = '';
    for (let i = 0; i < end; ) {
      const b = all[i] ?? 0;
      const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
      let cp = need === 1 ? b : b & (0xff >> (need + 1));
      for (let k = 1; k < need; k++) cp = (cp << 6) | ((all[i + k] ?? 0) & 0x3f);
      out += need === 1 && b >= 0x80 ? '\ufffd' : String.fromCodePoint(cp);
      i += need;
    }
    return out;
  }
}

export interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

/** Splits text into SSE events as it arrives; comments (`: ping`) are skipped. */
export class SseParser {
  private buffer = '';

  push(text: string): SseEvent[] {
    this.buffer += text.replace(/\r\n?/g, '\n');
    const events: SseEvent[] = [];
    let cut: number;
    while ((cut = this.buffer.indexOf('\n\n')) !== -1) {
      const block = this.buffer.slice(0, cut);
      this.buffer = this.buffer.slice(cut + 2);
      let event = 'message';
      let id: string | undefined;
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line === '' || line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
        else if (field === 'id') id = value;
      }
      if (data.length > 0) events.push(id === undefined ? { event, data: data.join('\n') } : { event, data: data.join('\n'), id });
    }
    // A runaway stream without frame ends is not kept in memory.
    if (this.buffer.length > 1_000_000) this.buffer = '';
    return events;
  }
}
