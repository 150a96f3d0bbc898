// In-place header rewrites for NAT, with incremental checksum updates (RFC 1624).
// Invariants: every rewrite keeps the IPv4 header checksum and the L4 checksum valid, and keeps
// the Pkt mirrors (saddr/daddr/sport/dport) in step. A UDP checksum of 0 (none) stays 0; an
// updated UDP checksum that comes out 0 is written 0xffff. On frames whose L4 checksum is
// partial (Pkt.csumPartial, GSO/offload), the field holds the uninverted pseudo-header sum:
// addresses update it (they are in the pseudo-header), ports do not touch it.
// ICMP errors: the quoted inner header (addresses, ports/echo id, inner IP checksum, quoted
// UDP/TCP/ICMP checksum when present) and the outer ICMP checksum are rewritten together.

import { csumUpdate16, csumUpdate32, partialUpdate32 } from './wire/checksum.js';
import { ICMP_CSUM, ICMP_HEADER_LEN, ICMP_ID, ICMP_TYPE, isIcmpQuery } from './wire/icmp.js';
import { IP_CSUM, IP_DADDR, IP_PROTO, IP_SADDR, IP_VER_IHL, PROTO_ICMP, PROTO_TCP, PROTO_UDP } from './wire/ipv4.js';
import type { Pkt } from './wire/pkt.js';
import { TCP_CSUM } from './wire/tcp.js';
import { L4_DPORT, L4_SPORT, UDP_CSUM } from './wire/udp.js';

/** ICMP echo request/reply (the identifier is the tracked "port"). */
export function isIcmpQueryPkt(p: Pkt): boolean {
  return p.proto === PROTO_ICMP && isIcmpQuery(p.buf[p.l4 + ICMP_TYPE]);
}

/** Offset of the L4 checksum field from the L4 header (TCP, UDP), or -1. */
function l4CsumAt(proto: number): number {
  return proto === PROTO_TCP ? TCP_CSUM : proto === PROTO_UDP ? UDP_CSUM : -1;
}

function l4AddrCsum(p: Pkt, old: number, neu: number): void {
  const dv = p.dv;
  const rel = l4CsumAt(p.proto);
  if (rel < 0) return;
  const at = p.l4 + rel;
  const udp = p.proto === PROTO_UDP;
  const cs = dv.getUint16(at);
  if (p.csumPartial) {
    dv.setUint16(at, partialUpdate32(cs, old, neu));
    return;
  }
  if (udp && cs === 0) return;
  let n = csumUpdate32(cs, old, neu);
  if (udp && n === 0) n = 0xffff;
  dv.setUint16(at, n);
}

/** Rewrite the source (field IP_SADDR) or destination (IP_DADDR) address. */
export function setAddr(p: Pkt, field: number, neu: number): void {
  const dv = p.dv;
  const at = p.l3 + field;
  const old = dv.getUint32(at);
  neu >>>= 0;
  if (old === neu) return;
  dv.setUint32(at, neu);
  dv.setUint16(p.l3 + IP_CSUM, csumUpdate32(dv.getUint16(p.l3 + IP_CSUM), old, neu));
  if (!p.frag) l4AddrCsum(p, old, neu);
  if (field === IP_SADDR) p.saddr = neu;
  else p.daddr = neu;
}

/** Rewrite a TCP/UDP port (which = L4_SPORT or L4_DPORT). */
export function setPort(p: Pkt, which: number, neu: number): void {
  const dv = p.dv;
  const at = p.l4 + which;
  const old = dv.getUint16(at);
  if (old !== neu) {
    dv.setUint16(at, neu);
    if (!p.csumPartial) {
      const csAt = p.l4 + l4CsumAt(p.proto);
      const cs = dv.getUint16(csAt);
      if (p.proto === PROTO_TCP || cs !== 0) {
        let n = csumUpdate16(cs, old, neu);
        if (p.proto === PROTO_UDP && n === 0) n = 0xffff;
        dv.setUint16(csAt, n);
      }
    }
  }
  if (which === L4_SPORT) p.sport = neu;
  else p.dport = neu;
}

/** Rewrite the ICMP echo identifier (both port mirrors carry it). */
export function setIcmpId(p: Pkt, neu: number): void {
  const dv = p.dv;
  const at = p.l4 + ICMP_ID;
  const old = dv.getUint16(at);
  if (old !== neu) {
    dv.setUint16(at, neu);
    dv.setUint16(p.l4 + ICMP_CSUM, csumUpdate16(dv.getUint16(p.l4 + ICMP_CSUM), old, neu));
  }
  p.sport = neu;
  p.dport = neu;
}

/** Destination side of a translation: address, then port / echo id (as the protocol has). */
export function rewriteDst(p: Pkt, addr: number, port: number): void {
  setAddr(p, IP_DADDR, addr);
  if (p.frag) return;
  if (p.proto === PROTO_TCP || p.proto === PROTO_UDP) setPort(p, L4_DPORT, port);
  else if (isIcmpQueryPkt(p)) setIcmpId(p, port);
}

/** Source side of a translation. */
export function rewriteSrc(p: Pkt, addr: number, port: number): void {
  setAddr(p, IP_SADDR, addr);
  if (p.frag) return;
  if (p.proto === PROTO_TCP || p.proto === PROTO_UDP) setPort(p, L4_SPORT, port);
  else if (isIcmpQueryPkt(p)) setIcmpId(p, port);
}

// ---- ICMP errors ------------------------------------------------------------------------

/** Change a 16-bit word inside the ICMP message and fix the outer ICMP checksum. */
function icmpWord16(p: Pkt, at: number, neu: number): number {
  const dv = p.dv;
  const old = dv.getUint16(at);
  if (old !== neu) {
    dv.setUint16(at, neu);
    dv.setUint16(p.l4 + ICMP_CSUM, csumUpdate16(dv.getUint16(p.l4 + ICMP_CSUM), old, neu));
  }
  return old;
}

/** Change an inner word covered by an inner checksum at csAt (when present and in the quote). */
function innerCsum(p: Pkt, csAt: number, end: number, old: number, neu: number, is32: boolean, udp: boolean): void {
  if (csAt + 2 > end) return;
  const cs = p.dv.getUint16(csAt);
  if (udp && cs === 0) return;
  let n = is32 ? csumUpdate32(cs, old, neu) : csumUpdate16(cs, old, neu);
  if (udp && n === 0) n = 0xffff;
  icmpWord16(p, csAt, n);
}

/** Rewrite the quoted packet of an ICMP error: its source (field IP_SADDR, source port) or
 *  destination (IP_DADDR, destination port) address and port/id. Assumes the quote holds the
 *  inner IP header + 8 bytes (conntrack checked it). The outer header is not touched. */
export function rewriteQuoted(p: Pkt, field: number, addr: number, port: number): void {
  const dv = p.dv;
  const in3 = p.l4 + ICMP_HEADER_LEN;
  const end = p.l3 + p.ipLen;
  const ihl = (dv.getUint8(in3 + IP_VER_IHL) & 15) << 2;
  const in4 = in3 + ihl;
  const ipr = dv.getUint8(in3 + IP_PROTO);
  const csAt = in4 + l4CsumAt(ipr);
  addr >>>= 0;
  const oldA = dv.getUint32(in3 + field);
  if (oldA !== addr) {
    icmpWord16(p, in3 + field, addr >>> 16);
    icmpWord16(p, in3 + field + 2, addr & 0xffff);
    const ic = dv.getUint16(in3 + IP_CSUM);
    icmpWord16(p, in3 + IP_CSUM, csumUpdate32(ic, oldA, addr));
    if (ipr === PROTO_UDP || ipr === PROTO_TCP) innerCsum(p, csAt, end, oldA, addr, true, ipr === PROTO_UDP);
  }
  if (ipr === PROTO_TCP || ipr === PROTO_UDP) {
    const at = in4 + (field === IP_SADDR ? L4_SPORT : L4_DPORT);
    const oldP = dv.getUint16(at);
    if (oldP !== port) {
      icmpWord16(p, at, port);
      innerCsum(p, csAt, end, oldP, port, false, ipr === PROTO_UDP);
    }
  } else if (ipr === PROTO_ICMP) {
    if (isIcmpQuery(dv.getUint8(in4 + ICMP_TYPE))) {
      const oldId = dv.getUint16(in4 + ICMP_ID);
      if (oldId !== port) {
        icmpWord16(p, in4 + ICMP_ID, port);
        innerCsum(p, in4 + ICMP_CSUM, end, oldId, port, false, false);
      }
    }
  }
}
