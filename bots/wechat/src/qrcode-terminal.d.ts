// qrcode-terminal ships no types: the one function the adapter uses.
declare module 'qrcode-terminal' {
  export function generate(text: string, opts: { small?: boolean }, cb: (qr: string) => void): void;
  const qrcodeTerminal: { generate: typeof generate };
  export default qrcodeTerminal;
}
