// A router on in-process links, for the tools that run the real router off the network:
// `trace` (src/control/trace.ts) and the JIT warm-up (src/warmup.ts). Each link the Model uses
// is a memory pair whose far end is a Neighbour: it keeps what the router sends and answers the
// router's ARP requests for any address, so every next hop is reachable. Frames go in from
// packet specs (src/control/packet-spec.ts), one batch at a time. Nothing here decides what
// happens to a packet: the router does.

import { memoryPair, pumpAll, type MemoryLink } from '../drivers/memory.js';
import { parseIp } from '../stack/ipv4-in.js';
import { Views } from '../stack/stack.js';
import { ARP_LEN, ARP_REPLY, ARP_REQUEST, ArpView, emitArp } from '../stack/wire/arp.js';
import { BROADCAST_MAC, ETH_HEADER_LEN, ETH_TYPE, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_VLAN } from '../stack/wire/ethernet.js';
import { isIcmpError, isIcmpQuery } from '../stack/wire/icmp.js';
import { formatIpv4, IP_BROADCAST, isMulticast, PROTO_ICMP, PROTO_TCP, PROTO_UDP } from '../stack/wire/ipv4.js';
import { CT_ESTABLISHED, CT_INVALID, CT_RELATED, Pkt } from '../stack/wire/pkt.js';
import * as R from '../stack/wire/reason.js';
import { rd16 } from '../stack/wire/view.js';
import { emitEthernetVlan, VLAN_ETH_HEADER_LEN, VLAN_INNER_TYPE, VLAN_TCI, VLAN_VID_MASK } from '../stack/wire/vlan.js';
import { VNET_HDR_LEN } from '../stack/wire/virtio.js';
import type { RouterConfig } from './control/build.js';
import { buildFrame, specLength, writeDatagram, writeFrame, type PacketSpec } from './control/packet-spec.js';
import { linkKey, linkKeys, type Router } from './router.js';

const CT_NAMES = ['new', 'established', 'related', 'invalid'];
const views = new Views();

/** The far end of one link: keeps what the router sends and answers its ARP requests (for
 *  any address: every next hop is reachable). */
export class Neighbour {
  readonly frames: Uint8Array[] = [];
  private readonly arp = new ArpView();

  constructor(readonly link: MemoryLink, readonly mac: Uint8Array) {
    link.start((b) => {
      for (let i = 0; i < b.count; i++) this.frame(b.buf.slice(b.off[i], b.off[i] + b.len[i]));
    });
  }

  send(frame: Uint8Array): void {
    this.link.send(frame, Int32Array.of(0), Int32Array.of(frame.length), 1);
  }

  private frame(f: Uint8Array): void {
    this.frames.push(f);
    const l = frameHeader(f);
    if (l.type !== ETHERTYPE_ARP) return;
    const a = this.arp.reset(f, l.l3, f.length - l.l3);
    if (a.check() !== R.OK || a.oper !== ARP_REQUEST || a.tpa === a.spa) return;
    const out = new Uint8Array(VLAN_ETH_HEADER_LEN + ARP_LEN);
    const sha = f.slice(a.shaOff, a.shaOff + 6);
    const ehl = emitEthernetVlan(out, 0, sha, 0, this.mac, 0, l.vlan, ETHERTYPE_ARP);
    emitArp(out, ehl, ARP_REPLY, this.mac, 0, a.tpa, sha, 0, a.spa);
    this.send(out.subarray(0, ehl + ARP_LEN));
  }
}

/** Ethernet (802.1Q) header of a frame: EtherType, VLAN id (-1 untagged), L3 offset. */
export function frameHeader(f: Uint8Array): { type: number; vlan: number; l3: number } {
  const type = rd16(f, ETH_TYPE);
  if (type !== ETHERTYPE_VLAN) return { type, vlan: -1, l3: ETH_HEADER_LEN };
  return { type: rd16(f, ETH_TYPE + VLAN_INNER_TYPE), vlan: rd16(f, ETH_TYPE + VLAN_TCI) & VLAN_VID_MASK, l3: VLAN_ETH_HEADER_LEN };
}


/** Parse the IPv4 frame f into p the way the stack's input does; returns its VLAN id (-1
 *  untagged), or null when it is not a valid IPv4 frame. */
export function parseFrame(f: Uint8Array, p: Pkt): number | null {
  const l = frameHeader(f);
  if (l.type !== ETHERTYPE_IPV4) return null;
  p.reset(f, new DataView(f.buffer, f.byteOffset, f.byteLength), 0, f.length);
  return parseIp(p, f, l.l3, f.length - l.l3, views) === R.OK ? l.vlan : null;
}

/** In-process links for a router of `model`: one pair per link the Model uses (router side,
 *  and the Neighbour on the far side), with fixed MACs; frames in from packet specs. */
/** Frames a Neighbour sends together, written in place (nothing allocated per frame). */
class Outbox {
  readonly buf = new Uint8Array(4 << 20);
  readonly off = new Int32Array(4096);
  readonly len = new Int32Array(4096);
  n = 0;
  private pos = 0;

  /** Write the frame; false when the outbox is full (send it first). */
  add(spec: PacketSpec, dst: Uint8Array, src: Uint8Array, vlan: number, data?: Uint8Array): boolean {
    const o = this.pos + VNET_HDR_LEN;
    if (this.n === this.off.length || o + VLAN_ETH_HEADER_LEN + specLength(spec) > this.buf.length) return false;
    this.buf.fill(0, this.pos, o);
    const l = writeFrame(this.buf, o, spec, dst, src, vlan, data);
    this.off[this.n] = o;
    this.len[this.n] = l;
    this.n++;
    this.pos = (o + l + 7) & ~7;
    return true;
  }

  send(link: MemoryLink): void {
    if (this.n > 0) link.send(this.buf, this.off, this.len, this.n);
    this.n = 0;
    this.pos = 0;
  }
}

/** How a described packet arrives: from which Neighbour, to which MAC, with which tag. */
interface Arrival { host: number; dst: Uint8Array; vlan: number; spec: PacketSpec; quote?: Uint8Array }

export class OfflineLinks {
  readonly routerSide: MemoryLink[] = [];
  readonly all: MemoryLink[] = [];
  readonly hosts: Neighbour[] = [];
  private readonly outboxes: Outbox[] = [];
  /** Link index of each Iface. */
  private readonly linkOf: number[];

  constructor(model: RouterConfig) {
    const keys = linkKeys(model);
    this.linkOf = model.ifaces.map((i) => keys.indexOf(linkKey(i)));
    keys.forEach((_, k) => {
      const [r, h] = memoryPair(`trace${k}`, Uint8Array.of(0x02, 0x6e, 0x61, 0x63, 0x6c, k), `host${k}`,
        Uint8Array.of(0x02, 0x68, 0x6f, 0x73, 0x74, k), { queueFrames: 2048, queueBytes: 8 << 20, vnetHdr: true });
      this.routerSide.push(r);
      this.all.push(r, h);
      this.hosts.push(new Neighbour(h, h.mac));
      this.outboxes.push(new Outbox());
    });
  }

  /** Start the router's stack (no timers) and let the gratuitous ARPs pass. */
  start(router: Router): void {
    router.stack.start();
    pumpAll(this.all);
    for (const h of this.hosts) h.frames.length = 0;
  }

  /** Ingress Iface of the spec ('in NAME', else the one whose network holds the source). */
  ingress(model: RouterConfig, spec: PacketSpec): number | string {
    if (spec.inIface !== null) {
      const ix = model.ifaces.findIndex((i) => i.name === spec.inIface);
      return ix >= 0 ? ix : `unknown Iface '${spec.inIface}' (this configuration has: ${model.ifaces.map((i) => i.name).join(', ') || 'none'})`;
    }
    const ix = model.ifaces.findIndex((i) => i.address !== null && i.netmask !== null &&
      ((spec.saddr & i.netmask) >>> 0) === ((i.address & i.netmask) >>> 0));
    return ix >= 0 ? ix : `say which Iface the packet arrives on ('in NAME'): ${formatIpv4(spec.saddr)} is on none of their networks`;
  }

  /** How the described packet reaches the router from the Neighbour on Iface inIdx's link:
   *  group MAC for broadcast and multicast destinations, the Iface's VLAN tag. */
  private arrival(router: Router, model: RouterConfig, spec: PacketSpec, inIdx: number): Arrival | string {
    const i = model.ifaces[inIdx]!;
    const bcast = spec.daddr === IP_BROADCAST || isMulticast(spec.daddr) ||
      (i.address !== null && i.netmask !== null && i.netmask !== 0xffffffff && spec.daddr === ((i.address | ~i.netmask) >>> 0));
    if (spec.ctState === CT_INVALID) {
      return `'ct invalid' cannot be set up: the connection tracker decides that, and drops invalid packets before any chain; describe such a packet instead (e.g. 'tcp ... [ack]' with Conntrack stateful_tcp)`;
    }
    let quote: Uint8Array | undefined;
    if (spec.ctState === CT_RELATED) {
      if (spec.proto !== PROTO_ICMP || !isIcmpError(spec.icmpType)) {
        return `'ct related' applies to ICMP errors (type destination-unreachable, time-exceeded, parameter-problem, ...): the router relates those to the connection they quote`;
      }
      // The quoted datagram: UDP from the error's destination to its source (setUp() makes
      // its connection).
      quote = new Uint8Array(QUOTE_LEN);
      writeDatagram(quote, 0, { ...spec, proto: PROTO_UDP, saddr: spec.daddr, daddr: spec.saddr, sport: QUOTED_SPORT,
        dport: QUOTED_DPORT, len: QUOTE_LEN, fragOff: 0, ttl: 64 });
      if (spec.len === null) spec = { ...spec, len: specLength(spec) + QUOTE_LEN };
    }
    const dst = bcast ? BROADCAST_MAC : router.stack.ifaces[inIdx]!.mac;
    return { host: this.linkOf[inIdx]!, dst, vlan: i.vlan ?? -1, spec, quote };
  }

  /** The described packet as a frame from the Neighbour on Iface inIdx's link to the router. */
  frame(router: Router, model: RouterConfig, spec: PacketSpec, inIdx: number): { frame: Uint8Array; spec: PacketSpec } | string {
    const a = this.arrival(router, model, spec, inIdx);
    if (typeof a === 'string') return a;
    return { frame: buildFrame(a.spec, a.dst, this.hosts[a.host]!.mac, a.vlan, a.quote), spec: a.spec };
  }

  /** Send a frame in from the Neighbour of Iface inIdx's link; runs the batch that carries it
   *  (and nothing else yet). */
  inject(inIdx: number, frame: Uint8Array): void {
    const h = this.hosts[this.linkOf[inIdx]!]!;
    h.send(frame);
    h.link.peer!.pump();
  }

  /** Stage the described packet to arrive with the next batch of its link (settle()). */
  stage(router: Router, model: RouterConfig, spec: PacketSpec, inIdx: number): string | null {
    const a = this.arrival(router, model, spec, inIdx);
    if (typeof a === 'string') return a;
    const box = this.outboxes[a.host]!;
    if (!box.add(a.spec, a.dst, this.hosts[a.host]!.mac, a.vlan, a.quote)) {
      box.send(this.hosts[a.host]!.link);
      box.add(a.spec, a.dst, this.hosts[a.host]!.mac, a.vlan, a.quote);
    }
    return null;
  }

  /** Send what is staged, then deliver everything in flight (ARP replies, queued datagrams). */
  settle(): void {
    this.outboxes.forEach((box, k) => box.send(this.hosts[k]!.link));
    pumpAll(this.all);
  }
}

/** The start state the spec asks for, set up in the router's real connection tracker: an
 *  established connection for `ct established`, the connection an ICMP error quotes for
 *  `ct related`. Returns a line saying what was done, or null. */
export function setUpConnection(router: Router, spec: PacketSpec): string | null {
  if (spec.ctState !== CT_ESTABLISHED && spec.ctState !== CT_RELATED) return null;
  if (router.stack.hooks.conn === null || router.stack.hooks.conn === undefined) {
    return `conntrack: this configuration tracks no connections (no chains, NAT or balancer): 'ct ${CT_NAMES[spec.ctState]}' has no effect`;
  }
  const ct = router.ct;
  if (spec.ctState === CT_ESTABLISHED) {
    const echo = spec.proto === PROTO_ICMP && isIcmpQuery(spec.icmpType);
    const ports = (spec.proto === PROTO_TCP || spec.proto === PROTO_UDP) && spec.fragOff === 0;
    const sp = ports ? spec.sport : echo ? spec.sport : 0, dp = ports ? spec.dport : echo ? spec.sport : 0;
    const c = ct.establish(spec.saddr, spec.daddr, sp, dp, spec.proto);
    return c >= 0 ? 'conntrack: set up an established connection for this packet (ct established)'
      : 'conntrack: could not set up the established connection (table full or the reply tuple is taken)';
  }
  const c = ct.establish(spec.daddr, spec.saddr, QUOTED_SPORT, QUOTED_DPORT, PROTO_UDP);
  return c >= 0 ? `conntrack: set up the connection the error quotes (udp ${formatIpv4(spec.daddr)}:${QUOTED_SPORT} > ${formatIpv4(spec.saddr)}:${QUOTED_DPORT})`
    : 'conntrack: could not set up the quoted connection';
}

/** `ct related`: the error quotes a UDP datagram of a connection the trace sets up. */
export const QUOTED_SPORT = 40000;
export const QUOTED_DPORT = 33434;
const QUOTE_LEN = 28;

