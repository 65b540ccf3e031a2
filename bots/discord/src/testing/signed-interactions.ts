import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';

/** An application's Ed25519 key pair for tests: the private key signs, the public key is DISCORD_PUBLIC_KEY's 64 hex digits. */
export function interactionKeys(): { privateKey: KeyObject; publicKeyHex: string } {
  const pair = generateKeyPairSync('ed25519');
  return { privateKey: pair.privateKey, publicKeyHex: pair.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex') };
}

/**
 * POSTs an interaction to `POST /discord/interactions` on the server at `port`, signed with `key`
 * as Discord signs it (Ed25519 over timestamp + body); `tamper` changes the body after signing.
 */
export async function postSignedInteraction(port: number, body: unknown, key: KeyObject, tamper?: (raw: string) => string): Promise<Response> {
  const raw = JSON.stringify(body);
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = sign(null, Buffer.from(timestamp + raw), key).toString('hex');
  return fetch(`http://127.0.0.1:${port}/discord/interactions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-signature-ed25519': signature, 'x-signature-timestamp': timestamp },
    body: tamper === undefined ? raw : tamper(raw),
  });
}
