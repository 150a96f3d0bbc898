// Step 4 (transit): a datagram not for the router. In order: the route (longest prefix; none =
// ICMP net unreachable), the egress Iface set on the Pkt; forwarding permission (both Ifaces
// forward, or the load balancer made the connection); the forward chain; no directed
// broadcasts; a destination that is another Iface's own address goes to that Iface's stack
// (local.ts); TTL (expiry = ICMP time exceeded when configured) and its decrement; the egress
// Iface's postrouting chain; conn.finish (source NAT, confirm); then output.ts sends it.
// Every drop is counted with its reason on the ingress Iface (egress for the postrouting steps).

import type { Iface } from './iface.js';
import { icmpError, localIn } from './local.js';
import { forwardOut } from './output.js';
import type { Stack } from './stack.js';
import { ICMP_DEST_UNREACH, ICMP_TIME_EXCEEDED, TIME_EXCEEDED_TTL, UNREACH_NET } from './wire/icmp.js';
import { ACCEPT, HOOK_FORWARD, HOOK_POSTROUTING, type Pkt } from './wire/pkt.js';
import * as R from './wire/reason.js';

export function forward(s: Stack, ifc: Iface, p: Pkt, group: boolean, floor: number): void {
  const ifx = ifc.index;
  const c = s.counters;
  const hooks = s.hooks;
  const conn = hooks.conn;
  const rt = s.routes;
  const ri = rt.lookup(p.daddr);
  if (ri < 0) {
    icmpError(s, p, ifc, ICMP_DEST_UNREACH, UNREACH_NET, group);
    return c.dropFrame(ifx, R.NO_ROUTE);
  }
  const ox = rt.iface(ri);
  const oif = s.ifaces[ox];
  const nh = rt.nexthop(ri, p.daddr);
  p.outIf = ox;
  if ((!ifc.forwarding || !oif.forwarding) && !(conn && conn.balanced !== undefined && conn.balanced(p))) {
    return c.dropFrame(ifx, R.FORWARD_DISABLED);
  }
  p.hook = HOOK_FORWARD;
  if (hooks.forward(p) !== ACCEPT) return c.dropFrame(ifx, R.CHAIN_FORWARD);
  if (p.daddr === oif.broadcast && oif.broadcast !== 0) return c.dropFrame(ifx, R.DIRECTED_BROADCAST);
  if (oif.address === p.daddr && oif.address !== 0) {
    // Another Iface's own address: that Iface's stack takes it.
    p.outIf = -1;
    return localIn(s, oif, ifc, p, false);
  }
  const ip = s.rv.ip.reset(p.buf, p.l3, p.ipLen);
  if (ip.ttl <= 1) {
    if (s.cfg.sendTimeExceeded) icmpError(s, p, ifc, ICMP_TIME_EXCEEDED, TIME_EXCEEDED_TTL, group);
    return c.dropFrame(ifx, R.TTL_EXCEEDED);
  }
  ip.decTtl();
  p.hook = HOOK_POSTROUTING;
  if (hooks.ifaces[ox].postrouting(p) !== ACCEPT) return c.dropFrame(ox, R.CHAIN_POSTROUTING);
  if (conn && conn.finish(p) !== ACCEPT) return c.dropFrame(ox, R.CONN_FINISH);
  forwardOut(s, p, oif, nh, floor);
}
