// IPv4 routing table: longest-prefix match over typed arrays. Routes are kept sorted by prefix
// length, longest first, stably, so the first match is the longest prefix and, among equal
// prefixes, the route that was configured earlier. Nexthop 0 means on-link (send to the
// destination itself). Built once per configuration; lookups allocate nothing.

import { prefixMask } from './wire/ipv4.js';

export interface RouteConfig {
  net: number;
  prefix: number;
  /** 0 = directly connected (on-link). */
  nexthop: number;
  /** Index into the stack's iface list. */
  iface: number;
}

export class RouteTable {
  readonly count: number;
  private readonly net: Uint32Array;
  private readonly mask: Uint32Array;
  private readonly hop: Uint32Array;
  private readonly ifx: Int32Array;
  /** Position of each sorted entry in the configured list (for display). */
  readonly order: Int32Array;

  constructor(routes: readonly RouteConfig[]) {
    const idx = routes.map((_, i) => i).sort((a, b) => (routes[b].prefix - routes[a].prefix) || (a - b));
    const n = routes.length;
    this.count = n;
    this.net = new Uint32Array(n);
    this.mask = new Uint32Array(n);
    this.hop = new Uint32Array(n);
    this.ifx = new Int32Array(n);
    this.order = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const r = routes[idx[i]];
      const m = prefixMask(r.prefix);
      this.mask[i] = m;
      this.net[i] = (r.net & m) >>> 0;
      this.hop[i] = r.nexthop >>> 0;
      this.ifx[i] = r.iface;
      this.order[i] = idx[i];
    }
  }

  /** Index of the matching entry, or -1. */
  lookup(addr: number): number {
    const net = this.net, mask = this.mask;
    for (let i = 0; i < this.count; i++) {
      if (((addr & mask[i]) >>> 0) === net[i]) return i;
    }
    return -1;
  }

  iface(i: number): number { return this.ifx[i]; }
  /** The next hop for `addr` through entry i (the destination itself when on-link). */
  nexthop(i: number, addr: number): number { const h = this.hop[i]; return h === 0 ? addr >>> 0 : h; }
}
