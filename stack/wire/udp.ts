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
import { PROTO_UDP } from './ipv4.js';
import { rd16, WireView, wr16 } from './view.js';

export const UDP_SPORT = 0;
export const UDP_DPORT = 2;
export const UDP_LEN = 4;
export const UDP_CSUM = 6;
export const UDP_HEADER_LEN = 8;
/** TCP and UDP keep their ports at the same place (also in the 8 bytes an ICMP error quotes). */
export const L4_SPORT = 0;
export const L4_DPORT = 2;

export class UdpView extends WireView {

  check(): number {
    if (this.len < UDP_HEADER_LEN || this.off + this.len > this.buf.length) return UDP_TRUNCATED;
    const l = this.length;
    if (l < UDP_HEADER_LEN || l > this.len) return UDP_BAD_LENGTH;
    return OK;
  }

  get sport(): number { return rd16(this.buf, this.off + UDP_SPORT); }
  get dport(): number { return rd16(this.buf, this.off + UDP_DPORT); }
  get length(): number { return rd16(this.buf, this.off + UDP_LEN); }
  get csum(): number { return rd16(this.buf, this.off + UDP_CSUM); }
  set csum(v: number) { wr16(this.buf, this.off + UDP_CSUM, v); }
  get payloadOff(): number { return this.off + UDP_HEADER_LEN; }
  get payloadLen(): number { return this.length - UDP_HEADER_LEN; }

  /** True when the checksum is absent (0) or verifies over the pseudo-header + datagram. */
  checksumOk(saddr: number, daddr: number): boolean {
    if (this.csum === 0) return true;
    const l = this.length;
    return sum16(this.buf, this.off, l, pseudoSum(saddr, daddr, PROTO_UDP, l)) === 0xffff;
  }
}

/** Write a UDP header before a payload of payloadLen bytes already in place at off + 8, with
 *  the checksum over pseudo-header + datagram (0 is sent as 0xffff). Returns the UDP length. */
export function emitUdp(buf: Uint8Array, off: number, saddr: number, daddr: number,
  sport: number, dport: number, payloadLen: number): number {
  const l = UDP_HEADER_LEN + payloadLen;
  wr16(buf, off + UDP_SPORT, sport);
  wr16(buf, off + UDP_DPORT, dport);
  wr16(buf, off + UDP_LEN, l);
  wr16(buf, off + UDP_CSUM, 0);
  let c = ~sum16(buf, off, l, pseudoSum(saddr, daddr, PROTO_UDP, l)) & 0xffff;
  if (c === 0) c = 0xffff;
  wr16(buf, off + UDP_CSUM, c);
  return l;
}
