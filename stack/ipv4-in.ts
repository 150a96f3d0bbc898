// Step 3: an IPv4 datagram arrives on its Iface. The header (and, for TCP/UDP/ICMP, the L4
// header) is validated once and mirrored into the Pkt (wire/pkt.ts invariants); impossible
// sources are dropped; connection tracking runs (conn.track: state, DNAT of existing
// connections), then the ingress Iface's prerouting chain; then the datagram is either for
// the router (an Iface address, a broadcast, multicast: local.ts) or transit (forward.ts).

import { forward } from './forward.js';
import type { Iface } from './iface.js';
import { localIn } from './local.js';
import type { Stack, Views } from './stack.js';
import { isIcmpQuery } from './wire/icmp.js';
import {
  IP_DADDR, IP_FLAG_MF, IP_FRAG, IP_FRAG_OFFSET_MASK, IP_PROTO, IP_SADDR, IP_TOTAL_LEN, IP_VER_IHL, isMulticast, PROTO_ICMP,
  PROTO_TCP, PROTO_UDP,
} from './wire/ipv4.js';
import { ACCEPT, HOOK_PREROUTING, type Pkt } from './wire/pkt.js';
import * as R from './wire/reason.js';
import { TCP_MIN_HEADER_LEN } from './wire/tcp.js';
import { UDP_HEADER_LEN } from './wire/udp.js';
import { rd16, rd32 } from './wire/view.js';

/** Validate the IPv4 datagram at buf[l3, l3+avail) and fill p's L3/L4 fields; returns OK or
 *  the drop reason. A fragment with MF set carries at least the fixed L4 header; a non-first
 *  fragment carries none (p.frag, ports 0). */
export function parseIp(p: Pkt, buf: Uint8Array, l3: number, avail: number, v: Views): number {
  let r = v.ip.reset(buf, l3, avail).check();
  if (r !== R.OK) return r;
  // check() passed: the header is trusted from here (direct field reads, the hot path).
  const hl = (buf[l3 + IP_VER_IHL] & 15) << 2;
  const tl = rd16(buf, l3 + IP_TOTAL_LEN);
  p.l3 = l3;
  p.ipLen = tl;
  p.l4 = l3 + hl;
  p.l4Len = tl - hl;
  p.proto = buf[l3 + IP_PROTO];
  p.saddr = rd32(buf, l3 + IP_SADDR);
  p.daddr = rd32(buf, l3 + IP_DADDR);
  const ff = rd16(buf, l3 + IP_FRAG);
  p.frag = (ff & IP_FRAG_OFFSET_MASK) !== 0;
  if (p.frag) return R.OK;
  const more = (ff & IP_FLAG_MF) !== 0;
  const proto = p.proto;
  if (proto === PROTO_TCP) {
    const t = v.tcp.reset(buf, p.l4, p.l4Len);
    r = more ? (p.l4Len < TCP_MIN_HEADER_LEN ? R.TCP_TRUNCATED : R.OK) : t.check();
    if (r !== R.OK) return r;
    p.sport = t.sport; p.dport = t.dport;
  } else if (proto === PROTO_UDP) {
    const u = v.udp.reset(buf, p.l4, p.l4Len);
    r = more ? (p.l4Len < UDP_HEADER_LEN ? R.UDP_TRUNCATED : R.OK) : u.check();
    if (r !== R.OK) return r;
    p.sport = u.sport; p.dport = u.dport;
  } else if (proto === PROTO_ICMP) {
    const m = v.icmp.reset(buf, p.l4, p.l4Len);
    r = m.check();
    if (r !== R.OK) return r;
    if (isIcmpQuery(m.type)) { const id = m.id; p.sport = id; p.dport = id; }
  }
  return R.OK;
}

/** The datagram at buf[l3, l3+avail) of the frame p describes, received on ifc (`group`:
 *  sent to a broadcast/multicast MAC). */
export function ipv4In(s: Stack, ifc: Iface, p: Pkt, l3: number, avail: number, group: boolean, floor: number): void {
  const ifx = ifc.index;
  const c = s.counters;
  const r = parseIp(p, p.buf, l3, avail, s.rv);
  if (r !== R.OK) return c.dropFrame(ifx, r);
  const src = p.saddr;
  if (src === 0xffffffff || isMulticast(src) || (src === ifc.address && src !== 0)) return c.dropFrame(ifx, R.IP_BAD_SOURCE);
  const hooks = s.hooks;
  const conn = hooks.conn;
  p.hook = HOOK_PREROUTING;
  if (conn && conn.track(p) !== ACCEPT) return c.dropFrame(ifx, R.CONN_TRACK);
  if (hooks.ifaces[ifx].prerouting(p) !== ACCEPT) return c.dropFrame(ifx, R.CHAIN_PREROUTING);
  const d = p.daddr;
  if (ifc.isLocal(d) || isMulticast(d)) return localIn(s, ifc, ifc, p, group);
  if (group) return c.dropFrame(ifx, R.NOT_OUR_MAC);
  forward(s, ifc, p, group, floor);
}
