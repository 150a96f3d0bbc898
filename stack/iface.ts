// Configuration of the stack (a plain object the router builds from the Model; the stack never
// reads the Model itself) and the per-Iface runtime state: address, MAC, VLAN, its hooks, its
// ARP cache and pending queue. An Iface owns exactly one address: a datagram is local only on
// the Iface that owns its destination (per-Iface stacks, as in IncludeOS).

import type { ConnHooks, HookFn } from './wire/pkt.js';
import { NeighborTable } from './neighbor.js';
import type { RouteConfig } from './route.js';
import { ETH_HEADER_LEN } from './wire/ethernet.js';
import { VLAN_ETH_HEADER_LEN } from './wire/vlan.js';

export interface IfaceConfig {
  name: string;
  /** Index into the links array handed to the stack. */
  link: number;
  /** 6 bytes; usually the link's MAC. */
  mac: Uint8Array;
  /** 0 = no address yet (e.g. waiting for DHCP): nothing is local, ARP is not answered. */
  address: number;
  netmask: number | null;
  /** 802.1Q tag of this sub-interface, or null for the untagged Iface of the link. */
  vlan: number | null;
  /** Default gateway of the Iface, used for the router's own traffic when no route matches. */
  gateway?: number | null;
  /** Max frames queued for transmit on this Iface per batch (0/null = unlimited). */
  sendQueueLimit?: number | null;
  /** Max frames accepted from this Iface per received batch (0/null = unlimited). */
  bufferLimit?: number | null;
  /** Transit traffic may enter and leave by this Iface (default true). A datagram is forwarded
   *  only when both its ingress and egress Ifaces forward, or its connection was made by the
   *  load balancer (ConnHooks.balanced). Traffic to and from the router itself is unaffected. */
  forwarding?: boolean;
}

export interface IfaceHooks {
  prerouting: HookFn;
  input: HookFn;
  output: HookFn;
  postrouting: HookFn;
}

/** Everything swapped atomically on reload. `ifaces[i]` belongs to config.ifaces[i]. */
export interface StackHooks {
  ifaces: IfaceHooks[];
  forward: HookFn;
  conn?: ConnHooks | null;
}

export interface StackConfig {
  ifaces: IfaceConfig[];
  routes: RouteConfig[];
  /** Answer TTL expiry with ICMP Time Exceeded. */
  sendTimeExceeded: boolean;
  hooks: StackHooks;
  /** Milliseconds; defaults to Date.now. Tests drive it. */
  clock?: () => number;
  /** ARP tuning. */
  arpCacheSize?: number;
  arpQueueLimit?: number;
  arpTtlMs?: number;
  arpRetryMs?: number;
  arpRetries?: number;
  /** Rate limits (token buckets) for ICMP errors and, separately, echo replies. */
  icmpRatePerSec?: number;
  icmpBurst?: number;
  echoRatePerSec?: number;
  echoBurst?: number;
  /** Frames per link transmit batch (forwarded and generated each). */
  txBatch?: number;
}

export const ACCEPT_ALL: HookFn = () => 0;

export function acceptAllHooks(n: number): StackHooks {
  const ifaces: IfaceHooks[] = [];
  for (let i = 0; i < n; i++) ifaces.push({ prerouting: ACCEPT_ALL, input: ACCEPT_ALL, output: ACCEPT_ALL, postrouting: ACCEPT_ALL });
  return { ifaces, forward: ACCEPT_ALL, conn: null };
}

export class Iface {
  readonly index: number;
  readonly name: string;
  readonly link: number;
  readonly mac: Uint8Array;
  readonly vlan: number;
  /** Length of the link header of frames leaving by this Iface (Ethernet, tagged or not). */
  readonly ehl: number;
  address: number;
  netmask: number;
  /** Directed broadcast of the subnet (0 when there is no netmask). */
  broadcast: number;
  gateway: number;
  readonly sendQueueLimit: number;
  readonly bufferLimit: number;
  readonly neighbors: NeighborTable;
  /** See IfaceConfig.forwarding; Stack.setForwarding() changes it (reload). */
  forwarding: boolean;
  /** Per-batch counts for the limits above. */
  txInBatch = 0;
  rxInBatch = 0;

  constructor(index: number, c: IfaceConfig, cacheSize: number, queueLimit: number) {
    this.index = index;
    this.name = c.name;
    this.link = c.link;
    this.mac = Uint8Array.from(c.mac);
    this.vlan = c.vlan === null || c.vlan === undefined ? -1 : c.vlan & 0xfff;
    this.ehl = this.vlan >= 0 ? VLAN_ETH_HEADER_LEN : ETH_HEADER_LEN;
    this.address = c.address >>> 0;
    this.netmask = (c.netmask ?? 0) >>> 0;
    this.broadcast = this.netmask && this.netmask !== 0xffffffff ? ((this.address | ~this.netmask) >>> 0) : 0;
    this.gateway = (c.gateway ?? 0) >>> 0;
    this.sendQueueLimit = c.sendQueueLimit ?? 0;
    this.bufferLimit = c.bufferLimit ?? 0;
    this.neighbors = new NeighborTable(cacheSize, queueLimit);
    this.forwarding = c.forwarding ?? true;
  }

  /** Is `a` on this Iface's subnet? */
  onLink(a: number): boolean {
    return this.netmask !== 0 && ((a & this.netmask) >>> 0) === ((this.address & this.netmask) >>> 0);
  }

  /** Destination addressed to this Iface's stack (its address or a broadcast). */
  isLocal(a: number): boolean {
    return (a === this.address && a !== 0) || a === 0xffffffff || (a === this.broadcast && a !== 0);
  }
}
