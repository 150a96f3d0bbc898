// Step 4 (local): the router's own traffic, both ways.
// In: a datagram for an Iface address (or a broadcast/multicast) passes the owning Iface's
// input chain and is delivered: ICMP echo requests are answered, UDP goes to the handler bound
// to its port (syslog, DHCP), anything else is dropped (port unreachable for unicast UDP).
// Fragments are not reassembled: they are dropped (local_fragment).
// Out: datagrams the router builds (echo replies, ICMP errors, UDP from sendUdp) pick an
// egress Iface and next hop (resolveLocal), pass conn.local, the output and postrouting chains
// and conn.finish, and go to output.ts. ICMP errors follow RFC 1812 (mayReport) and share one
// token bucket; echo replies have their own.

import { C_GENERATED, ICMP_RATE_LIMITED, ICMP_SENT } from './counters.js';
import { icmpErrorLen, mayReport, writeEchoReply, writeIcmpError } from './icmp.js';
import type { Iface } from './iface.js';
import { parseIp } from './ipv4-in.js';
import { flushAll, genReserve, type LinkState } from './link-io.js';
import { outputLocal } from './output.js';
import type { Stack } from './stack.js';
import { ICMP_DEST_UNREACH, ICMP_ECHO_REQUEST, ICMP_TYPE, UNREACH_PORT } from './wire/icmp.js';
import { ETH_HEADER_LEN } from './wire/ethernet.js';
import { emitIpv4, IP_DEFAULT_TTL, IP_MIN_HEADER_LEN, PROTO_ICMP, PROTO_UDP } from './wire/ipv4.js';
import { ACCEPT, HOOK_INPUT, HOOK_OUTPUT, HOOK_POSTROUTING, type Pkt } from './wire/pkt.js';
import * as R from './wire/reason.js';
import { emitUdp, UDP_HEADER_LEN } from './wire/udp.js';

/** Called for a datagram to a bound local UDP port; the bytes are valid only during the call. */
export type UdpHandler = (buf: Uint8Array, off: number, len: number, saddr: number, sport: number, iface: number) => void;

// ---- in --------------------------------------------------------------------------------------

/** Input chain of `owner` (the Iface whose address or broadcast it is) and delivery; counted on
 *  the ingress Iface inIf. */
export function localIn(s: Stack, owner: Iface, inIf: Iface, p: Pkt, group: boolean): void {
  const ifx = inIf.index;
  const c = s.counters;
  p.hook = HOOK_INPUT;
  if (s.hooks.ifaces[owner.index].input(p) !== ACCEPT) return c.dropFrame(ifx, R.CHAIN_INPUT);
  const ip = s.rv.ip.reset(p.buf, p.l3, p.ipLen);
  if (p.frag || ip.mf) return c.dropFrame(ifx, R.LOCAL_FRAGMENT);
  const unicastToUs = !group && p.daddr === owner.address && owner.address !== 0;
  if (p.proto === PROTO_ICMP) {
    const m = s.rv.icmp.reset(p.buf, p.l4, p.l4Len);
    if (!m.checksumOk()) return c.dropFrame(ifx, R.L4_BAD_CHECKSUM);
    if (m.type === ICMP_ECHO_REQUEST && unicastToUs) echoReply(s, owner, p);
    return c.deliverFrame(ifx);
  }
  if (p.proto === PROTO_UDP) {
    const u = s.rv.udp.reset(p.buf, p.l4, p.l4Len);
    if (!p.csumPartial && !u.checksumOk(p.saddr, p.daddr)) return c.dropFrame(ifx, R.L4_BAD_CHECKSUM);
    const h = s.udpHandlers[p.dport];
    if (h !== undefined) {
      h(p.buf, u.payloadOff, u.payloadLen, p.saddr, p.sport, owner.index);
      return c.deliverFrame(ifx);
    }
    if (unicastToUs) icmpError(s, p, inIf, ICMP_DEST_UNREACH, UNREACH_PORT, group);
  }
  return c.dropFrame(ifx, R.LOCAL_NO_HANDLER);
}

// ---- out -------------------------------------------------------------------------------------

export function nextId(s: Stack): number {
  s.ipId = (s.ipId + 1) & 0xffff;
  return s.ipId;
}

/** Pick egress Iface and next hop for the router's own traffic to daddr (sets s.rIf/s.rHop):
 *  the hint Iface when daddr is on its subnet, else the routing table, else any Iface whose
 *  subnet holds daddr, else the hint Iface's gateway, else any Iface's gateway. */
function resolveLocal(s: Stack, daddr: number, hint: number): boolean {
  const ifs = s.ifaces;
  if (hint >= 0 && (ifs[hint].onLink(daddr) || daddr === 0xffffffff)) { s.rIf = hint; s.rHop = daddr; return true; }
  const ri = s.routes.lookup(daddr);
  if (ri >= 0) { s.rIf = s.routes.iface(ri); s.rHop = s.routes.nexthop(ri, daddr); return true; }
  for (let i = 0; i < ifs.length; i++) if (ifs[i].onLink(daddr)) { s.rIf = i; s.rHop = daddr; return true; }
  if (hint >= 0 && ifs[hint].gateway !== 0) { s.rIf = hint; s.rHop = ifs[hint].gateway; return true; }
  for (let i = 0; i < ifs.length; i++) if (ifs[i].gateway !== 0) { s.rIf = i; s.rHop = ifs[i].gateway; return true; }
  return false;
}

/** Run a datagram built at ls.gen[l3, +ipLen) through conn.local, the output and postrouting
 *  chains of oif and conn.finish, then output. Returns OK (sent or waiting for ARP) or the
 *  drop reason (counted). */
function sendLocal(s: Stack, ls: LinkState, oif: Iface, nh: number, l3: number, ipLen: number): number {
  const g = s.g;
  const ox = oif.index;
  const c = s.counters;
  g.reset(ls.gen, ls.genDv, l3 - ETH_HEADER_LEN, ipLen + ETH_HEADER_LEN);
  let r = parseIp(g, ls.gen, l3, ipLen, s.gv);
  if (r !== R.OK) { c.drop(ox, r); return r; }
  g.local = true;
  g.outIf = ox;
  const hooks = s.hooks;
  const conn = hooks.conn;
  g.hook = HOOK_OUTPUT;
  if (conn && conn.local(g) !== ACCEPT) r = R.CONN_TRACK;
  else if (hooks.ifaces[ox].output(g) !== ACCEPT) r = R.CHAIN_OUTPUT;
  else {
    g.hook = HOOK_POSTROUTING;
    if (hooks.ifaces[ox].postrouting(g) !== ACCEPT) r = R.CHAIN_POSTROUTING;
    else if (conn && conn.finish(g) !== ACCEPT) r = R.CONN_FINISH;
  }
  if (r !== R.OK) { c.drop(ox, r); return r; }
  c.add(ox, C_GENERATED, 1);
  return outputLocal(s, ls, oif, nh, l3, ipLen);
}

/** See Stack.sendUdp. */
export function sendUdp(s: Stack, daddr: number, sport: number, dport: number, payload: Uint8Array, len: number,
  payloadOff: number, viaIf: number): number {
  if (!s.inBatch) s.now = s.clock();
  daddr >>>= 0;
  let r: number = R.OK;
  if (!resolveLocal(s, daddr, viaIf) || (viaIf >= 0 && s.rIf !== viaIf)) {
    if (viaIf >= 0 && viaIf < s.ifaces.length && daddr === 0xffffffff) { s.rIf = viaIf; s.rHop = daddr; }
    else { s.counters.drop(-1, R.NO_ROUTE); r = R.NO_ROUTE; }
  }
  if (r === R.OK) {
    const oif = s.ifaces[s.rIf];
    const ls = s.links[oif.link];
    const udpOff = IP_MIN_HEADER_LEN;
    const ipLen = udpOff + UDP_HEADER_LEN + len;
    const l3 = oif.address === 0 && viaIf < 0 ? -2 : genReserve(s, ls, ipLen);
    if (l3 < 0) {
      r = l3 === -2 ? R.NO_ADDRESS : R.TOO_BIG;
      s.counters.drop(oif.index, r);
    } else {
      const g = ls.gen;
      const data = l3 + udpOff + UDP_HEADER_LEN;
      for (let k = 0; k < len; k++) g[data + k] = payload[payloadOff + k];
      emitUdp(g, l3 + udpOff, oif.address, daddr, sport, dport, len);
      emitIpv4(g, l3, ipLen, nextId(s), IP_DEFAULT_TTL, PROTO_UDP, oif.address, daddr);
      r = sendLocal(s, ls, oif, s.rHop, l3, ipLen);
    }
  }
  if (!s.inBatch) flushAll(s);
  return r;
}

export function echoReply(s: Stack, owner: Iface, p: Pkt): void {
  const c = s.counters;
  if (!s.echoBucket.take(s)) { c.icmp[ICMP_RATE_LIMITED]++; return; }
  if (!resolveLocal(s, p.saddr, owner.index)) { c.drop(owner.index, R.NO_ROUTE); return; }
  const oif = s.ifaces[s.rIf];
  const ls = s.links[oif.link];
  const o = genReserve(s, ls, IP_MIN_HEADER_LEN + p.l4Len);
  if (o < 0) { c.drop(owner.index, R.TOO_BIG); return; }
  const n = writeEchoReply(ls.gen, o, nextId(s), owner.address, p.saddr, p.buf, p.l4, p.l4Len);
  if (sendLocal(s, ls, oif, s.rHop, o, n) === R.OK) c.icmp[ICMP_SENT]++;
}

/** ICMP error about the received datagram p (RFC 1812 rules, rate-limited). */
export function icmpError(s: Stack, p: Pkt, inIf: Iface, type: number, code: number, group: boolean): void {
  const c = s.counters;
  const icmpType = p.proto === PROTO_ICMP && !p.frag && p.l4Len > 0 ? p.buf[p.l4 + ICMP_TYPE] : -1;
  if (!mayReport(p.saddr, p.daddr, p.frag, icmpType, group)) return;
  if (!s.icmpBucket.take(s)) { c.icmp[ICMP_RATE_LIMITED]++; return; }
  if (!resolveLocal(s, p.saddr, inIf.index)) { c.drop(inIf.index, R.NO_ROUTE); return; }
  const oif = s.ifaces[s.rIf];
  const src = oif.address !== 0 ? oif.address : inIf.address;
  if (src === 0) { c.drop(oif.index, R.NO_ADDRESS); return; }
  const ls = s.links[oif.link];
  const o = genReserve(s, ls, icmpErrorLen(p.l4 - p.l3, p.ipLen));
  if (o < 0) return;
  const n = writeIcmpError(ls.gen, o, nextId(s), src, type, code, 0, p);
  if (sendLocal(s, ls, oif, s.rHop, o, n) === R.OK) c.icmp[ICMP_SENT]++;
}
