// UDP header view (RFC 768). check() validates that the header fits and the length field is
// consistent with the bytes the IPv4 header gave (trailing bytes beyond it are ignored).
// A zero checksum means "none" (IPv4 only).
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |          Source Port          |       Destination Port        |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |            Length             |           Checksum            |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

import { pseudoSum, sum16 } from './checksum.js';
import { OK, UDP_BAD_LENGTH, UDP_TRUNCATED } from './reason.js';
import { WireView } from './view.js';

export const UDP_SPORT = 0;
export const UDP_DPORT = 2;
export const UDP_LEN = 4;
export const UDP_CSUM = 6;
export const UDP_HEADER_LEN = 8;
export const PROTO_UDP_NUM = 17;

export class UdpView extends WireView {

  check(): number {
    if (this.len < UDP_HEADER_LEN || this.off + this.len > this.buf.length) return UDP_TRUNCATED;
    const l = this.length;
    if (l < UDP_HEADER_LEN || l > this.len) return UDP_BAD_LENGTH;
    return OK;
  }

  get sport(): number { return (this.buf[this.off] << 8) | this.buf[this.off + 1]; }
  get dport(): number { return (this.buf[this.off + UDP_DPORT] << 8) | this.buf[this.off + UDP_DPORT + 1]; }
  get length(): number { return (this.buf[this.off + UDP_LEN] << 8) | this.buf[this.off + UDP_LEN + 1]; }
  get csum(): number { return (this.buf[this.off + UDP_CSUM] << 8) | this.buf[this.off + UDP_CSUM + 1]; }
  set csum(v: number) { this.buf[this.off + UDP_CSUM] = v >>> 8; this.buf[this.off + UDP_CSUM + 1] = v; }
  get payloadOff(): number { return this.off + UDP_HEADER_LEN; }
  get payloadLen(): number { return this.length - UDP_HEADER_LEN; }

  /** True when the checksum is absent (0) or verifies over the pseudo-header + datagram. */
  checksumOk(saddr: number, daddr: number): boolean {
    if (this.csum === 0) return true;
    const l = this.length;
    return sum16(this.buf, this.off, l, pseudoSum(saddr, daddr, PROTO_UDP_NUM, l)) === 0xffff;
  }
}

/** Write a UDP header before a payload of payloadLen bytes already in place at off + 8, with
 *  the checksum over pseudo-header + datagram (0 is sent as 0xffff). Returns the UDP length. */
export function emitUdp(buf: Uint8Array, off: number, saddr: number, daddr: number,
  sport: number, dport: number, payloadLen: number): number {
  const l = UDP_HEADER_LEN + payloadLen;
  buf[off] = sport >>> 8; buf[off + 1] = sport;
  buf[off + 2] = dport >>> 8; buf[off + 3] = dport;
  buf[off + 4] = l >>> 8; buf[off + 5] = l;
  buf[off + 6] = 0; buf[off + 7] = 0;
  let c = ~sum16(buf, off, l, pseudoSum(saddr, daddr, PROTO_UDP_NUM, l)) & 0xffff;
  if (c === 0) c = 0xffff;
  buf[off + 6] = c >>> 8; buf[off + 7] = c;
  return l;
}
