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
import { WireView } from './view.js';

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

export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;

export const IP_BROADCAST = 0xffffffff;

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
  get tos(): number { return this.buf[this.off + IP_TOS]; }
  get dscp(): number { return this.buf[this.off + IP_TOS] >>> 2; }
  get ecn(): number { return this.buf[this.off + IP_TOS] & 3; }
  get totalLen(): number { return (this.buf[this.off + IP_TOTAL_LEN] << 8) | this.buf[this.off + IP_TOTAL_LEN + 1]; }
  get id(): number { return (this.buf[this.off + IP_ID] << 8) | this.buf[this.off + IP_ID + 1]; }
  get fragField(): number { return (this.buf[this.off + IP_FRAG] << 8) | this.buf[this.off + IP_FRAG + 1]; }
  get df(): boolean { return (this.buf[this.off + IP_FRAG] & 0x40) !== 0; }
  get mf(): boolean { return (this.buf[this.off + IP_FRAG] & 0x20) !== 0; }
  /** Fragment offset in bytes. */
  get fragOffset(): number { return (this.fragField & IP_FRAG_OFFSET_MASK) << 3; }
  get isFragment(): boolean { return (this.fragField & (IP_FLAG_MF | IP_FRAG_OFFSET_MASK)) !== 0; }
  get ttl(): number { return this.buf[this.off + IP_TTL]; }
  get proto(): number { return this.buf[this.off + IP_PROTO]; }
  get csum(): number { return (this.buf[this.off + IP_CSUM] << 8) | this.buf[this.off + IP_CSUM + 1]; }
  get saddr(): number { return rd32(this.buf, this.off + IP_SADDR); }
  get daddr(): number { return rd32(this.buf, this.off + IP_DADDR); }
  set saddr(v: number) { wr32(this.buf, this.off + IP_SADDR, v); }
  set daddr(v: number) { wr32(this.buf, this.off + IP_DADDR, v); }
  set ttl(v: number) { this.buf[this.off + IP_TTL] = v; }
  set csum(v: number) { this.buf[this.off + IP_CSUM] = v >>> 8; this.buf[this.off + IP_CSUM + 1] = v; }

  /** TTL - 1 with an RFC 1624 checksum update (the TTL shares a 16-bit word with the protocol). */
  decTtl(): void {
    const b = this.buf, o = this.off;
    const old = (b[o + IP_TTL] << 8) | b[o + IP_PROTO];
    b[o + IP_TTL] = b[o + IP_TTL] - 1;
    this.csum = csumUpdate16(this.csum, old, old - 0x100);
  }

  /** Recompute the header checksum from scratch. */
  fillChecksum(): void {
    this.buf[this.off + IP_CSUM] = 0; this.buf[this.off + IP_CSUM + 1] = 0;
    this.csum = checksum(this.buf, this.off, this.headerLen);
  }
}

export function rd32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

export function wr32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24; b[o + 1] = v >>> 16; b[o + 2] = v >>> 8; b[o + 3] = v;
}

export function rd16(b: Uint8Array, o: number): number { return (b[o] << 8) | b[o + 1]; }
export function wr16(b: Uint8Array, o: number, v: number): void { b[o] = v >>> 8; b[o + 1] = v; }

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

/** "10.0.0.1" <-> uint32 (configuration, tests and display only). */
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
