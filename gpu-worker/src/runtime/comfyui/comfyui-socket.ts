/**
 * The ComfyUI progress websocket (`/ws?clientId=`), kept alive for the length of one job: when the
 * connection drops it reconnects with capped exponential backoff and tells the owner, who then
 * checks /history (messages sent while we were away are gone for good).
 */
import WebSocket from 'ws';
import { z } from 'zod';

export const ComfyWsMessageSchema = z.object({
  type: z.string(),
  data: z.record(z.string(), z.unknown()).default({}),
});
export type ComfyWsMessage = z.infer<typeof ComfyWsMessageSchema>;

export interface ComfySocketOptions {
  /** http(s)://host:port of the ComfyUI server. */
  baseUrl: string;
  clientId: string;
  reconnectBaseMs: number;
  reconnectMaxMs: number;
  /** How long one connection attempt may take. */
  connectTimeoutMs: number;
  onMessage(message: ComfyWsMessage): void;
  /** Binary frames: 4-byte big-endian event type, then the payload (1 = preview image). */
  onBinary?(eventType: number, payload: Buffer): void;
  onStateChange?(connected: boolean): void;
}

export function websocketUrl(baseUrl: string, clientId: string): string {
  const url = new URL('ws', baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.searchParams.set('clientId', clientId);
  return url.toString();
}

export class ComfySocket {
  private socket: WebSocket | undefined;
  private closed = false;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private connectedFlag = false;
  private everConnected = false;
  /** Reconnections after the first successful connection. */
  reconnects = 0;

  constructor(private readonly options: ComfySocketOptions) {}

  get connected(): boolean {
    return this.connectedFlag;
  }

  /** Connects once; resolves true when open, false when the first attempt failed (retries go on). */
  open(): Promise<boolean> {
    return new Promise((resolve) => this.connect(resolve));
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const socket = this.socket;
    this.socket = undefined;
    if (socket) {
      socket.removeAllListeners();
      socket.on('error', () => undefined);
      socket.terminate();
    }
    this.setConnected(false);
  }

  private setConnected(value: boolean): void {
    if (this.connectedFlag === value) return;
    this.connectedFlag = value;
    this.options.onStateChange?.(value);
  }

  private connect(onFirstResult?: (ok: boolean) => void): void {
    if (this.closed) {
      onFirstResult?.(false);
      return;
    }
    let settled = false;
    const report = (ok: boolean) => {
      if (settled) return;
      settled = true;
      onFirstResult?.(ok);
    };
    const socket = new WebSocket(websocketUrl(this.options.baseUrl, this.options.clientId), {
      handshakeTimeout: this.options.connectTimeoutMs,
      perMessageDeflate: false,
    });
    this.socket = socket;
    socket.on('open', () => {
      if (this.everConnected) this.reconnects += 1;
      this.everConnected = true;
      this.attempt = 0;
      this.setConnected(true);
      report(true);
    });
    socket.on('message', (data, isBinary) => {
      const buffer = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      if (isBinary) {
        if (buffer.length >= 4) this.options.onBinary?.(buffer.readUInt32BE(0), buffer.subarray(4));
        return;
      }
      let json: unknown;
      try {
        json = JSON.parse(buffer.toString('utf8'));
      } catch {
        return; // not ours to judge; ComfyUI only sends JSON text frames
      }
      const parsed = ComfyWsMessageSchema.safeParse(json);
      if (parsed.success) this.options.onMessage(parsed.data);
    });
    socket.on('error', () => {
      // 'close' follows; the reconnect is scheduled there.
    });
    socket.on('close', () => {
      if (this.socket === socket) this.socket = undefined;
      this.setConnected(false);
      report(false);
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    if (this.closed || this.timer) return;
    const delay = Math.min(this.options.reconnectMaxMs, this.options.reconnectBaseMs * 2 ** this.attempt);
    this.attempt += 1;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.connect();
    }, delay);
  }
}
