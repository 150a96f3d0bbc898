// IPv4 header view (RFC 791). check() validates version, IHL, total length against the bytes
// present and the header checksum; after it passes, accessors trust the header. Options are
// not interpreted: the payload starts at IHL*4. Addresses are uint32 host order.
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |Version|  IHL  |Type of Service|          Total Length         |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |         Identification        |Flags|      Fragment Offset    |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |  Time to Live |    Protocol   |         Header Checksum       |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                       Source Address                          |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                    Destination Address                        |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                    Options                    |    Padding    |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

import { checksum, csumUpdate16, sum16 } from './checksum.js';
import {
  IP_BAD_CHECKSUM, IP_BAD_IHL, IP_BAD_TOTAL_LENGTH, IP_BAD_VERSION, IP_TRUNCATED, OK,
} from './reason.js';
import { rd16, rd32, WireView, wr16, wr32 } from './view.js';

export const IP_VER_IHL = 0;
export const IP_TOS = 1;
export const IP_TOTAL_LEN = 2;
export const IP_ID = 4;
export const IP_FRAG = 6;
export const IP_TTL = 8;
export const IP_PROTO = 9;
export const IP_CSUM = 10;
export const IP_SADDR = 12;
export const IP_DADDR = 16;
export const IP_MIN_HEADER_LEN = 20;

export const IP_FLAG_DF = 0x4000;
export const IP_FLAG_MF = 0x2000;
export const IP_FRAG_OFFSET_MASK = 0x1fff;

/** IP protocol numbers (IANA) the router knows by name. */
export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const PROTO_NAMES: Readonly<Record<number, string>> = { [PROTO_ICMP]: 'icmp', [PROTO_TCP]: 'tcp', [PROTO_UDP]: 'udp' };

export const IP_BROADCAST = 0xffffffff;
/** TTL of datagrams the router originates. */
export const IP_DEFAULT_TTL = 64;

/** 224.0.0.0/4. */
export function isMulticast(a: number): boolean { return a >>> 28 === 0xe; }

export class Ipv4View extends WireView {

  /** `skipChecksum` for headers whose checksum the caller trusts (never for received frames). */
  check(skipChecksum = false): number {
    const b = this.buf, o = this.off;
    if (this.len < IP_MIN_HEADER_LEN || o + this.len > b.length) return IP_TRUNCATED;
    if (b[o] >>> 4 !== 4) return IP_BAD_VERSION;
    const hl = (b[o] & 15) << 2;
    if (hl < IP_MIN_HEADER_LEN || hl > this.len) return IP_BAD_IHL;
    const tl = (b[o + IP_TOTAL_LEN] << 8) | b[o + IP_TOTAL_LEN + 1];
    if (tl < hl || tl > this.len) return IP_BAD_TOTAL_LENGTH;
    if (!skipChecksum && sum16(b, o, hl) !== 0xffff) return IP_BAD_CHECKSUM;
    return OK;
  }

  get version(): number { return this.buf[this.off] >>> 4; }
  get ihl(): number { return this.buf[this.off] & 15; }
  get headerLen(): number { return (this.buf[this.off] & 15) << 2; }
  /** Version 4 and IHL for a header of `bytes` (a multiple of 4, 20..60). */
  setHeaderLen(bytes: number): void { this.buf[this.off + IP_VER_IHL] = 0x40 | (bytes >>> 2); }
  get tos(): number { return this.buf[this.off + IP_TOS]; }
  set tos(v: number) { this.buf[this.off + IP_TOS] = v; }
  get dscp(): number { return this.buf[this.off + IP_TOS] >>> 2; }
  get ecn(): number { return this.buf[this.off + IP_TOS] & 3; }
  get totalLen(): number { return rd16(this.buf, this.off + IP_TOTAL_LEN); }
  set totalLen(v: number) { wr16(this.buf, this.off + IP_TOTAL_LEN, v); }
  get id(): number { return rd16(this.buf, this.off + IP_ID); }
  set id(v: number) { wr16(this.buf, this.off + IP_ID, v); }
  /** Flags and fragment offset (the 16-bit word). */
  get fragField(): number { return rd16(this.buf, this.off + IP_FRAG); }
  set fragField(v: number) { wr16(this.buf, this.off + IP_FRAG, v); }
  get df(): boolean { return (this.fragField & IP_FLAG_DF) !== 0; }
  get mf(): boolean { return (this.fragField & IP_FLAG_MF) !== 0; }
  /** Fragment offset in bytes. */
  get fragOffset(): number { return (this.fragField & IP_FRAG_OFFSET_MASK) << 3; }
  get isFragment(): boolean { return (this.fragField & (IP_FLAG_MF | IP_FRAG_OFFSET_MASK)) !== 0; }
  get ttl(): number { return this.buf[this.off + IP_TTL]; }
  get proto(): number { return this.buf[this.off + IP_PROTO]; }
  get csum(): number { return rd16(this.buf, this.off + IP_CSUM); }
  get saddr(): number { return rd32(this.buf, this.off + IP_SADDR); }
  get daddr(): number { return rd32(this.buf, this.off + IP_DADDR); }
  set saddr(v: number) { wr32(this.buf, this.off + IP_SADDR, v); }
  set daddr(v: number) { wr32(this.buf, this.off + IP_DADDR, v); }
  set ttl(v: number) { this.buf[this.off + IP_TTL] = v; }
  set csum(v: number) { wr16(this.buf, this.off + IP_CSUM, v); }

  /** TTL - 1 with an RFC 1624 checksum update (the TTL shares a 16-bit word with the protocol). */
  decTtl(): void {
    const b = this.buf, o = this.off;
    const old = rd16(b, o + IP_TTL);
    b[o + IP_TTL] = b[o + IP_TTL] - 1;
    wr16(b, o + IP_CSUM, csumUpdate16(rd16(b, o + IP_CSUM), old, old - 0x100));
  }

  /** Recompute the header checksum from scratch. */
  fillChecksum(): void {
    this.buf[this.off + IP_CSUM] = 0; this.buf[this.off + IP_CSUM + 1] = 0;
    this.csum = checksum(this.buf, this.off, this.headerLen);
  }
}

/** Write a 20-byte IPv4 header (no options) with a valid checksum; returns 20. */
export function emitIpv4(buf: Uint8Array, off: number, totalLen: number, id: number, ttl: number,
  proto: number, saddr: number, daddr: number, tos = 0, dontFragment = false): number {
  buf[off] = 0x45; buf[off + IP_TOS] = tos;
  wr16(buf, off + IP_TOTAL_LEN, totalLen);
  wr16(buf, off + IP_ID, id);
  wr16(buf, off + IP_FRAG, dontFragment ? IP_FLAG_DF : 0);
  buf[off + IP_TTL] = ttl; buf[off + IP_PROTO] = proto;
  buf[off + IP_CSUM] = 0; buf[off + IP_CSUM + 1] = 0;
  wr32(buf, off + IP_SADDR, saddr);
  wr32(buf, off + IP_DADDR, daddr);
  wr16(buf, off + IP_CSUM, checksum(buf, off, IP_MIN_HEADER_LEN));
  return IP_MIN_HEADER_LEN;
}

// ---- addresses and prefixes as text and numbers (configuration, display, tests; not the hot path)

/** "10.0.0.1" <-> uint32; null when it is not a dotted quad. */
export function parseIpv4(s: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  let v = 0;
  for (let i = 1; i <= 4; i++) {
    const n = Number(m[i]);
    if (n > 255) return null;
    v = v * 256 + n;
  }
  return v;
}

export function formatIpv4(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}

/** Netmask of a prefix length (0..32; clamped). */
export function prefixMask(prefix: number): number {
  return prefix <= 0 ? 0 : prefix >= 32 ? 0xffffffff : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Prefix length of a contiguous netmask, or -1 when the mask is not contiguous. */
export function maskPrefix(mask: number): number {
  let p = 0;
  while (p < 32 && ((mask >>> (31 - p)) & 1) === 1) p++;
  return prefixMask(p) === mask >>> 0 ? p : -1;
}

/** "A.B.C.D/N" of an address and a netmask (the network address; /N from the mask). */
export function formatPrefix(addr: number, mask: number): string {
  return `${formatIpv4((addr & mask) >>> 0)}/${maskPrefix(mask)}`;
}
