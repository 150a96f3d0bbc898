// ICMP the router generates itself: echo replies and error messages (RFC 792, RFC 1812 4.3.2),
// plus the token bucket that rate-limits them. Builders write a complete IPv4 datagram at a
// given offset of a caller-owned buffer and return its length; they allocate nothing.
// mayReport() applies the RFC 1812 rules for when an error must NOT be sent.

import { emitIcmp, ICMP_DEST_UNREACH, ICMP_ECHO_REPLY, ICMP_HEADER_LEN, ICMP_PARAM_PROBLEM, ICMP_TIME_EXCEEDED, quoteLen } from './wire/icmp.js';
import { emitIpv4, IP_MIN_HEADER_LEN, PROTO_ICMP } from './wire/ipv4.js';

export const ICMP_TTL = 64;

export class TokenBucket {
  private tokens: number;
  private last = -1;
  constructor(private readonly ratePerSec: number, private readonly burst: number) { this.tokens = burst; }

  take(now: number): boolean {
    if (this.last >= 0 && now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.ratePerSec) / 1000);
    }
    this.last = now;
    if (this.tokens >= 1) { this.tokens -= 1; return true; }
    return false;
  }
}

function isMulticastOrBroadcast(a: number): boolean {
  return a >>> 28 === 0xe || a === 0xffffffff;
}

/** May the router send an ICMP error about this datagram? (Not about an ICMP error, a
 *  non-first fragment, a group destination or an unusable source.) `icmpType` is -1 unless
 *  the datagram is ICMP with its type readable. */
export function mayReport(saddr: number, daddr: number, nonFirstFragment: boolean, icmpType: number,
  linkBroadcast: boolean): boolean {
  if (nonFirstFragment || linkBroadcast) return false;
  if (isMulticastOrBroadcast(daddr)) return false;
  if (saddr === 0 || isMulticastOrBroadcast(saddr) || saddr >>> 24 === 127) return false;
  if (icmpType === ICMP_DEST_UNREACH || icmpType === ICMP_TIME_EXCEEDED || icmpType === ICMP_PARAM_PROBLEM) return false;
  if (icmpType === 4 || icmpType === 5) return false;
  return true;
}

/** Bytes writeIcmpError() produces for a datagram with the given header and total length. */
export function icmpErrorLen(origHeaderLen: number, origLen: number): number {
  return IP_MIN_HEADER_LEN + ICMP_HEADER_LEN + quoteLen(origHeaderLen, origLen);
}

/** Write IPv4 + ICMP error quoting the offending datagram src[ipOff..] (its header + 8 bytes).
 *  dst and src may be the same buffer only if the regions do not overlap. */
export function writeIcmpError(dst: Uint8Array, off: number, id: number, saddr: number, daddr: number,
  type: number, code: number, rest: number, src: Uint8Array, ipOff: number, origHeaderLen: number, origLen: number): number {
  const q = quoteLen(origHeaderLen, origLen);
  const icmpOff = off + IP_MIN_HEADER_LEN;
  const dataOff = icmpOff + ICMP_HEADER_LEN;
  for (let k = 0; k < q; k++) dst[dataOff + k] = src[ipOff + k];
  const l4 = emitIcmp(dst, icmpOff, type, code, rest, q);
  const total = IP_MIN_HEADER_LEN + l4;
  emitIpv4(dst, off, total, id, ICMP_TTL, PROTO_ICMP, saddr, daddr);
  return total;
}

/** Write an echo reply to the echo request whose ICMP message is src[icmpOff, +icmpLen)
 *  (same identifier, sequence and data). */
export function writeEchoReply(dst: Uint8Array, off: number, id: number, saddr: number, daddr: number,
  src: Uint8Array, icmpOff: number, icmpLen: number): number {
  const o = off + IP_MIN_HEADER_LEN;
  for (let k = 4; k < icmpLen; k++) dst[o + k] = src[icmpOff + k];
  const rest = ((src[icmpOff + 4] << 24) | (src[icmpOff + 5] << 16) | (src[icmpOff + 6] << 8) | src[icmpOff + 7]) >>> 0;
  const l4 = emitIcmp(dst, o, ICMP_ECHO_REPLY, 0, rest, icmpLen - ICMP_HEADER_LEN);
  const total = IP_MIN_HEADER_LEN + l4;
  emitIpv4(dst, off, total, id, ICMP_TTL, PROTO_ICMP, saddr, daddr);
  return total;
}
