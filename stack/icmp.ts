// ICMP the router generates itself: echo replies and error messages (RFC 792, RFC 1812 4.3.2),
// plus the token bucket that rate-limits them. Builders write a complete IPv4 datagram at a
// given offset of a caller-owned buffer and return its length; they allocate nothing.
// mayReport() applies the RFC 1812 rules for when an error must NOT be sent.

import { emitIcmp, ICMP_ECHO_REPLY, ICMP_HEADER_LEN, ICMP_ID, isIcmpError, quoteLen } from './wire/icmp.js';
import { emitIpv4, IP_BROADCAST, IP_DEFAULT_TTL, IP_MIN_HEADER_LEN, isMulticast, PROTO_ICMP } from './wire/ipv4.js';
import { rd32 } from './wire/view.js';
import type { Now } from './neighbor.js';

/** The datagram an ICMP error is about: its IPv4 header at buf[l3], payload at l4, ipLen bytes
 *  in all (a Pkt is one). */
export interface Offending {
  readonly buf: Uint8Array;
  readonly l3: number;
  readonly l4: number;
  readonly ipLen: number;
  readonly saddr: number;
}

export class TokenBucket {
  private tokens: number;
  private last = -1;
  constructor(private readonly ratePerSec: number, private readonly burst: number) { this.tokens = burst; }

  /** Full again, as new. */
  reset(): void { this.tokens = this.burst; this.last = -1; }

  take(t: Now): boolean {
    const now = t.now;
    if (this.last >= 0 && now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.ratePerSec) / 1000);
    }
    this.last = now;
    if (this.tokens >= 1) { this.tokens -= 1; return true; }
    return false;
  }
}

function isMulticastOrBroadcast(a: number): boolean {
  return isMulticast(a) || a === IP_BROADCAST;
}

/** May the router send an ICMP error about this datagram? (Not about an ICMP error, a
 *  non-first fragment, a group destination or an unusable source.) `icmpType` is -1 unless
 *  the datagram is ICMP with its type readable. */
export function mayReport(saddr: number, daddr: number, nonFirstFragment: boolean, icmpType: number,
  linkBroadcast: boolean): boolean {
  if (nonFirstFragment || linkBroadcast) return false;
  if (isMulticastOrBroadcast(daddr)) return false;
  if (saddr === 0 || isMulticastOrBroadcast(saddr) || saddr >>> 24 === 127) return false;
  return !isIcmpError(icmpType);
}

/** Bytes writeIcmpError() produces for a datagram with the given header and total length. */
export function icmpErrorLen(origHeaderLen: number, origLen: number): number {
  return IP_MIN_HEADER_LEN + ICMP_HEADER_LEN + quoteLen(origHeaderLen, origLen);
}

/** Write IPv4 + ICMP error from saddr back to the source of the offending datagram, quoting
 *  its header + 8 bytes; `rest` is the ICMP header's second word (e.g. the next-hop MTU).
 *  dst and the offending datagram may share a buffer only if the regions do not overlap. */
export function writeIcmpError(dst: Uint8Array, off: number, id: number, saddr: number,
  type: number, code: number, rest: number, orig: Offending): number {
  const q = quoteLen(orig.l4 - orig.l3, orig.ipLen);
  const icmpOff = off + IP_MIN_HEADER_LEN;
  const dataOff = icmpOff + ICMP_HEADER_LEN;
  const src = orig.buf, from = orig.l3;
  for (let k = 0; k < q; k++) dst[dataOff + k] = src[from + k];
  const l4 = emitIcmp(dst, icmpOff, type, code, rest, q);
  const total = IP_MIN_HEADER_LEN + l4;
  emitIpv4(dst, off, total, id, IP_DEFAULT_TTL, PROTO_ICMP, saddr, orig.saddr);
  return total;
}

/** Write an echo reply to the echo request whose ICMP message is src[icmpOff, +icmpLen)
 *  (same identifier, sequence and data). */
export function writeEchoReply(dst: Uint8Array, off: number, id: number, saddr: number, daddr: number,
  src: Uint8Array, icmpOff: number, icmpLen: number): number {
  const o = off + IP_MIN_HEADER_LEN;
  for (let k = ICMP_HEADER_LEN; k < icmpLen; k++) dst[o + k] = src[icmpOff + k];
  const rest = rd32(src, icmpOff + ICMP_ID);
  const l4 = emitIcmp(dst, o, ICMP_ECHO_REPLY, 0, rest, icmpLen - ICMP_HEADER_LEN);
  const total = IP_MIN_HEADER_LEN + l4;
  emitIpv4(dst, off, total, id, IP_DEFAULT_TTL, PROTO_ICMP, saddr, daddr);
  return total;
}
