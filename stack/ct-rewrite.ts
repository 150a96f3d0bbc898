// In-place header rewrites for NAT, with incremental checksum updates (RFC 1624).
// Invariants: every rewrite keeps the IPv4 header checksum and the L4 checksum valid, and keeps
// the Pkt mirrors (saddr/daddr/sport/dport) in step. A UDP checksum of 0 (none) stays 0; an
// updated UDP checksum that comes out 0 is written 0xffff. On frames whose L4 checksum is
// partial (Pkt.csumPartial, GSO/offload), the field holds the uninverted pseudo-header sum:
// addresses update it (they are in the pseudo-header), ports do not touch it.
// ICMP errors: the quoted inner header (addresses, ports/echo id, inner IP checksum, quoted
// UDP/TCP/ICMP checksum when present) and the outer ICMP checksum are rewritten together.

import { csumUpdate16, csumUpdate32, partialUpdate32 } from './wire/checksum.js';
import type { Pkt } from './wire/pkt.js';

const TCP = 6;
const UDP = 17;
const ICMP = 1;

export const IP_SRC = 12;
export const IP_DST = 16;

/** ICMP echo request/reply (the identifier is the tracked "port"). */
export function isIcmpQueryPkt(p: Pkt): boolean {
  if (p.proto !== ICMP) return false;
  const t = p.buf[p.l4];
  return t === 8 || t === 0;
}

function l4AddrCsum(p: Pkt, old: number, neu: number): void {
  const dv = p.dv;
  let at: number;
  let udp = false;
  if (p.proto === TCP) at = p.l4 + 16;
  else if (p.proto === UDP) { at = p.l4 + 6; udp = true; }
  else return;
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

/** Rewrite the source (IP_SRC) or destination (IP_DST) address. */
export function setAddr(p: Pkt, field: number, neu: number): void {
  const dv = p.dv;
  const at = p.l3 + field;
  const old = dv.getUint32(at);
  neu >>>= 0;
  if (old === neu) return;
  dv.setUint32(at, neu);
  dv.setUint16(p.l3 + 10, csumUpdate32(dv.getUint16(p.l3 + 10), old, neu));
  if (!p.frag) l4AddrCsum(p, old, neu);
  if (field === IP_SRC) p.saddr = neu;
  else p.daddr = neu;
}

/** Rewrite a TCP/UDP port (which = 0 source, 2 destination). */
export function setPort(p: Pkt, which: number, neu: number): void {
  const dv = p.dv;
  const at = p.l4 + which;
  const old = dv.getUint16(at);
  if (old !== neu) {
    dv.setUint16(at, neu);
    if (!p.csumPartial) {
      const csAt = p.l4 + (p.proto === TCP ? 16 : 6);
      const cs = dv.getUint16(csAt);
      if (p.proto === TCP || cs !== 0) {
        let n = csumUpdate16(cs, old, neu);
        if (p.proto === UDP && n === 0) n = 0xffff;
        dv.setUint16(csAt, n);
      }
    }
  }
  if (which === 0) p.sport = neu;
  else p.dport = neu;
}

/** Rewrite the ICMP echo identifier (both port mirrors carry it). */
export function setIcmpId(p: Pkt, neu: number): void {
  const dv = p.dv;
  const at = p.l4 + 4;
  const old = dv.getUint16(at);
  if (old !== neu) {
    dv.setUint16(at, neu);
    dv.setUint16(p.l4 + 2, csumUpdate16(dv.getUint16(p.l4 + 2), old, neu));
  }
  p.sport = neu;
  p.dport = neu;
}

/** Destination side of a translation: address, then port / echo id (as the protocol has). */
export function rewriteDst(p: Pkt, addr: number, port: number): void {
  setAddr(p, IP_DST, addr);
  if (p.frag) return;
  if (p.proto === TCP || p.proto === UDP) setPort(p, 2, port);
  else if (isIcmpQueryPkt(p)) setIcmpId(p, port);
}

/** Source side of a translation. */
export function rewriteSrc(p: Pkt, addr: number, port: number): void {
  setAddr(p, IP_SRC, addr);
  if (p.frag) return;
  if (p.proto === TCP || p.proto === UDP) setPort(p, 0, port);
  else if (isIcmpQueryPkt(p)) setIcmpId(p, port);
}

// ---- ICMP errors ------------------------------------------------------------------------

/** Change a 16-bit word inside the ICMP message and fix the outer ICMP checksum. */
function icmpWord16(p: Pkt, at: number, neu: number): number {
  const dv = p.dv;
  const old = dv.getUint16(at);
  if (old !== neu) {
    dv.setUint16(at, neu);
    dv.setUint16(p.l4 + 2, csumUpdate16(dv.getUint16(p.l4 + 2), old, neu));
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

/** Rewrite the quoted packet of an ICMP error: its source (inner = IP_SRC, port slot 0) or
 *  destination (IP_DST, slot 2) address and port/id. Assumes the quote holds the inner IP
 *  header + 8 bytes (conntrack checked it). The outer header is not touched. */
export function rewriteQuoted(p: Pkt, field: number, addr: number, port: number): void {
  const dv = p.dv;
  const in3 = p.l4 + 8;
  const end = p.l3 + p.ipLen;
  const ihl = (dv.getUint8(in3) & 15) * 4;
  const in4 = in3 + ihl;
  const ipr = dv.getUint8(in3 + 9);
  addr >>>= 0;
  const oldA = dv.getUint32(in3 + field);
  if (oldA !== addr) {
    icmpWord16(p, in3 + field, addr >>> 16);
    icmpWord16(p, in3 + field + 2, addr & 0xffff);
    const ic = dv.getUint16(in3 + 10);
    icmpWord16(p, in3 + 10, csumUpdate32(ic, oldA, addr));
    if (ipr === UDP) innerCsum(p, in4 + 6, end, oldA, addr, true, true);
    else if (ipr === TCP) innerCsum(p, in4 + 16, end, oldA, addr, true, false);
  }
  if (ipr === TCP || ipr === UDP) {
    const at = in4 + (field === IP_SRC ? 0 : 2);
    const oldP = dv.getUint16(at);
    if (oldP !== port) {
      icmpWord16(p, at, port);
      if (ipr === UDP) innerCsum(p, in4 + 6, end, oldP, port, false, true);
      else innerCsum(p, in4 + 16, end, oldP, port, false, false);
    }
  } else if (ipr === ICMP) {
    const t = dv.getUint8(in4);
    if (t === 8 || t === 0) {
      const oldId = dv.getUint16(in4 + 4);
      if (oldId !== port) {
        icmpWord16(p, in4 + 4, port);
        innerCsum(p, in4 + 2, end, oldId, port, false, false);
      }
    }
  }
}
