// The checked Model mapped onto the runtime's own configuration types: the stack, NAT and the
// load balancer never read the Model themselves (DESIGN: stack imports only wire). Iface ids are
// positions in model.ifaces everywhere.
import type { Model } from './config/model.js';

/** The parts of a Model the runtime is wired from (all a running router keeps). */
type Wiring = Pick<Model, 'ifaces' | 'gateway' | 'loadBalancers'>;
import type { NatConfig } from '../stack/nat.js';
import { LoadBalancer } from '../stack/lb.js';
import { maskPrefix, prefixMask } from '../stack/wire/ipv4.js';

/** NAT's view of the Ifaces: address (null while it has none) and masquerade. */
export function natConfigFromModel(m: Wiring): NatConfig {
  return { ifaces: m.ifaces.map((i) => ({ address: i.address, masquerade: i.masquerade })) };
}

/** LoadBalancers from the Model. On reload pass the previous ones: a balancer with the same
 *  name, address, port and pool is kept (its sessions, round-robin position and counters
 *  survive) with the new limits. */
export function balancersFromModel(m: Wiring, previous: readonly LoadBalancer[] = []): LoadBalancer[] {
  const id = (name: string) => m.ifaces.findIndex((i) => i.name === name);
  const addr = (name: string) => m.ifaces.find((i) => i.name === name)?.address ?? null;
  return m.loadBalancers.map((lbm) => {
    const fresh = new LoadBalancer({
      name: lbm.name,
      clientsIf: id(lbm.clients.iface),
      vip: addr(lbm.clients.iface) ?? 0,
      port: lbm.clients.port,
      serversIf: id(lbm.servers.iface),
      nodes: lbm.servers.pool,
      sessionLimit: lbm.clients.sessionLimit,
      waitQueueLimit: lbm.clients.waitQueueLimit,
    });
    const old = previous.find((o) => o.sameShape(fresh));
    if (old === undefined) return fresh;
    old.sessionLimit = fresh.sessionLimit;
    old.waitQueueLimit = fresh.waitQueueLimit;
    return old;
  });
}

/** Gateway routes first, then each addressed Iface's own network (on-link): LPM still prefers
 *  the most specific route, and on a tie the Gateway's route wins. */
export function routesOf(m: Wiring): Array<{ net: number; prefix: number; nexthop: number; iface: number }> {
  const routes = (m.gateway?.routes ?? []).map((r) => ({
    net: r.net, prefix: r.prefix, nexthop: r.nexthop, iface: m.ifaces.findIndex((i) => i.name === r.iface),
  }));
  m.ifaces.forEach((i, ix) => {
    if (i.config !== 'static' || i.address === null || i.netmask === null) return;
    const prefix = maskPrefix(i.netmask);
    const net = (i.address & prefixMask(prefix)) >>> 0;
    if (!routes.some((r) => r.net === net && r.prefix === prefix)) routes.push({ net, prefix, nexthop: 0, iface: ix });
  });
  return routes;
}
