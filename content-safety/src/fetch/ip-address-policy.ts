/**
 * Which IP addresses a server-side fetch of a user-supplied URL may connect to.
 *
 * Addresses are parsed into bytes here (after Node's `net.isIP` accepted the text), so the
 * decision never depends on how the address was spelled. IPv6 forms that embed an IPv4 address
 * (IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16)
 * are judged by the IPv4 address inside them; Teredo (2001::/32) hides its client address, so it
 * is refused outright.
 */
import { isIP } from 'node:net';

export type IpFamily = 4 | 6;

export interface ParsedIp {
  family: IpFamily;
  /** 4 bytes for IPv4, 16 for IPv6. */
  bytes: Uint8Array;
}

export type AddressDecision =
  | { allowed: true; address: string; family: IpFamily; trustedByCidr?: string }
  | { allowed: false; address: string; family: IpFamily; reason: string };

interface Cidr {
  text: string;
  family: IpFamily;
  bytes: Uint8Array;
  prefix: number;
}

/** Parses a textual IPv4 (dotted quad only) or IPv6 address; undefined when it is neither. */
export function parseIp(text: string): ParsedIp | undefined {
  let s = text.trim();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  // A zone id (fe80::1%eth0) never names a public address.
  const family = isIP(s);
  if (family === 4) return { family: 4, bytes: parseV4(s) };
  if (family === 6) {
    const bytes = parseV6(s);
    return bytes ? { family: 6, bytes } : undefined;
  }
  return undefined;
}

function parseV4(s: string): Uint8Array {
  const out = new Uint8Array(4);
  const parts = s.split('.');
  for (let i = 0; i < 4; i++) out[i] = Number(parts[i]);
  return out;
}

function parseV6(input: string): Uint8Array | undefined {
  let s = input;
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct);
  const out = new Uint8Array(16);
  // An embedded dotted quad at the end takes the last 32 bits.
  let tailV4: Uint8Array | undefined;
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    const v4 = s.slice(lastColon + 1);
    if (isIP(v4) !== 4) return undefined;
    tailV4 = parseV4(v4);
    s = `${s.slice(0, lastColon + 1)}0:0`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const groups: number[] = [];
  for (const g of head) groups.push(parseInt(g, 16));
  if (halves.length === 2) {
    const fill = 8 - head.length - tail.length;
    if (fill < 0) return undefined;
    for (let i = 0; i < fill; i++) groups.push(0);
  }
  for (const g of tail) groups.push(parseInt(g, 16));
  if (groups.length !== 8 || groups.some((g) => !Number.isInteger(g) || g < 0 || g > 0xffff)) return undefined;
  groups.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  if (tailV4) out.set(tailV4, 12);
  return out;
}

export function formatIp(ip: ParsedIp): string {
  if (ip.family === 4) return Array.from(ip.bytes).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((ip.bytes[i] ?? 0) << 8) | (ip.bytes[i + 1] ?? 0)).toString(16));
  return groups.join(':');
}

export function parseCidr(text: string): Cidr {
  const [addr, prefixText, ...rest] = text.trim().split('/');
  const ip = addr === undefined ? undefined : parseIp(addr);
  if (!ip || rest.length > 0) throw new TypeError(`not a CIDR: ${text}`);
  const max = ip.family === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max || (prefixText !== undefined && !/^\d+$/.test(prefixText))) {
    throw new TypeError(`not a CIDR: ${text}`);
  }
  return { text: text.trim(), family: ip.family, bytes: ip.bytes, prefix };
}

function inCidr(bytes: Uint8Array, cidr: Cidr): boolean {
  const full = Math.floor(cidr.prefix / 8);
  for (let i = 0; i < full; i++) if (bytes[i] !== cidr.bytes[i]) return false;
  const rem = cidr.prefix % 8;
  if (rem === 0) return true;
  const mask = (0xff << (8 - rem)) & 0xff;
  return ((bytes[full] ?? 0) & mask) === ((cidr.bytes[full] ?? 0) & mask);
}

/** IPv4 ranges that are never a public web server (RFC 6890 special-purpose and friends). */
const BLOCKED_V4: Array<[string, string]> = [
  ['0.0.0.0/8', 'this network'],
  ['10.0.0.0/8', 'private'],
  ['100.64.0.0/10', 'carrier-grade NAT (includes Alibaba Cloud metadata 100.100.100.200)'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local (includes cloud metadata 169.254.169.254)'],
  ['172.16.0.0/12', 'private'],
  ['192.0.0.0/24', 'IETF protocol assignments (includes Oracle metadata 192.0.0.192)'],
  ['192.0.2.0/24', 'documentation'],
  ['192.88.99.0/24', '6to4 relay anycast'],
  ['192.168.0.0/16', 'private'],
  ['198.18.0.0/15', 'benchmarking'],
  ['198.51.100.0/24', 'documentation'],
  ['203.0.113.0/24', 'documentation'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved (includes broadcast 255.255.255.255)'],
];

/** IPv6 ranges refused outright (the embedded-IPv4 forms are handled before these). */
const BLOCKED_V6: Array<[string, string]> = [
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['64:ff9b:1::/48', 'local-use NAT64'],
  ['100::/64', 'discard-only'],
  ['2001::/32', 'Teredo (embeds an obfuscated IPv4 address)'],
  ['2001:db8::/32', 'documentation'],
  ['2001:10::/28', 'ORCHID'],
  ['2001:20::/28', 'ORCHIDv2'],
  ['3fff::/20', 'documentation'],
  ['5f00::/16', 'segment routing SIDs'],
  ['fc00::/7', 'unique local (includes AWS metadata fd00:ec2::254)'],
  ['fe80::/10', 'link-local'],
  ['fec0::/10', 'site-local (deprecated)'],
  ['ff00::/8', 'multicast'],
];

/** Only global unicast (2000::/3) is reachable as plain IPv6; anything else is refused. */
const GLOBAL_UNICAST_V6 = parseCidr('2000::/3');

const BLOCKED_V4_CIDRS = BLOCKED_V4.map(([c, why]) => ({ cidr: parseCidr(c), why }));
const BLOCKED_V6_CIDRS = BLOCKED_V6.map(([c, why]) => ({ cidr: parseCidr(c), why }));

const V4_MAPPED = parseCidr('::ffff:0:0/96');
const V4_COMPATIBLE = parseCidr('::/96');
const NAT64 = parseCidr('64:ff9b::/96');
const SIX_TO_FOUR = parseCidr('2002::/16');

/** The IPv4 address embedded in an IPv6 address, and the form that embeds it. */
export function embeddedIpv4(v6: Uint8Array): { form: string; bytes: Uint8Array } | undefined {
  if (inCidr(v6, V4_MAPPED)) return { form: 'IPv4-mapped', bytes: v6.slice(12, 16) };
  if (inCidr(v6, NAT64)) return { form: 'NAT64', bytes: v6.slice(12, 16) };
  if (inCidr(v6, SIX_TO_FOUR)) return { form: '6to4', bytes: v6.slice(2, 6) };
  // ::a.b.c.d (deprecated IPv4-compatible); :: and ::1 fall in here too and are judged below.
  if (inCidr(v6, V4_COMPATIBLE) && !v6.slice(0, 12).some((b) => b !== 0) && ((v6[12] ?? 0) | (v6[13] ?? 0)) !== 0) {
    return { form: 'IPv4-compatible', bytes: v6.slice(12, 16) };
  }
  return undefined;
}

export interface AddressPolicy {
  check(address: string): AddressDecision;
}

/**
 * Builds the policy. `allowPrivateCidrs` are trusted despite being special-purpose (tests, an
 * operator's own object store); it is empty by default and should stay so in production.
 */
export function createAddressPolicy(allowPrivateCidrs: readonly string[] = []): AddressPolicy {
  const trusted = allowPrivateCidrs.map(parseCidr);
  const trustedFor = (family: IpFamily, bytes: Uint8Array): string | undefined =>
    trusted.find((c) => c.family === family && inCidr(bytes, c))?.text;

  const checkV4 = (bytes: Uint8Array): string | undefined => {
    for (const { cidr, why } of BLOCKED_V4_CIDRS) if (inCidr(bytes, cidr)) return why;
    return undefined;
  };

  return {
    check(address: string): AddressDecision {
      const ip = parseIp(address);
      if (!ip) return { allowed: false, address, family: address.includes(':') ? 6 : 4, reason: 'not an IP address' };
      const text = formatIp(ip);
      if (ip.family === 4) {
        const t = trustedFor(4, ip.bytes);
        if (t) return { allowed: true, address: text, family: 4, trustedByCidr: t };
        const why = checkV4(ip.bytes);
        return why ? { allowed: false, address: text, family: 4, reason: why } : { allowed: true, address: text, family: 4 };
      }
      const t6 = trustedFor(6, ip.bytes);
      if (t6) return { allowed: true, address: text, family: 6, trustedByCidr: t6 };
      const embedded = embeddedIpv4(ip.bytes);
      if (embedded) {
        const t4 = trustedFor(4, embedded.bytes);
        if (t4) return { allowed: true, address: text, family: 6, trustedByCidr: t4 };
        const why = checkV4(embedded.bytes);
        if (why) return { allowed: false, address: text, family: 6, reason: `${embedded.form} form of a ${why} IPv4 address` };
        if (embedded.form === 'IPv4-compatible') return { allowed: false, address: text, family: 6, reason: 'IPv4-compatible (deprecated)' };
        return { allowed: true, address: text, family: 6 };
      }
      for (const { cidr, why } of BLOCKED_V6_CIDRS) {
        if (inCidr(ip.bytes, cidr)) return { allowed: false, address: text, family: 6, reason: why };
      }
      if (!inCidr(ip.bytes, GLOBAL_UNICAST_V6)) return { allowed: false, address: text, family: 6, reason: 'not global unicast' };
      return { allowed: true, address: text, family: 6 };
    },
  };
}
