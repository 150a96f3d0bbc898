// The stack: one instance drives every link of the router: per-Iface IPv4 stacks (an Iface
// owns one address) over one routing table, with the hooks (compiled chains, conntrack/NAT) it
// is handed. This file holds the configuration, the state and the API; the packet path lives
// in the step modules, one file per step, in the order a frame meets them:
//
//   link-io.ts      a batch arrives from a link ............. and batches leave for the links
//   ethernet-in.ts  Ethernet / 802.1Q demux to the Iface, MAC filter, offload metadata
//   arp.ts          ARP requests and replies, neighbour learning, the queue awaiting ARP
//   ipv4-in.ts      IPv4 + L4 validation into the Pkt, conntrack, prerouting, local or not
//   forward.ts      route, forwarding permission, forward chain, TTL, postrouting, NAT finish
//   local.ts        delivery to the router (ICMP echo, UDP sockets), its own datagrams and
//                   ICMP errors (output + postrouting chains)
//   output.ts       neighbour resolution, link + virtio headers, in place or copied, tx batch
//
// docs/architecture.md draws the same path as one picture.
//
// Invariants: nothing on the packet path allocates; every received frame ends forwarded,
// delivered, dropped (counted by reason) or waiting in a bounded ARP queue, and the fate ledger
// in Counters adds up (rx = forwarded + delivered + dropped + queued); no input makes it throw
// (an unexpected exception is caught per frame and counted as internal_error). Hooks are read
// through one reference swapped by setHooks(), so a reload takes effect between two frames;
// ARP caches and counters survive it. The fields below are the engine's state, shared by the
// step modules; the methods are the API.

import type { FrameBatch, Link } from '../drivers/link.js';
import { announce, arpTimer } from './arp.js';
import { Counters } from './counters.js';
import type { StackCounters } from './counters.js';
import { TokenBucket } from './icmp.js';
import { Iface } from './iface.js';
import type { StackConfig, StackHooks } from './iface.js';
import { flushAll, LinkState, receiveBatch } from './link-io.js';
import { sendUdp, type UdpHandler } from './local.js';
import { RouteTable } from './route.js';
import { TimerWheel } from './timers.js';
import { ArpView } from './wire/arp.js';
import { IcmpView } from './wire/icmp.js';
import { Ipv4View } from './wire/ipv4.js';
import { Pkt } from './wire/pkt.js';
import { TcpView } from './wire/tcp.js';
import { UdpView } from './wire/udp.js';
import { Offload, VirtioNetHdrView } from './wire/virtio.js';

export type { UdpHandler } from './local.js';

/** One set of reusable protocol views (the receive path and the router's own datagrams each
 *  have one, so building a reply never disturbs the views of the packet it answers). */
export class Views {
  readonly arp = new ArpView();
  readonly ip = new Ipv4View();
  readonly icmp = new IcmpView();
  readonly udp = new UdpView();
  readonly tcp = new TcpView();
  readonly vnet = new VirtioNetHdrView();
}

export class Stack {
  readonly ifaces: Iface[];
  readonly counters: Counters;
  readonly routes: RouteTable;
  readonly links: LinkState[];
  hooks: StackHooks;
  readonly cfg: StackConfig;
  readonly clock: () => number;
  /** The received packet being processed, and the datagram the router is generating. */
  readonly p = new Pkt();
  readonly g = new Pkt();
  readonly rv = new Views();
  readonly gv = new Views();
  /** Offload state of the datagram being output, and of one leaving the ARP queue. */
  readonly txOffload = new Offload();
  readonly pendOffload = new Offload();
  /** DataView over the current receive slab (Pkt.dv). */
  dvBuf: Uint8Array | null = null;
  dv: DataView = new DataView(new ArrayBuffer(0));
  /** Milliseconds, refreshed per batch and per timer tick. */
  now = 0;
  inBatch = false;
  ipId = 1;
  readonly udpHandlers: Array<UdpHandler | undefined> = new Array(65536).fill(undefined);
  readonly icmpBucket: TokenBucket;
  readonly echoBucket: TokenBucket;
  readonly wheel = new TimerWheel(100, 256, 8192);
  readonly kindArp: number;
  readonly arpTtlMs: number;
  readonly arpRetryMs: number;
  readonly arpRetries: number;
  /** Result of local.ts resolveLocal(): egress Iface and next hop. */
  rIf = -1;
  rHop = 0;
  started = false;

  constructor(cfg: StackConfig, links: readonly Link[]) {
    this.cfg = cfg;
    this.clock = cfg.clock ?? Date.now;
    const cache = cfg.arpCacheSize ?? 1024;
    const qlim = cfg.arpQueueLimit ?? 64;
    this.arpTtlMs = cfg.arpTtlMs ?? 300_000;
    this.arpRetryMs = cfg.arpRetryMs ?? 1000;
    this.arpRetries = cfg.arpRetries ?? 3;
    this.icmpBucket = new TokenBucket(cfg.icmpRatePerSec ?? 100, cfg.icmpBurst ?? 50);
    this.echoBucket = new TokenBucket(cfg.echoRatePerSec ?? 1000, cfg.echoBurst ?? 200);
    const batch = cfg.txBatch ?? 256;
    this.links = links.map((l, i) => new LinkState(i, l, batch, 256 * 1024));
    this.ifaces = cfg.ifaces.map((c, i) => new Iface(i, c, cache, qlim));
    for (const f of this.ifaces) {
      const ls = this.links[f.link];
      if (!ls) throw new Error(`iface ${f.name}: link ${f.link} does not exist`);
      if (f.vlan < 0) {
        if (ls.untagged >= 0) throw new Error(`iface ${f.name}: link ${f.link} already has an untagged iface`);
        ls.untagged = f.index;
      } else {
        if (ls.vlanIf[f.vlan] >= 0) throw new Error(`iface ${f.name}: vlan ${f.vlan} already used on link ${f.link}`);
        ls.vlanIf[f.vlan] = f.index;
      }
    }
    for (const r of cfg.routes) {
      if (!(r.iface >= 0 && r.iface < this.ifaces.length)) throw new Error(`route to iface ${r.iface}: no such iface`);
    }
    this.routes = new RouteTable(cfg.routes);
    this.counters = new Counters(this.ifaces.map((f) => f.name), links.length);
    this.checkHooks(cfg.hooks);
    this.hooks = cfg.hooks;
    this.kindArp = this.wheel.register((ifx, ip, now) => arpTimer(this, ifx, ip, now));
  }

  private checkHooks(h: StackHooks): void {
    if (!h || !Array.isArray(h.ifaces) || h.ifaces.length !== this.ifaces.length || typeof h.forward !== 'function') {
      throw new Error(`hooks: need one entry per iface (${this.ifaces.length}) and a forward function`);
    }
  }

  /** Swap every hook at once (reload). Tables and counters are kept. */
  setHooks(h: StackHooks): void {
    this.checkHooks(h);
    this.hooks = h;
  }

  /** May transit traffic enter and leave by Iface ifx (IfaceConfig.forwarding)? */
  setForwarding(ifx: number, on: boolean): void {
    this.ifaces[ifx].forwarding = on;
  }

  /** Start receiving on every link and announce each address with a gratuitous ARP. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.now = this.clock();
    for (const ls of this.links) {
      const li = ls.index;
      ls.link.start((b) => receiveBatch(this, li, b));
    }
    for (const f of this.ifaces) if (f.address !== 0) announce(this, f);
    flushAll(this);
  }

  /** Drive timers (ARP retries and timeouts); call from the loop, e.g. every 100 ms. */
  tick(nowMs?: number): void {
    this.now = nowMs ?? this.clock();
    this.wheel.tick(this.now);
    if (!this.inBatch) flushAll(this);
  }

  /** Process one received batch of link `li` (what link.start's callback does). */
  receive(li: number, batch: FrameBatch): void {
    receiveBatch(this, li, batch);
  }

  bindUdp(port: number, handler: UdpHandler): void {
    if (this.udpHandlers[port & 0xffff]) throw new Error(`udp port ${port} already bound`);
    this.udpHandlers[port & 0xffff] = handler;
  }

  unbindUdp(port: number): void { this.udpHandlers[port & 0xffff] = undefined; }

  /** Send a UDP datagram from the router (source = egress Iface address) through routing,
   *  the output and postrouting chains and ARP. `viaIf` pins the egress Iface (e.g. DHCP
   *  broadcasts from an Iface without an address yet, sent from 0.0.0.0). Returns 0 (sent or
   *  waiting for ARP) or a drop reason. */
  sendUdp(daddr: number, sport: number, dport: number, payload: Uint8Array, len = payload.length, payloadOff = 0, viaIf = -1): number {
    return sendUdp(this, daddr, sport, dport, payload, len, payloadOff, viaIf);
  }

  /** Change an Iface address at run time (DHCP). */
  setAddress(ifx: number, address: number, netmask: number, gateway = 0): void {
    const f = this.ifaces[ifx];
    f.address = address >>> 0;
    f.netmask = netmask >>> 0;
    f.broadcast = f.netmask && f.netmask !== 0xffffffff ? ((f.address | ~f.netmask) >>> 0) : 0;
    f.gateway = gateway >>> 0;
    if (f.address !== 0 && this.started) {
      if (!this.inBatch) this.now = this.clock();
      announce(this, f);
      if (!this.inBatch) flushAll(this);
    }
  }

  /** Use these links instead (same count and order; each Iface takes its link's MAC): for a
   *  stack warmed up on in-process links. start() starts receiving on them. */
  attachLinks(links: readonly Link[]): void {
    if (links.length !== this.links.length) throw new Error(`stack: ${this.links.length} links needed, ${links.length} given`);
    this.links.forEach((ls, i) => {
      ls.link = links[i];
      ls.vnet = links[i].vnetHdr;
      ls.fwdCount = 0; ls.genCount = 0; ls.genPos = 0;
    });
    for (const f of this.ifaces) f.mac.set(links[f.link].mac);
    this.started = false;
  }

  /** Forget learnt neighbours and queued datagrams and zero the counters (links, routes, hooks
   *  and addresses stay): the state a fresh stack has. */
  reset(): void {
    for (const f of this.ifaces) f.neighbors.clear();
    this.wheel.clear();
    this.counters.reset();
    this.icmpBucket.reset();
    this.echoBucket.reset();
  }

  snapshot(): StackCounters { return this.counters.snapshot(); }
}
